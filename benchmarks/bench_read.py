"""Reading a 1,000-resource patient record into facts, compared with plain ``json.loads`` of the same payload.

The record is a CDS Hooks prefetch as an EHR would send it (searchset Bundles with fullUrl, meta, identifiers,
categories, reference ranges, several codings per code): labs in mixed units, vitals, pain scores, problem
list, medication orders with contained Medications, statements, procedures.  The read path is
``json.loads`` + :func:`read_prefetch` + :func:`extract_facts`; the floor is ``json.loads`` alone.  The two
are timed alternately, N times each, with ``time.perf_counter``, so that load from other processes weighs
on both alike; reported are both medians, the median of the per-run ratios (the figure compared with the
target), and the ratio of the best runs.  Target: ratio <= 3.

    python benchmarks/bench_read.py [--runs 25] [--write record.json]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fhir_bonemet.core.model.facts import PatientFacts
from fhir_bonemet.fhir.intake.patient_facts import extract_facts
from fhir_bonemet.fhir.intake.read import read_prefetch
from fhir_bonemet.fhir.terminology.lookup import Terminology

PATIENT = "bench-1"
SCT = "http://snomed.info/sct"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
BASE = "https://ehr.example.org/fhir"
# (LOINC, display, value range, unit): the labs and vitals a ward record holds, relevant or not.
LABS = [
    ("17861-6", "Calcium [Mass/volume] in Serum or Plasma", (8.0, 13.0), "mg/dL"),
    ("2000-8", "Calcium [Moles/volume] in Serum or Plasma", (2.0, 3.2), "mmol/L"),
    ("1751-7", "Albumin [Mass/volume] in Serum or Plasma", (25.0, 45.0), "g/L"),
    ("718-7", "Hemoglobin [Mass/volume] in Blood", (7.0, 15.0), "g/dL"),
    ("777-3", "Platelets [#/volume] in Blood by Automated count", (15.0, 400.0), "10*3/uL"),
    ("751-8", "Neutrophils [#/volume] in Blood by Automated count", (0.3, 9.0), "10*9/L"),
    ("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", (50.0, 180.0), "umol/L"),
    ("98979-8", "eGFR CKD-EPI 2021", (20.0, 110.0), "mL/min/{1.73_m2}"),
    ("1742-6", "ALT [Enzymatic activity/volume] in Serum or Plasma", (10.0, 90.0), "U/L"),
    ("1975-2", "Bilirubin.total [Mass/volume] in Serum or Plasma", (3.0, 30.0), "umol/L"),
    ("2951-2", "Sodium [Moles/volume] in Serum or Plasma", (130.0, 145.0), "mmol/L"),
    ("2823-3", "Potassium [Moles/volume] in Serum or Plasma", (3.3, 5.2), "mmol/L"),
    ("6690-2", "Leukocytes [#/volume] in Blood by Automated count", (2.0, 12.0), "10*3/uL"),
    ("2345-7", "Glucose [Mass/volume] in Serum or Plasma", (70.0, 200.0), "mg/dL"),
    ("8867-4", "Heart rate", (55.0, 110.0), "/min"),
    ("8310-5", "Body temperature", (36.0, 38.5), "Cel"),
    ("29463-7", "Body weight", (50.0, 95.0), "kg"),
]
CONDITIONS = [
    (ICD, "I10", "Essential (primary) hypertension"),
    (ICD, "E11.9", "Type 2 diabetes mellitus without complications"),
    (SCT, "161898004", "Falls"),
    (SCT, "302226006", "Peripheral neuropathy"),
    (ICD, "K59.03", "Drug induced constipation"),
    (ICD, "Z79.899", "Other long term (current) drug therapy"),
    (SCT, "38341003", "Hypertensive disorder"),
]
MEDICATIONS = [
    ("1049621", "oxycodone hydrochloride 5 MG Oral Tablet"),
    ("245134", "72 HR fentanyl 0.025 MG/HR Transdermal System"),
    ("313782", "acetaminophen 325 MG Oral Tablet"),
    ("310431", "gabapentin 300 MG Oral Capsule"),
    ("197361", "amlodipine 5 MG Oral Tablet"),
    ("860975", "metformin hydrochloride 500 MG Oral Tablet"),
    ("1191", "aspirin"),
]


def _entry(resource: dict[str, Any]) -> dict[str, Any]:
    return {
        "fullUrl": f"{BASE}/{resource['resourceType']}/{resource['id']}",
        "resource": resource,
        "search": {"mode": "match"},
    }


def _bundle(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "id": f"search-{len(resources)}",
        "meta": {"lastUpdated": "2025-03-01T10:00:00Z"},
        "type": "searchset",
        "total": len(resources),
        "link": [{"relation": "self", "url": f"{BASE}/Observation?patient={PATIENT}"}],
        "entry": [_entry(r) for r in resources],
    }


def _common(rid: str, rng: random.Random) -> dict[str, Any]:
    return {
        "id": rid,
        "meta": {"versionId": str(rng.randint(1, 5)), "lastUpdated": "2025-03-01T10:00:00.000Z"},
        "identifier": [
            {"system": "urn:oid:1.2.840.114350.1.13.0.1.7.2.798268", "value": str(rng.randint(10**8, 10**9))}
        ],
        "subject": {"reference": f"Patient/{PATIENT}", "display": "Test, Patient"},
    }


def _observation(n: int, rng: random.Random) -> dict[str, Any]:
    if n % 10 == 0:
        return {
            "resourceType": "Observation",
            **_common(f"pain-{n}", rng),
            "status": "final",
            "category": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                            "code": "survey",
                        }
                    ]
                }
            ],
            "code": {
                "coding": [
                    {
                        "system": LOINC,
                        "code": "72514-3",
                        "display": "Pain severity - 0-10 verbal numeric rating [Score] - Reported",
                    }
                ]
            },
            "effectiveDateTime": f"2025-02-{1 + n % 28:02d}T{n % 24:02d}:15:00-05:00",
            "valueInteger": rng.randint(0, 10),
        }
    loinc, display, (low, high), unit = LABS[n % len(LABS)]
    return {
        "resourceType": "Observation",
        **_common(f"lab-{n}", rng),
        "status": rng.choice(["final", "final", "final", "amended", "preliminary"]),
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "laboratory",
                        "display": "Laboratory",
                    }
                ]
            }
        ],
        "code": {
            "coding": [
                {"system": LOINC, "code": loinc, "display": display},
                {
                    "system": "urn:oid:1.2.840.114350.1.13.0.1.7.2.768282",
                    "code": str(1000 + n % 50),
                    "display": display.upper(),
                },
            ],
            "text": display,
        },
        "effectiveDateTime": f"2025-02-{1 + n % 28:02d}T{n % 24:02d}:30:00Z",
        "issued": f"2025-02-{1 + n % 28:02d}T{n % 24:02d}:55:00Z",
        "performer": [{"reference": "Organization/lab-1", "display": "Central Laboratory"}],
        "valueQuantity": {
            "value": round(rng.uniform(low, high), 2),
            "unit": unit,
            "system": "http://unitsofmeasure.org",
            "code": unit,
        },
        "interpretation": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                        "code": "N",
                    }
                ]
            }
        ],
        "referenceRange": [
            {
                "low": {"value": low, "unit": unit},
                "high": {"value": high, "unit": unit},
                "text": f"{low}-{high} {unit}",
            }
        ],
    }


def _condition(n: int, rng: random.Random) -> dict[str, Any]:
    status = rng.choice(["active", "active", "resolved", "inactive"])
    common = {
        "resourceType": "Condition",
        **_common(f"cond-{n}", rng),
        "clinicalStatus": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": status}]
        },
        "verificationStatus": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed"}
            ]
        },
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/condition-category",
                        "code": "problem-list-item",
                    }
                ]
            }
        ],
        "onsetDateTime": f"20{10 + n % 15}-0{1 + n % 9}-15",
        "recordedDate": "2025-01-10T09:00:00Z",
    }
    if n % 20 == 0:
        sites = [
            {
                "coding": [{"system": SCT, "code": "122495006", "display": "Thoracic spine"}],
                "text": f"T{1 + n % 12}",
            },
            {
                "coding": [{"system": SCT, "code": "71341001", "display": "Femur"}],
                "extension": [
                    {
                        "url": "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-laterality-qualifier",
                        "valueCodeableConcept": {
                            "coding": [{"system": SCT, "code": "7771000", "display": "Left"}]
                        },
                    },
                    {
                        "url": "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-body-location-qualifier",
                        "valueCodeableConcept": {"text": "proximal"},
                    },
                ],
            },
        ]
        return {
            **common,
            "code": {
                "coding": [
                    {"system": SCT, "code": "94222008", "display": "Secondary malignant neoplasm of bone"},
                    {"system": ICD, "code": "C79.51"},
                ]
            },
            "bodySite": sites,
        }
    system, code, display = CONDITIONS[n % len(CONDITIONS)]
    return {
        **common,
        "code": {"coding": [{"system": system, "code": code, "display": display}], "text": display},
    }


def _medication_request(n: int, rng: random.Random) -> dict[str, Any]:
    rxcui, name = MEDICATIONS[n % len(MEDICATIONS)]
    request: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        **_common(f"rx-{n}", rng),
        "status": rng.choice(["active", "active", "completed", "stopped"]),
        "intent": "order",
        "authoredOn": f"2025-01-{1 + n % 28:02d}T08:00:00Z",
        "requester": {"reference": "Practitioner/dr-1", "display": "Dr Example"},
        "dosageInstruction": [
            {
                "text": "1 tablet by mouth every 6 hours as needed for pain",
                "timing": {"repeat": {"frequency": 1, "period": 6, "periodUnit": "h"}},
                "asNeededBoolean": n % 2 == 0,
                "route": {"coding": [{"system": SCT, "code": "26643006", "display": "Oral route"}]},
                "doseAndRate": [
                    {
                        "doseQuantity": {
                            "value": 1,
                            "unit": "tablet",
                            "system": "http://unitsofmeasure.org",
                            "code": "{tbl}",
                        }
                    }
                ],
            }
        ],
        "dispenseRequest": {
            "validityPeriod": {"start": "2025-01-01", "end": "2025-04-01"},
            "numberOfRepeatsAllowed": 2,
        },
    }
    if n % 3 == 0:
        request["contained"] = [
            {
                "resourceType": "Medication",
                "id": "med",
                "code": {"coding": [{"system": RXNORM, "code": rxcui, "display": name}]},
            }
        ]
        request["medicationReference"] = {"reference": "#med"}
    else:
        request["medicationCodeableConcept"] = {
            "coding": [{"system": RXNORM, "code": rxcui, "display": name}],
            "text": name,
        }
    return request


def _procedure(n: int, rng: random.Random) -> dict[str, Any]:
    code, display = [
        ("108290001", "Radiotherapy"),
        ("80146002", "Appendectomy"),
        ("73761001", "Colonoscopy"),
    ][n % 3]
    return {
        "resourceType": "Procedure",
        **_common(f"proc-{n}", rng),
        "status": "completed",
        "code": {"coding": [{"system": SCT, "code": code, "display": display}]},
        "performedPeriod": {"start": "2025-01-06", "end": "2025-01-10"},
        "bodySite": [
            {"coding": [{"system": SCT, "code": "122495006", "display": "Thoracic spine"}], "text": "T9"}
        ],
    }


def build_record(seed: int = 1) -> dict[str, Any]:
    """A prefetch of 1,000 resources: 1 Patient, 650 Observations, 120 Conditions, 150 orders, 50
    statements, 29 procedures."""
    rng = random.Random(seed)
    statements = []
    for n in range(50):
        statement = _medication_request(n, rng)
        statement.update(
            resourceType="MedicationStatement",
            id=f"ms-{n}",
            status="active",
            effectivePeriod={"start": "2024-12-01"},
        )
        statement["dosage"] = statement.pop("dosageInstruction")
        for key in ("intent", "authoredOn", "requester", "dispenseRequest"):
            statement.pop(key)
        statements.append(statement)
    return {
        "patient": {"resourceType": "Patient", "id": PATIENT, "birthDate": "1951-04-02", "gender": "female"},
        "observations": _bundle([_observation(n, rng) for n in range(650)]),
        "conditions": _bundle([_condition(n, rng) for n in range(120)]),
        "medicationRequests": _bundle([_medication_request(n, rng) for n in range(150)]),
        "medicationStatements": _bundle(statements),
        "procedures": _bundle([_procedure(n, rng) for n in range(29)]),
    }


def _seconds(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def _interleaved(
    floor: Callable[[], object], full: Callable[[], object], runs: int
) -> tuple[list[float], ...]:
    """Per-run seconds of ``floor`` and ``full``, timed one after the other in every run."""
    floor()  # warm caches (regex, unit spellings) the way a running service has them warm
    full()
    floors, fulls = [], []
    for _ in range(runs):
        floors.append(_seconds(floor))
        fulls.append(_seconds(full))
    return floors, fulls


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=25)
    parser.add_argument("--write", type=Path, help="also write the generated record to this file")
    args = parser.parse_args()
    record = build_record()
    payload = json.dumps(record).encode()
    if args.write:
        args.write.write_bytes(payload)
    terminology = Terminology.load()  # once, at start-up, as the service does

    def read_into_facts() -> PatientFacts:
        result = read_prefetch(json.loads(payload))
        return extract_facts(result, terminology, patient_id=PATIENT)

    facts = read_into_facts()
    resources = read_prefetch(json.loads(payload)).count()
    floors, fulls = _interleaved(lambda: json.loads(payload), read_into_facts, args.runs)
    ratio = statistics.median(full / floor for floor, full in zip(floors, fulls, strict=True))
    print(f"record: {resources} resources, {len(payload) / 1024:.0f} KiB; {args.runs} interleaved runs")
    print(f"json.loads:                       {statistics.median(floors) * 1000:8.2f} ms median")
    print(f"json.loads + read + extract:      {statistics.median(fulls) * 1000:8.2f} ms median")
    print(f"ratio, median of runs (target <= 3): {ratio:5.2f}")
    print(f"ratio of the best runs:              {min(fulls) / min(floors):5.2f}")
    print(
        f"facts: {len(facts.lesions)} lesions, {len(facts.observations)} observations, "
        f"{len(facts.conditions)} conditions, {len(facts.medications)} medications, "
        f"{len(facts.procedures)} procedures, {len(facts.issues)} issues"
    )


if __name__ == "__main__":
    main()
