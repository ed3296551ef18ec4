"""The example patients a new user fires: valid FHIR, codes the service understands, runnable hooks."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
import requests
from cards_builders import make_cards, make_careplan
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.careplan import CarePlan

from fhir_bonemet.cards.build import CardContext
from fhir_bonemet.cds.models import CDSResponse
from fhir_bonemet.cli.examples_runner import (
    default_examples_dir,
    describe,
    load_bundle,
    load_manifest,
    shift_dates,
)
from fhir_bonemet.core.model import concepts
from fhir_bonemet.core.model.hooks import Hook
from fhir_bonemet.fhir.outbound.careplan import on_opioid
from fhir_bonemet.fhir.terminology.lookup import Terminology

EXAMPLES = default_examples_dir()
MANIFEST = load_manifest(EXAMPLES)
SCENARIOS = [s["id"] for s in MANIFEST["scenarios"]]
MCODE_LATERALITY = "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-laterality-qualifier"


def bundle(scenario: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / scenario / "bundle.json").read_text(encoding="utf-8"))
    return data


def resources(scenario: str, kind: str | None = None) -> list[dict[str, Any]]:
    found = [e["resource"] for e in bundle(scenario)["entry"]]
    return [r for r in found if kind is None or r["resourceType"] == kind]


def hook_request(scenario: str, hook: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / scenario / f"{hook}.json").read_text(encoding="utf-8"))
    return data


def test_at_least_eight_scenarios_each_with_a_bundle_and_three_hooks() -> None:
    assert len(SCENARIOS) >= 8
    for scenario in SCENARIOS:
        assert {p.name for p in (EXAMPLES / scenario).iterdir()} >= {
            "bundle.json",
            *(f"{h}.json" for h in Hook),
        }


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_bundle_is_a_transaction_of_valid_r4_resources_with_resolvable_references(scenario: str) -> None:
    data = bundle(scenario)
    Bundle.model_validate(data)
    assert data["type"] == "transaction"
    present = set()
    for entry in data["entry"]:
        resource = entry["resource"]
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
        assert entry["request"] == {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"}
        present.add(f"{resource['resourceType']}/{resource['id']}")
    for ref in {r for r in _references(data) if not r.startswith("http")}:
        assert ref in present, f"{scenario}: {ref} is referenced but not in the bundle"
    assert "Patient/" + MANIFEST["scenarios"][SCENARIOS.index(scenario)]["patientId"] in present


def _references(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["reference"]] if isinstance(node.get("reference"), str) else []
        return own + [r for v in node.values() for r in _references(v)]
    if isinstance(node, list):
        return [r for v in node for r in _references(v)]
    return []


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_hook_requests_name_the_patient_and_carry_valid_draft_orders(scenario: str) -> None:
    patient = MANIFEST["scenarios"][SCENARIOS.index(scenario)]["patientId"]
    for hook in Hook:
        request = hook_request(scenario, hook)
        assert request["hook"] == hook
        assert request["context"]["patientId"] == patient
        assert request["context"]["userId"].startswith("Practitioner/")
        assert "prefetch" not in request  # the service fetches from fhirServer
        if hook == "patient-view":
            assert "draftOrders" not in request["context"]
            continue
        drafts = request["context"]["draftOrders"]
        assert drafts["resourceType"] == "Bundle"
        refs = []
        for entry in drafts["entry"]:
            resource = entry["resource"]
            get_fhir_model_class(resource["resourceType"]).model_validate(resource)
            assert resource["status"] == "draft"
            refs.append(f"{resource['resourceType']}/{resource['id']}")
        if hook == "order-select":
            assert set(request["context"]["selections"]) <= set(refs)


def test_every_hook_request_has_its_own_hook_instance() -> None:
    instances = [hook_request(s, h)["hookInstance"] for s in SCENARIOS for h in Hook]
    assert len(set(instances)) == len(instances)


def test_bone_metastases_use_the_mcode_codes_the_service_understands() -> None:
    terminology = Terminology.load()
    for scenario in SCENARIOS:
        for condition in resources(scenario, "Condition"):
            found = terminology.concepts_for(condition["code"])
            if scenario == "brain-only-metastasis" or concepts.BONE_METASTASIS not in found:
                continue
            codings = {(c["system"], c["code"]) for c in condition["code"]["coding"]}
            assert ("http://snomed.info/sct", "94222008") in codings
            assert ("http://hl7.org/fhir/sid/icd-10-cm", "C79.51") in codings
            for site in condition["bodySite"]:
                assert terminology.concepts_for(site), f"{scenario}: body site not understood"
    brain = resources("brain-only-metastasis", "Condition")
    assert not any(concepts.BONE_METASTASIS in terminology.concepts_for(c["code"]) for c in brain)


def test_every_coded_observation_and_medication_maps_to_a_concept() -> None:
    terminology = Terminology.load()
    for scenario in SCENARIOS:
        for obs in resources(scenario, "Observation"):
            assert terminology.concepts_for(obs["code"]), f"{scenario}: {obs['id']} not understood"
        for kind in ("MedicationRequest", "MedicationStatement"):
            for med in resources(scenario, kind):
                classes = terminology.classify_medication(med["medicationCodeableConcept"]).classes
                assert classes, f"{scenario}: {med['id']} not classified"
        for hook in ("order-select", "order-sign"):
            for entry in hook_request(scenario, hook)["context"]["draftOrders"]["entry"]:
                concept = entry["resource"]["medicationCodeableConcept"]
                assert terminology.classify_medication(concept).classes


def test_laterality_uses_the_mcode_extension() -> None:
    femur = next(c for c in resources("proximal-femur-mirels9", "Condition") if "bodySite" in c)
    (site,) = femur["bodySite"]
    laterality = next(e for e in site["extension"] if e["url"] == MCODE_LATERALITY)
    assert laterality["valueCodeableConcept"]["coding"][0]["code"] == "7771000"


def test_shift_dates_moves_clinical_dates_but_not_birth_dates() -> None:
    data = {
        "birthDate": "1955-09-02",
        "effectiveDateTime": "2025-06-01T09:00:00Z",
        "onsetDateTime": "2025-04-23",
        "effectivePeriod": {"start": "2025-05-01"},
        "valueString": "2025-06-01",
        "entry": [{"authoredOn": "2025-06-02"}],
    }
    moved = shift_dates(data, 10)
    assert moved == {
        "birthDate": "1955-09-02",
        "effectiveDateTime": "2025-06-11T09:00:00Z",
        "onsetDateTime": "2025-05-03",
        "effectivePeriod": {"start": "2025-05-11"},
        "valueString": "2025-06-01",
        "entry": [{"authoredOn": "2025-06-12"}],
    }


def test_describe_prints_indicator_summary_rules_and_suggestions() -> None:
    response = {
        "cards": [
            {
                "summary": "Refer to spine surgery",
                "indicator": "critical",
                "extension": {"org.fhir-bonemet.rules": ["R04"]},
                "suggestions": [{"label": "Referral to spine surgery"}],
            }
        ]
    }
    assert describe(response) == [
        "  [critical] Refer to spine surgery  (R04)",
        "             -> Referral to spine surgery",
    ]
    assert describe({"cards": []}) == ["  (no cards)"]


def test_every_bundle_loads_into_the_real_fhir_server(fresh_fhir: Any) -> None:
    with requests.Session() as session:
        session.trust_env = False
        for scenario in SCENARIOS:
            count = load_bundle(session, fresh_fhir.base_url, shift_dates(bundle(scenario), 30), None)
            assert count == len(bundle(scenario)["entry"])
            patient = MANIFEST["scenarios"][SCENARIOS.index(scenario)]["patientId"]
            found = session.get(
                f"{fresh_fhir.base_url}/Condition", params={"patient": patient}, timeout=10
            ).json()
            assert found["total"] >= 2
        # Loading again changes nothing (PUTs): still one patient per scenario.
        load_bundle(session, fresh_fhir.base_url, bundle(SCENARIOS[0]), None)
        patients = session.get(f"{fresh_fhir.base_url}/Patient", params={"_count": 100}, timeout=10).json()
        assert patients["total"] == len(SCENARIOS)


# What each scenario is designed to show, per hook: rule ids that must lead a card (the first rule id of a
# card), and for the critical ones the indicator.  Computed by the real reader, terminology and rules.
DESIGNED: dict[str, dict[str, set[str]]] = {
    "thoracic-spine-sins14": {
        "patient-view": {"R04", "P03", "P06", "P07"},
        "order-select": {"R04", "P08", "P10"},
    },
    "proximal-femur-mirels9": {"patient-view": {"R04", "P03", "P06"}, "order-select": {"R04", "P19"}},
    "rib-blastic-ecog1": {"patient-view": {"P02"}},
    "opioid-benzodiazepine": {"patient-view": {"P14", "P15", "R04"}, "order-select": {"R09"}},
    "nsaid-renal-impairment": {
        "patient-view": {"P16", "P19"},
        "order-select": {"P16"},
        "order-sign": {"P23"},
    },
    "suspected-cord-compression": {"patient-view": {"R01"}},
    "hypercalcaemia": {"patient-view": {"R03"}},
}


def _assess(scenario: str, hook: str) -> tuple[Any, Any]:
    from fhir_bonemet.core.exercise.assess import assess_exercise
    from fhir_bonemet.core.model.findings import Assessment
    from fhir_bonemet.core.pain.assess import assess_pain
    from fhir_bonemet.core.population import population_gate
    from fhir_bonemet.core.red_flags.spinal import assess_red_flags
    from fhir_bonemet.fhir.intake.patient_facts import extract_facts
    from fhir_bonemet.fhir.intake.read import read_values
    from fhir_bonemet.knowledge import load_thresholds

    today = date.fromisoformat(MANIFEST["anchorDate"])
    thresholds = load_thresholds()
    read = read_values([(e["resource"]["resourceType"], e["resource"]) for e in bundle(scenario)["entry"]])
    ctx = hook_request(scenario, hook)["context"]
    facts = extract_facts(
        read,
        Terminology.load(),
        patient_id=ctx["patientId"],
        draft_orders=ctx.get("draftOrders"),
        selections=ctx.get("selections", ()),
    )
    in_population, reason = population_gate(facts, today, thresholds)
    if not in_population:
        return Assessment(False, reason), facts
    flags = assess_red_flags(facts, today, thresholds)
    plan, exercise = assess_exercise(facts, today, thresholds, flags)
    pain = assess_pain(facts, today, thresholds, hook=hook, exercise=plan)
    return Assessment(True, reason, (*flags, *exercise, *pain), plan), facts


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_each_scenario_gives_its_designed_cards_through_the_real_rules(scenario: str) -> None:
    today = date.fromisoformat(MANIFEST["anchorDate"])
    for hook in Hook:
        assessment, facts = _assess(scenario, hook)
        request = hook_request(scenario, hook)
        drafts = {
            f"{e['resource']['resourceType']}/{e['resource']['id']}": e["resource"]
            for e in request["context"].get("draftOrders", {}).get("entry", [])
        }
        patient = f"Patient/{request['context']['patientId']}"
        plan = make_careplan(assessment, patient_ref=patient, today=today, opioid=on_opioid(facts, today))
        context = CardContext(
            hook, request["hookInstance"], patient, today, draft_orders=drafts, careplan=plan
        )
        cards = CDSResponse(cards=make_cards(assessment, context=context)).to_wire()["cards"]
        if scenario == "brain-only-metastasis":
            assert cards == []
            assert plan is None
            continue
        # Every designed rule reaches the clinician: leading a card, merged into one, or folded onto one.
        named = {r for c in cards for r in c["extension"]["org.fhir-bonemet.rules"]}
        assert DESIGNED.get(scenario, {}).get(hook, set()) <= named, (hook, named)
        ranks = [{"critical": 0, "warning": 1, "info": 2}[c["indicator"]] for c in cards]
        assert ranks == sorted(ranks)
        assert plan is not None
        CarePlan.model_validate(plan.resource)
        creates = [
            a["resource"]
            for c in cards
            for s in c.get("suggestions", [])
            for a in s["actions"]
            if a["type"] == "create"
        ]
        assert [r for r in creates if r["resourceType"] == "CarePlan"] == [plan.resource]
        for resource in creates:
            get_fhir_model_class(resource["resourceType"]).model_validate(resource)
        for card in cards:
            for suggestion in card.get("suggestions", []):
                for action in suggestion["actions"]:
                    if action["type"] in ("update", "delete"):
                        assert hook != "patient-view"
                        ref = (
                            action.get("resourceId")
                            or f"{action['resource']['resourceType']}/{action['resource']['id']}"
                        )
                        assert ref in drafts


def test_critical_red_flags_hold_the_exercise_plan_in_the_careplan() -> None:
    today = date.fromisoformat(MANIFEST["anchorDate"])
    assessment, _ = _assess("suspected-cord-compression", "patient-view")
    plan = make_careplan(assessment, patient_ref="Patient/bm-cord-compression", today=today)
    assert plan is not None
    assert plan.structured_exercise_held
    details = {a["detail"]["code"]["coding"][0]["code"]: a["detail"] for a in plan.resource["activity"]}
    structured = {code: d for code, d in details.items() if code.startswith("ex-") and code != "ex-adl-only"}
    assert len(structured) == 8
    for code, detail in structured.items():
        # Either prohibited outright or on hold: nothing structured is scheduled to be done.
        assert detail.get("doNotPerform") is True or detail["status"] == "on-hold", code
        assert "scheduledTiming" not in detail
    assert details["ex-adl-only"]["status"] == "scheduled"
    assert "doNotPerform" not in details["ex-adl-only"]
