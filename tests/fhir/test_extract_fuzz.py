"""Arbitrary JSON in the places FHIR resources keep their data must never make the reader raise."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reader_fixtures import (
    BONE_MET_CODE,
    LOINC,
    PATIENT_ID,
    SUBJECT,
    coding,
    condition,
    observation,
    patient,
    quantity,
    site,
    terminology,
)

from fhir_bonemet.fhir.intake.patient_facts import extract_facts
from fhir_bonemet.fhir.intake.read import read_draft_orders, read_prefetch

_TYPES = [
    "Condition",
    "Observation",
    "MedicationRequest",
    "MedicationStatement",
    "Procedure",
    "Patient",
    "Medication",
    "ServiceRequest",
    "Bundle",
]
_KEYS = st.sampled_from(
    [
        "resourceType",
        "id",
        "code",
        "bodySite",
        "clinicalStatus",
        "verificationStatus",
        "coding",
        "system",
        "text",
        "display",
        "extension",
        "url",
        "valueCodeableConcept",
        "valueQuantity",
        "value",
        "unit",
        "comparator",
        "valueInteger",
        "valueBoolean",
        "valueString",
        "component",
        "effectiveDateTime",
        "effectivePeriod",
        "start",
        "end",
        "issued",
        "status",
        "subject",
        "reference",
        "focus",
        "medicationReference",
        "medicationCodeableConcept",
        "contained",
        "dosageInstruction",
        "dosage",
        "timing",
        "repeat",
        "frequency",
        "frequencyMax",
        "period",
        "periodUnit",
        "timeOfDay",
        "doseAndRate",
        "doseQuantity",
        "doseRange",
        "high",
        "low",
        "maxDosePerPeriod",
        "numerator",
        "denominator",
        "ingredient",
        "itemCodeableConcept",
        "strength",
        "onsetDateTime",
        "onsetPeriod",
        "abatementDateTime",
        "recordedDate",
        "performedDateTime",
        "performedPeriod",
        "birthDate",
        "gender",
        "asNeededBoolean",
        "route",
        "reasonReference",
        "reasonCode",
        "dispenseRequest",
        "validityPeriod",
        "authoredOn",
        "valueReference",
        "entry",
        "resource",
        "fullUrl",
        "search",
        "mode",
        "meta",
        "lastUpdated",
        "doNotPerform",
    ]
)
_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(
        [
            "http://snomed.info/sct",
            "94222008",
            "128462008",
            "http://hl7.org/fhir/sid/icd-10-cm",
            "C79.51",
            "http://loinc.org",
            "17861-6",
            "72514-3",
            "mmol/L",
            "{score}",
            "h",
            "d",
            "#med1",
            "Medication/m1",
            f"Patient/{PATIENT_ID}",
            "Patient/other",
            "urn:uuid:1",
            "active",
            "final",
            "entered-in-error",
            "refuted",
            "2025-01",
            "2025-02-30",
            "2025-01-01T10:00:00+25:00",
            "T9",
            "left proximal femur",
            "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-laterality-qualifier",
            "http://hl7.org/fhir/StructureDefinition/condition-related",
            "BID",
            "Condition/c1",
        ]
    )
)
_JSON = st.recursive(
    _LEAVES,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=5),
    max_leaves=25,
)
_RESOURCE = st.builds(
    lambda rtype, rid, body: {**body, "resourceType": rtype, "id": rid},
    st.sampled_from(_TYPES),
    st.sampled_from(["m1", "c1", "x", PATIENT_ID, ""]),
    st.dictionaries(_KEYS, _JSON, max_size=8),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(_RESOURCE | _JSON, max_size=6), st.lists(_RESOURCE, max_size=2), st.lists(st.text(max_size=5))
)
def test_arbitrary_payloads_never_raise(values: list[Any], drafts: list[Any], selections: list[str]) -> None:
    result = read_prefetch(
        {"a": values, "b": {"resourceType": "Bundle", "entry": [{"resource": v} for v in values]}}
    )
    draft = read_draft_orders({"resourceType": "Bundle", "entry": [{"resource": d} for d in drafts]})
    facts = extract_facts(
        result, terminology(), patient_id=PATIENT_ID, draft_orders=draft, selections=selections
    )
    assert len(facts.issues) >= len(result.issues)


def _templates() -> list[dict[str, Any]]:
    """Well-formed resources touching every path the extractors read."""
    local = terminology().local_system
    panel = observation("panel", LOINC, "17861-6", **quantity(2.6, "mmol/L"), bodySite=site(text="T9"))
    panel["component"] = [{"code": {"coding": [coding(LOINC, "1751-7")]}, **quantity(30, "g/L")}]
    panel["focus"] = [{"reference": "Condition/met"}]
    request = {
        "resourceType": "MedicationRequest",
        "id": "rx",
        "status": "active",
        "subject": SUBJECT,
        "authoredOn": "2025-01-01",
        "contained": [
            {
                "resourceType": "Medication",
                "id": "med1",
                "code": {"text": "oxycodone 5 mg tablet"},
                "ingredient": [
                    {
                        "itemCodeableConcept": {"text": "oxycodone"},
                        "strength": {"numerator": {"value": 5, "unit": "mg"}, "denominator": {"value": 1}},
                    }
                ],
            }
        ],
        "medicationReference": {"reference": "#med1"},
        "reasonReference": [{"reference": "Condition/met"}],
        "dispenseRequest": {"validityPeriod": {"start": "2025-01-01", "end": "2025-02-01"}},
        "dosageInstruction": [
            {
                "text": "1 tab q4h prn",
                "timing": {
                    "repeat": {"frequency": 1, "period": 4, "periodUnit": "h"},
                    "code": {"text": "q4h"},
                },
                "asNeededBoolean": True,
                "route": {"text": "oral"},
                "doseAndRate": [
                    {"doseRange": {"low": {"value": 1, "unit": "tab"}, "high": {"value": 2, "unit": "tab"}}}
                ],
                "maxDosePerPeriod": {
                    "numerator": {"value": 6, "unit": "tab"},
                    "denominator": {"value": 1, "code": "d"},
                },
            }
        ],
    }
    return [
        patient(),
        condition(
            "met",
            BONE_MET_CODE,
            sites=[site("71341001", "Femur", side="left", qualifier="proximal"), site(text="T9")],
            related="primary",
            onsetPeriod={"start": "2024-01", "end": "2024-02"},
        ),
        condition("primary", {"coding": [coding("http://hl7.org/fhir/sid/icd-10-cm", "C50.911")]}),
        panel,
        observation("lt", local, "lesion-type", valueCodeableConcept={"text": "lytic"}),
        observation("rf", local, "rf-limb-weakness", valueBoolean=True),
        request,
        {
            "resourceType": "Procedure",
            "id": "rt",
            "status": "completed",
            "subject": SUBJECT,
            "code": {"coding": [coding("http://snomed.info/sct", "108290001")]},
            "performedPeriod": {"start": "2025-01-01", "end": "2025-01-05"},
            "bodySite": [site(text="T9")],
        },
    ]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, inner in value.items():
            found += _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for position, inner in enumerate(value):
            found += _paths(inner, (*prefix, position))
    return found


def _replaced(value: Any, path: tuple[Any, ...], replacement: Any) -> Any:
    if not path:
        return replacement
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replaced(value[head], rest, replacement)}
    copy = list(value)
    copy[head] = _replaced(value[head], rest, replacement)
    return copy


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_corrupting_any_element_of_a_valid_record_never_raises(data: st.DataObject) -> None:
    resources = _templates()
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        paths = _paths(resources)
        path = data.draw(st.sampled_from(paths))
        resources = _replaced(resources, path, data.draw(_JSON))
    draft = {"resourceType": "Bundle", "entry": [{"resource": resource} for resource in resources]}
    facts = extract_facts(
        read_prefetch({"items": resources}), terminology(), patient_id=PATIENT_ID, draft_orders=draft
    )
    assert isinstance(facts.issues, tuple)
