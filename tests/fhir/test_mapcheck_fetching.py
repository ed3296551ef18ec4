"""``map-check`` says, for every understood or mapped code, whether a prefetch template requests it; it
streams large NDJSON exports in bounded memory and shows progress only on a terminal."""

from __future__ import annotations

import io
import json
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from fhir_bonemet.cds.prefetch_templates import observation_templates
from fhir_bonemet.cli.main import main
from fhir_bonemet.core.rulebook import CATALOGUE
from fhir_bonemet.fhir.terminology.lookup import Terminology
from fhir_bonemet.mapcheck.check import (
    UNFETCHED_EXIT,
    MapChecker,
    MapCheckReport,
    run_check,
)
from fhir_bonemet.mapcheck.fetching import FetchCoverage
from fhir_bonemet.mapcheck.inputs import Located, read_inputs
from fhir_bonemet.mapcheck.progress import Progress
from fhir_bonemet.project_dirs import PROFILES

EXAMPLE_MAPS = PROFILES.default.parent / "examples" / "conceptmaps"
FLOWSHEET = "http://hospital.example.org/flowsheet"
BONE_MET = {
    "resourceType": "Condition",
    "id": "met",
    "code": {"coding": [{"system": "http://snomed.info/sct", "code": "94222008"}]},
}


def _obs(code: str, system: str = FLOWSHEET, n: int = 0) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": f"o{n}",
        "status": "final",
        "code": {"coding": [{"system": system, "code": code}]},
        "valueInteger": 12,
    }


def _entry(report: MapCheckReport, code: str) -> Any:
    return next(e for e in report.codes if e.code == code)


@pytest.fixture(scope="module")
def mapped() -> Terminology:
    return Terminology.load(conceptmap_dirs=[EXAMPLE_MAPS])


def _check(terminology: Terminology, templates: dict[str, str], *resources: dict[str, Any]) -> MapCheckReport:
    catalogue = dict(CATALOGUE)
    fetching = FetchCoverage(templates, terminology)
    located = [Located(f"x#entry[{i}]", resource) for i, resource in enumerate(resources)]
    return MapChecker(terminology, catalogue, fetching).check(located, MapCheckReport(files=["x"]))


def test_mapped_local_codes_are_requested_by_the_generated_templates(mapped: Terminology) -> None:
    templates = {
        "conditions": "Condition?patient={{context.patientId}}",
        **observation_templates(mapped.search_codes),
    }
    report = _check(mapped, templates, BONE_MET, _obs("SPINE-SINS"), _obs("RF-LEG-WEAK", n=1))
    assert _entry(report, "SPINE-SINS").fetched_by == ("observations-scores",)
    assert _entry(report, "RF-LEG-WEAK").fetched_by == ("observations-flags",)
    assert _entry(report, "94222008").fetched_by == ("conditions",)
    assert report.unfetched == []
    assert report.exit_code == 0


def test_templates_without_the_conceptmap_codes_never_fetch_them(mapped: Terminology) -> None:
    """The old failure: templates listing the ValueSet codes only, a ConceptMap loaded. map-check said
    "understood" and the charts still came out wrong; now it says "never fetched" and exits non-zero."""
    valueset_only = observation_templates(Terminology.load().search_codes)
    templates = {"conditions": "Condition?patient={{context.patientId}}", **valueset_only}
    report = _check(mapped, templates, BONE_MET, _obs("SPINE-SINS"), _obs("72514-3", "http://loinc.org", 1))
    assert _entry(report, "SPINE-SINS").status == "mapped"
    assert _entry(report, "SPINE-SINS").fetched is False
    assert _entry(report, "72514-3").fetched_by == ("observations-pain",)
    assert [e.code for e in report.unfetched] == ["SPINE-SINS"]
    assert report.exit_code == UNFETCHED_EXIT


