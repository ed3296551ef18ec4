"""A bone-modifying agent ordered by the pack ("1 vial" of "100 ML zoledronic acid 0.04 MG/ML Injection"):
the dose in mg is the pack volume times the concentration, and P08 compares it with the renal band."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from hook_answers import VIGNETTES, HookCase, fire, request_of_case

RULES = "org.fhir-bonemet.rules"
Json = dict[str, Any]
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
ZA_PACK = "100 ML zoledronic acid 0.04 MG/ML Injection"


def _za_card(medication: Json, dose: Json, contained: list[Json] | None = None) -> Json:
    """The P08 card for a zoledronic acid draft at CrCl about 45 mL/min (3.3 mg advised)."""
    body = json.loads((VIGNETTES / "pain" / "v07-zoledronic-draft-crcl-45.json").read_text(encoding="utf-8"))
    draft = body["draftOrders"]["entry"][0]["resource"]
    del draft["medicationCodeableConcept"]
    draft.update(medication)
    if contained:
        draft["contained"] = contained
    draft["dosageInstruction"][0]["doseAndRate"] = [{"doseQuantity": dose}]
    case = HookCase("pack:za", body["hook"], date.fromisoformat(body["today"]), request_of_case(body))
    [card] = [c for c in fire(case) if "P08" in c["extension"][RULES]]
    return card


def _summary_and_missing(card: Json) -> tuple[str, str]:
    detail: str = card["detail"]
    missing = detail.split("**Missing:**", 1)[1].split("\n", 1)[0] if "**Missing:**" in detail else ""
    return card["summary"], missing


@pytest.mark.parametrize(
    "dose",
    [
        {"value": 1, "unit": "vial"},
        {"value": 1, "unit": "vial", "system": UCUM, "code": "{vial}"},
        {"value": 1, "unit": "bag", "system": UCUM, "code": "{bag}"},
        {"value": 100, "unit": "mL", "system": UCUM, "code": "mL"},
    ],
)
def test_a_pack_of_a_named_product_is_read_in_mg(dose: Json) -> None:
    """The RxNorm name puts the pack volume first: 1 vial of 100 mL at 0.04 mg/mL is 4 mg, above the
    3.3 mg of the CrCl 40-49 band, and the card offers the reduced dose (it gave the generic advice and
    listed the ordered dose as missing)."""
    card = _za_card({"medicationCodeableConcept": {"text": ZA_PACK}}, dose)
    summary, missing = _summary_and_missing(card)
    assert summary.startswith("Zoledronic acid 4 mg is above the 3.3 mg advised")
    assert "ordered dose" not in missing
    assert "Reduce zoledronic acid to 3.3 mg" in [s["label"] for s in card["suggestions"]]


def test_a_pack_volume_given_by_the_medication_amount_is_read() -> None:
    medication = {
        "resourceType": "Medication",
        "id": "za",
        "code": {"coding": [{"system": RXNORM, "code": "77655", "display": "zoledronic acid"}]},
        "amount": {"numerator": {"value": 100, "unit": "mL", "system": UCUM, "code": "mL"}},
        "ingredient": [
            {
                "itemCodeableConcept": {"coding": [{"system": RXNORM, "code": "77655"}]},
                "strength": {
                    "numerator": {"value": 4, "unit": "mg", "system": UCUM, "code": "mg"},
                    "denominator": {"value": 100, "unit": "mL", "system": UCUM, "code": "mL"},
                },
            }
        ],
    }
    card = _za_card({"medicationReference": {"reference": "#za"}}, {"value": 1, "unit": "vial"}, [medication])
    assert card["summary"].startswith("Zoledronic acid 4 mg is above the 3.3 mg advised")


@pytest.mark.parametrize(
    ("medication", "contained"),
    [
        # A concentration with no pack volume: the vial may hold any volume of it.
        ({"medicationCodeableConcept": {"text": "zoledronic acid 4 mg/5 mL injection"}}, None),
        # Two pack volumes for one product: neither is trusted.
        (
            {"medicationReference": {"reference": "#za"}},
            [
                {
                    "resourceType": "Medication",
                    "id": "za",
                    "code": {"text": ZA_PACK},
                    "amount": {"numerator": {"value": 5, "unit": "mL", "system": UCUM, "code": "mL"}},
                }
            ],
        ),
    ],
)
def test_a_pack_of_unknown_volume_is_still_said_unread(
    medication: Json, contained: list[Json] | None
) -> None:
    card = _za_card(medication, {"value": 1, "unit": "vial"}, contained)
    summary, missing = _summary_and_missing(card)
    assert summary.startswith("Zoledronic acid: 3.3 mg advised for CrCl")
    # Named by its ingredient, never by its record reference (card text speaks in clinical words).
    assert "ordered dose of zoledronic acid (volume of one vial not recorded)" in missing
    assert "MedicationRequest/" not in missing
