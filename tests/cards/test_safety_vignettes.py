"""Clinical-safety vignettes through the HTTP app: each one fires, or must not fire, a rule's card.

``tests/data/vignettes/safety/*.json`` are FHIR records in the form of the pain vignettes (hook, date,
prefetch resources, draft orders, selections) with their expectation alongside: ``expect.cards`` maps a
rule id to what its card must show (indicator, words in the summary or detail, the draft orders it offers
to cancel, a referral), ``expect.absent`` lists rules that must not speak.  Vignettes come in pairs: one
where the rule fires and a close case where it must not (pregnancy and lactation, hypercalcaemia with
supplements, the renal NSAID band, two NSAIDs, red flags with their referral).  The requests go through the
real app (``hook_answers.fire``), as an EHR would send them.
"""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hook_answers import HookCase, answer, example_cases, fire, request_of_case

from fhir_bonemet.cards.concerns import CARD_BUDGET
from fhir_bonemet.workflow import READ_ISSUES_EXTENSION

SAFETY = Path(__file__).resolve().parents[1] / "data" / "vignettes" / "safety"
PAIN = SAFETY.parent / "pain"
RULES = "org.fhir-bonemet.rules"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
Json = dict[str, Any]


def _case(path: Path) -> tuple[HookCase, Json]:
    body = json.loads(path.read_text(encoding="utf-8"))
    request = request_of_case(body)
    return HookCase(f"safety:{path.stem}", body["hook"], date.fromisoformat(body["today"]), request), body


def _cards_by_rule(cards: list[Json]) -> dict[str, Json]:
    """The card each rule speaks on (a rule folded into another concern's card maps to that card)."""
    found: dict[str, Json] = {}
    for card in cards:
        for rule_id in card["extension"][RULES]:
            found.setdefault(rule_id, card)
    return found


def _deleted(card: Json) -> list[str]:
    return [
        action["resourceId"]
        for suggestion in card.get("suggestions", [])
        for action in suggestion["actions"]
        if action["type"] == "delete"
    ]


def _referrals(card: Json) -> list[Json]:
    return [
        action["resource"]
        for suggestion in card.get("suggestions", [])
        for action in suggestion["actions"]
        if action["type"] == "create" and action["resource"]["resourceType"] == "ServiceRequest"
    ]


@pytest.mark.parametrize("path", sorted(SAFETY.glob("*.json")), ids=lambda p: p.stem)
def test_safety_vignette(path: Path) -> None:
    case, body = _case(path)
    expect = body["expect"]
    by_rule = _cards_by_rule(fire(case))
    for rule_id, wanted in expect["cards"].items():
        assert rule_id in by_rule, f"{rule_id} has no card; cards for {sorted(by_rule)}"
        card = by_rule[rule_id]
        if "indicator" in wanted:
            assert card["indicator"] == wanted["indicator"], card["summary"]
        for words in wanted.get("summary", []):
            assert words in card["summary"], card["summary"]
        for words in wanted.get("detail", []):
            assert words in card["detail"], card["detail"]
        for words in wanted.get("not_in_detail", []):
            assert words not in card["detail"]
            assert words not in card["summary"]
        for ref in wanted.get("deletes", []):
            assert ref in _deleted(card), f"{rule_id} card does not offer to cancel {ref}"
        if wanted.get("referral"):
            referrals = _referrals(card)
            assert referrals, f"{rule_id} card carries no ServiceRequest suggestion"
            assert all(
                r["status"] == "draft" and r["subject"]["reference"] == "Patient/p1" for r in referrals
            )
    for rule_id in expect.get("absent", []):
        assert rule_id not in by_rule, f"{rule_id} spoke: {by_rule[rule_id]['summary']}"


def test_every_safety_vignette_has_a_close_case_that_must_stay_silent() -> None:
    silent = [
        json.loads(p.read_text(encoding="utf-8"))["expect"].get("absent", []) for p in SAFETY.glob("*.json")
    ]
    fired = [json.loads(p.read_text(encoding="utf-8"))["expect"]["cards"] for p in SAFETY.glob("*.json")]
    spoken = {rule for cards in fired for rule in cards}
    held = {rule for rules in silent for rule in rules}
    for rule in ("P40", "P41", "P42", "R03", "P16", "P43", "R05", "R08"):
        assert rule in spoken, rule
        assert rule in held, rule


