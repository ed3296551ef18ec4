"""What a clinician sees at chart review (patient-view) in cases the shipped examples do not cover.

Each test starts from a shipped example, changes the record the way a real chart differs from it, and reads
the cards through the real app (``hook_answers.fire``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

from hook_answers import HookCase, example_cases, fire

Json = dict[str, Any]
RULES = "org.fhir-bonemet.rules"


def _example(scenario: str) -> HookCase:
    return next(c for c in example_cases() if c.name == f"example:{scenario}" and c.hook == "patient-view")


def _resources(request: Json) -> Iterator[Json]:
    for value in request["prefetch"].values():
        if isinstance(value, dict) and value.get("resourceType") == "Bundle":
            for entry in value.get("entry", []):
                yield entry["resource"]


def _loinc(resource: Json) -> str | None:
    codings = resource.get("code", {}).get("coding", [])
    return next((c["code"] for c in codings if c.get("system") == "http://loinc.org"), None)


def _card(cards: list[Json], rule_id: str) -> Json:
    return next(card for card in cards if rule_id in card["extension"][RULES])


# --- hypercalcaemia: the bisphosphonate it proposes names the kidney ---------------------------------------


def _with_creatinine(case: HookCase, mg_dl: float | None) -> Json:
    """The hypercalcaemia example with its creatinine changed, or removed (``None``)."""
    request = copy.deepcopy(case.request)
    for value in request["prefetch"].values():
        if isinstance(value, dict) and value.get("resourceType") == "Bundle":
            entries = value.get("entry", [])
            if mg_dl is None:
                value["entry"] = [e for e in entries if _loinc(e["resource"]) != "2160-0"]
            for entry in value["entry"]:
                if _loinc(entry["resource"]) == "2160-0":
                    entry["resource"]["valueQuantity"]["value"] = mg_dl
    return request


def test_hypercalcaemia_with_severe_renal_impairment_does_not_offer_zoledronic_acid_unqualified() -> None:
    case = _example("hypercalcaemia")
    card = _card(fire(case, _with_creatinine(case, 3.0)), "R03")  # Cockcroft-Gault CrCl about 20 mL/min
    assert card["indicator"] == "critical"
    assert "Consider zoledronic acid for hypercalcaemia of malignancy" in card["detail"]
    assert "is below 30 mL/min: zoledronic acid only if the benefit outweighs the risk" in card["detail"]
    assert "Creatinine clearance (Cockcroft-Gault)" in card["detail"]


def test_hypercalcaemia_with_renal_function_unknown_asks_for_creatinine_before_the_bisphosphonate() -> None:
    case = _example("hypercalcaemia")
    card = _card(fire(case, _with_creatinine(case, None)), "R03")
    assert "Renal function unknown: check creatinine before the bisphosphonate." in card["detail"]
    assert "**Missing:** renal function" in card["detail"]


def test_hypercalcaemia_with_adequate_renal_function_adds_no_renal_caveat() -> None:
    card = _card(fire(_example("hypercalcaemia")), "R03")
    assert "Consider zoledronic acid for hypercalcaemia of malignancy" in card["detail"]
    assert "benefit outweighs" not in card["detail"]
    assert "check creatinine before the bisphosphonate" not in card["detail"]


# --- an NSAID in pregnancy: one card for the drug, ranked by the harm it prevents --------------------------


def _pregnant(case: HookCase) -> Json:
    """The example's patient as a pregnant woman of 36 (gestational age not recorded)."""
    request = copy.deepcopy(case.request)
    patient = request["prefetch"]["patient"]
    patient["gender"], patient["birthDate"] = "female", "1990-03-01"
    request["prefetch"]["conditions"]["entry"].append(
        {
            "resource": {
                "resourceType": "Condition",
                "id": "pregnancy",
                "clinicalStatus": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                            "code": "active",
                        }
                    ]
                },
                "code": {
                    "coding": [{"system": "http://snomed.info/sct", "code": "77386006"}],
                    "text": "Pregnancy",
                },
                "subject": {"reference": patient["resourceType"] + "/" + patient["id"]},
            }
        }
    )
    return request


def test_an_nsaid_in_pregnancy_is_one_card_with_its_kidney_advice_and_comes_first() -> None:
    cards = fire(_example("nsaid-renal-impairment"), _pregnant(_example("nsaid-renal-impairment")))
    nsaid_cards = [card for card in cards if {"P16", "P41"} & set(card["extension"][RULES])]
    assert len(nsaid_cards) == 1, [card["summary"] for card in cards]
    (card,) = nsaid_cards
    assert card["extension"][RULES][0] == "P41"  # the fetal risk leads, the kidney advice is on the card
    assert "in pregnancy" in card["summary"] + card["detail"]
    assert "eGFR" in card["detail"] or "CrCl" in card["detail"]
    warnings = [c for c in cards if c["indicator"] == "warning"]
    assert warnings[0] is card  # fetal and kidney harm before pain control or exercise


# --- calcium and vitamin D on a bone-modifying agent: the lines fit the record ------------------------------


def _without_resources(case: HookCase, drop: Callable[[Json], bool]) -> Json:
    request = copy.deepcopy(case.request)
    for value in request["prefetch"].values():
        if isinstance(value, dict) and value.get("resourceType") == "Bundle":
            value["entry"] = [e for e in value.get("entry", []) if not drop(e["resource"])]
    return request


def _is_supplement(resource: Json) -> bool:
    return "colecalciferol" in resource.get("medicationCodeableConcept", {}).get("text", "")


