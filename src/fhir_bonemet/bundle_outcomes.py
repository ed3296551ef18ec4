"""Whether a Bundle received over the wire is whole: the one judgement of its failures and unread pages.

Both the prefetch resolver (``fhir_bonemet.client``), which decides whether a key is partial or truncated,
and the tolerant reader (``fhir_bonemet.fhir``), which reports each failure where it is, ask the same
questions of the same JSON: does this OperationOutcome report a failure or only a note, did this batch
request fail, how deep are nested Bundles followed.  They are answered here, beneath both, so the cards'
"Data may be incomplete" and the read issues can never disagree.

A Bundle inside the results (a batch answered inside a searchset, a searchset of searchsets) is judged as
the Bundle itself is: an error one level down leaves results missing exactly as an error beside them does.
Plain ``dict`` access on parsed JSON; nothing here raises on malformed input, and nothing quotes it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MAX_BUNDLE_DEPTH",
    "NOTE_SEVERITIES",
    "Failures",
    "data_count",
    "failed_status",
    "failures",
    "has_next_page",
    "inner_next_page",
    "reports_failure",
    "response_failed",
]

# Nested Bundles (a document inside a collection) are followed this deep, no deeper: a deliberately deep
# payload must not exhaust the stack.  The reader skips (and reports) what lies deeper.
MAX_BUNDLE_DEPTH = 4
# OperationOutcome severities that report no failure: a note about a search, not an error in place of data.
NOTE_SEVERITIES = frozenset({"information", "warning"})
# An entry response status: three digits first ("404 Not Found"); only those digits are repeated.
_STATUS = re.compile(r"\s*(\d{3})\b")


def reports_failure(outcome: Mapping[str, Any]) -> bool:
    """Whether an OperationOutcome reports a failure: an error or fatal issue, or issues that cannot be
    read (not an array, none, a severity that is not a string), which are no readable note either.

    A searchset may carry an OperationOutcome beside its results (``search.mode`` ``outcome``) with only
    information or warnings ("some results may be restricted"): that is data with a note, not a failure."""
    issues = outcome.get("issue")
    if not isinstance(issues, list) or not issues:
        return True
    return any(
        not isinstance(i, dict) or not isinstance(s := i.get("severity"), str) or s not in NOTE_SEVERITIES
        for i in issues
    )


def failed_status(entry: Mapping[str, Any]) -> str | None:
    """The status of a batch entry's response that is no success (not 2xx), ``"unknown"`` when one is
    given but not readable; ``None`` for a success or when there is no response."""
    response = entry.get("response")
    if not isinstance(response, dict):
        return None
    status = response.get("status")
    found = _STATUS.match(status) if isinstance(status, str) else None
    if found is None:
        return "unknown" if status is not None or response.get("outcome") is not None else None
    return None if found.group(1).startswith("2") else found.group(1)


@dataclass(frozen=True, slots=True)
class Failures:
    """Entries of a Bundle that report a failure: OperationOutcomes among its own results (``outer``), and
    failures within the Bundles inside it (``inner``: such outcomes, and batch requests that failed)."""

    outer: int = 0
    inner: int = 0

    def __bool__(self) -> bool:
        return bool(self.outer or self.inner)


# The usual answer, shared: every prefetch key's Bundle is judged on every hook call, and nearly all of them
# report no failure.
_NO_FAILURES = Failures()


def failures(bundle: Mapping[str, Any]) -> Failures:
    """What in ``bundle`` reports a failure, at any depth the reader follows."""
    outer, inner = _failures(bundle, 0)
    return Failures(outer, inner) if outer or inner else _NO_FAILURES


def _failures(bundle: Mapping[str, Any], depth: int) -> tuple[int, int]:
    """(failures among ``bundle``'s own entries, failures within the Bundles inside it)."""
    outer = inner = 0
    entries = bundle.get("entry")
    # One plain loop, no helper call per plain result: every prefetch key's Bundle is judged on every hook
    # call, and a heavy one has thousands of entries, nearly all of them plain results.
    for entry in entries if isinstance(entries, list) else ():
        if not isinstance(entry, dict):
            continue  # a malformed entry is the reader's to report
        resource = entry.get("resource")
        if isinstance(resource, dict):
            kind = resource.get("resourceType")
            if kind == "OperationOutcome":
                # A failed request is a failure whatever its outcome's severity says ("404" with a warning).
                outer += reports_failure(resource) or ("response" in entry and response_failed(entry))
                continue
            if kind == "Bundle" and depth + 1 < MAX_BUNDLE_DEPTH:
                inner += sum(_failures(resource, depth + 1))
        if "response" in entry and response_failed(entry):
            outer += 1
    return outer, inner


def response_failed(entry: Mapping[str, Any]) -> bool:
    """A batch entry whose request failed (no 2xx status) or whose response carries an OperationOutcome
    reporting a failure."""
    response = entry.get("response")
    outcome = response.get("outcome") if isinstance(response, dict) else None
    if isinstance(outcome, dict) and reports_failure(outcome):
        return True
    return failed_status(entry) is not None


def data_count(bundle: Mapping[str, Any], depth: int = 0) -> int:
    """Resources that are data (neither an OperationOutcome nor a Bundle), in the Bundles inside too."""
    count = 0
    entries = bundle.get("entry")
    for entry in entries if isinstance(entries, list) else ():
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            continue
        kind = resource.get("resourceType")
        if kind == "Bundle":
            if depth + 1 < MAX_BUNDLE_DEPTH:
                count += data_count(resource, depth + 1)
        elif kind != "OperationOutcome":
            count += 1
    return count


def inner_next_page(bundle: Mapping[str, Any], depth: int = 0) -> bool:
    """Whether a Bundle inside ``bundle`` (not ``bundle`` itself) has a next page.

    The resolver pages the value it was given, not the Bundles inside it: such a page is never read, so
    the results are the newest ones only, exactly as when paging the value itself stops early."""
    if depth + 1 >= MAX_BUNDLE_DEPTH:
        return False
    entries = bundle.get("entry")
    for entry in entries if isinstance(entries, list) else ():  # a plain loop: asked of every key
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if (
            isinstance(resource, dict)
            and resource.get("resourceType") == "Bundle"
            and (has_next_page(resource) or inner_next_page(resource, depth + 1))
        ):
            return True
    return False


def has_next_page(bundle: Mapping[str, Any]) -> bool:
    """Whether the Bundle links a next page (a ``next`` link with a URL)."""
    links = bundle.get("link")
    return isinstance(links, list) and any(
        isinstance(link, dict) and link.get("relation") == "next" and link.get("url") for link in links
    )
