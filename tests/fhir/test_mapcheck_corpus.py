"""map-check over data nobody on this project wrote: the official R4 and mCODE example packages.

The packages are installed by ``make node-deps`` (``npm ci --prefix tests/corpus``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fhir_bonemet.mapcheck.check import run_check

pytestmark = pytest.mark.corpus

MODULES = Path(__file__).parents[1] / "corpus" / "node_modules"


def _files(package: str) -> list[Path]:
    root = MODULES / package
    if not (root / "package.json").is_file():
        pytest.fail(f"{package} is not installed: run `make node-deps` (or `npm ci --prefix tests/corpus`)")
    # Package metadata, OpenAPI documents and validation summaries are not FHIR resources.
    skip = {"openapi", "other"}
    return sorted(p for p in root.rglob("*.json") if p.name != "package.json" and not skip & set(p.parts))


def test_every_example_is_checked_without_an_exception() -> None:
    files = _files("hl7.fhir.r4.examples") + _files("hl7.fhir.us.mcode")
    report = run_check(files, [])
    assert report.resources > 19000
    assert report.problems == []
    statuses = {entry.status for entry in report.codes}
    assert statuses <= {"understood", "mapped", "local", "unknown"}
    pain_like = [e for e in report.codes if e.code == "72514-3"]
    assert all(e.concepts == ("pain-score",) for e in pain_like)
    # The only metastasis in these packages is mCODE's brain-metastasis patient: not a bone metastasis, so
    # the required concept is missing and the check says so.
    bone = next(cov for cov in report.coverage if cov.required)
    assert bone.concepts == ("bone-metastasis",)
    assert not bone.present
    assert report.exit_code == 2
