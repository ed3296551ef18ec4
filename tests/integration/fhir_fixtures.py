"""Patient data for the integration tests, as transaction Bundles loaded into the test FHIR server."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

PATIENT_UUID = "urn:uuid:5a0f4a4e-8c0e-4d55-9a54-2f1b6f3c9b01"
PAIN_SCORE = ("http://loinc.org", "72514-3")
BONE_METASTASIS = ("http://snomed.info/sct", "94222008")
CLINICAL_STATUS = "http://terminology.hl7.org/CodeSystem/condition-clinical"


def _entry(resource: dict[str, Any], full_url: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": resource,
        "request": {"method": "POST", "url": resource["resourceType"]},
    }
    if full_url:
        entry["fullUrl"] = full_url
    return entry


def pain_score(value: int, day: date) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": PAIN_SCORE[0], "code": PAIN_SCORE[1]}]},
        "subject": {"reference": PATIENT_UUID},
        "effectiveDateTime": day.isoformat(),
        "valueInteger": value,
    }


def patient_bundle(pain_scores: int = 3, first_day: date = date(2024, 1, 1)) -> dict[str, Any]:
    """One patient with an active and a resolved bone-metastasis Condition and ``pain_scores`` daily
    pain-score Observations from ``first_day`` on."""
    entries = [
        _entry({"resourceType": "Patient", "birthDate": "1961-04-02", "gender": "female"}, PATIENT_UUID)
    ]
    for status in ("active", "resolved"):
        entries.append(
            _entry(
                {
                    "resourceType": "Condition",
                    "clinicalStatus": {"coding": [{"system": CLINICAL_STATUS, "code": status}]},
                    "code": {"coding": [{"system": BONE_METASTASIS[0], "code": BONE_METASTASIS[1]}]},
                    "subject": {"reference": PATIENT_UUID},
                }
            )
        )
    for day in range(pain_scores):
        entries.append(_entry(pain_score(day % 11, first_day + timedelta(days=day))))
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def ids_of_type(created: list[str], resource_type: str) -> list[str]:
    """Ids of ``Type/id`` strings of one type, in order."""
    return [ref.split("/")[1] for ref in created if ref.startswith(f"{resource_type}/")]
