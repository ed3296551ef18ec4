"""Hand-written FHIR R4 resources in mCODE style for the reader tests (no public data set models bone
metastases with site and laterality; from the official R4 example package).  Builders return plain dicts."""

from __future__ import annotations

from functools import cache
from typing import Any

from fhir_bonemet.core.model.facts import PatientFacts
from fhir_bonemet.fhir.intake.patient_facts import extract_facts
from fhir_bonemet.fhir.intake.read import ReadResult, read_prefetch
from fhir_bonemet.fhir.terminology.lookup import Terminology

SCT = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
MCODE = "http://hl7.org/fhir/us/mcode/StructureDefinition"
SECONDARY_PROFILE = f"{MCODE}/mcode-secondary-cancer-condition"
LATERALITY_URL = f"{MCODE}/mcode-laterality-qualifier"
LOCATION_URL = f"{MCODE}/mcode-body-location-qualifier"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
PATIENT_ID = "bm-1"
SUBJECT = {"reference": f"Patient/{PATIENT_ID}"}

BONE_MET_CODE = {
    "coding": [
        {"system": SCT, "code": "94222008", "display": "Secondary malignant neoplasm of bone"},
        {"system": ICD10CM, "code": "C79.51", "display": "Secondary malignant neoplasm of bone"},
    ]
}
SIDES = {"left": ("7771000", "Left"), "right": ("24028007", "Right")}


@cache
def terminology() -> Terminology:
    return Terminology.load()


def coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"system": system, "code": code}
    if display is not None:
        found["display"] = display
    return found


def site(
    code: str | None = None,
    display: str | None = None,
    *,
    text: str | None = None,
    side: str | None = None,
    qualifier: str | None = None,
) -> dict[str, Any]:
    """A bodySite CodeableConcept with optional mCODE laterality / body-location qualifier extensions."""
    body_site: dict[str, Any] = {}
    if code is not None:
        body_site["coding"] = [coding(SCT, code, display)]
    if text is not None:
        body_site["text"] = text
    extensions = []
    if side is not None:
        side_code, side_display = SIDES[side]
        extensions.append(
            {
                "url": LATERALITY_URL,
                "valueCodeableConcept": {"coding": [coding(SCT, side_code, side_display)]},
            }
        )
    if qualifier is not None:
        extensions.append({"url": LOCATION_URL, "valueCodeableConcept": {"text": qualifier}})
    if extensions:
        body_site["extension"] = extensions
    return body_site


def condition(
    cond_id: str,
    code: dict[str, Any],
    *,
    sites: list[dict[str, Any]] | None = None,
    clinical: str | None = "active",
    verification: str | None = "confirmed",
    related: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Condition",
        "id": cond_id,
        "meta": {"profile": [SECONDARY_PROFILE]},
        "code": code,
        "subject": SUBJECT,
        **extra,
    }
    if clinical is not None:
        resource["clinicalStatus"] = {"coding": [coding(CLINICAL, clinical)]}
    if verification is not None:
        resource["verificationStatus"] = {"coding": [coding(VERIFICATION, verification)]}
    if sites is not None:
        resource["bodySite"] = sites
    if related is not None:
        resource["extension"] = [
            {
                "url": "http://hl7.org/fhir/StructureDefinition/condition-related",
                "valueReference": {"reference": f"Condition/{related}"},
            }
        ]
    return resource


def observation(
    obs_id: str, system: str, code: str, when: str = "2025-03-01T09:00:00Z", **value: Any
) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": obs_id,
        "status": "final",
        "code": {"coding": [coding(system, code)]},
        "subject": SUBJECT,
        "effectiveDateTime": when,
        **value,
    }


def quantity(value: float, unit: str) -> dict[str, Any]:
    return {"valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit}}


def patient(**extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": PATIENT_ID,
        "birthDate": "1950-06-15",
        "gender": "female",
        **extra,
    }


def searchset(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}


def read(*resources: dict[str, Any]) -> ReadResult:
    return read_prefetch({"patient": patient(), "items": searchset(*resources)})


def facts_of(*resources: dict[str, Any], **options: Any) -> PatientFacts:
    return extract_facts(read(*resources), terminology(), patient_id=PATIENT_ID, **options)
