"""Reading the files ``fhir-bonemet map-check`` is given: every FHIR resource they hold, with a location.

Accepted shapes: a Bundle of any type (nested Bundles included), a single resource, a JSON array of
resources, NDJSON (one resource per line, as a FHIR bulk export writes it), and a CDS Hooks request (its
``prefetch`` values and ``context.draftOrders``).  Contained resources are yielded on their own so that a
contained Medication is checked like any other.  Locations name the file and the position, never content.

NDJSON is streamed line by line (a bulk export may be hundreds of megabytes); any other file is one JSON
document and is parsed whole.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from fhir_bonemet.mapcheck.progress import Progress


@dataclass(frozen=True, slots=True)
class Located:
    location: str  # "export.ndjson:12", "bundle.json#entry[3]", "... contained[0]"
    resource: dict[str, Any]


@dataclass(frozen=True, slots=True)
class InputProblem:
    location: str
    message: str


def _is_object(line: bytes) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False


def _first_line(handle: BinaryIO) -> bytes:
    while line := handle.readline():
        if line.strip():
            return line
    return b""


def _values(path: Path, problems: list[InputProblem], progress: Progress | None) -> Iterator[tuple[str, Any]]:
    """(location, JSON value) of one file: NDJSON line by line, anything else as one document."""
    try:
        total = path.stat().st_size
        handle = path.open("rb")
    except OSError as exc:
        problems.append(InputProblem(str(path), f"cannot be read: {exc.__class__.__name__}"))
        return
    with handle:
        first = _first_line(handle)
        # NDJSON: the first line is a whole JSON object and another line follows.  A pretty-printed
        # Bundle's first line ("{") is not; a one-line file is the same either way.
        if _is_object(first.removeprefix(b"\xef\xbb\xbf")) and _first_line(handle):
            handle.seek(0)
            yield from _ndjson(path, handle, problems, progress, total)
            return
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(InputProblem(str(path), f"cannot be read: {exc.__class__.__name__}"))
        return
    try:
        yield str(path), json.loads(text)
    except json.JSONDecodeError as exc:
        message = f"not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}"
        problems.append(InputProblem(str(path), message))


def _ndjson(
    path: Path, handle: BinaryIO, problems: list[InputProblem], progress: Progress | None, total: int
) -> Iterator[tuple[str, Any]]:
    for number, line in enumerate(iter(handle.readline, b""), start=1):
        if progress is not None:
            progress.update(number, handle.tell(), total)
        if not line.strip():
            continue
        try:
            yield f"{path}:{number}", json.loads(line.removeprefix(b"\xef\xbb\xbf") if number == 1 else line)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8"
            problems.append(InputProblem(f"{path}:{number}", f"not valid JSON: {reason}"))


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


def iter_inputs(
    paths: list[Path], problems: list[InputProblem], progress: Progress | None = None
) -> Iterator[Located]:
    """Every resource of every file, in file order, read lazily; problems are appended, never raised."""
    for path in paths:
        for location, value in _values(path, problems, progress):
            yield from _resources(location, value, problems)


def read_inputs(paths: list[Path]) -> tuple[list[Located], list[InputProblem]]:
    """Every resource of every file, as a list (small inputs and tests)."""
    problems: list[InputProblem] = []
    found = list(iter_inputs(paths, problems))
    return found, problems
