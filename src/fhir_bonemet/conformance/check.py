"""Validate FHIR JSON files: every resource against its profiles (the Node validator) and its required
bindings (exactly, in Python).

Files may hold one resource, a Bundle (each entry checked, located as ``Bundle.entry[i].resource``), NDJSON
(one resource a line, located as ``line N``), or a CDS Hooks request or test vignette (its ``prefetch``
values and ``context.draftOrders`` checked).  Locations are FHIRPath expressions from the root of what the
file holds, so an integrator can find the element in their own file.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

from fhir_bonemet.conformance.bindings import check_bindings
from fhir_bonemet.conformance.definitions import Definitions, load_definitions
from fhir_bonemet.conformance.issues import Issue
from fhir_bonemet.conformance.node import validate_profiles
from fhir_bonemet.conformance.routing import profiles_for

__all__ = ["Subject", "ValidatedResource", "read_subjects", "validate_files", "validate_subjects"]

Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Subject:
    """One resource to check: where it came from and the FHIRPath of its root inside that source."""

    source: str
    root: str  # e.g. "Bundle.entry[2].resource", "line 7: Observation", "Observation"
    resource: Json


@dataclass(slots=True)
class ValidatedResource:
    subject: Subject
    profiles: list[str | None]
    issues: list[Issue] = field(default_factory=list)

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.is_error]

    @property
    def label(self) -> str:
        r = self.subject.resource
        return f"{r.get('resourceType', '?')}/{r.get('id', '-')}"


def _is_resource(value: Any) -> TypeGuard[Json]:
    return isinstance(value, dict) and isinstance(value.get("resourceType"), str)


def _unpack(source: str, root: str, value: Json, issues: list[Issue]) -> Iterator[Subject]:
    """A resource, or each entry of a Bundle (Bundles nested in a Bundle's entries are unpacked too); an
    entry that holds no resource is an input error, not a resource less to check."""
    if value.get("resourceType") != "Bundle":
        yield Subject(source, root, value)
        return
    entries = value.get("entry")
    if entries is None:
        return
    if not isinstance(entries, list):
        issues.append(Issue("error", f"{root}.entry", "Bundle.entry is not an array", "input"))
        return
    for i, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if _is_resource(resource):
            yield from _unpack(source, f"{root}.entry[{i}].resource", resource, issues)
        # A transaction's or a history's delete carries a request and no resource: nothing to check.
        elif not (isinstance(entry, dict) and resource is None and "request" in entry):
            issues.append(Issue("error", f"{root}.entry[{i}]", "not an entry with a FHIR resource", "input"))


def _request(source: str, data: Json, issues: list[Issue]) -> Iterator[Subject]:
    """The FHIR content of a CDS Hooks request (or of a test vignette shaped like one)."""
    prefetch = data.get("prefetch")
    if prefetch is not None and not isinstance(prefetch, dict):
        issues.append(Issue("error", "prefetch", "not a JSON object of prefetch keys", "input"))
    for key, value in (prefetch if isinstance(prefetch, dict) else {}).items():
        if _is_resource(value):
            yield from _unpack(source, f"prefetch.{key}", value, issues)
        elif value is not None:  # null: the EHR had no data, which is no error
            issues.append(Issue("error", f"prefetch.{key}", "not a FHIR resource (no resourceType)", "input"))
    context = data.get("context")
    orders = context.get("draftOrders") if isinstance(context, dict) else None
    if _is_resource(orders):
        yield from _unpack(source, "context.draftOrders", orders, issues)
    if _is_resource(data.get("draftOrders")):  # the test vignettes keep the draft orders at the top
        yield from _unpack(source, "draftOrders", data["draftOrders"], issues)


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"the number {text[:20]} is too large for JSON")
    return number


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _loads(text: str) -> Any:
    """Strict JSON: no NaN or Infinity, no number too large for a double (the validator refused them with an
    error of its own, which read as if the validator could not run)."""
    return json.loads(text, parse_constant=_not_json, parse_float=_finite)


def read_subjects(path: Path) -> tuple[list[Subject], list[Issue]]:
    """The resources in ``path``, and input issues (unreadable file, a line that is not a resource)."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [], [Issue("error", source, f"cannot be read: {exc}", "input")]
    if path.suffix.lower() in (".ndjson", ".jsonl"):
        subjects: list[Subject] = []
        issues: list[Issue] = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                value = _loads(line)
            except json.JSONDecodeError as exc:
                issues.append(Issue("error", f"line {number}", f"not JSON: {exc.msg}", "input"))
                continue
            except ValueError as exc:
                issues.append(Issue("error", f"line {number}", f"not JSON: {exc}", "input"))
                continue
            if _is_resource(value):
                subjects.extend(_unpack(source, f"line {number}: {value['resourceType']}", value, issues))
            else:
                issues.append(
                    Issue("error", f"line {number}", "not a FHIR resource (no resourceType)", "input")
                )
        return subjects, issues
    try:
        data = _loads(text)
    except json.JSONDecodeError as exc:
        return [], [Issue("error", f"line {exc.lineno}", f"not JSON: {exc.msg}", "input")]
    except ValueError as exc:
        return [], [Issue("error", source, f"not JSON: {exc}", "input")]
    found: list[Issue] = []
    if _is_resource(data):
        return list(_unpack(source, str(data["resourceType"]), data, found)), found
    if isinstance(data, dict) and ("prefetch" in data or "context" in data or "draftOrders" in data):
        return list(_request(source, data, found)), found
    return [], [Issue("error", source, "neither a FHIR resource, NDJSON nor a CDS Hooks request", "input")]


def _relocate(issue: Issue, subject: Subject) -> Issue:
    """Put the issue's location (which starts at the resource type) under the subject's root."""
    kind = str(subject.resource.get("resourceType"))
    location = issue.location
    if subject.root != kind and (location == kind or location.startswith(kind + ".")):
        location = subject.root + location[len(kind) :]
    elif not location:
        location = subject.root
    return Issue(issue.severity, location, issue.message, issue.check, issue.profile)


def validate_subjects(
    subjects: Sequence[Subject], definitions: Definitions | None = None
) -> list[ValidatedResource]:
    """Check every subject against each of its profiles; one Node run for the whole batch."""
    definitions = definitions or load_definitions()
    results = [ValidatedResource(s, profiles_for(s.resource, definitions)) for s in subjects]
    tasks = [(r.subject.resource, p) for r in results for p in r.profiles]
    found = iter(validate_profiles(tasks))
    for result in results:
        issues: list[Issue] = []
        for profile in result.profiles:
            issues += next(found)
            issues += check_bindings(result.subject.resource, definitions, profile)
        unique = dict.fromkeys(_relocate(i, result.subject) for i in issues)
        result.issues = list(unique)
    return results


def validate_files(paths: Iterable[Path]) -> tuple[list[ValidatedResource], list[tuple[str, Issue]]]:
    """Every resource of every file, validated; and the input issues of files that are not FHIR JSON."""
    subjects: list[Subject] = []
    unreadable: list[tuple[str, Issue]] = []
    for path in paths:
        found, issues = read_subjects(path)
        subjects += found
        unreadable += [(str(path), i) for i in issues]
    return validate_subjects(subjects), unreadable
