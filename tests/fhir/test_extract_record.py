"""Whole-record behaviour: patient, procedures, other patients' data, determinism, unavailable sources."""

from __future__ import annotations

import json
import random
from datetime import date
from typing import Any

from reader_fixtures import (
    BONE_MET_CODE,
    LOINC,
    PATIENT_ID,
    SCT,
    SUBJECT,
    coding,
    condition,
    facts_of,
    observation,
    patient,
    quantity,
    searchset,
    site,
    terminology,
)

from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.facts import Sex, SiteClass
from fhir_bonemet.fhir.intake.patient_facts import extract_facts
from fhir_bonemet.fhir.intake.read import read_prefetch


def _procedure(
    proc_id: str, system: str, code: str, status: str = "completed", **extra: Any
) -> dict[str, Any]:
    return {
        "resourceType": "Procedure",
        "id": proc_id,
        "status": status,
        "subject": SUBJECT,
        "code": {"coding": [coding(system, code)]},
        **extra,
    }


def test_patient_birth_date_and_sex() -> None:
    facts = extract_facts(
        read_prefetch({"patient": patient(birthDate="1949", gender="male")}),
        terminology(),
        patient_id=PATIENT_ID,
    )
    assert facts.patient_ref == f"Patient/{PATIENT_ID}"
    assert facts.birth_date == date(1949, 1, 1)  # a partial birth date reads as the oldest possible age
    assert facts.birth_date_latest == date(1949, 12, 31)  # and keeps the youngest it may mean
    assert facts.youngest_age_on(date(2025, 1, 1)) == 75
    assert facts.sex is Sex.MALE
    assert facts.age_on(date(2025, 1, 1)) == 76


def test_another_patients_resource_is_not_the_patient() -> None:
    other = {"resourceType": "Patient", "id": "someone-else", "birthDate": "1990-01-01", "gender": "male"}
    facts = extract_facts(read_prefetch({"patient": other}), terminology(), patient_id=PATIENT_ID)
    assert (facts.birth_date, facts.sex) == (None, Sex.UNKNOWN)
    # Said, not dropped in silence (age and sex are unknown because of it), without the other id.
    assert [(i.location, i.message) for i in facts.issues] == [
        ("prefetch.patient", "a Patient other than context.patientId (another id or none); not read")
    ]


def test_the_context_patient_beside_another_is_read_and_the_other_is_reported() -> None:
    other = {"resourceType": "Patient", "id": "someone-else", "birthDate": "1990-01-01", "gender": "male"}
    facts = extract_facts(
        read_prefetch({"patient": patient(birthDate="1949", gender="female"), "linked": other}),
        terminology(),
        patient_id=PATIENT_ID,
    )
    assert (facts.birth_date, facts.sex) == (date(1949, 1, 1), Sex.FEMALE)
    assert [i.location for i in facts.issues] == ["prefetch.linked"]


def test_procedures_with_site_date_and_status() -> None:
    local = terminology().local_system
    rt = _procedure(
        "rt",
        SCT,
        "108290001",
        performedPeriod={"start": "2025-01-06", "end": "2025-01-10"},
        bodySite=[site("122495006", "Thoracic spine", text="T9")],
    )
    fixation = _procedure("fix", local, "surgical-fixation", performedDateTime="2024-11-02T10:00:00Z")
    not_done = _procedure("nd", SCT, "108290001", status="not-done")
    wrong = _procedure("eie", local, "dental-exam-pre-bma", status="entered-in-error")
    unrelated = _procedure("appendix", SCT, "80146002")
    facts = facts_of(rt, fixation, not_done, wrong, unrelated)
    assert [(p.ref, p.performed) for p in facts.procedures] == [
        ("Procedure/fix", date(2024, 11, 2)),
        ("Procedure/rt", date(2025, 1, 10)),  # the end of the course: the cautious "recent"
    ]
    rt_fact = facts.procedures[1]
    # ...and the course's start kept beside it: it began before any record of 6-9 January.
    assert (facts.procedures[0].performed_from, rt_fact.performed_from) == (None, date(2025, 1, 6))
    assert c.RADIOTHERAPY in rt_fact.concepts
    assert rt_fact.site is not None
    assert rt_fact.site.site is SiteClass.SPINE_THORACIC
    assert c.SURGICAL_FIXATION in facts.procedures[0].concepts


def test_a_procedure_dated_to_the_month_keeps_its_earliest_day() -> None:
    # A fixation of "May 2025" is the most recent reading, 31 May, for "how recent"; it may have been on
    # 1 May, so it is not known to follow a score of 20 May (R04 keeps that score's card).
    local = terminology().local_system
    (fix,) = facts_of(_procedure("fix", local, "surgical-fixation", performedDateTime="2025-05")).procedures
    assert (fix.performed, fix.performed_from) == (date(2025, 5, 31), date(2025, 5, 1))


def test_a_review_recorded_as_an_observation_counts_only_when_final() -> None:
    local = terminology().local_system
    final = observation("rev", local, "surgical-review-done", "2025-02-03")
    odd = observation("odd", local, "surgical-review-done", "2025-02-04", status=["final"])
    facts = facts_of(final, odd)
    assert [(p.ref, p.performed) for p in facts.procedures] == [("Observation/rev", date(2025, 2, 3))]