def test_the_command_reports_where_each_code_is_requested(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "export.ndjson"
    path.write_text("\n".join(json.dumps(r) for r in (BONE_MET, _obs("SPINE-SINS"), _obs("MIRELS", n=1))))
    code = main(["map-check", str(path), "--conceptmaps", str(EXAMPLE_MAPS), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    by_code = {e["code"]: e for e in report["codes"]}
    assert by_code["SPINE-SINS"]["fetched"] is True
    assert by_code["SPINE-SINS"]["fetched_by"] == ["observations-scores"]
    assert by_code["MIRELS"]["fetched_by"] == ["observations-scores"]
    assert report["summary"]["never_fetched"] == 0
    main(["map-check", str(path), "--conceptmaps", str(EXAMPLE_MAPS)])
    assert "observations-scores" in capsys.readouterr().out


def test_a_large_ndjson_export_is_streamed_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "bulk.ndjson"
    padding = "x" * 400  # a realistic resource size: notes, identifiers, meta
    with path.open("w", encoding="utf-8") as out:
        out.write(json.dumps(BONE_MET) + "\n")
        for n in range(40_000):
            resource = _obs("PAIN-NRS", n=n)
            resource["note"] = [{"text": padding}]
            out.write(json.dumps(resource) + "\n")
    size = path.stat().st_size
    assert size > 20_000_000
    tracemalloc.start()
    try:
        report = run_check([path], [EXAMPLE_MAPS])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.resources == 40_001
    assert _entry(report, "PAIN-NRS").count == 40_000
    assert peak < size / 4  # never the whole file, nor every resource, in memory at once


def test_progress_is_shown_on_a_terminal_only(tmp_path: Path) -> None:
    path = tmp_path / "export.ndjson"
    path.write_text("\n".join(json.dumps(_obs("PAIN-NRS", n=n)) for n in range(5)))
    shown = io.StringIO()
    run_check([path], [EXAMPLE_MAPS], progress=Progress(shown, enabled=True))
    assert "map-check: 1 resources" in shown.getvalue()
    assert "MB" in shown.getvalue()
    piped = io.StringIO()  # StringIO.isatty() is False, as for a pipe or a CI log
    progress = Progress(piped)
    run_check([path], [EXAMPLE_MAPS], progress=progress)
    progress.finish()
    assert piped.getvalue() == ""


def test_ndjson_and_whole_documents_are_told_apart(tmp_path: Path) -> None:
    pretty = tmp_path / "bundle.json"
    pretty.write_text(json.dumps({"resourceType": "Bundle", "entry": [{"resource": BONE_MET}]}, indent=2))
    one_line = tmp_path / "one.json"
    one_line.write_text(json.dumps(BONE_MET))
    ndjson = tmp_path / "x.ndjson"
    ndjson.write_text(json.dumps(BONE_MET) + "\n{broken\n" + json.dumps(_obs("PAIN-NRS")) + "\n")
    found, problems = read_inputs([pretty, one_line, ndjson])
    assert [item.location for item in found] == [
        f"{pretty}#entry[0]",
        str(one_line),
        f"{ndjson}:1",
        f"{ndjson}:3",
    ]
    assert [(p.location, p.message.split(":")[0]) for p in problems] == [(f"{ndjson}:2", "not valid JSON")]


def _panel(component_code: str, system: str = "http://loinc.org") -> dict[str, Any]:
    """A blood-count panel whose platelet count is a component (the panel's own code is no project code)."""
    return {
        "resourceType": "Observation",
        "id": "cbc",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "58410-2"}]},
        "component": [
            {
                "code": {"coding": [{"system": system, "code": component_code}]},
                "valueQuantity": {"value": 18, "code": "10*9/L"},
            }
        ],
    }


def test_a_code_in_a_panel_component_is_requested_by_the_panel_search(mapped: Terminology) -> None:
    templates = {
        "conditions": "Condition?patient={{context.patientId}}",
        **observation_templates(mapped.search_codes, panels=True),
    }
    report = _check(
        mapped, templates, BONE_MET, _panel("777-3"), _panel("PLT", "http://hospital.example.org/lab")
    )
    assert _entry(report, "777-3").fetched_by == ("observation-panels-labs",)
    assert _entry(report, "PLT").fetched_by == ("observation-panels-labs",)  # a mapped local lab code too
    assert report.exit_code == 0

    # Without the panel searches (or before them) the panel was never fetched: map-check says so.
    by_code_only = {
        "conditions": "Condition?patient={{context.patientId}}",
        **observation_templates(mapped.search_codes, panels=False),
    }
    report = _check(mapped, by_code_only, BONE_MET, _panel("777-3"))
    assert _entry(report, "777-3").fetched is False
    assert report.exit_code == UNFETCHED_EXIT


def test_the_command_checks_panel_components_against_the_panel_searches_only_when_asked(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The service publishes the panel searches only with BONEMET_PANEL_SEARCHES=true: by default a code
    found only in a component is never fetched, and ``--panel-searches`` checks the templates with them."""
    path = tmp_path / "export.ndjson"
    path.write_text("\n".join(json.dumps(r) for r in (BONE_MET, _panel("777-3"))))
    assert main(["map-check", str(path), "--json"]) == UNFETCHED_EXIT
    capsys.readouterr()
    assert main(["map-check", str(path), "--panel-searches", "--json"]) == 0
    by_code = {e["code"]: e for e in json.loads(capsys.readouterr().out)["codes"]}
    assert by_code["777-3"]["fetched_by"] == ["observation-panels-labs"]
