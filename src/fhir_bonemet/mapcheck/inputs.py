"""Reading the files ``fhir-bonemet map-check`` is given: every FHIR resource they hold, with a location.

Accepted shapes: a Bundle of any type (nested Bundles included), a single resource, a JSON array of
resources, NDJSON (one resource per line, as a FHIR bulk export writes it), and a CDS Hooks request (its
``prefetch`` values and ``context.draftOrders``).  Contained resources are yielded on their own so that a
contained Medication is checked like any other.  Locations name the file and the position, never content.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Located:
    location: str  # "export.ndjson:12", "bundle.json#entry[3]", "... contained[0]"
    resource: dict[str, Any]


@dataclass(frozen=True, slots=True)
class InputProblem:
    location: str
    message: str


def _is_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except json.JSONDecodeError:
        return False


def _parse(path: Path) -> tuple[list[tuple[str, Any]], list[InputProblem]]:
    """(location, JSON value) pairs of one file, or the problems that stopped reading it."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        return [], [InputProblem(str(path), f"cannot be read: {exc.__class__.__name__}")]
    try:
        return [(str(path), json.loads(text))], []
    except json.JSONDecodeError as whole:
        # NDJSON reads as "Extra data" after the first line; a broken NDJSON line elsewhere still leaves a
        # first line that is a whole JSON object.  Anything else is one malformed document.
        first = next((line for line in text.splitlines() if line.strip()), "")
        if whole.msg != "Extra data" and not _is_object(first):
            message = f"not valid JSON (line {whole.lineno}, column {whole.colno}): {whole.msg}"
            return [], [InputProblem(str(path), message)]
    values: list[tuple[str, Any]] = []
    problems: list[InputProblem] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            values.append((f"{path}:{number}", json.loads(line)))
        except json.JSONDecodeError as exc:
            problems.append(InputProblem(f"{path}:{number}", f"not valid JSON: {exc.msg}"))
    return values, problems


def _resources(location: str, value: Any, problems: list[InputProblem]) -> Iterator[Located]:
    if isinstance(value, list):
        for i, item in enumerate(value):
            yield from _resources(f"{location}[{i}]", item, problems)
        return
    if not isinstance(value, dict):
        problems.append(InputProblem(location, "not a FHIR resource (expected a JSON object)"))
        return
    kind = value.get("resourceType")
    if kind is None and "hook" in value:
        yield from _hook_request(location, value, problems)
        return
    if not isinstance(kind, str):
        problems.append(InputProblem(location, "no resourceType; skipped"))
        return
    if kind == "Bundle":
        entries = value.get("entry") or []
        for i, entry in enumerate(entries if isinstance(entries, list) else []):
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if resource is not None:
                yield from _resources(f"{location}#entry[{i}]", resource, problems)
        return
    yield Located(location, value)
    contained = value.get("contained")
    for i, inner in enumerate(contained if isinstance(contained, list) else []):
        if isinstance(inner, dict) and isinstance(inner.get("resourceType"), str):
            yield Located(f"{location} contained[{i}]", inner)


def _hook_request(location: str, request: dict[str, Any], problems: list[InputProblem]) -> Iterator[Located]:
    prefetch = request.get("prefetch")
    if isinstance(prefetch, dict):
        for key in sorted(prefetch):
            if prefetch[key] is not None:
                yield from _resources(f"{location} prefetch.{key}", prefetch[key], problems)
    context = request.get("context")
    orders = context.get("draftOrders") if isinstance(context, dict) else None
    if orders is not None:
        yield from _resources(f"{location} context.draftOrders", orders, problems)


def read_inputs(paths: list[Path]) -> tuple[list[Located], list[InputProblem]]:
    """Every resource of every file, in file order; problems are collected, never raised."""
    found: list[Located] = []
    problems: list[InputProblem] = []
    for path in paths:
        values, file_problems = _parse(path)
        problems += file_problems
        for location, value in values:
            found.extend(_resources(location, value, problems))
    return found, problems
