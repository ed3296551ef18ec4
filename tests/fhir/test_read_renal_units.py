"""Renal function as laboratories send it: a bound (eGFR ">60", "<15")."""

from __future__ import annotations

import math
from typing import Any

import pytest
from reader_fixtures import LOINC, facts_of, observation

from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.facts import PatientFacts, Quantity

EGFR, CALCIUM = "62238-1", "17861-6"


def _read(code: str, **value: Any) -> PatientFacts:
    return facts_of(observation("r", LOINC, code, **value))


def _quantity(facts: PatientFacts, concept: str) -> Quantity:
    (found,) = [o.quantity for o in facts.observations if o.concept == concept and o.quantity is not None]
    return found


@pytest.mark.parametrize(
    "value",
    [
        {"valueString": "<15 mL/min/1.73m2"},
        {"valueQuantity": {"comparator": "<", "value": 15, "code": "mL/min/{1.73_m2}"}},
    ],
)
def test_an_egfr_upper_bound_is_read_as_the_highest_value_it_allows(value: dict[str, Any]) -> None:
    quantity = _quantity(_read(EGFR, **value), c.LAB_EGFR)
    assert quantity.value == math.nextafter(15, -math.inf)
    assert (quantity.comparator, quantity.shown()) == ("<", "<15")


def test_a_bound_of_another_result_is_still_not_read_and_keeps_its_bound_for_r10() -> None:
    facts = _read(CALCIUM, valueQuantity={"comparator": "<", "value": 6, "unit": "mg/dL"})
    (kept,) = facts.unreadable
    assert (kept.concept, kept.bound) == (c.LAB_CALCIUM, 6)
