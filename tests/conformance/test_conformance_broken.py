"""Deliberately broken resources are reported, each with the FHIRPath location of what is wrong."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fhir_bonemet.cli.main import main
from fhir_bonemet.conformance.bindings import check_bindings
from fhir_bonemet.conformance.check import Subject, validate_subjects
from fhir_bonemet.conformance.definitions import load_definitions
from fhir_bonemet.project_dirs import PROFILES, SOURCE_TREE

GENERATED = PROFILES.default / "generated"
SD = "http://fhir-bonemet.org/fhir/StructureDefinition/"


def example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((GENERATED / f"{name}.json").read_text(encoding="utf-8"))
    data.pop("meta", None)  # chosen by content, as for an integrator's data
    return data


def _broken() -> dict[str, tuple[str, dict[str, Any]]]:
    """Each case: (root the resource sits at, resource)."""
    cases: dict[str, tuple[str, dict[str, Any]]] = {}
    for name in (
        "Observation-example-sins",
        "CarePlan-example-exercise-careplan",
        "ServiceRequest-example-referral",
        "MedicationRequest-example-suggested-medicationrequest",
        "MedicationRequest-example-annotated-draft-medicationrequest",
    ):
        cases[f"unbroken {name}"] = (name.split("-")[0], example(name))
    sins = example("Observation-example-sins")
    sins["valueInteger"] = 21
    cases["sins out of range"] = ("Observation", sins)
    sins = example("Observation-example-sins")
    sins["component"][0]["valueInteger"] = 3  # the items now add up to 16, the total says 14
    cases["sins items do not add up"] = ("Observation", sins)
    mirels = example("Observation-example-mirels")
    mirels["component"][0]["valueInteger"] = 5
    mirels["valueInteger"] = 11
    cases["mirels item out of range"] = ("Observation", mirels)
    plan = example("CarePlan-example-exercise-careplan")
    plan["activity"][1]["detail"]["scheduledTiming"] = {
        "repeat": {"frequency": 3, "period": 1, "periodUnit": "wk"}
    }
    cases["avoided activity scheduled"] = ("CarePlan", plan)
    plan = example("CarePlan-example-exercise-careplan")
    plan["activity"][0]["detail"]["goal"] = [{"reference": "#goal-missing"}]
    cases["goal not contained"] = ("CarePlan", plan)
    referral = example("ServiceRequest-example-referral")
    referral["code"]["coding"][0]["code"] = "ref-astrology"
    cases["unknown referral code"] = ("ServiceRequest", referral)
    referral = example("ServiceRequest-example-referral")
    referral["status"] = "active"
    cases["referral not a draft"] = ("ServiceRequest", referral)
    plan = example("CarePlan-example-exercise-careplan")
    plan["contained"][0]["lifecycleStatus"] = "active"
    cases["contained goal not proposed"] = ("CarePlan", plan)
    plan = example("CarePlan-example-exercise-careplan")
    del plan["activity"][0]["detail"]["description"]
    cases["activity without description"] = ("CarePlan", plan)
    valueset = json.loads(
        (PROFILES.default / "valuesets" / "ValueSet-lesion-type.json").read_text(encoding="utf-8")
    )
    valueset["compose"]["include"][0] = {
        "system": "http://snomed.info/sct",
        "filter": [{"property": "concept", "op": "is-a", "value": "128462008"}],
    }
    cases["valueset by filter"] = ("ValueSet", valueset)
    conceptmap = example("ConceptMap-example-local-flowsheet-conceptmap")
    del conceptmap["group"][0]["source"]
    cases["conceptmap group without source"] = ("ConceptMap", conceptmap)
    condition = example("Condition-example-bone-metastasis-condition")
    condition["clinicalStatus"]["coding"][0]["code"] = "smouldering"
    del condition["category"]
    cases["bundle entry"] = ("Bundle.entry[4].resource", condition)
    return cases | _medication_cases()


@pytest.fixture(scope="module")
def found() -> dict[str, list[tuple[str, str]]]:
    """Errors (location, message) of every case, from one validator run."""
    cases = _broken()
    results = validate_subjects([Subject(name, root, resource) for name, (root, resource) in cases.items()])
    return {r.subject.source: [(i.location, i.message) for i in r.errors] for r in results}


def _medication_cases() -> dict[str, tuple[str, dict[str, Any]]]:
    cases: dict[str, tuple[str, dict[str, Any]]] = {}
    proposed = example("MedicationRequest-example-suggested-medicationrequest")
    proposed["medicationCodeableConcept"]["coding"][0] = {
        "system": "http://www.whocc.no/atc",
        "code": "N02AA05",
        "display": "oxycodone",
    }
    cases["proposed medication outside the suggested medications"] = ("MedicationRequest", proposed)
    proposed = example("MedicationRequest-example-suggested-medicationrequest")
    proposed["intent"] = "plan"
    cases["proposed order as a plan"] = ("MedicationRequest", proposed)
    proposed = example("MedicationRequest-example-suggested-medicationrequest")
    del proposed["dosageInstruction"][0]["timing"]
    cases["proposed order without timing"] = ("MedicationRequest", proposed)
    changed = example("MedicationRequest-example-annotated-draft-medicationrequest")
    changed["status"] = "active"
    cases["changed order not a draft"] = ("MedicationRequest", changed)
    return cases


def test_the_unbroken_examples_pass(found: dict[str, list[tuple[str, str]]]) -> None:
    assert [found[n] for n in found if n.startswith("unbroken")] == [[], [], [], [], []]


def test_a_sins_total_out_of_range_is_located_at_the_value(found: dict[str, list[tuple[str, str]]]) -> None:
    expected = ("Observation.value[x]", "Constraint bonemet-sins-range not met: SINS total is 0 to 18.")
    assert expected in found["sins out of range"]


def test_items_that_do_not_add_up_to_the_total_are_reported(found: dict[str, list[tuple[str, str]]]) -> None:
    assert [loc for loc, msg in found["sins items do not add up"] if "bonemet-sins-sum" in msg] == [
        "Observation"
    ]


def test_an_item_score_out_of_range_is_reported(found: dict[str, list[tuple[str, str]]]) -> None:
    assert any("bonemet-mirels-items" in msg for _loc, msg in found["mirels item out of range"])


def test_an_avoided_activity_with_a_schedule_is_reported(found: dict[str, list[tuple[str, str]]]) -> None:
    assert [
        loc for loc, msg in found["avoided activity scheduled"] if "bonemet-avoid-unscheduled" in msg
    ] == ["CarePlan"]


def test_a_goal_reference_that_names_no_contained_goal_is_reported(
    found: dict[str, list[tuple[str, str]]],
) -> None:
    assert any("bonemet-goals-resolve" in msg for _loc, msg in found["goal not contained"])


@pytest.mark.parametrize(
    ("case", "constraint"),
    [
        ("contained goal not proposed", "bonemet-contained-goals"),
        ("activity without description", "bonemet-activity-detail"),
        ("valueset by filter", "bonemet-vs-enumerated"),
        ("conceptmap group without source", "bonemet-cm-groups"),
    ],
)
def test_rules_on_nested_elements_are_enforced_at_the_root(
    found: dict[str, list[tuple[str, str]]], case: str, constraint: str
) -> None:
    # medplum applies a profile's element rules below the first backbone level (and to contained
    # resources) only through these root invariants; each one must bite.
    resource_type = _broken()[case][0]
    assert [loc for loc, msg in found[case] if constraint in msg] == [resource_type]


def test_an_unknown_referral_code_is_a_binding_error_at_the_coding(
    found: dict[str, list[tuple[str, str]]],
) -> None:
    assert (
        "ServiceRequest.code.coding[0]",
        "http://fhir-bonemet.org/fhir/CodeSystem/bonemet|ref-astrology is not in the required ValueSet "
        "http://fhir-bonemet.org/fhir/ValueSet/bonemet-referral-codes",
    ) in found["unknown referral code"]


def test_a_referral_that_is_not_a_draft_is_reported_at_the_status(
    found: dict[str, list[tuple[str, str]]],
) -> None:
    assert any(loc == "ServiceRequest.status" for loc, _msg in found["referral not a draft"])


def test_a_proposed_medication_outside_the_project_tables_is_a_binding_error(
    found: dict[str, list[tuple[str, str]]],
) -> None:
    assert (
        "MedicationRequest.medication.ofType(CodeableConcept)",
        "http://www.whocc.no/atc|N02AA05 is not in the required ValueSet "
        "http://fhir-bonemet.org/fhir/ValueSet/bonemet-suggested-medications",
    ) in found["proposed medication outside the suggested medications"]


@pytest.mark.parametrize(
    ("case", "location"),
    [
        ("proposed order as a plan", "MedicationRequest.intent"),
        ("proposed order without timing", "MedicationRequest.dosageInstruction[0].timing"),
        ("changed order not a draft", "MedicationRequest.status"),
    ],
)
def test_medication_orders_the_service_sends_are_held_to_their_profile(
    found: dict[str, list[tuple[str, str]]], case: str, location: str
) -> None:
    assert location in [loc for loc, _msg in found[case]], found[case]


def test_a_broken_entry_of_a_bundle_is_located_inside_the_bundle(
    found: dict[str, list[tuple[str, str]]],
) -> None:
    locations = [loc for loc, _msg in found["bundle entry"]]
    assert "Bundle.entry[4].resource.clinicalStatus" in locations  # the required binding
    assert "Bundle.entry[4].resource.category" in locations  # mCODE / US Core: category 1..*


def test_required_bindings_compare_code_families_as_the_service_does() -> None:
    definitions = load_definitions()
    condition = example("Condition-example-bone-metastasis-condition")
    profile = SD + "bonemet-bone-metastasis-condition"
    # ICD-10 (WHO) C79.5 is a code family in the bone-metastasis ValueSet: C79.51 belongs to it.
    condition["code"] = {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "C79.51"}]}
    assert check_bindings(condition, definitions, profile) == []
    condition["code"] = {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "C78.0"}]}
    assert [i.location for i in check_bindings(condition, definitions, profile)] == ["Condition.code"]
    condition["code"] = {"text": "bone metastasis"}  # text only: no coding from the required ValueSet
    (issue,) = check_bindings(condition, definitions, profile)
    assert "no coding from the required ValueSet" in issue.message


def test_cli_reports_locations_and_exits_non_zero_on_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sins = example("Observation-example-sins")
    sins["valueInteger"] = 25
    export = tmp_path / "export.ndjson"
    lines = [json.dumps(example("Observation-example-mirels")), "{not json", json.dumps(sins)]
    export.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["validate", str(export)]) == 1
    out = capsys.readouterr().out
    assert f"{export}: line 2: error: not JSON" in out
    assert f"{export}: line 3: Observation.value[x]: error: Constraint bonemet-sins-range not met" in out
    assert "line 1" not in out


def test_cli_passes_valid_files_and_prints_warnings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    vignette = SOURCE_TREE / "tests" / "data" / "vignettes" / "exercise" / "v21_site_unknown.json"
    bundle = GENERATED / "Condition-example-bone-metastasis-condition.json"
    assert main(["validate", str(vignette), str(bundle)]) == 0
    out = capsys.readouterr().out
    assert "warning: Constraint bonemet-site-known not met" in out
    assert "checked: 0 error(s), 0 resource(s) with errors" in out


def test_answering_a_hook_never_loads_the_conformance_checks() -> None:
    # The hot path must not validate: run a real hook in a fresh interpreter and look at what it imported.
    script = """
import sys, tempfile
from pathlib import Path
from datetime import date
from fastapi.testclient import TestClient
from fhir_bonemet.cli.examples_runner import prefetched_request
from fhir_bonemet.settings import Settings
from fhir_bonemet.main import build_app
from fhir_bonemet.workflow import Workflow
with tempfile.TemporaryDirectory() as d:
    settings = Settings(auth_required=False, data_dir=Path(d))
    app = build_app(settings, handler=Workflow.from_settings(settings, clock=lambda: date(2025, 6, 2)))
    with TestClient(app) as client:
        sid = {s["hook"]: s["id"] for s in client.get("/cds-services").json()["services"]}["patient-view"]
        body = prefetched_request("thoracic-spine-sins14")
        cards = client.post(f"/cds-services/{sid}", json=body).json()["cards"]
        assert cards, "the example must produce cards"
print(sorted(m for m in sys.modules if m.startswith("fhir_bonemet.conformance")))
"""
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "[]"
