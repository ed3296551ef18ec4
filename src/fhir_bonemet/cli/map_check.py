"""``fhir-bonemet map-check FILE... [--conceptmaps DIR]... [--json]``: which of an EHR's codes does the
service understand?  The check itself is :mod:`fhir_bonemet.mapcheck`; this module is its command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fhir_bonemet.errors import ConfigurationError, TerminologyError
from fhir_bonemet.mapcheck.check import INPUT_EXIT, run_check
from fhir_bonemet.mapcheck.progress import Progress
from fhir_bonemet.mapcheck.report import to_json, to_text

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "map-check",
        help="report which codes in FHIR files the service understands",
        description=(
            "Report, for every distinct code in FHIR Bundles, resources, JSON arrays, NDJSON or CDS Hooks "
            "requests, whether the service understands it (which concepts), maps it through a ConceptMap, "
            "or does not know it, which rules would have used the unknown ones, and whether the prefetch "
            "templates request the records each understood code sits on. Exit status: 0 ok, 1 unreadable "
            "input or ConceptMap, 2 a required concept (bone metastasis) has no usable data, 3 an "
            "understood or mapped code would never be fetched, 4 a ConceptMap element is not applied "
            "(a narrower, specializes, inexact or relatedto target, an element that maps nothing, or an "
            "element of a retired map)."
        ),
    )
    parser.add_argument(
        "files", nargs="+", type=Path, metavar="FILE", help="Bundle, resource, array or NDJSON"
    )
    parser.add_argument(
        "--conceptmaps",
        action="append",
        type=Path,
        default=[],
        metavar="DIR",
        help="directory of ConceptMap JSON files to apply (repeatable)",
    )
    parser.add_argument("--profiles", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument(
        "--services",
        type=Path,
        default=None,
        metavar="DIR",
        help="service definitions whose prefetch templates to check against (default: cds_hooks/)",
    )
    parser.add_argument(
        "--panel-searches",
        action="store_true",
        help="check against the templates of a service run with BONEMET_PANEL_SEARCHES=true (values "
        "inside panel components fetched by component-code)",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    progress = Progress(sys.stderr)  # shown only when stderr is a terminal
    try:
        report = run_check(
            list(args.files),
            list(args.conceptmaps),
            args.profiles,
            services_dir=args.services,
            progress=progress,
            panel_searches=args.panel_searches,
        )
    except (TerminologyError, ConfigurationError) as exc:
        print(f"fhir-bonemet map-check: {exc}", file=sys.stderr)
        return INPUT_EXIT
    finally:
        progress.finish()
    print(to_json(report) if args.json else to_text(report))
    return report.exit_code
