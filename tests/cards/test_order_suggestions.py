"""Order suggestions that do what their label says, checked on the resources they send."""

from __future__ import annotations

from datetime import date
from typing import Any

from fhir.resources.R4B.medicationrequest import MedicationRequest

from fhir_bonemet.cards.build import CardContext, build_cards
from fhir_bonemet.cards.orders import plan_order, senna_order
from fhir_bonemet.cds.response import CDSResponse
from fhir_bonemet.core.model import concepts
from fhir_bonemet.core.model.findings import (
    Assessment,
    Category,
    DoseChange,
    Finding,
    Indicator,
    OrderAction,
    OrderChange,
)
from fhir_bonemet.fhir.intake.patient_facts import extract_facts
from fhir_bonemet.fhir.intake.read import read_values
from fhir_bonemet.fhir.outbound.codes import load_outbound_codes
from fhir_bonemet.fhir.terminology.lookup import Terminology
from fhir_bonemet.knowledge import load_sources, load_thresholds

TODAY = date(2025, 6, 2)
PATIENT = "Patient/bm-1"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
AVOID_OR_LOWEST = "avoid, or start at the lowest dose with sedation and breathing monitoring"

CODES = load_outbound_codes()
SOURCES = load_sources()
THRESHOLDS = load_thresholds()


