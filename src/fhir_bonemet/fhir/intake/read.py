"""Tolerant reader: whatever JSON the EHR sent → resources grouped by type, plus what could not be read.

Accepts CDS Hooks prefetch values (a resource, a searchset/collection Bundle, an array), NDJSON, and the
``context.draftOrders`` Bundle.  A malformed element never raises: it is skipped and reported as a
:class:`~fhir_bonemet.core.model.facts.ReadIssue` whose location says where it was
(``prefetch.observations-labs.entry[3]``) and whose message never repeats patient data.  A resource that
arrives through several prefetch keys is kept once (by type and id; the most recently updated copy wins).

Plain ``dict`` access only: this runs on every hook call, and validating a large prefetch into typed models
would cost many times the reading itself (``benchmarks/bench_read.py`` holds the whole read path to three
times a plain ``json.loads``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, NamedTuple

from fhir_bonemet.bundle_outcomes import (
    MAX_BUNDLE_DEPTH,
    failed_status,
    has_next_page,
    reports_failure,
    response_failed,
)
from fhir_bonemet.core.model.facts import ReadIssue
from fhir_bonemet.fhir.intake.values import JsonDict, relative_ref

# Bundles whose entries are data: an entry without a resource there is a broken entry, not a receipt.
_DATA_BUNDLES = frozenset({"searchset", "collection", "document"})
# FHIR's own patterns: a resource type is a name of letters, an id at most 64 of [A-Za-z0-9-.].
_RESOURCE_TYPE = re.compile(r"[A-Z][A-Za-z]{1,63}")
# The types a payload is made of, which the pattern accepts: checked by a set lookup, the pattern is spared
# for the rest (one check per resource on every hook call).
_USUAL_TYPES = frozenset(
    {
        "Bundle",
        "Patient",
        "Condition",
        "Observation",
        "MedicationRequest",
        "MedicationStatement",
        "Medication",
        "Procedure",
        "ServiceRequest",
        "OperationOutcome",
    }
)
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


class Item(NamedTuple):
    """One resource as read: its reference, its JSON, and where in the payload it was found.

    A named tuple rather than a frozen dataclass: the reader makes one per resource, thousands for a long
    record, and a tuple is built in one step where a frozen dataclass sets each field through
    ``object.__setattr__``.
    """

    ref: str  # "Observation/abc"; for a resource without id: "Observation/#<location>"
    data: JsonDict
    location: str


@dataclass(slots=True)
class ReadResult:
    """Resources by type (first arrival order), a reference index, and the issues met on the way."""

    by_type: dict[str, list[Item]] = field(default_factory=dict)
    index: dict[str, JsonDict] = field(default_factory=dict)  # "Type/id" and Bundle fullUrls → resource
    issues: list[ReadIssue] = field(default_factory=list)
    unavailable: set[str] = field(default_factory=set)  # prefetch keys / sources that were unusable
    _slot: dict[str, tuple[str, int]] = field(default_factory=dict)  # ref → (type, position) for dedup
    # id() of each resource read → its Item's ref: the payload holds the resources, so the ids stay theirs.
    _ref_of: dict[int, str] = field(default_factory=dict)

    def items(self, resource_type: str) -> list[Item]:
        return self.by_type.get(resource_type, [])

    def ref_for(self, reference: str) -> str | None:
        """The ``Type/id`` (or positional) ref under which the resource ``reference`` names was read: a
        ``urn:uuid`` or absolute reference then matches what the reasoning compares, the Item's ref."""
        target = self.resolve(reference)
        return self._ref_of.get(id(target)) if target is not None else None

    def resolve(self, reference: str | None) -> JsonDict | None:
        """The resource a relative reference, absolute URL or ``urn:uuid`` names, if it is in the payload."""
        if reference is None:
            return None
        found = self.index.get(reference)
        if found is None:
            short = relative_ref(reference)
            found = self.index.get(short) if short is not None else None
        return found

    def count(self) -> int:
        return sum(len(items) for items in self.by_type.values())

    # -- reading -------------------------------------------------------------------------------------

    def add_value(self, value: object, location: str, searched: str | None = None) -> None:
        """Add a prefetch-style value: a resource, a Bundle, or an array of either.

        ``searched``: the resource type the value's search asked for; a Bundle entry of another type (that
        the server did not add as an ``include``) is still read, and reported, never passed over silently.
        """
        if isinstance(value, list):
            for position, element in enumerate(value):
                self._add_one(element, f"{location}[{position}]", None, 0, searched)
        else:
            self._add_one(value, location, None, 0, searched)

    def add_prefetch(
        self, prefetch: Mapping[str, Any] | None, searched: Mapping[str, str] | None = None
    ) -> None:
        """Add every value of a CDS Hooks ``prefetch`` object; an unusable key is *unavailable*.

        ``null`` is the EHR saying it has no data for that key (CDS Hooks 2.0): nothing to read, and not a
        problem either, so it is neither reported nor marked unavailable.  ``searched``: key → the resource
        type its template searches for (:func:`searched_type`).
        """
        if prefetch is None:
            return
        if not isinstance(prefetch, Mapping):
            self._fail("prefetch", "prefetch is not a JSON object; no prefetched data was used")
            return
        for key in sorted(prefetch):
            value = prefetch[key]
            location = f"prefetch.{key}"
            if value is None:
                continue
            if not isinstance(value, (dict, list)):  # a tuple: ``dict | list`` is built anew each time
                self._fail(location, "prefetch value is neither a resource, a Bundle nor an array", key)
            elif isinstance(value, dict) and value.get("resourceType") == "OperationOutcome":
                self._fail(location, "prefetch returned an OperationOutcome instead of data", key)
            else:
                self.add_value(value, location, (searched or {}).get(key))

    def add_ndjson(self, text: str | bytes, source: str) -> None:
        """Add newline-delimited JSON (bulk data export); a bad line is reported and skipped."""
        if isinstance(text, bytes):
            text = text.decode("utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            location = f"{source}[line {number}]"
            try:
                value = json.loads(line)
            except ValueError:
                self.issues.append(ReadIssue(location, "line is not valid JSON; skipped"))
                continue
            self._add_one(value, location, None, 0)

    def _fail(self, location: str, message: str, source: str | None = None) -> None:
        self.issues.append(ReadIssue(location, message, severity="error"))
        if source is not None:
            self.unavailable.add(source)

    def _add_one(
        self, value: object, location: str, full_url: str | None, depth: int, searched: str | None = None
    ) -> None:
        if not isinstance(value, dict):
            self.issues.append(ReadIssue(location, "not a JSON object; skipped"))
            return
        resource_type = value.get("resourceType")
        if not isinstance(resource_type, str) or not resource_type:
            self.issues.append(ReadIssue(location, "no resourceType; skipped"))
            return
        if resource_type not in _USUAL_TYPES and not _RESOURCE_TYPE.fullmatch(resource_type):
            # Never echoed: it is the sender's text (a megabyte, or a name), and issues reach the logs.
            self.issues.append(ReadIssue(location, "resourceType is not a FHIR resource type; skipped"))
            return
        if resource_type == "Bundle":
            self._add_bundle(value, location, depth, searched)
            return
        self._add_resource(value, resource_type, location, full_url)

    def _add_resource(self, value: JsonDict, resource_type: str, location: str, full_url: str | None) -> None:
        """A resource (not a Bundle) whose resourceType was checked: its id, the index, once per ref."""
        raw_id = value.get("id")
        if raw_id is not None and not isinstance(raw_id, str):
            self.issues.append(ReadIssue(location, f"{resource_type}.id is not a string; skipped"))
            return
        if raw_id and not _FHIR_ID.fullmatch(raw_id):
            # Read without it (its data still count); the id is not repeated in references or issues.
            self.issues.append(ReadIssue(location, f"{resource_type}.id is not a FHIR id; read without it"))
            raw_id = None
        ref = f"{resource_type}/{raw_id}" if raw_id else f"{resource_type}/#{location}"
        if full_url is not None:
            self.index.setdefault(full_url, value)
        known = self._slot.get(ref)
        if known is not None:
            self._replace_if_newer(known, Item(ref, value, location))
            return
        bucket = self.by_type.setdefault(resource_type, [])
        self._slot[ref] = (resource_type, len(bucket))
        bucket.append(Item(ref, value, location))
        self._ref_of[id(value)] = ref
        if raw_id:
            self.index[ref] = value

    def _replace_if_newer(self, known: tuple[str, int], item: Item) -> None:
        resource_type, position = known
        current = self.by_type[resource_type][position]
        if _last_updated(item.data) > _last_updated(current.data):
            self.by_type[resource_type][position] = item
            self.index[item.ref] = item.data
        elif _last_updated(item.data) == _last_updated(current.data) and item.data != current.data:
            # Not a copy of one resource (several keys may return it) but two resources under one id: the
            # first is read, and the dropped one is said, never lost in silence.
            message = f"another {resource_type} with the same id was read first; this one is not read"
            self.issues.append(ReadIssue(item.location, message))

    def _add_bundle(self, bundle: JsonDict, location: str, depth: int, searched: str | None) -> None:
        if depth >= MAX_BUNDLE_DEPTH:
            self.issues.append(ReadIssue(location, "Bundle nested too deeply; skipped"))
            return
        if depth > 0 and has_next_page(bundle):
            # A searchset nested in the results (an _include or batch answer): the resolver pages the
            # value sent, not the Bundles inside it, so the pages after this one were never read.
            message = "a Bundle inside the results has further pages, not read: its results may be incomplete"
            self.issues.append(ReadIssue(location, message))
        entries = bundle.get("entry")
        if entries is None:
            return
        if not isinstance(entries, list):
            self.issues.append(ReadIssue(f"{location}.entry", "Bundle.entry is not an array; skipped"))
            return
        for position, entry in enumerate(entries):
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if not isinstance(resource, dict):
                self._broken_entry(bundle, entry, f"{location}.entry[{position}]")
                continue
            resource_location = f"{location}.entry[{position}].resource"
            kind = resource.get("resourceType")
            if kind == "OperationOutcome":
                # Never patient data.  A note about the search (Epic and others add "some results may be
                # restricted" as information or a warning) is said as such; an error in place of data
                # means the entries beside it may be incomplete, and the reader of the cards should know.
                failed = "response" in entry and response_failed(entry)
                self.issues.append(_outcome_issue(resource, resource_location, failed))
                continue
            if (
                searched is not None
                and isinstance(kind, str)
                and kind not in (searched, "Bundle")
                and _RESOURCE_TYPE.fullmatch(kind)
            ):
                search = entry.get("search")
                if (search.get("mode") if isinstance(search, dict) else None) != "include":
                    message = f"a {kind} among the {searched} results; read as a {kind}"
                    self.issues.append(ReadIssue(resource_location, message))
            full_url = entry.get("fullUrl")
            url = full_url if isinstance(full_url, str) and full_url else None
            if type(kind) is str and kind in _USUAL_TYPES and kind != "Bundle":
                # The usual entry, a resource of a known type: what _add_one would do once it had checked
                # the type again, one call per entry of thousands fewer.
                self._add_resource(resource, kind, resource_location, url)
            else:
                self._add_one(resource, resource_location, url, depth + 1, searched)

    def _broken_entry(self, bundle: JsonDict, entry: object, location: str) -> None:
        """An entry that is not an object, or whose resource is missing or not an object."""
        if not isinstance(entry, dict):
            self.issues.append(ReadIssue(location, "Bundle entry is not a JSON object; skipped"))
        elif entry.get("resource") is not None:
            self.issues.append(ReadIssue(location, "not a JSON object; skipped"))
        elif _is_data_bundle(bundle):
            self.issues.append(ReadIssue(location, "Bundle entry has no resource; skipped"))
        elif "response" in entry and response_failed(entry):
            # A batch answers each search in an entry; one that failed holds no resource, and the data it
            # was to return is missing, not absent.  Judged as the resolver judges it (bundle_outcomes): a
            # 2xx status beside an outcome reporting an error is a failure too.
            status = failed_status(entry)
            why = f"status {status}" if status is not None else "its outcome reports an error"
            message = f"a request in the batch failed ({why}); its results are missing"
            self.issues.append(ReadIssue(location, message))
        # else: a successful transaction-response or a deleted-history entry carries no resource


def _outcome_issue(outcome: JsonDict, location: str, request_failed: bool = False) -> ReadIssue:
    """An OperationOutcome entry among search results: a note when it reports no failure, else a sign that
    the results may be incomplete (judged as the prefetch resolver judges the Bundle, which then marks the
    key partial).  In a batch answer whose request failed it is never a note, whatever its severities say."""
    if not request_failed and not reports_failure(outcome):
        issues = outcome["issue"]  # a non-empty array of issues whose severities are notes
        worst = "warning" if any(i["severity"] == "warning" for i in issues) else "information"
        message = f"a note from the server about the search ({worst}); not patient data, not read as data"
        return ReadIssue(location, message, severity="information")
    return ReadIssue(
        location, "the server sent an OperationOutcome among the results: they may be incomplete"
    )


def _is_data_bundle(bundle: JsonDict) -> bool:
    kind = bundle.get("type")
    return isinstance(kind, str) and kind in _DATA_BUNDLES  # a malformed type (an array) is no data type


def _last_updated(resource: JsonDict) -> str:
    meta = resource.get("meta")
    stamp = meta.get("lastUpdated") if isinstance(meta, dict) else None
    return stamp if isinstance(stamp, str) else ""


def read_prefetch(
    prefetch: Mapping[str, Any] | None, searched: Mapping[str, str] | None = None
) -> ReadResult:
    """Read a CDS Hooks ``prefetch`` object (``searched``: key → the resource type its template searches)."""
    result = ReadResult()
    result.add_prefetch(prefetch, searched)
    return result


# Templates are the services' own configuration, a few dozen strings asked about on every hook call: each is
# worked out once.
@lru_cache(maxsize=256)
def searched_type(template: str) -> str | None:
    """The resource type a prefetch template searches for (``Condition?patient=…`` → ``Condition``);
    None for a read (``Patient/{{context.patientId}}``), whose answer is checked when it is fetched."""
    path, _, query = template.partition("?")
    path = path.strip("/")
    return path if query and _RESOURCE_TYPE.fullmatch(path) else None


def read_values(values: Iterable[tuple[str, object]]) -> ReadResult:
    """Read several (location, value) pairs into one result, e.g. prefetch plus resources fetched later."""
    result = ReadResult()
    for location, value in values:
        result.add_value(value, location)
    return result


def read_ndjson(text: str | bytes, source: str = "ndjson") -> ReadResult:
    result = ReadResult()
    result.add_ndjson(text, source)
    return result


def read_draft_orders(bundle: object) -> ReadResult:
    """Read ``context.draftOrders`` (a Bundle of draft requests)."""
    result = ReadResult()
    if bundle is not None:
        result.add_value(bundle, "context.draftOrders")
    return result


def contained(resource: JsonDict, local_id: str) -> JsonDict | None:
    """A contained resource by its local id (``"#med1"`` or ``"med1"``)."""
    wanted = local_id[1:] if local_id.startswith("#") else local_id
    inner = resource.get("contained")
    if not isinstance(inner, list):
        return None
    for candidate in inner:
        if isinstance(candidate, dict) and candidate.get("id") == wanted:
            return candidate
    return None
