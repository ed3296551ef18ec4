"""How each prefetch key ended: the per-key outcome, the fetch jobs that produce it, and the merged result.

:mod:`fhir_bonemet.client.prefetch` decides per key what to do and runs the jobs; this module holds what a
job returns and how the outcomes of all keys become one :class:`PrefetchResult`.  Every issue is located at
``prefetch.<key>`` and names a cause, never a token, id or other patient data.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fhir_bonemet.bundle_outcomes import inner_next_page
from fhir_bonemet.client.bundles import (
    BundledRead,
    JsonObject,
    outcome_failure,
    payload_problem,
    read_answered_as_bundle,
    result_count,
)
from fhir_bonemet.client.fhir import FhirClient, SearchResult
from fhir_bonemet.client.tokens import RenderedUrl
from fhir_bonemet.client.urls import redact_url
from fhir_bonemet.errors import FhirClientError

__all__ = [
    "FetchIssue",
    "KeyOutcome",
    "PrefetchResult",
    "after_plan",
    "bundled_read_note",
    "cannot_fetch",
    "collect",
    "fetch_key",
    "inner_pages_unread",
    "key_issue",
    "more_pages",
    "partial_fallback",
]


@dataclass(frozen=True, slots=True)
class FetchIssue:
    """A prefetch key that could not be (fully) obtained.  The workflow reports it beside what the reader
    could not use, so it has the same three fields; it carries locations and causes, never patient data."""

    location: str  # "prefetch.<key>"
    message: str
    # "error": the key is unavailable; "warning": its data is incomplete; "information": its data is whole
    # but was sent in another shape than asked for
    severity: str = "error"


@dataclass(frozen=True, slots=True)
class PrefetchResult:
    """What each key resolved to.

    ``data[key]`` is a resource or searchset Bundle, or ``None`` when there is no data (the client said
    ``null``, or the read found nothing).  Unavailable keys are not in ``data``: their facts are
    *unknown*, not absent.  ``fetched``: keys whose data (or part of it) came from the FHIR server.
    ``truncated``: keys whose data lacks pages that could not be read.  ``partial``: keys whose data came
    with an OperationOutcome reporting an error (the results beside it are in ``data``, but what else the
    query should have found is unknown: its facts are *unknown* beyond them, not absent).
    """

    data: Mapping[str, JsonObject | None]
    unavailable: frozenset[str] = frozenset()
    fetched: frozenset[str] = frozenset()
    truncated: frozenset[str] = frozenset()
    issues: tuple[FetchIssue, ...] = ()
    partial: frozenset[str] = frozenset()


@dataclass(slots=True)
class KeyOutcome:
    """How one key ended: data (or ``None``), or unavailable; plus what to report."""

    available: bool
    data: JsonObject | None = None
    fetched: bool = False
    truncated: bool = False
    issues: list[FetchIssue] = field(default_factory=list)
    partial: bool = False  # results beside an OperationOutcome reporting an error
    # While planning: the prefetched results that came with such an outcome, used if the re-fetch fails.
    fallback: JsonObject | None = None


def key_issue(key: str, message: str, severity: str = "error") -> FetchIssue:
    return FetchIssue(location=f"prefetch.{key}", message=message, severity=severity)


def unavailable(key: str, message: str) -> KeyOutcome:
    return KeyOutcome(available=False, issues=[key_issue(key, message)])


def bundled_read_note(bundled: BundledRead, how: str) -> str:
    """The issue saying a read was answered with a Bundle and the resource in it was used."""
    kind = bundled.resource["resourceType"] if bundled.resource is not None else "resource"
    note = f"a Bundle holding the one {kind} {how} for this read; that {kind} was used"
    if bundled.notes:
        plural = "s" if bundled.notes > 1 else ""
        note += (
            f" (the server's {bundled.notes} OperationOutcome note{plural} beside it, information or "
            "warnings only, not read as data)"
        )
    return note


def fetch_key(key: str, client: FhirClient, rendered: RenderedUrl) -> KeyOutcome:
    try:
        if rendered.read_type is not None:
            # Any resourceType is taken here: some servers and proxies answer a read with a searchset.
            return _fetched_read(key, rendered, client.get(rendered.url))
        result = client.search(rendered.url)
    except FhirClientError as exc:
        if rendered.is_read and exc.status in (404, 410):
            # A read that finds nothing is "no data", exactly like a prefetch value of null.
            return KeyOutcome(
                True, None, True, issues=[key_issue(key, f"not found ({exc.status}); no data", "warning")]
            )
        return unavailable(key, f"fetching {exc.url_path or 'it'} failed: {exc}")
    return _searched(key, result, fetched=True)


def _searched(key: str, result: SearchResult, *, fetched: bool) -> KeyOutcome:
    incomplete = result.truncated or result.partial
    issues = [key_issue(key, f"incomplete: {result.stop_reason}", "warning")] if incomplete else []
    return KeyOutcome(True, result.bundle, fetched, result.truncated, issues, partial=result.partial)


def _fetched_read(key: str, rendered: RenderedUrl, payload: JsonObject) -> KeyOutcome:
    read_type = rendered.read_type
    if payload.get("resourceType") == read_type:
        return KeyOutcome(True, payload, True)
    bundled = read_answered_as_bundle(payload, read_type or "", rendered.read_id or "")
    if bundled is not None and bundled.resource is not None:
        note = bundled_read_note(bundled, "was the server's answer")
        return KeyOutcome(True, bundled.resource, True, issues=[key_issue(key, note, "information")])
    if bundled is not None and bundled.found_nothing:
        # A searchset of nothing is how such servers say 404: no data, exactly as the 404 below.
        note = "not found (the server answered with an empty Bundle); no data"
        return KeyOutcome(True, None, True, issues=[key_issue(key, note, "warning")])
    why = (
        bundled.problem if bundled is not None else f"expected a {read_type}, got a {payload['resourceType']}"
    )
    return unavailable(key, f"fetching {redact_url(rendered.url, '')} failed: response unusable: {why}")


def more_pages(key: str, client: FhirClient, first_page: JsonObject) -> KeyOutcome:
    try:
        result = client.follow_pages(first_page)
    except FhirClientError as exc:
        # The first page is good data; what is missing is reported, never silently dropped.
        return KeyOutcome(
            True,
            first_page,
            False,
            True,
            [key_issue(key, f"incomplete: a next page failed: {exc}", "warning")],
        )
    return _searched(key, result, fetched=result.pages > 1)


def partial_fallback(value: JsonObject) -> JsonObject | None:
    """A prefetched Bundle refused only for OperationOutcome entries reporting an error, with results
    beside them: those results, kept in case the re-fetch fails; ``None`` for any other refused value."""
    if payload_problem(value, expected_type="Bundle", failed_outcomes=False) is not None:
        return None
    return value if outcome_failure(value) is not None and result_count(value) else None


def after_plan(planned: KeyOutcome | None, fetched: KeyOutcome) -> KeyOutcome:
    """Keep what planning already reported (e.g. why a prefetched value was refused) before the rest."""
    if planned is not None and planned.fallback is not None and not fetched.available:
        return _use_fallback(planned, fetched.issues)
    if planned is not None:
        fetched.issues[:0] = planned.issues
    return fetched


def cannot_fetch(key: str, planned: KeyOutcome | None, reason: str) -> KeyOutcome:
    notes = list(planned.issues) if planned else []
    if planned is not None and planned.available:  # a provided first page whose next pages are out of reach
        notes.append(key_issue(key, f"incomplete: the next pages cannot be read ({reason})", "warning"))
        return KeyOutcome(True, planned.data, False, True, notes)
    if planned is not None and planned.fallback is not None:
        return _use_fallback(planned, [key_issue(key, reason)])
    return KeyOutcome(False, issues=[*notes, key_issue(key, reason)])


def _use_fallback(planned: KeyOutcome, fetch_issues: list[FetchIssue]) -> KeyOutcome:
    """The re-fetch of a prefetched Bundle with an error beside its results failed: the results are used
    (a metastasis or an opioid in them is never dropped), and what else the query held is unknown."""
    location = (planned.issues or fetch_issues)[0].location
    # The fetch failures are said as they were, but the key is not unavailable: a warning each.
    issues = [*planned.issues, *(FetchIssue(i.location, i.message, "warning") for i in fetch_issues)]
    message = (
        "incomplete: the results sent beside the OperationOutcome reporting an error were used; what the "
        "query would have found beyond them is unknown"
    )
    issues.append(FetchIssue(location, message, "warning"))
    return KeyOutcome(True, planned.fallback, False, False, issues, partial=True)


def inner_pages_unread(key: str, outcome: KeyOutcome) -> None:
    """Mark ``outcome`` truncated when a Bundle inside its data has a next page.

    Paging follows the value's own next link, never those of the Bundles inside it (a batch answered
    inside the results, a searchset of searchsets): their later pages are never read, so the key holds
    the newest results only and the cards must say so, as for a value whose own paging stopped early."""
    data = outcome.data
    if not outcome.available or data is None or data.get("resourceType") != "Bundle":
        return
    if not inner_next_page(data):
        return
    outcome.truncated = True
    message = "incomplete: a Bundle inside the results has further pages, which were not read"
    outcome.issues.append(key_issue(key, message, "warning"))


def collect(
    templates: Mapping[str, str], outcomes: Mapping[str, KeyOutcome], notes: tuple[FetchIssue, ...] = ()
) -> PrefetchResult:
    """The outcomes in template order; ``notes`` (about the request as a whole) follow their issues."""
    data: dict[str, JsonObject | None] = {}
    issues: list[FetchIssue] = []
    unavailable: list[str] = []
    fetched: list[str] = []
    truncated: list[str] = []
    partial: list[str] = []
    for key in templates:  # template order: deterministic output whatever finished first
        outcome = outcomes[key]
        if outcome.available:
            data[key] = outcome.data
        else:
            unavailable.append(key)
        if outcome.fetched:
            fetched.append(key)
        if outcome.truncated:
            truncated.append(key)
        if outcome.partial and outcome.available:
            partial.append(key)
        issues.extend(outcome.issues)
    issues.extend(notes)
    return PrefetchResult(
        data=data,
        unavailable=frozenset(unavailable),
        fetched=frozenset(fetched),
        truncated=frozenset(truncated),
        issues=tuple(issues),
        partial=frozenset(partial),
    )


# A prefetch key as the issue's location may repeat it: a name like the services' own keys.
_KEY_SHOWN = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
UNASKED_KEY = "a prefetch key this service does not ask for; its data is not read"
# Keys not asked for that are named one by one; the rest are counted in one note.  A body of nothing but
# extra keys (a few MB holds hundreds of thousands) would otherwise become as many issues and log lines.
_MAX_UNASKED_NAMED = 20


def unasked_keys(templates: Mapping[str, str], provided: Mapping[str, Any]) -> tuple[FetchIssue, ...]:
    """One information issue per prefetch key sent that is not one of the service's templates (the first
    ones by name; one more issue counts the rest).

    CDS Hooks 2.0 has the client send only the keys the service asked for; a client that sends more (an
    EHR's shared prefetch, a key renamed on one side) is no error.  Its data is not read: what search it
    answers is unknown, so neither what it holds nor what it lacks can be judged; but it is said, so a
    renamed key never passes for data the service did not receive.  A key not shaped like a key name is
    the sender's text and is not repeated."""
    unasked = [key for key in provided if key not in templates]
    named = heapq.nsmallest(_MAX_UNASKED_NAMED, unasked)
    notes = [
        FetchIssue(
            location=f"prefetch.{key}" if isinstance(key, str) and _KEY_SHOWN.fullmatch(key) else "prefetch",
            message=UNASKED_KEY,
            severity="information",
        )
        for key in named
    ]
    rest = len(unasked) - len(named)
    if rest:
        message = f"{rest} more prefetch keys this service does not ask for; their data is not read"
        notes.append(FetchIssue(location="prefetch", message=message, severity="information"))
    return tuple(notes)