def _draft(ref_id: str, text: str, code: str, display: str, mg: float, per_day: int | None) -> dict[str, Any]:
    dosage: dict[str, Any] = {
        "doseAndRate": [
            {"doseQuantity": {"value": mg, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"}}
        ]
    }
    if per_day:
        dosage["timing"] = {"repeat": {"frequency": per_day, "period": 1, "periodUnit": "d"}}
    return {
        "resourceType": "MedicationRequest",
        "id": ref_id,
        "status": "draft",
        "intent": "order",
        "subject": {"reference": PATIENT},
        "medicationCodeableConcept": {
            "coding": [{"system": RXNORM, "code": code, "display": display}],
            "text": text,
        },
        "dosageInstruction": [dosage],
    }


def _finding(
    rule: str,
    action: str,
    description: str,
    change: OrderChange = OrderChange.REVIEW,
    dose: DoseChange | None = None,
) -> Finding:
    return Finding(
        rule_id=rule,
        title=rule,
        category=Category.MEDICATION_SAFETY,
        indicator=Indicator.WARNING,
        summary=f"{rule} summary: reduce",
        rationale="why",
        order_actions=(OrderAction("MedicationRequest/d1", action, f"Order: {description}", change, dose),),
    )


def _cards(finding: Finding, draft: dict[str, Any]) -> list[dict[str, Any]]:
    context = CardContext("order-sign", "i-1", PATIENT, TODAY, draft_orders={"MedicationRequest/d1": draft})
    cards: list[dict[str, Any]] = CDSResponse(
        cards=build_cards(
            Assessment(True, "x", (finding,)),
            context=context,
            codes=CODES,
            sources=SOURCES,
            thresholds=THRESHOLDS,
        )
    ).to_wire()["cards"]
    return cards


def test_acetaminophen_over_the_ceiling_is_taken_fewer_times_a_day() -> None:
    draft = _draft("d1", "Acetaminophen 500 mg oral tablet", "161", "acetaminophen", 1000, 4)
    finding = _finding(
        "P20",
        "update",
        "reduce so the total daily acetaminophen stays at or below 3000 mg",
        OrderChange.SCHEDULE,
        DoseChange("mg", per_day=3, daily=3000),
    )
    (suggestion,) = _cards(finding, draft)[0]["suggestions"]
    assert suggestion["label"] == "Reduce acetaminophen to 3 g/day (1000 mg 3 times a day)"
    assert suggestion["isRecommended"] is True
    (action,) = suggestion["actions"]
    assert action["type"] == "update"
    resource = action["resource"]
    MedicationRequest.model_validate(resource)
    assert resource["id"] == "d1"
    assert resource["dosageInstruction"][0]["timing"]["repeat"]["frequency"] == 3
    assert resource["dosageInstruction"][0]["doseAndRate"] == draft["dosageInstruction"][0]["doseAndRate"]


def test_an_as_needed_ceiling_is_lowered_with_the_frequency() -> None:
    draft = _draft("d1", "Acetaminophen 500 mg oral tablet", "161", "acetaminophen", 1000, 4)
    draft["dosageInstruction"][0]["timing"] = {
        "code": {"text": "QID"},
        "repeat": {"frequency": 1, "period": 6, "periodUnit": "h"},
    }
    draft["dosageInstruction"][0]["asNeededBoolean"] = True
    draft["dosageInstruction"][0]["maxDosePerPeriod"] = {
        "numerator": {"value": 4000, "unit": "mg"},
        "denominator": {"value": 1, "unit": "d"},
    }
    finding = _finding(
        "P20",
        "update",
        "reduce",
        OrderChange.SCHEDULE,
        DoseChange("mg", per_day=2, max_per_day=2000, daily=2000),
    )
    (suggestion,) = _cards(finding, draft)[0]["suggestions"]
    assert suggestion["label"] == "Reduce acetaminophen to 2 g/day (1000 mg 2 times a day)"
    dosage = suggestion["actions"][0]["resource"]["dosageInstruction"][0]
    assert dosage["timing"] == {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}}
    assert dosage["maxDosePerPeriod"]["numerator"]["value"] == 2000
    MedicationRequest.model_validate(suggestion["actions"][0]["resource"])


def test_the_description_is_never_read_for_numbers() -> None:
    """Words that look like a dose change but no structured change: no suggestion."""
    draft = _draft("d1", "zoledronic acid", "77655", "zoledronic acid", 4, None)
    card = _cards(_finding("P08", "update", "reduce the dose to 3.3 mg for CrCl 45 mL/min"), draft)[0]
    assert "suggestions" not in card


def test_zoledronic_acid_dose_really_changes() -> None:
    draft = _draft("d1", "zoledronic acid", "77655", "zoledronic acid", 4, None)
    finding = _finding(
        "P08", "update", "reduce the dose to 3.3 mg", OrderChange.DOSE, DoseChange("mg", dose=3.3)
    )
    (suggestion,) = _cards(finding, draft)[0]["suggestions"]
    assert suggestion["label"] == "Reduce zoledronic acid to 3.3 mg"
    dose = suggestion["actions"][0]["resource"]["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]
    assert dose["value"] == 3.3


def test_a_drug_name_is_never_cut_in_a_label() -> None:
    """A draft coded by its clinical drug ("zoledronic acid 4 MG in 100 ML Injection") gave the first word
    of its text: "Reduce zoledronic to 3.3 mg".  The rule names the ingredient; without it, the order's
    name up to its strength is used, whole."""
    draft = _draft(
        "d1",
        "Zoledronic acid 4 mg/100 mL IV infusion",
        "1995510",
        "zoledronic acid 4 MG in 100 ML Injection",
        4,
        None,
    )
    named = DoseChange("mg", dose=3.3, ingredient="zoledronic acid")
    for change in (named, DoseChange("mg", dose=3.3)):
        finding = _finding("P08", "update", "reduce the dose to 3.3 mg", OrderChange.DOSE, change)
        (suggestion,) = _cards(finding, draft)[0]["suggestions"]
        assert suggestion["label"] == "Reduce zoledronic acid to 3.3 mg"
    draft = _draft(
        "d1", "Oxycodone hydrochloride 5 mg / acetaminophen 325 mg tablet", "1049221", "Percocet 5/325", 2, 4
    )
    change = DoseChange(
        "{tablet}", per_day=3, daily=1950, ingredient="acetaminophen", product="oxycodone / acetaminophen"
    )
    finding = _finding("P20", "update", "reduce", OrderChange.SCHEDULE, change)
    (suggestion,) = _cards(finding, draft)[0]["suggestions"]
    assert (
        suggestion["label"] == "Reduce oxycodone / acetaminophen to 3 doses a day (acetaminophen 1.95 g/day)"
    )


def test_a_draft_naming_its_drug_through_a_medication_is_labelled_by_that_drug() -> None:
    """A contained Medication ("#med"), or a Medication sent beside the drafts, names the drug: the labels
    said "Cancel medication order" and "Reduce medication to 3.3 mg"."""
    medication = {
        "resourceType": "Medication",
        "id": "med",
        "code": {
            "coding": [{"system": RXNORM, "code": "77655", "display": "zoledronic acid"}],
            "text": "Zoledronic acid 4 mg/5 mL IV solution",
        },
    }
    contained = _draft("d1", "x", "x", "x", 4, None)
    del contained["medicationCodeableConcept"]
    contained |= {"contained": [medication], "medicationReference": {"reference": "#med"}}
    beside = {**contained, "medicationReference": {"reference": "Medication/med"}}
    del beside["contained"]
    dose = _finding("P08", "update", "reduce", OrderChange.DOSE, DoseChange("mg", dose=3.3))
    cancel = _finding("P08", "delete", "not recommended")
    for draft in (contained, beside):
        drafts = {"MedicationRequest/d1": draft, "Medication/med": medication}
        context = CardContext("order-sign", "i-1", PATIENT, TODAY, draft_orders=drafts)
        labels = [
            s.label
            for finding in (dose, cancel)
            for card in build_cards(
                Assessment(True, "x", (finding,)),
                context=context,
                codes=CODES,
                sources=SOURCES,
                thresholds=THRESHOLDS,
            )
            for s in card.suggestions or ()
        ]
        assert labels == [
            "Reduce zoledronic acid to 3.3 mg",
            "Cancel zoledronic acid 4 mg/5 mL IV solution order",
        ]


def test_a_dose_range_is_replaced_by_the_new_dose() -> None:
    """dose[x] is a choice: the new doseQuantity replaces a doseRange, it does not sit beside it."""
    draft = _draft("d1", "zoledronic acid", "77655", "zoledronic acid", 4, None)
    four = {"value": 4, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"}
    draft["dosageInstruction"][0]["doseAndRate"] = [{"doseRange": {"low": four, "high": four}}]
    finding = _finding("P08", "update", "reduce", OrderChange.DOSE, DoseChange("mg", dose=3.3))
    (suggestion,) = _cards(finding, draft)[0]["suggestions"]
    resource = suggestion["actions"][0]["resource"]
    MedicationRequest.model_validate(resource)
    (rate,) = resource["dosageInstruction"][0]["doseAndRate"]
    assert rate == {"doseQuantity": {**four, "value": 3.3}}


def test_a_dose_change_keeps_what_the_prescriber_wrote() -> None:
    """The instruction's text can hold what no structured field does ("over 15 minutes"): it stays, after
    the new dose, instead of being replaced by the dose alone."""
    draft = _draft("d1", "zoledronic acid", "77655", "zoledronic acid", 4, None)
    draft["dosageInstruction"][0]["text"] = "4 mg IV over  15 minutes every 4 weeks"
    change = DoseChange("mg", dose=3.3, reason="reduced for renal function")
    finding = _finding("P08", "update", "reduce", OrderChange.DOSE, change)
    (suggestion,) = _cards(finding, draft)[0]["suggestions"]
    (dosage,) = suggestion["actions"][0]["resource"]["dosageInstruction"]
    was = "was: 4 mg IV over 15 minutes every 4 weeks"
    assert dosage["text"] == f"3.3 mg (reduced for renal function) ({was})"


def test_r09_cancels_the_draft_that_completes_the_combination() -> None:
    draft = _draft("d1", "Gabapentin 300 mg oral capsule", "25480", "gabapentin", 300, 3)
    finding = _finding(
        "R09", "delete", "avoid, or start at the lowest dose with sedation and breathing monitoring"
    )
    (suggestion,) = _cards(finding, draft)[0]["suggestions"]
    assert suggestion["label"] == "Cancel gabapentin 300 mg oral capsule order"
    assert suggestion["actions"] == [
        {
            "type": "delete",
            "description": f"Cancel the draft order: {AVOID_OR_LOWEST}",
            "resourceId": "MedicationRequest/d1",
        }
    ]
    assert suggestion["isRecommended"] is True


def test_p15_orders_senna_that_the_service_then_reads_as_a_stimulant_laxative() -> None:
    draft = _draft("d1", "Oxycodone 5 mg oral tablet", "7804", "oxycodone", 5, 4)
    finding = _finding(
        "P15",
        "update",
        "add a stimulant laxative (with or without an osmotic) alongside this order",
        OrderChange.ADD_LAXATIVE,
    )
    (suggestion,) = _cards(finding, draft)[0]["suggestions"]
    assert suggestion["label"].startswith("Order senna 8.6 mg")
    (action,) = suggestion["actions"]
    assert action["type"] == "create"
    senna = {"id": "new-senna", **action["resource"]}
    MedicationRequest.model_validate(senna)
    assert senna["status"] == "draft"
    facts = extract_facts(
        read_values([]),
        Terminology.load(),
        patient_id="bm-1",
        draft_orders={"resourceType": "Bundle", "type": "collection", "entry": [{"resource": senna}]},
    )
    assert concepts.LAXATIVE_STIMULANT in facts.medications[0].classes


def test_advice_without_a_concrete_change_offers_nothing() -> None:
    draft = _draft("d1", "Oxycodone 5 mg oral tablet", "7804", "oxycodone", 5, 4)
    finding = _finding(
        "P14", "update", "benzodiazepine active: lowest effective opioid dose and shortest duration"
    )
    card = _cards(finding, draft)[0]
    assert "suggestions" not in card


def test_malformed_draft_orders_give_no_change_and_no_error() -> None:
    finding = _finding(
        "P20", "update", "reduce", OrderChange.SCHEDULE, DoseChange("mg", per_day=3, daily=3000)
    )
    good = _draft("d1", "Acetaminophen 500 mg oral tablet", "161", "acetaminophen", 1000, 4)
    broken: list[dict[str, Any]] = [
        {**good, "dosageInstruction": "x"},
        {**good, "dosageInstruction": ["x"]},
        {**good, "dosageInstruction": [{"doseAndRate": ["x"], "timing": "x"}]},
        {**good, "dosageInstruction": [{**good["dosageInstruction"][0], "timing": {"repeat": "x"}}]},
        {**good, "medicationCodeableConcept": {"coding": "x", "text": ["x"]}},
    ]
    for draft in broken:
        card = _cards(finding, draft)[0]
        for suggestion in card.get("suggestions", []):
            # Only when the dose was readable; an unreadable name falls back to "medication".
            assert suggestion["label"].startswith(("Reduce acetaminophen", "Reduce medication"))


def test_a_draft_that_is_not_a_medicine_is_cancelled_by_its_own_name() -> None:
    """A physiotherapy or device order is named by its code ("Cancel medication order" would pass for a
    drug); one with no name says so; a cancellation that is not the safest choice is not recommended."""
    finding = _finding("EX04", "delete", "exercise on hold")
    physio = {"resourceType": "ServiceRequest", "id": "p", "code": {"text": "Physiotherapy: Gait training"}}
    walker = {
        "resourceType": "DeviceRequest",
        "id": "w",
        "codeCodeableConcept": {"coding": [{"system": "http://snomed.info/sct", "display": "Walking frame"}]},
    }
    unnamed = {"resourceType": "ServiceRequest", "id": "u", "code": {"coding": [{"code": "x"}]}}
    planned = []
    for draft, safest in ((physio, True), (walker, True), (unnamed, False)):
        ref = f"{draft['resourceType']}/{draft['id']}"
        act = OrderAction(ref, "delete", "Order that may load the bone: exercise on hold", safest=safest)
        planned.append(
            plan_order(act, draft, THRESHOLDS, finding, patient_ref=PATIENT, today=TODAY, requester=None)
        )
    assert [(p.label, p.recommended, p.action["resourceId"]) for p in planned if p is not None] == [
        ("Cancel physiotherapy: gait training order", True, "ServiceRequest/p"),
        ("Cancel walking frame order", True, "DeviceRequest/w"),
        ("Cancel the unnamed draft order (code x)", False, "ServiceRequest/u"),
    ]
    assert planned[0] is not None
    assert planned[0].action["description"] == "Cancel the draft order: exercise on hold"


def test_the_note_tracing_a_proposed_order_gives_units_as_the_card_does() -> None:
    """The order's note quoted the finding with its UCUM codes ("for 3 d") where the card reads "3 days"."""
    finding = Finding(
        rule_id="P15",
        title="Opioid without a bowel regimen",
        category=Category.PAIN,
        indicator=Indicator.WARNING,
        summary="Strong opioid for 3 d without a stimulant laxative: add one",
        rationale="Opioid active for 3 d.",
        evidence=(),
    )
    order = senna_order(finding, patient_ref="Patient/bm-1", today=date(2025, 6, 1), requester=None)
    (note,) = order.action["resource"]["note"]
    assert "Strong opioid for 3 days without a stimulant laxative" in note["text"]
    assert note["text"].endswith("Why: Opioid active for 3 days.")