def test_a_normal_calcium_without_supplement_is_not_called_hypocalcaemia() -> None:
    case = _example("rib-blastic-ecog1")  # zoledronic acid, corrected calcium 9.5 mg/dL
    card = _card(fire(case, _without_resources(case, _is_supplement)), "P09")
    assert "no calcium and vitamin D supplement" in card["detail"]
    assert "Correct hypocalcaemia" not in card["detail"]
    assert "Check calcium before the next dose; correct it first if low." in card["detail"]
    assert "Supplement at least 500 mg calcium and 400 IU vitamin D daily" in card["detail"]


def test_a_supplemented_patient_without_a_recent_calcium_is_asked_for_calcium_not_a_supplement() -> None:
    case = _example("rib-blastic-ecog1")
    card = _card(fire(case, _without_resources(case, lambda r: _loinc(r) == "17861-6")), "P09")
    assert "no recent calcium result" in card["detail"]
    assert "Check calcium before the next dose" in card["detail"]
    assert "Supplement at least" not in card["detail"]
    assert "Continue at least 500 mg calcium and 400 IU vitamin D daily." in card["detail"]


# --- a sedating adjuvant beside recommended exercise: no programme is said to exist -------------------------


def test_a_gabapentinoid_beside_recommended_exercise_does_not_claim_a_programme_in_progress() -> None:
    case = _example("rib-blastic-ecog1")  # 59, ECOG 1, no falls: exercise is the only fall-risk context
    request = copy.deepcopy(case.request)
    request["prefetch"]["medication-statements"]["entry"].append(
        {
            "resource": {
                "resourceType": "MedicationStatement",
                "id": "pregabalin",
                "status": "active",
                "medicationCodeableConcept": {
                    "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "187832"}],
                    "text": "Pregabalin 75 mg twice daily",
                },
                "subject": {"reference": "Patient/" + request["prefetch"]["patient"]["id"]},
            }
        }
    )
    card = _card(fire(case, request), "P12")
    assert "structured exercise recommended" in card["detail"]
    assert "in progress" not in card["detail"]
    assert "Schedule exercise at times of lower sedation" in card["detail"]


# --- the exercise card's limits agree with the CarePlan it creates -----------------------------------------


def _careplan_activity(card: Json, code: str) -> str:
    for suggestion in card.get("suggestions", []):
        for action in suggestion["actions"]:
            resource = action.get("resource", {})
            if resource.get("resourceType") != "CarePlan":
                continue
            for activity in resource.get("activity", []):
                detail = activity.get("detail", {})
                if any(c.get("code") == code for c in detail.get("code", {}).get("coding", [])):
                    return str(detail.get("description", ""))
    raise AssertionError(f"no CarePlan activity {code} on the card")


def test_a_low_tier_limit_is_not_called_light_when_the_plan_gives_a_moderate_dose() -> None:
    cards = fire(_example("rib-blastic-ecog1"))  # low tier, rib: elbow-only upper-body resistance
    card = _card(cards, "EX01")
    assert card["summary"].startswith("Low skeletal risk")
    assert "upper-body resistance" in card["detail"]
    assert "within the exclusions and intensity the plan sets" in card["detail"]
    assert "light, nothing that loads a lesion" not in card["detail"]
    upper = _careplan_activity(card, "ex-resist-upper")
    assert "start low, go slow" in upper
    assert "Elbow flexion/extension only" in upper


def test_a_careplan_activity_limited_by_its_dose_alone_does_not_point_at_restrictions_below() -> None:
    case = _example("rib-blastic-ecog1")
    request = copy.deepcopy(case.request)
    for resource in _resources(request):
        if _loinc(resource) == "718-7":
            resource["valueQuantity"]["value"] = 7.6  # g/dL: low-to-moderate intensity only
    card = _card(fire(case, request), "EX01")
    aerobic = _careplan_activity(card, "ex-aerobic-nwb")
    assert "low-to-moderate intensity only (haemoglobin)" in aerobic
    assert "restrictions below" not in aerobic
    upper = _careplan_activity(card, "ex-resist-upper")  # the rib's exclusion is listed: "below" is right
    assert "Only with the restrictions below. Exclusions: Elbow flexion/extension only" in upper


# --- severe pain: the opioid to start or titrate depends on the kidney, as for moderate pain ----------------


def test_severe_pain_with_a_clearance_under_30_warns_against_morphine_beside_starting_an_opioid() -> None:
    case = _example("nsaid-renal-impairment")  # Cockcroft-Gault CrCl 25.6 mL/min, no opioid
    request = copy.deepcopy(case.request)
    for resource in _resources(request):
        if _loinc(resource) == "72514-3":
            resource["valueInteger"] = 8
    card = _card(fire(case, request), "P04")
    assert "Start a strong opioid (oral morphine, oxycodone or hydromorphone)" in card["detail"]
    assert "CrCl 25.6 mL/min (Cockcroft-Gault): avoid morphine and codeine." in card["detail"]


def test_the_hypercalcaemia_summary_names_what_to_stop_and_still_says_to_hold_exercise() -> None:
    # The product's full name ("Calcium carbonate 1250 mg / colecalciferol 400 IU tablet") cut the summary
    # before "hold exercise"; the summary names the ingredients, the detail the product.
    card = _card(fire(_example("hypercalcaemia")), "R03")
    assert card["summary"].endswith("stop calcium carbonate and cholecalciferol; hold exercise")
    assert "Stop Calcium carbonate 1250 mg / colecalciferol 400 IU tablet" in card["detail"]
