"""Reading pregnancy records: Conditions (with the week a Z3A code names), pregnancy status answers,
gestational age in weeks or days; malformed ones are read issues."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.facts import PatientFacts
from fhir_bonemet.fhir.intake.patient_facts import extract_facts
from fhir_bonemet.fhir.intake.read import read_prefetch
from fhir_bonemet.fhir.terminology.lookup import Terminology

LOINC, ICD = "http://loinc.org", "http://hl7.org/fhir/sid/icd-10-cm"


@pytest.fixture(scope="module")
def terminology() -> Terminology:
    return Terminology.load()


def _facts(terminology: Terminology, *resources: dict[str, Any]) -> PatientFacts:
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}
    prefetch = {"patient": {"resourceType": "Patient", "id": "p1", "gender": "female"}, "resources": bundle}
    return extract_facts(read_prefetch(prefetch), terminology, patient_id="p1")


def _status(answer: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": "ps",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "82810-3"}]},
        "effectiveDateTime": "2025-05-30",
        "valueCodeableConcept": answer,
    }


@pytest.mark.parametrize(
    ("answer", "read"),
    [
        ({"coding": [{"system": LOINC, "code": "LA15173-0"}]}, "pregnant"),
        ({"coding": [{"system": "urn:oid:2.16.840.1.113883.6.1", "code": "LA26683-5"}]}, "not-pregnant"),
        ({"coding": [{"system": LOINC, "code": "LA4489-6"}]}, "unknown"),
        ({"text": "Not pregnant"}, "not-pregnant"),
        ({"text": "Pregnant"}, "pregnant"),
        ({"coding": [{"system": "http://example.org/other", "code": "LA15173-0"}]}, None),
    ],
)
def test_pregnancy_status_answers(terminology: Terminology, answer: dict[str, Any], read: str | None) -> None:
    facts = _facts(terminology, _status(answer))
    found = [o.code for o in facts.observations if o.concept == c.PREGNANCY_STATUS]
    assert found == ([read] if read else [])
    assert bool(facts.issues) is (read is None)  # an answer that is not understood is reported


def test_a_z3a_code_gives_the_gestational_week_as_of_the_recorded_date(terminology: Terminology) -> None:
    condition = {
        "resourceType": "Condition",
        "id": "preg",
        "code": {"coding": [{"system": ICD, "code": "Z3A.24"}]},
        "recordedDate": "2025-05-01",
    }
    facts = _facts(terminology, condition)
    assert [c.PREGNANCY in f.concepts for f in facts.conditions] == [True]
    (age,) = [o for o in facts.observations if o.concept == c.GESTATIONAL_AGE]
    assert age.ref == "Condition/preg"
    assert age.quantity is not None
    assert age.quantity.value == 24
    assert age.effective is not None
    assert age.effective.date().isoformat() == "2025-05-01"
    for code in ("Z3A.00", "Z3A.01", "Z3A.49"):  # no week named
        other = _facts(terminology, {**condition, "code": {"coding": [{"system": ICD, "code": code}]}})
        assert not [o for o in other.observations if o.concept == c.GESTATIONAL_AGE]
    resolved = {**condition, "clinicalStatus": {"coding": [{"code": "resolved"}]}}
    assert not [o for o in _facts(terminology, resolved).observations if o.concept == c.GESTATIONAL_AGE]


@pytest.mark.parametrize(("value", "unit", "weeks"), [(24, "wk", 24.0), (168, "d", 24.0), (60, "wk", None)])
def test_gestational_age_in_weeks_or_days(
    terminology: Terminology, value: float, unit: str, weeks: float | None
) -> None:
    observation = {
        "resourceType": "Observation",
        "id": "ga",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "49051-6"}]},
        "effectiveDateTime": "2025-05-30",
        "valueQuantity": {"value": value, "unit": unit, "code": unit, "system": "http://unitsofmeasure.org"},
    }
    facts = _facts(terminology, observation)
    found = [o.quantity.value for o in facts.observations if o.concept == c.GESTATIONAL_AGE and o.quantity]
    assert found == ([weeks] if weeks is not None else [])
    assert bool(facts.issues) is (weeks is None)  # 60 weeks is not a gestational age: reported, not used
