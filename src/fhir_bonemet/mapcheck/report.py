"""Renders a :class:`~fhir_bonemet.mapcheck.check.MapCheckReport` as a human table or as JSON for machines."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

from fhir_bonemet.mapcheck.check import CodeReport, MapCheckReport

_STATUS_ORDER = ("understood", "mapped", "local", "unknown")


def _summary(report: MapCheckReport) -> dict[str, int]:
    counts = Counter(entry.status for entry in report.codes)
    summary = {status: counts.get(status, 0) for status in _STATUS_ORDER}
    summary["mapped_answers"] = sum(1 for e in report.codes if e.status == "mapped" and e.answers)
    summary["unknown_relevant"] = sum(1 for e in report.codes if e.status == "unknown" and e.relevant)
    summary["unverified"] = sum(1 for e in report.codes if e.unverified)
    summary["never_fetched"] = len(report.unfetched)
    return summary


def _code_json(entry: CodeReport) -> dict[str, Any]:
    return {
        "system": entry.system,
        "code": entry.code,
        "display": entry.display,
        "status": entry.status,
        "concepts": list(entry.concepts),
        "answers": list(entry.answers),
        "mapped_via": entry.mapped_via,
        "unverified": entry.unverified,
        "family": entry.family,
        "count": entry.count,
        "places": sorted(entry.places),
        "examples": entry.examples,
        "relevant": entry.relevant,
        "rules": list(entry.rules),
        "likely": list(entry.likely),
        "fetched": entry.fetched,
        "fetched_by": list(entry.fetched_by),
    }


def to_json(report: MapCheckReport) -> str:
    body = {
        "files": report.files,
        "resources": report.resources,
        "codings": report.codings,
        "summary": _summary(report),
        "codes": [_code_json(entry) for entry in report.codes],
        "coverage": [
            {"concepts": list(cov.concepts), "required": cov.required, "present": cov.present}
            for cov in report.coverage
        ],
        "problems": [{"location": p.location, "message": p.message} for p in report.problems],
        "not_applied": [
            {"system": skip.source_system, "code": skip.code, "where": skip.where, "reason": skip.reason}
            for skip in report.not_applied
        ],
        "conceptmap_notes": [
            {"kind": note.kind, "where": note.where, "message": note.message}
            for note in report.conceptmap_notes
        ],
        "exit_code": report.exit_code,
    }
    return json.dumps(body, indent=2, ensure_ascii=False)


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join("{:<%d}" % w for w in widths)  # noqa: UP031 - widths vary per table
    out = ["  " + line.format(*headers).rstrip(), "  " + line.format(*("-" * w for w in widths)).rstrip()]
    out += ["  " + line.format(*row).rstrip() for row in rows]
    return out


def _label(entry: CodeReport) -> str:
    return f"{entry.system}|{entry.code}" if entry.system else f"(no system)|{entry.code}"


def _places(entry: CodeReport) -> str:
    return ", ".join(sorted(entry.places))


def _fetched(entry: CodeReport) -> str:
    if entry.fetched is None:
        return "-"
    return ", ".join(entry.fetched_by) if entry.fetched else "NEVER FETCHED"


def to_text(report: MapCheckReport) -> str:
    s = _summary(report)
    lines = [
        f"map-check: {len(report.files)} file(s), {report.resources} resources, {report.codings} codings, "
        f"{len(report.codes)} distinct codes",
        f"  understood {s['understood']}, mapped {s['mapped']} ({s['mapped_answers']} answer codes), "
        f"local {s['local']}, unknown {s['unknown']} "
        f"({s['unknown_relevant']} where rules look); {s['unverified']} understood only through codes "
        "awaiting verification",
    ]
    unknown = [e for e in report.codes if e.status == "unknown" and e.relevant]
    if unknown:
        lines += ["", "UNKNOWN codes where the rules look (map them with a ConceptMap):"]
        rows = [
            [_label(e), str(e.count), _places(e), ", ".join(e.likely) or "-", ", ".join(e.rules) or "-"]
            for e in unknown
        ]
        lines += _table(["code", "count", "place", "looks like", "rules that would have used it"], rows)
    known = [e for e in report.codes if e.status in ("understood", "mapped")]
    if known:
        lines += ["", "Understood codes:"]
        rows = [
            [
                _label(e),
                str(e.count),
                ", ".join([*e.concepts, *(f"answer {a}" for a in e.answers)]),
                e.mapped_via or ("code family " + e.family if e.family else "profiles"),
                _fetched(e),
                "UNVERIFIED" if e.unverified else "",
            ]
            for e in known
        ]
        lines += _table(["code", "count", "concepts", "via", "requested by", "note"], rows)
    if report.unfetched:
        lines += ["", "NEVER FETCHED: no prefetch template requests the records these codes sit on:"]
        lines += [f"  {_label(e)} at {_places(e)}" for e in report.unfetched]
    other = [e for e in report.codes if e.status == "unknown" and not e.relevant]
    local = [e for e in report.codes if e.status == "local"]
    if local:
        lines += ["", f"Project codes used as values: {', '.join(sorted({e.code for e in local}))}"]
    if other:
        lines += ["", f"{len(other)} unknown code(s) at places no rule reads (--json lists them), e.g.:"]
        lines += [f"  {_label(e)} at {_places(e)}" for e in other[:5]]
    lines += ["", "Coverage:"]
    for cov in report.coverage:
        state = "present" if cov.present else "MISSING"
        kind = "required   " if cov.required else "recommended"
        lines.append(f"  {kind} {' or '.join(cov.concepts):<60} {state}")
    if report.not_applied:
        lines += ["", "ConceptMap elements NOT APPLIED (the service ignores them):"]
        lines += [f"  {x.source_system}|{x.code} at {x.where}: {x.reason}" for x in report.not_applied]
    if report.conceptmap_notes:
        lines += ["", "ConceptMaps and files to check (draft maps are applied; retired maps and files "
                  "holding no ConceptMap are not):"]  # fmt: skip
        lines += [f"  {note.where}: {note.message}" for note in report.conceptmap_notes]
    if report.problems:
        lines += ["", "Input problems:"] + [f"  {p.location}: {p.message}" for p in report.problems]
    verdict = {
        0: "OK",
        1: "INPUT PROBLEMS",
        2: "REQUIRED DATA MISSING",
        3: "CODES NEVER FETCHED",
        4: "CONCEPTMAP ELEMENTS NOT APPLIED",
    }[report.exit_code]
    lines += ["", f"Result: {verdict} (exit {report.exit_code})"]
    return "\n".join(lines)
