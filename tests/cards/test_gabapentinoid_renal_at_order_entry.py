"""A gabapentinoid ordered for a patient whose kidneys clear it slowly (P12, S20): the card before the order
says first to reduce its dose, with the clearance it was compared with.  Fired through the HTTP app on the
NSAID-renal example patient (75 years, creatinine 2.4 mg/dL, 68 kg: CrCl 25.6 mL/min) with pregabalin
drafted in place of the example's medicine."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hook_answers import HookCase, answer, example_cases

Json = dict[str, Any]
DRAFT = "MedicationRequest/draft-pregabalin"


def _case(hook: str) -> HookCase:
    return next(c for c in example_cases() if c.name == "example:nsaid-renal-impairment" and c.hook == hook)


def _pregabalin_cards(hook: str) -> list[Json]:
    case = _case(hook)
    request = copy.deepcopy(case.request)
    patient = request["context"]["patientId"]
    draft = {
        "resourceType": "MedicationRequest",
        "id": DRAFT.split("/")[1],
        "status": "draft",
        "intent": "order",
        "medicationCodeableConcept": {
            "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "187832"}],
            "text": "Pregabalin 75 mg capsule",
        },
        "subject": {"reference": f"Patient/{patient}"},
        "dosageInstruction": [
            {
                "text": "75 mg twice daily",
                "timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}},
                "doseAndRate": [{"doseQuantity": {"value": 75, "unit": "mg"}}],
            }
        ],
    }
    request["context"]["draftOrders"]["entry"] = [{"resource": draft}]
    if hook == "order-select":
        request["context"]["selections"] = [DRAFT]
    cards: list[Json] = answer(case, request)["cards"]
    return cards


@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_a_gabapentinoid_ordered_at_crcl_25_is_asked_to_be_reduced_first(hook: str) -> None:
    cards = _pregabalin_cards(hook)
    (card,) = [c for c in cards if "P12" in c.get("extension", {}).get("org.fhir-bonemet.rules", [])]
    assert card["summary"] == "Gabapentinoid with CrCl 25.6 and fall risk: reduce the dose, review falls"
    first = card["detail"].splitlines()[0]
    assert first.startswith(
        "- Pregabalin 75 mg capsule: renally cleared; reduce the dose for CrCl 25.6 mL/min"
    )
    assert "Creatinine clearance (Cockcroft-Gault) 25.6 mL/min" in card["detail"]