@pytest.mark.parametrize(
    ("vignette", "rule_id", "silent"),
    [
        ("v08-denosumab-hypocalcaemia", "R06", "v07-zoledronic-draft-crcl-45"),
        ("v06-triple-cns-depression", "R09", "v13-benzodiazepine-selected-on-opioid"),
    ],
)
def test_medication_red_flags_carry_their_referral(vignette: str, rule_id: str, silent: str) -> None:
    case, _ = _case(PAIN / f"{vignette}.json")
    card = _cards_by_rule(fire(case))[rule_id]
    assert _referrals(card), f"{rule_id} card carries no ServiceRequest suggestion"
    quiet, _ = _case(PAIN / f"{silent}.json")
    assert rule_id not in _cards_by_rule(fire(quiet))


def _malformed(body: Json) -> Json:
    """The pregnancy records broken every way an EHR might: a coding that is not an object, an answer that
    is a string, a gestational age in an unknown unit of absurd length, a Z3A code of absurd length."""
    broken = copy.deepcopy(body)
    entries = broken["prefetch"]["resources"]["entry"]
    entries.append(
        {"resource": {"resourceType": "Condition", "id": "preg-bad", "code": {"coding": ["Z3A.24"]}}}
    )
    entries.append(
        {
            "resource": {
                "resourceType": "Condition",
                "id": "preg-long",
                "code": {
                    "coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "Z3A." + "9" * 5000}]
                },
            }
        }
    )
    entries.append(
        {
            "resource": {
                "resourceType": "Observation",
                "id": "ps-bad",
                "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "82810-3"}]},
                "valueCodeableConcept": "pregnant",
            }
        }
    )
    entries.append(
        {
            "resource": {
                "resourceType": "Observation",
                "id": "ga-bad",
                "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "49051-6"}]},
                "effectiveDateTime": "2025-05-30",
                "valueQuantity": {"value": 1e308, "unit": "fortnights" * 500},
            }
        }
    )
    return broken


def test_malformed_pregnancy_records_are_read_issues_never_an_error() -> None:
    case, body = _case(SAFETY / "preg-01-denosumab-draft-pregnant-order-sign.json")
    response = answer(case, request_of_case(_malformed(body)))
    # The well-formed pregnancy record still speaks: one malformed resource never sinks the answer.
    assert _cards_by_rule(response["cards"])["P40"]["indicator"] == "critical"
    issues = json.dumps(response.get("extension", {}).get(READ_ISSUES_EXTENSION, []))
    for ref in ("Condition/preg-bad", "Observation/ps-bad", "Observation/ga-bad"):
        assert ref in issues, ref


def _order_sign_with_drafts(*drafts: tuple[str, str, str, float, int, str]) -> HookCase:
    """The hypercalcaemia example on order-sign with these draft orders added beside its zoledronic acid:
    (id, RxNorm code, text, dose, doses a day, UCUM dose unit)."""
    (example,) = (c for c in example_cases() if c.name == "example:hypercalcaemia" and c.hook == "order-sign")
    request = copy.deepcopy(example.request)
    entries = request["context"]["draftOrders"]["entry"]
    template = entries[0]["resource"]
    for ref_id, code, text, dose, per_day, unit in drafts:
        draft = copy.deepcopy(template)
        draft["id"] = ref_id
        draft["medicationCodeableConcept"] = {"coding": [{"system": RXNORM, "code": code}], "text": text}
        draft["dosageInstruction"] = [
            {
                "text": text,
                "timing": {"repeat": {"frequency": per_day, "period": 1, "periodUnit": "d"}},
                "doseAndRate": [
                    {"doseQuantity": {"value": dose, "unit": unit, "system": UCUM, "code": unit}}
                ],
            }
        ]
        entries.append({"resource": draft})
    return HookCase(example.name, example.hook, example.today, request)


