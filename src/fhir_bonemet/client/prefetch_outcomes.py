"""How each prefetch key ended: the per-key outcome, the fetch jobs that produce it, and the merged result.

:mod:`fhir_bonemet.client.prefetch` decides per key what to do and runs the jobs; this module holds what a
job returns and how the outcomes of all keys become one :class:`PrefetchResult`.  Every issue is located at
``prefetch.<key>`` and names a cause, never a token, id or other patient data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from fhir_bonemet.client.bundles import BundledRead, JsonObject, read_answered_as_bundle
from fhir_bonemet.client.fhir import FhirClient
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
    "key_issue",
    "more_pages",
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
    ``truncated``: keys whose data lacks pages that could not be read.
    """

    data: Mapping[str, JsonObject | None]
    unavailable: frozenset[str] = frozenset()
    fetched: frozenset[str] = frozenset()
    truncated: frozenset[str] = frozenset()
    issues: tuple[FetchIssue, ...] = ()


@dataclass(slots=True)
class KeyOutcome:
    """How one key ended: data (or ``None``), or unavailable; plus what to report."""

    available: bool
    data: JsonObject | None = None
    fetched: bool = False
    truncated: bool = False
    issues: list[FetchIssue] = field(default_factory=list)


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
    issues = [] if not result.truncated else [key_issue(key, f"incomplete: {result.stop_reason}", "warning")]
    return KeyOutcome(True, result.bundle, True, result.truncated, issues)


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
    issues = [] if not result.truncated else [key_issue(key, f"incomplete: {result.stop_reason}", "warning")]
    return KeyOutcome(True, result.bundle, result.pages > 1, result.truncated, issues)


def after_plan(planned: KeyOutcome | None, fetched: KeyOutcome) -> KeyOutcome:
    """Keep what planning already reported (e.g. why a prefetched value was refused) before the rest."""
    if planned is not None:
        fetched.issues[:0] = planned.issues
    return fetched


def cannot_fetch(key: str, planned: KeyOutcome | None, reason: str) -> KeyOutcome:
    notes = list(planned.issues) if planned else []
    if planned is not None and planned.available:  # a provided first page whose next pages are out of reach
        notes.append(key_issue(key, f"incomplete: the next pages cannot be read ({reason})", "warning"))
        return KeyOutcome(True, planned.data, False, True, notes)
    return KeyOutcome(False, issues=[*notes, key_issue(key, reason)])


def collect(templates: Mapping[str, str], outcomes: Mapping[str, KeyOutcome]) -> PrefetchResult:
    data: dict[str, JsonObject | None] = {}
    issues: list[FetchIssue] = []
    unavailable: list[str] = []
    fetched: list[str] = []
    truncated: list[str] = []
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
        issues.extend(outcome.issues)
    return PrefetchResult(
        data=data,
        unavailable=frozenset(unavailable),
        fetched=frozenset(fetched),
        truncated=frozenset(truncated),
        issues=tuple(issues),
    )