def test_resources_of_another_patient_are_ignored_and_reported() -> None:
    stranger = {"reference": "http://ehr.example/fhir/Patient/other"}
    obs = observation("o1", LOINC, "718-7", **quantity(7, "g/dL"))
    obs["subject"] = stranger
    proc = _procedure("p1", SCT, "108290001", subject=stranger)
    facts = facts_of(obs, proc)
    assert (facts.observations, facts.procedures) == ((), ())
    assert sorted(i.location for i in facts.issues) == ["Observation/o1.subject", "Procedure/p1.subject"]


def test_same_payload_in_any_order_gives_identical_facts() -> None:
    resources = [
        condition("m1", BONE_MET_CODE, sites=[site("71341001", "Femur", side="left"), site(text="T9")]),
        condition("m2", BONE_MET_CODE),
        observation("a", LOINC, "718-7", "2025-03-01T08:00:00Z", **quantity(9, "g/dL")),
        observation("b", LOINC, "718-7", "2025-02-01T08:00:00Z", **quantity(95, "g/L")),
        observation("p", LOINC, "72514-3", valueInteger=6),
        _procedure("rt", SCT, "108290001", performedDateTime="2025-01-01"),
        {
            "resourceType": "MedicationRequest",
            "id": "r1",
            "status": "active",
            "subject": SUBJECT,
            "medicationCodeableConcept": {"text": "morphine 10 mg tablet"},
        },
        {
            "resourceType": "MedicationStatement",
            "id": "s1",
            "status": "active",
            "subject": SUBJECT,
            "medicationCodeableConcept": {"text": "denosumab"},
        },
    ]
    first = facts_of(*resources)
    shuffled = list(resources)
    random.Random(7).shuffle(shuffled)
    assert facts_of(*shuffled) == first
    assert [o.ref for o in first.observations if o.concept == c.LAB_HAEMOGLOBIN] == [
        "Observation/b",
        "Observation/a",
    ]


def test_unavailable_sources_are_carried_to_the_facts() -> None:
    result = read_prefetch({"patient": patient(), "conditions": "not a Bundle", "procedures": None})
    facts = extract_facts(result, terminology(), patient_id=PATIENT_ID, unavailable=frozenset({"Procedure"}))
    # An unusable key and a source the caller could not fetch are unknown; null is "no data".
    assert facts.unavailable == {"conditions", "Procedure"}
    assert [i.severity for i in facts.issues] == ["error"]


def test_issues_never_contain_patient_data() -> None:
    secret = "Jane Q. Sample 1961-04-03 MRN 998877"
    bad = observation("o1", LOINC, "718-7", valueQuantity={"value": 7, "unit": secret})
    bad_cond = condition("c1", BONE_MET_CODE, clinical=secret, note=[{"text": secret}])
    facts = facts_of(bad, bad_cond, {"resourceType": "Observation", "id": 5, "note": secret}, "junk")  # type: ignore[arg-type]
    assert facts.issues
    text = json.dumps([(i.location, i.message) for i in facts.issues])
    for fragment in ("Jane", "998877", "1961"):
        assert fragment not in text


def test_a_broken_resource_does_not_sink_the_others() -> None:
    payload = {
        "patient": patient(),
        "conditions": searchset(
            condition("ok", BONE_MET_CODE, sites=[site("71341001", "Femur")]),
            {
                "resourceType": "Condition",
                "id": "broken",
                "code": [],
                "bodySite": "femur",
                "clinicalStatus": 3,
                "verificationStatus": {"coding": "x"},
                "onsetDateTime": 20240101,
                "extension": "x",
                "subject": "me",
            },
        ),
        "observations": searchset(
            {
                "resourceType": "Observation",
                "id": "broken",
                "status": ["final"],
                "code": {"coding": [None, 3]},
                "component": {"code": None},
                "effectiveDateTime": {"x": 1},
                "focus": "x",
                "bodySite": [],
            },
            observation("ok", LOINC, "718-7", **quantity(7.9, "g/dL")),
        ),
        "medications": searchset(
            {
                "resourceType": "MedicationRequest",
                "id": "broken",
                "status": 1,
                "medicationReference": "x",
                "dosageInstruction": ["x", {"timing": "x", "doseAndRate": [None]}],
                "dispenseRequest": [],
            },
        ),
    }
    facts = extract_facts(read_prefetch(payload), terminology(), patient_id=PATIENT_ID)
    assert [lesion.ref for lesion in facts.lesions] == ["Condition/ok"]
    assert [o.ref for o in facts.observations] == ["Observation/ok"]
    broken = sorted({i.location.split(".")[0] for i in facts.issues})
    assert broken == ["Condition/broken", "MedicationRequest/broken", "Observation/broken"]


def test_radiotherapy_named_only_in_the_category_and_to_several_sites() -> None:
    """A course coded locally, with "radiotherapy" in Procedure.category, to T9 and the left femur: both
    lesions count as recently irradiated (the tier upgrade of docs/clinical-model.md, P06)."""
    course = _procedure(
        "course",
        "http://ehr.example/rt-course",
        "RT-8GY-1F",
        performedDateTime="2025-02-20",
        category={"coding": [coding(SCT, "1287742003", "Radiotherapy")]},
        bodySite=[site("122495006", text="T9"), site("71341001", side="left")],
    )
    unrelated = _procedure("other", "http://ehr.example/rt-course", "CONSULT", performedDateTime="2025-02-20")
    facts = facts_of(course, unrelated)
    assert [(p.ref, p.site.site if p.site else None) for p in facts.procedures] == [
        ("Procedure/course", SiteClass.SPINE_THORACIC),
        ("Procedure/course", SiteClass.FEMUR),
    ]
    assert all(c.RADIOTHERAPY in p.concepts for p in facts.procedures)
