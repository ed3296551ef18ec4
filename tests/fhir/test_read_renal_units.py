"""Renal function as laboratories send it: a bound (eGFR ">60", "<15") and often no unit, which the code
implies for eGFR; never for a measured clearance or serum creatinine, whose units are all in use."""

from __future__ import annotations

import math
from typing import Any

import pytest
from reader_fixtures import LOINC, facts_of, observation

from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.facts import PatientFacts, Quantity

EGFR, CRCL, CREATININE, CALCIUM = "62238-1", "2164-2", "2160-0", "17861-6"


def _read(code: str, **value: Any) -> PatientFacts:
    return facts_of(observation("r", LOINC, code, **value))


def _quantity(facts: PatientFacts, concept: str) -> Quantity:
    (found,) = [o.quantity for o in facts.observations if o.concept == concept and o.quantity is not None]
    return found


def _notes(facts: PatientFacts) -> list[str]:
    return [i.message for i in facts.issues if i.severity == "information"]


@pytest.mark.parametrize(
    ("value", "bound"),
    [
        ({"valueString": ">60"}, 60),
        ({"valueString": "> 60"}, 60),
        ({"valueString": ">90"}, 90),
        ({"valueQuantity": {"comparator": ">", "value": 60}}, 60),
        ({"valueQuantity": {"comparator": ">", "value": 60, "unit": ""}}, 60),
    ],
)
def test_an_egfr_lower_bound_without_a_unit_is_read_in_the_unit_of_every_egfr(
    value: dict[str, Any], bound: float
) -> None:
    facts = _read(EGFR, **value)
    quantity = _quantity(facts, c.LAB_EGFR)
    assert quantity.value == math.nextafter(bound, math.inf)  # the lowest it can be: just above the bound
    assert (quantity.unit, quantity.comparator, quantity.shown()) == ("mL/min/{1.73_m2}", ">", f">{bound}")
    assert quantity.unit_from_code
    assert not facts.unreadable
    # Said to the sender as a note (nothing was lost), never as a warning.
    assert [i.severity for i in facts.issues] == ["information"]
    assert "no unit received" in _notes(facts)[0]


def test_a_bound_with_a_recognised_unit_in_the_text_reads_like_the_quantity() -> None:
    written = _quantity(_read(EGFR, valueString=">60 mL/min/1.73m2"), c.LAB_EGFR)
    sent = _quantity(
        _read(EGFR, valueQuantity={"comparator": ">", "value": 60, "unit": "mL/min/1.73m2"}), c.LAB_EGFR
    )
    assert written == sent
    assert not written.unit_from_code


@pytest.mark.parametrize(
    "value",
    [
        {"valueString": "<15"},
        {"valueString": "<15 mL/min/1.73m2"},
        {"valueQuantity": {"comparator": "<", "value": 15}},
        {"valueQuantity": {"comparator": "<", "value": 15, "code": "mL/min/{1.73_m2}"}},
    ],
)
def test_an_egfr_upper_bound_is_read_as_the_highest_value_it_allows(value: dict[str, Any]) -> None:
    quantity = _quantity(_read(EGFR, **value), c.LAB_EGFR)
    assert quantity.value == math.nextafter(15, -math.inf)
    assert (quantity.comparator, quantity.shown()) == ("<", "<15")


def test_a_unitless_egfr_number_is_read_where_it_is_unambiguous() -> None:
    facts = _read(EGFR, valueString="27")
    assert _quantity(facts, c.LAB_EGFR) == Quantity(27.0, "mL/min/{1.73_m2}", unit_from_code=True)


@pytest.mark.parametrize("written", ["1.2", ">1.5", "<2", "450"])
def test_a_unitless_egfr_number_that_another_unit_could_explain_is_not_read(written: str) -> None:
    """Below 5 the number may be in mL/s (1.2 mL/s is 72 mL/min); above 200 it is no eGFR at all."""
    facts = _read(EGFR, valueString=written)
    assert [o for o in facts.observations if o.concept == c.LAB_EGFR] == []
    (kept,) = facts.unreadable
    assert kept.concept == c.LAB_EGFR
    assert _notes(facts) == []


@pytest.mark.parametrize("written", [">90", "100"])
def test_a_measured_clearance_without_a_unit_is_still_not_read(written: str) -> None:
    """mL/min, mL/s and L/24 h are all in use: 100 L/24 h read as mL/min would be a better kidney."""
    facts = _read(CRCL, valueString=written)
    assert [o for o in facts.observations if o.concept == c.LAB_CRCL] == []
    (kept,) = facts.unreadable
    assert kept.concept == c.LAB_CRCL


@pytest.mark.parametrize(
    "value",
    [
        {"valueString": ">1.2"},
        {"valueString": "1.2"},
        {"valueQuantity": {"value": 1.2}},
        {"valueQuantity": {"comparator": ">", "value": 1.2}},
    ],
)
def test_a_serum_creatinine_without_a_unit_is_still_not_read(value: dict[str, Any]) -> None:
    """mg/dL and µmol/L are both in use: the code implies neither."""
    facts = _read(CREATININE, **value)
    assert [o for o in facts.observations if o.concept == c.LAB_CREATININE] == []
    (kept,) = facts.unreadable
    assert kept.concept == c.LAB_CREATININE
    assert [i.severity for i in facts.issues] == ["warning"]


def test_a_bound_of_another_result_is_still_not_read_and_keeps_its_bound_for_r10() -> None:
    facts = _read(CALCIUM, valueQuantity={"comparator": "<", "value": 6, "unit": "mg/dL"})
    (kept,) = facts.unreadable
    assert (kept.concept, kept.bound) == (c.LAB_CALCIUM, 6)
