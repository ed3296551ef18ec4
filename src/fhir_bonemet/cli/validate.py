"""``fhir-bonemet validate FILE...``: check an integrator's FHIR JSON against the project's profiles.

Each resource (single resources, Bundle entries, NDJSON lines, the prefetch and draft orders of a CDS Hooks
request) is checked against the profiles it claims and the project profile its content calls for (see
:mod:`fhir_bonemet.conformance.routing`), by the independent Node validator (``tools/validator``) and by an
exact check of required bindings.  One line per issue::

    export.ndjson: line 3: Observation.value[x]: error: Constraint bonemet-sins-range not met: ...

Exit status: 0 when no resource has an error (warnings are printed but pass), 1 otherwise, 2 when the
validator itself cannot run (Node or ``tools/validator/node_modules`` missing).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

__all__ = ["register", "run"]

_PROFILE_PREFIX = "http://fhir-bonemet.org/fhir/StructureDefinition/"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="validate FHIR JSON, NDJSON or Bundle files against the fhir-bonemet profiles",
        # Written for the terminal: the module docstring is reStructuredText (``:mod:``, literal blocks),
        # which argparse would print raw and cut off at its first blank line.
        description=(
            "Check each resource (single resources, Bundle entries, NDJSON lines, the prefetch and draft "
            "orders of a CDS Hooks request) against the profiles it claims and the project profile its "
            "content calls for, with the independent Node validator (tools/validator) and an exact check of "
            "the required bindings. One line per issue: file, location (FHIRPath), severity, message, and "
            "[resource, profile]. Exit status: 0 no resource has an error (warnings pass), 1 errors, 2 the "
            "validator cannot run (Node or tools/validator/node_modules missing)."
        ),
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="JSON, NDJSON or Bundle file")
    parser.add_argument("--quiet", action="store_true", help="print errors only, not warnings")
    parser.set_defaults(func=run)


def _profile_name(profile: str | None) -> str:
    if profile is None:
        return "base R4"
    return profile.removeprefix(_PROFILE_PREFIX)


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    # Imported here: the conformance checks load definitions and need Node; other commands never pay for it.
    from fhir_bonemet.conformance.check import validate_files

    out = out or sys.stdout
    results, unreadable = validate_files(args.files)
    errors = 0
    for source, issue in unreadable:
        print(f"{source}: {issue.location}: error: {issue.message}", file=out)
        errors += 1
    for result in results:
        for issue in result.issues:
            if issue.is_error:
                errors += 1
            elif args.quiet:
                continue
            print(
                f"{result.subject.source}: {issue.location}: {issue.severity}: {issue.message}"
                f" [{result.label}, {_profile_name(issue.profile)}]",
                file=out,
            )
    failed = sum(1 for r in results if r.errors)
    print(
        f"{len(results)} resource(s) in {len(args.files)} file(s) checked: {errors} error(s),"
        f" {failed} resource(s) with errors",
        file=out,
    )
    return 1 if errors else 0