def test_concerns_folded_to_keep_the_budget_keep_their_suggestions() -> None:
    """Eight drafts on order-sign: the acetaminophen dose, the bowel regimen and the second NSAID are folded
    into the NSAID card, and their dose reduction, senna order and the cancellation of the second NSAID
    draft stay on offer there."""
    case = _order_sign_with_drafts(
        ("draft-naproxen", "7258", "Naproxen 500 mg oral tablet", 500, 2, "mg"),
        ("draft-ibuprofen", "5640", "Ibuprofen 400 mg oral tablet", 400, 3, "mg"),
        ("draft-morphine", "7052", "Morphine 10 mg oral tablet", 10, 6, "mg"),
        ("draft-lorazepam", "6470", "Lorazepam 1 mg oral tablet", 1, 1, "mg"),
        ("draft-gabapentin", "25480", "Gabapentin 300 mg oral capsule", 300, 3, "mg"),
        ("draft-apap", "161", "Acetaminophen 1000 mg oral tablet", 1000, 4, "mg"),
        ("draft-calcium", "1897", "Calcium carbonate 500 mg oral tablet", 500, 2, "mg"),
        ("draft-vitd", "2418", "Cholecalciferol 1000 IU oral tablet", 1000, 1, "[iU]"),
    )
    cards = fire(case)
    assert len(cards) == CARD_BUDGET
    by_rule = _cards_by_rule(cards)
    host = by_rule["P15"]
    assert by_rule["P43"] is host
    assert by_rule["P21"] is host
    assert host["extension"][RULES][0] == "P16"  # all folded into the NSAID card
    assert "MedicationRequest/draft-naproxen" in _deleted(host)
    assert any(s["label"].startswith("Order senna") for s in host["suggestions"])
    assert any(s["label"].startswith("Reduce acetaminophen") for s in host["suggestions"])
    assert host["selectionBehavior"] == "any"  # a senna order is no alternative to cancelling the NSAID
    labels = [s["label"] for card in cards for s in card.get("suggestions", [])]
    assert len(labels) == len(set(labels)), labels  # nothing offered twice
    for card in cards:
        if card.get("selectionBehavior") == "at-most-one":
            assert sum(bool(s.get("isRecommended")) for s in card["suggestions"]) <= 1


def test_the_dental_check_folded_for_room_goes_with_the_pain_plan_not_the_bowel_regimen() -> None:
    """The opioid-benzodiazepine example has six concerns on patient-view; the advice to start a
    bone-modifying agent after a dental check was once folded onto the bowel-regimen card, the last one
    kept.  With no bone-health card, it belongs with the pain plan; the bowel regimen goes with the other
    opioid safety advice."""
    case = next(
        c for c in example_cases() if c.name == "example:opioid-benzodiazepine" and c.hook == "patient-view"
    )
    cards = fire(case)
    assert len(cards) == CARD_BUDGET
    by_rule = _cards_by_rule(cards)
    assert by_rule["P07"]["extension"][RULES][0] == "P04"
    assert by_rule["P15"]["extension"][RULES] == ["P14", "P15"]
    assert "Order dental examination before a bone-modifying agent" in [
        s["label"] for s in by_rule["P07"]["suggestions"]
    ]


def test_the_critical_cytopenia_referral_gives_the_count_as_the_card_does() -> None:
    """The referral proposed with the R08 card read "platelets 15 10*9/L", a UCUM code, where the card and
    the exercise gates say "15 ×10⁹/L": the same count must read the same on both."""
    case, _ = _case(SAFETY / "ref-01-platelets-15.json")
    card = _cards_by_rule(fire(case))["R08"]
    assert "platelets 15 ×10⁹/L" in card["summary"]
    (referral,) = _referrals(card)
    texts = [referral["text"]["div"], *(note["text"] for note in referral["note"])]
    for text in texts:
        assert "Critical cytopenia (platelets 15 ×10⁹/L)" in text
        assert "10*9" not in text


def test_a_first_fentanyl_patch_for_a_patient_on_no_opioid_is_critical_with_its_cancellation() -> None:
    """A fentanyl patch drafted for a patient taking no opioid (the label allows it only after a week of
    60 mg oral morphine a day or an equivalent): a critical card offering to cancel the draft."""
    case = _order_sign_with_drafts(
        ("draft-fentanyl", "245134", "Fentanyl 25 mcg/hr transdermal patch", 25, 1, "ug/h")
    )
    for entry in case.request["context"]["draftOrders"]["entry"]:
        if entry["resource"]["id"] == "draft-fentanyl":
            instruction = entry["resource"]["dosageInstruction"][0]
            instruction["route"] = {"coding": [{"system": "http://snomed.info/sct", "code": "45890007"}]}
            instruction["timing"] = {"repeat": {"frequency": 1, "period": 72, "periodUnit": "h"}}
    card = _cards_by_rule(fire(case))["P48"]
    assert card["indicator"] == "critical"
    assert "not for opioid-naive patients" in card["summary"]
    assert _deleted(card) == ["MedicationRequest/draft-fentanyl"]
