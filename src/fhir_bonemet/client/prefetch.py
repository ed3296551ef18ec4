"""Prefetch resolution exactly as CDS Hooks 2.0 describes it ("Providing FHIR Resources to a CDS Service").

For every prefetch key the service declared:

* key **absent** → the client did not (or could not) satisfy it: render the template and fetch it from
  ``fhirServer`` with the ``fhirAuthorization`` bearer token;
* key **null** → the client has no data: use "none", never re-query;
* value an **OperationOutcome**, a Bundle with OperationOutcome entries reporting an error, or not a
  usable resource at all (a string, a Bundle whose entries are not objects, a Patient where a Bundle was
  asked for) → a failed prefetch: re-fetch it if a FHIR server is reachable, else the key is unavailable
  — except that results sent beside such an entry are used when the re-fetch cannot be made or fails
  (the key is then *partial*: its facts are unknown beyond those results, never absent); a searchset
  fetched with such an entry beside results is partial in the same way;
* a read key (``Patient/{{context.patientId}}``) sent, or fetched, as a Bundle whose one resource is the
  very resource read (some EHRs satisfy a read template with a search), beside at most OperationOutcome
  notes (information, warnings) → that resource, with an issue saying so and naming the notes; a Bundle
  with several of them, another id or an error is a failed prefetch whose message says which, and one
  holding nothing (``total`` 0) is "not found", no data, like a 404 from the server;
* a searchset Bundle with ``link[relation=next]`` → read the remaining pages within the page cap and the
  per-hook paging budget; a page that fails or would start after the budget ends paging, and the pages
  already read are kept (the key is marked *truncated*, so the cards say older history may be missing);
* a key the caller declared *required* that ends up unavailable → :class:`PreconditionFailedError` (412).

Independent keys are fetched concurrently over the one injected :class:`requests.Session`, each request
with connect/read timeouts and all of them under one overall deadline.  Issues and log lines name keys
and causes, never tokens, ids or other patient data.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

import requests

from fhir_bonemet.client.bundles import BundledRead, next_link, payload_problem, read_answered_as_bundle
from fhir_bonemet.client.fhir import FhirClient, ServerPolicy, Timeouts
from fhir_bonemet.client.prefetch_outcomes import (
    FetchIssue,
    KeyOutcome,
    PrefetchResult,
    after_plan,
    bundled_read_note,
    cannot_fetch,
    collect,
    fetch_key,
    inner_pages_unread,
    key_issue,
    more_pages,
    partial_fallback,
    unasked_keys,
)
from fhir_bonemet.client.tokens import expected_resource_type, render_template
from fhir_bonemet.errors import FhirClientError, PreconditionFailedError, Problem
from fhir_bonemet.log_keys import safe_hook_instance

__all__ = [
    "PrefetchLimits",
    "PrefetchRequest",
    "PrefetchResolver",
    "PrefetchResult",
    "fetch_needed",
    "outbound_session",
]

log = logging.getLogger(__name__)

PREFETCH_THREAD_PREFIX = "bonemet-prefetch"


@dataclass(frozen=True, slots=True)
class PrefetchLimits:
    timeouts: Timeouts = field(default_factory=Timeouts)
    deadline_seconds: float = 4.0  # for all fetches of one hook call together, unless resolve() gets one
    # Next pages are only requested within this budget from the start of the hook's fetches (first pages
    # run under the overall deadline): the newest results come first, so what the budget cuts is history.
    # None: pages run under the overall deadline only.  The service sets it from the settings (300 ms).
    page_budget_seconds: float | None = None
    max_pages: int = 10  # per key, counting the first page
    # Concurrent fetches per hook call: enough for every key of a service, so a uniformly slow server
    # costs one round trip, not several in a row.
    max_workers: int = 16
    max_response_bytes: int = 8 * 1024 * 1024  # per response, streamed


def outbound_session() -> requests.Session:
    """The service's one outbound session, keeping a connection per concurrent fetch to a FHIR server.

    requests keeps 10 per host by default; a hook fetches up to ``PrefetchLimits.max_workers`` keys at once
    (every Observation search and its panel twin), and connections beyond the pool are opened and thrown
    away on every call."""
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_maxsize=PrefetchLimits().max_workers)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


@dataclass(frozen=True, slots=True)
class PrefetchRequest:
    """The parts of a hook request that prefetch resolution reads."""

    hook_instance: str
    context: Mapping[str, Any]
    prefetch: Mapping[str, Any] | None = None
    fhir_server: str | None = None
    fhir_authorization: Mapping[str, Any] | None = None


class PrefetchResolver:
    """Resolves prefetch for hook calls; one per service, shared by all requests."""

    def __init__(
        self, session: requests.Session, policy: ServerPolicy, limits: PrefetchLimits = PrefetchLimits()
    ):
        self._session = session
        self._policy = policy
        self.limits = limits

    def resolve(
        self,
        templates: Mapping[str, str],
        request: PrefetchRequest,
        required: frozenset[str] = frozenset(),
        deadline: float | None = None,
    ) -> PrefetchResult:
        """``deadline`` (a :func:`time.monotonic` value) is the hook call's; without one, the limits'."""
        unknown = required - templates.keys()
        if unknown:
            raise ValueError(f"required prefetch keys without a template: {sorted(unknown)}")
        started = time.monotonic()
        if deadline is None:
            deadline = started + self.limits.deadline_seconds
        budget = self.limits.page_budget_seconds
        paging_deadline = deadline if budget is None else min(deadline, started + budget)
        provided = request.prefetch if isinstance(request.prefetch, Mapping) else {}
        outcomes: dict[str, KeyOutcome] = {}
        jobs: dict[str, Callable[[FhirClient], KeyOutcome]] = {}
        for key, template in templates.items():
            outcome, job = self._plan(key, template, provided, request.context)
            if outcome is not None:
                outcomes[key] = outcome
            if job is not None:
                jobs[key] = job
        if jobs:
            outcomes.update(self._run(jobs, request, (deadline, paging_deadline), outcomes))
        for key, outcome in outcomes.items():
            inner_pages_unread(key, outcome)
        result = collect(templates, outcomes, unasked_keys(templates, provided))
        self._log(request.hook_instance, result, provided, started)
        missing = sorted(required & result.unavailable)
        if missing:
            # Every issue of a missing key, its warnings too: "prefetched value unusable (not a Patient)"
            # says what was wrong with what was sent, which "cannot be fetched" alone does not.
            problems = tuple(
                Problem(location=issue.location, message=issue.message, code="incomplete")
                for issue in result.issues
                if issue.location.removeprefix("prefetch.") in missing
            )
            raise PreconditionFailedError(
                f"Required FHIR data could not be prefetched or fetched: {', '.join(missing)}", problems
            )
        return result

    def _plan(
        self, key: str, template: str, provided: Mapping[str, Any], context: Mapping[str, Any]
    ) -> tuple[KeyOutcome | None, Callable[[FhirClient], KeyOutcome] | None]:
        """Decide from the request alone what to do with one key: (outcome so far, fetch job)."""
        notes: list[FetchIssue] = []
        if key in provided:
            value = provided[key]
            if value is None:
                return KeyOutcome(available=True, data=None), None  # the client has no data: do not re-query
            problem = payload_problem(value, expected_type=expected_resource_type(template))
            if problem is not None:
                bundled = _read_sent_as_bundle(value, template, context)
                if bundled is not None and bundled.resource is not None:
                    note = bundled_read_note(bundled, "was sent")
                    return KeyOutcome(
                        available=True, data=bundled.resource, issues=[key_issue(key, note, "information")]
                    ), None
                if bundled is not None and bundled.found_nothing:
                    # The EHR's search found no such patient: no data, as null or a 404 is; re-querying
                    # the same EHR would only find nothing again.
                    note = "not found (an empty Bundle was sent for this read); no data"
                    return KeyOutcome(
                        available=True, data=None, issues=[key_issue(key, note, "warning")]
                    ), None
                if bundled is not None:
                    problem = f"a Bundle was sent for this read: {bundled.problem}"
            if problem is None and next_link(value) is None:
                return KeyOutcome(available=True, data=dict(value)), None
            if problem is None:
                first_page = dict(value)
                return KeyOutcome(available=True, data=first_page), lambda client: more_pages(
                    key, client, first_page
                )
            notes.append(
                key_issue(key, f"prefetched value unusable ({problem}); fetching it instead", "warning")
            )
        # A failed query's results (an error outcome beside them) are re-fetched, but kept in case that
        # fails: they may hold the metastasis or the opioid the cards must not lose.
        searched = expected_resource_type(template) == "Bundle"
        fallback = partial_fallback(provided[key]) if searched and key in provided else None
        try:
            rendered = render_template(template, context)
        except ValueError as exc:
            planned = KeyOutcome(available=False, issues=notes, fallback=fallback)
            return cannot_fetch(key, planned, str(exc)), None
        return KeyOutcome(available=False, issues=notes, fallback=fallback), lambda client: fetch_key(
            key, client, rendered
        )

    def _run(
        self,
        jobs: Mapping[str, Callable[[FhirClient], KeyOutcome]],
        request: PrefetchRequest,
        deadlines: tuple[float, float],
        planned: Mapping[str, KeyOutcome],
    ) -> dict[str, KeyOutcome]:
        results: dict[str, KeyOutcome] = {}
        deadline, paging_deadline = deadlines
        try:
            client = self._client(request, deadline, paging_deadline)
        except FhirClientError as exc:
            for key in jobs:
                results[key] = cannot_fetch(key, planned.get(key), str(exc))
            return results
        executor = ThreadPoolExecutor(
            max_workers=min(self.limits.max_workers, len(jobs)), thread_name_prefix=PREFETCH_THREAD_PREFIX
        )
        try:
            futures: dict[Future[KeyOutcome], str] = {
                executor.submit(job, client): key for key, job in jobs.items()
            }
            # A few milliseconds of grace: every request's reads are clipped to the deadline and end on
            # their own (the transport checks the clock between reads), so the threads are free by then.
            wait(futures, timeout=max(0.0, deadline - time.monotonic()) + 0.02)
            for future, key in futures.items():
                if future.done() and future.exception() is None:
                    results[key] = after_plan(planned.get(key), future.result())
                    continue
                if future.done():
                    log.error("prefetch key %s: unexpected %s", key, type(future.exception()).__name__)
                    reason = "fetching failed unexpectedly"
                else:
                    reason = "no answer from the FHIR server before the overall deadline"
                results[key] = cannot_fetch(key, planned.get(key), reason)
        finally:
            executor.shutdown(wait=False, cancel_futures=True)
        return results

    def _client(self, request: PrefetchRequest, deadline: float, paging_deadline: float) -> FhirClient:
        if not request.fhir_server:
            raise FhirClientError("the request has no fhirServer, so the data cannot be fetched")
        token = None
        if isinstance(request.fhir_authorization, Mapping):
            raw = request.fhir_authorization.get("access_token")
            token = raw if isinstance(raw, str) and raw else None
        return FhirClient(
            self._session,
            request.fhir_server,
            policy=self._policy,
            access_token=token,
            timeouts=self.limits.timeouts,
            max_pages=self.limits.max_pages,
            max_response_bytes=self.limits.max_response_bytes,
            deadline=deadline,
            paging_deadline=paging_deadline,
        )

    def _log(
        self, hook_instance: str, result: PrefetchResult, provided: Mapping[str, Any], started: float
    ) -> None:
        # When the EHR provided every key there is nothing to tell an operator on every call (the request
        # line names the call): the summary is then a debug line, and usually not even built.
        everything_provided = not (result.fetched or result.unavailable or result.truncated)
        level = logging.DEBUG if everything_provided else logging.INFO
        if not result.issues and not log.isEnabledFor(level):
            return
        label = safe_hook_instance(hook_instance)
        for issue in result.issues:
            # A note (a key not asked for, a read sent as a Bundle) is no fault to wake an operator for.
            severity = logging.INFO if issue.severity == "information" else logging.WARNING
            log.log(severity, "prefetch hookInstance=%s %s: %s", label, issue.location, issue.message)
        log.log(
            level,
            "prefetch hookInstance=%s keys=%d provided=%d fetched=%s unavailable=%s truncated=%s in %.0f ms",
            label,
            len(result.data) + len(result.unavailable),
            len(provided),
            sorted(result.fetched),
            sorted(result.unavailable),
            sorted(result.truncated),
            (time.monotonic() - started) * 1000,
        )


def _read_sent_as_bundle(value: Any, template: str, context: Mapping[str, Any]) -> BundledRead | None:
    """For a read key (``Patient/{{context.patientId}}``) sent as a Bundle (some EHRs satisfy a read
    template with a search): the resource read, or why the Bundle is not it; ``None`` for anything else."""
    try:
        rendered = render_template(template, context)
    except ValueError:
        return None
    if rendered.read_type is None or rendered.read_id is None:
        return None
    return read_answered_as_bundle(value, rendered.read_type, rendered.read_id)


def fetch_needed(templates: Mapping[str, str], prefetch: Any, fhir_server: str | None) -> bool:
    """Whether resolving this request's prefetch would call the FHIR server (the same decisions as
    :meth:`PrefetchResolver._plan`): a key missing, an unusable payload, or a Bundle with a next page.

    A read key sent as a Bundle of that one resource counts as a fetch here (it is decided with the
    context, which this check does not read): the call then merely runs in a worker thread.
    Without ``fhirServer`` there is nothing to call.  The web layer uses this to answer a fully prefetched
    call in the event loop instead of handing it to a worker thread.
    """
    if fhir_server is None:
        return False
    provided = prefetch if isinstance(prefetch, Mapping) else {}
    for key, template in templates.items():
        if key not in provided:
            return True
        value = provided[key]
        if value is None:
            continue  # the client has no data: never re-queried
        if payload_problem(value, expected_type=expected_resource_type(template)) is not None:
            return True
        if next_link(value) is not None:
            return True
    return False
