"""MedicationRequest / MedicationStatement / draft orders → MedicationFact."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from reader_fixtures import PATIENT_ID, RXNORM, SCT, SUBJECT, coding, facts_of, patient, terminology

from fhir_bonemet.core.evidence.dose_arithmetic import daily_acetaminophen, dose_mg
from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.facts import MedicationFact, PatientFacts, Strength
from fhir_bonemet.fhir.intake.patient_facts import extract_facts
from fhir_bonemet.fhir.intake.read import read_prefetch

ORAL = {"coding": [coding(SCT, "26643006", "Oral route")]}


def _request(req_id: str, medication: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": req_id,
        "status": "active",
        "intent": "order",
        "subject": SUBJECT,
        "authoredOn": "2025-02-01",
        **medication,
        **extra,
    }


def _by_ref(*resources: dict[str, Any], **options: Any) -> dict[str, MedicationFact]:
    return {m.ref: m for m in facts_of(*resources, **options).medications}


def test_contained_medication_is_resolved_and_classified() -> None:
    request = _request(
        "rx1",
        {"medicationReference": {"reference": "#med1"}},
        contained=[
            {
                "resourceType": "Medication",
                "id": "med1",
                "code": {"text": "Oxycodone hydrochloride 5 mg oral tablet"},
            }
        ],
        dosageInstruction=[
            {
                "text": "1 tablet every 4 hours as needed",
                "timing": {"repeat": {"frequency": 1, "period": 4, "periodUnit": "h"}},
                "asNeededBoolean": True,
                "route": ORAL,
                "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "TAB", "code": "TAB"}}],
            }
        ],
    )
    med = _by_ref(request)["MedicationRequest/rx1"]
    assert med.ingredients == ("oxycodone",)
    assert c.OPIOID in med.classes
    assert med.strengths == (Strength("oxycodone", 5.0, "mg"),)
    [dose] = med.doses
    assert (dose.amount, dose.amount_unit, dose.per_day, dose.as_needed, dose.route) == (
        1.0,
        "{tablet}",
        6.0,
        True,
        "oral",
    )
    assert (med.source, med.status, med.start) == ("MedicationRequest", "active", date(2025, 2, 1))


def test_referenced_medication_with_ingredient_strength_patch() -> None:
    medication = {
        "resourceType": "Medication",
        "id": "fent",
        "code": {"text": "Fentanyl transdermal system"},
        "ingredient": [
            {
                "itemCodeableConcept": {"coding": [coding(RXNORM, "4337", "fentanyl")]},
                "strength": {
                    "numerator": {"value": 25, "unit": "mcg"},
                    "denominator": {"value": 1, "unit": "h"},
                },
            }
        ],
    }
    request = _request(
        "rx2",
        {"medicationReference": {"reference": "Medication/fent"}},
        dosageInstruction=[
            {
                "timing": {"repeat": {"frequency": 1, "period": 72, "periodUnit": "h"}},
                "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "patch"}}],
            }
        ],
    )
    med = _by_ref(request, medication)["MedicationRequest/rx2"]
    assert med.ingredients == ("fentanyl",)
    assert {c.OPIOID, c.STRONG_OPIOID} <= med.classes
    assert med.strengths == (Strength("fentanyl", 25.0, "mcg/h"),)
    assert med.doses[0].per_day == pytest.approx(1 / 3, rel=1e-4)
    assert med.doses[0].amount_unit == "{patch}"


def test_unresolvable_reference_is_reported_and_classified_by_its_display() -> None:
    request = _request(
        "rx3", {"medicationReference": {"reference": "Medication/missing", "display": "Morphine"}}
    )
    facts = facts_of(request)
    [med] = facts.medications
    assert c.OPIOID in med.classes
    assert [i.location for i in facts.issues] == ["MedicationRequest/rx3.medicationReference"]


def test_a_code_only_medication_the_service_cannot_name_is_said() -> None:
    """An RxNorm product outside the offline table, with no text or display: nothing tells what the drug is.
    A name, or a code the service knows, needs no such note."""
    unknown = {"medicationCodeableConcept": {"coding": [coding(RXNORM, "999999999")]}}
    named = {"medicationCodeableConcept": {"coding": [coding(RXNORM, "999999999", "metformin 500 MG")]}}
    facts = facts_of(_request("rx8", unknown), _request("rx9", named))
    assert [(i.location, i.message) for i in facts.issues] == [
        (
            "MedicationRequest/rx8.medication[x]",
            "a code this service does not know, with no name; not classified",
        )
    ]


def test_rxnorm_product_code_gives_ingredients_and_strengths() -> None:
    scd = {"coding": [coding(RXNORM, "1049221")]}  # acetaminophen 325 MG / oxycodone HCl 5 MG Oral Tablet
    med = _by_ref(_request("rx4", {"medicationCodeableConcept": scd}))["MedicationRequest/rx4"]
    assert set(med.ingredients) == {"acetaminophen", "oxycodone"}
    assert {c.OPIOID, c.ACETAMINOPHEN} <= med.classes
    assert set(med.strengths) == {Strength("acetaminophen", 325.0, "mg"), Strength("oxycodone", 5.0, "mg")}


def test_medication_statement_with_effective_period_and_dosage() -> None:
    statement = {
        "resourceType": "MedicationStatement",
        "id": "ms1",
        "status": "active",
        "subject": SUBJECT,
        "medicationCodeableConcept": {"text": "gabapentin 300 mg capsule"},
        "effectivePeriod": {"start": "2025-01-10", "end": "2025-06"},
        "dosage": [{"text": "300 mg three times a day"}],
        "reasonCode": [{"coding": [coding(SCT, "247398009", "Neuropathic pain")]}],
    }
    med = _by_ref(statement)["MedicationStatement/ms1"]
    assert med.source == "MedicationStatement"
    assert c.GABAPENTINOID in med.classes
    assert (med.start, med.end) == (date(2025, 1, 10), date(2025, 6, 30))
    assert (med.doses[0].amount, med.doses[0].per_day) == (300.0, 3.0)
    assert c.NEUROPATHIC_PAIN in med.reason_concepts


@pytest.mark.parametrize(
    ("resource_type", "status", "kept"),
    [
        ("MedicationRequest", "entered-in-error", False),
        ("MedicationRequest", "stopped", True),
        ("MedicationRequest", "completed", True),
        ("MedicationStatement", "not-taken", False),
        ("MedicationStatement", "entered-in-error", False),
        ("MedicationStatement", "intended", True),
    ],
)
def test_statuses(resource_type: str, status: str, kept: bool) -> None:
    resource = _request("m", {"medicationCodeableConcept": {"text": "morphine"}}, status=status)
    resource["resourceType"] = resource_type
    meds = facts_of(resource).medications
    assert bool(meds) is kept
    if kept:
        assert meds[0].status == status


def test_do_not_perform_orders_are_not_medications() -> None:
    request = _request("dnp", {"medicationCodeableConcept": {"text": "ibuprofen"}}, doNotPerform=True)
    assert facts_of(request).medications == ()


def test_draft_orders_are_drafts_and_selected_ones_are_marked() -> None:
    draft = {
        "resourceType": "Bundle",
        "entry": [
            {
                "resource": _request(
                    "d1", {"medicationCodeableConcept": {"text": "naproxen 500 mg"}}, status="draft"
                )
            },
            {"resource": _request("d2", {"medicationCodeableConcept": {"text": "senna"}}, status="draft")},
            {
                "resource": {
                    "resourceType": "ServiceRequest",
                    "id": "s1",
                    "status": "draft",
                    "subject": SUBJECT,
                    "code": {"coding": [coding(SCT, "108290001", "Radiation oncology AND/OR radiotherapy")]},
                }
            },
        ],
    }
    facts = extract_facts(
        read_prefetch({"patient": patient()}),
        terminology(),
        patient_id=PATIENT_ID,
        draft_orders=draft,
        selections=["MedicationRequest/d1", "ServiceRequest/s1"],
    )
    drafts = {m.ref: m for m in facts.medications}
    assert (drafts["MedicationRequest/d1"].is_draft, drafts["MedicationRequest/d1"].is_selected) == (
        True,
        True,
    )
    assert c.NSAID in drafts["MedicationRequest/d1"].classes
    assert (drafts["MedicationRequest/d2"].is_draft, drafts["MedicationRequest/d2"].is_selected) == (
        True,
        False,
    )
    [order] = facts.orders
    assert (order.ref, order.resource_type, order.is_selected) == (
        "ServiceRequest/s1",
        "ServiceRequest",
        True,
    )


def test_a_draft_selected_by_its_full_url_is_marked_selected() -> None:
    """A draft not saved yet has no id (it is read under a positional ref) and a ``urn:uuid`` fullUrl;
    another is selected by an absolute URL.  Each selection marks its own draft, and only it."""
    unsaved = _request("x", {"medicationCodeableConcept": {"text": "naproxen 500 mg"}}, status="draft")
    del unsaved["id"]
    urn = "urn:uuid:5b0e0c9e-2f4c-4a8e-a1d3-7c9b6e2f1a00"
    draft = {
        "resourceType": "Bundle",
        "entry": [
            {"fullUrl": urn, "resource": unsaved},
            {"resource": _request("d2", {"medicationCodeableConcept": {"text": "senna"}}, status="draft")},
            {"resource": _request("d3", {"medicationCodeableConcept": {"text": "codeine"}}, status="draft")},
        ],
    }
    facts = extract_facts(
        read_prefetch({"patient": patient()}),
        terminology(),
        patient_id=PATIENT_ID,
        draft_orders=draft,
        selections=[urn, "https://ehr.example/fhir/MedicationRequest/d2"],
    )
    selected = {m.ref: m.is_selected for m in facts.medications}
    assert selected == {
        "MedicationRequest/#context.draftOrders.entry[0].resource": True,
        "MedicationRequest/d2": True,
        "MedicationRequest/d3": False,
    }


def test_draft_order_may_reference_a_medication_from_the_prefetch() -> None:
    medication = {
        "resourceType": "Medication",
        "id": "zol",
        "code": {"text": "zoledronic acid 4 mg/5 mL injection"},
    }
    draft = {
        "resourceType": "Bundle",
        "entry": [{"resource": _request("d1", {"medicationReference": {"reference": "Medication/zol"}})}],
    }
    facts = extract_facts(
        read_prefetch({"patient": patient(), "meds": medication}),
        terminology(),
        patient_id=PATIENT_ID,
        draft_orders=draft,
    )
    assert c.BONE_MODIFYING_AGENT in facts.medications[0].classes
    assert facts.issues == ()


def test_unknown_medication_is_kept_without_classes() -> None:
    med = _by_ref(_request("u", {"medicationCodeableConcept": {"text": "Unobtainium 5 mg"}}))[
        "MedicationRequest/u"
    ]
    assert (med.ingredients, med.classes) == ((), frozenset())


def test_missing_medication_is_reported() -> None:
    facts = facts_of(_request("none", {}))
    assert [i.location for i in facts.issues] == ["MedicationRequest/none.medication[x]"]


def test_draft_order_also_returned_by_the_search_is_counted_once() -> None:
    order = _request("d1", {"medicationCodeableConcept": {"text": "ibuprofen 400 mg"}}, status="draft")
    facts = extract_facts(
        read_prefetch({"patient": patient(), "meds": order}),
        terminology(),
        patient_id=PATIENT_ID,
        draft_orders={"resourceType": "Bundle", "entry": [{"resource": order}]},
    )
    assert [(m.ref, m.is_draft) for m in facts.medications] == [("MedicationRequest/d1", True)]


ACETAMINOPHEN_TEXT = {"medicationCodeableConcept": {"text": "Acetaminophen 500 mg oral tablet"}}


@pytest.mark.parametrize(
    ("extra", "planned"),
    [
        (
            {"dosageInstruction": [{"timing": {"repeat": {"boundsDuration": {"value": 4, "code": "wk"}}}}]},
            28.0,
        ),
        (
            {
                "dosageInstruction": [
                    {"timing": {"repeat": {"boundsDuration": {"value": 10, "unit": "days"}}}}
                ]
            },
            10.0,
        ),
        (
            {
                "dosageInstruction": [
                    {"timing": {"repeat": {"boundsPeriod": {"start": "2025-02-01", "end": "2025-02-21"}}}}
                ]
            },
            21.0,
        ),
        (
            {
                "dispenseRequest": {
                    "expectedSupplyDuration": {"value": 10, "code": "d"},
                    "numberOfRepeatsAllowed": 2,
                }
            },
            30.0,
        ),
        ({"dispenseRequest": {"expectedSupplyDuration": {"value": 10, "code": "d"}}}, 10.0),
        ({"dosageInstruction": [{"timing": {"repeat": {"boundsPeriod": {"start": "2025-02-01"}}}}]}, None),
        ({}, None),
    ],
)
def test_the_planned_course_of_an_order_is_read(extra: dict[str, Any], planned: float | None) -> None:
    [med] = facts_of(_request("rx20", ACETAMINOPHEN_TEXT, **extra)).medications
    assert med.planned_days == planned


def test_the_longest_planned_course_of_an_order_counts() -> None:
    # A 5-day first line beside a 4-week second one, and a supply of 10 days with two refills: the order
    # plans 30 days of acetaminophen, and the long-term ceiling applies from its first dose.
    extra = {
        "dosageInstruction": [
            {"timing": {"repeat": {"boundsDuration": {"value": 5, "code": "d"}}}},
            {"timing": {"repeat": {"boundsDuration": {"value": 4, "code": "wk"}}}},
        ],
        "dispenseRequest": {
            "expectedSupplyDuration": {"value": 10, "code": "d"},
            "numberOfRepeatsAllowed": 2,
        },
    }
    [med] = facts_of(_request("rx22", ACETAMINOPHEN_TEXT, **extra)).medications
    assert med.planned_days == 30.0


def test_a_planned_course_that_is_not_a_duration_is_said_and_not_guessed() -> None:
    extra = {"dispenseRequest": {"expectedSupplyDuration": {"value": 10, "unit": "tablets"}}}
    facts = facts_of(_request("rx21", ACETAMINOPHEN_TEXT, **extra))
    assert facts.medications[0].planned_days is None
    assert [i.location for i in facts.issues] == [
        "MedicationRequest/rx21.dispenseRequest.expectedSupplyDuration"
    ]


def _two_acetaminophen_orders_and(*drafts: dict[str, Any]) -> PatientFacts:
    """The facts of a record holding two acetaminophen orders, apap-1 (started 2024-12-01) and apap-2,
    with ``drafts`` as the draft orders."""
    active = _request("apap-1", ACETAMINOPHEN_TEXT, authoredOn="2024-12-01")
    other = _request("apap-2", ACETAMINOPHEN_TEXT)
    return extract_facts(
        read_prefetch(
            {
                "patient": patient(),
                "meds": {"resourceType": "Bundle", "entry": [{"resource": active}, {"resource": other}]},
            }
        ),
        terminology(),
        patient_id=PATIENT_ID,
        draft_orders={"resourceType": "Bundle", "entry": [{"resource": d} for d in drafts]},
    )


@pytest.mark.parametrize(
    "prior", ["MedicationRequest/apap-1", "https://ehr.example.org/fhir/MedicationRequest/apap-1/_history/3"]
)
def test_an_order_a_draft_replaces_is_not_counted_beside_it(prior: str) -> None:
    # A dose change (Modify, Reorder) is drafted as a new order naming the old one in priorPrescription;
    # once signed the old one ends.  Counted together, 1 g three times a day raised to four read as 7 g.
    draft = _request("apap-new", ACETAMINOPHEN_TEXT, status="draft", priorPrescription={"reference": prior})
    facts = _two_acetaminophen_orders_and(draft)
    assert [(m.ref, m.is_draft) for m in facts.medications] == [
        ("MedicationRequest/apap-2", False),
        ("MedicationRequest/apap-new", True),
    ]
    # The draft continues the course of the order it replaces: its length counts from that order's start.
    replacing = facts.medications[-1]
    assert (replacing.replaces, replacing.course_start) == ("MedicationRequest/apap-1", date(2024, 12, 1))


def test_two_drafts_replacing_one_order_both_count_and_the_order_is_left_out_once() -> None:
    # One order changed into two (two strengths), or drafted twice: both drafts are new orders, each
    # continues the old course, and the old order counts neither beside them nor twice against them.
    prior = {"priorPrescription": {"reference": "MedicationRequest/apap-1"}}
    drafts = [_request(ref, ACETAMINOPHEN_TEXT, status="draft", **prior) for ref in ("apap-a", "apap-b")]
    facts = _two_acetaminophen_orders_and(*drafts)
    assert [(m.ref, m.is_draft, m.replaces, m.course_start) for m in facts.medications] == [
        ("MedicationRequest/apap-2", False, None, None),
        ("MedicationRequest/apap-a", True, "MedicationRequest/apap-1", date(2024, 12, 1)),
        ("MedicationRequest/apap-b", True, "MedicationRequest/apap-1", date(2024, 12, 1)),
    ]


def test_dosage_lines_that_follow_one_another_are_steps_not_a_sum() -> None:
    # A taper or step-down as EHRs send it: one order, a dosageInstruction per step, numbered by sequence.
    def step(sequence: int, mg: float) -> dict[str, Any]:
        return {
            "sequence": sequence,
            "timing": {"code": {"coding": [{"code": "QID"}]}},
            "doseAndRate": [{"doseQuantity": {"value": mg, "unit": "mg", "code": "mg"}}],
        }

    order = _request("apap-steps", ACETAMINOPHEN_TEXT, dosageInstruction=[step(1, 1000), step(2, 500)])
    med = _by_ref(order)["MedicationRequest/apap-steps"]
    assert [d.sequence for d in med.doses] == [1, 2]
    assert daily_acetaminophen([med]).total == 4000


def _pack_order(text: str, dose: dict[str, Any]) -> MedicationFact:
    request = _request(
        "bma",
        {"medicationCodeableConcept": {"text": text}},
        dosageInstruction=[{"doseAndRate": [{"doseQuantity": dose}]}],
    )
    return _by_ref(request)["MedicationRequest/bma"]


@pytest.mark.parametrize(
    ("text", "dose", "ingredient", "mg"),
    [
        (
            "100 ML zoledronic acid 0.04 MG/ML Injection",
            {"value": 1, "code": "{vial}"},
            "zoledronic acid",
            4.0,
        ),
        ("100 ML zoledronic acid 0.04 MG/ML Injection", {"value": 1, "unit": "bag"}, "zoledronic acid", 4.0),
        # RxNorm rounds the concentration (120 mg in 1.7 mL is 70.6 mg/mL): the name's own figures count.
        ("1.7 ML denosumab 70 MG/ML Injection", {"value": 1, "unit": "syringe"}, "denosumab", 119.0),
        ("1.7 ML denosumab 70 MG/ML Injection", {"value": 1, "unit": "vial"}, "denosumab", 119.0),
    ],
)
def test_a_dose_in_packs_is_read_from_the_pack_volume_of_the_name(
    text: str, dose: dict[str, Any], ingredient: str, mg: float
) -> None:
    med = _pack_order(text, dose)
    assert dose_mg(med, ingredient) == mg


@pytest.mark.parametrize(
    "text",
    [
        "zoledronic acid 0.04 MG/ML Injection",  # no pack volume
        "zoledronic acid 4 mg/5 mL injection",  # a concentration written per 5 mL is not a pack
        "5 ML zoledronic acid 4 MG Injection",  # the strength is per unit: the volume explains nothing
    ],
)
def test_a_pack_volume_is_read_only_where_the_name_leaves_no_doubt(text: str) -> None:
    med = _pack_order(text, {"value": 1, "code": "{vial}"})
    assert med.pack_volume_ml is None


def test_a_medication_amount_over_several_packs_is_said_and_not_used() -> None:
    medication = {
        "resourceType": "Medication",
        "id": "za",
        "code": {"text": "zoledronic acid 0.04 MG/ML Injection"},
        "amount": {"numerator": {"value": 500, "unit": "mL"}, "denominator": {"value": 5, "unit": "vial"}},
    }
    request = _request("za", {"medicationReference": {"reference": "#za"}}, contained=[medication])
    facts = facts_of(request)
    assert facts.medications[0].pack_volume_ml is None
    assert [(i.location, i.message) for i in facts.issues] == [
        (
            "MedicationRequest/za.medicationReference",
            "Medication.amount is not the volume of one pack; pack volume not read",
        )
    ]
