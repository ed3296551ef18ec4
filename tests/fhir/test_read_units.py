"""UCUM normalisation: the same result in any common unit lands on the same canonical value."""

from __future__ import annotations

import pytest

from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.facts import Quantity
from fhir_bonemet.fhir.intake.units import CANONICAL_UNITS, normalise


def _value(concept: str, value: float, unit: str | None) -> float:
    result = normalise(concept, value, unit)
    assert isinstance(result, Quantity), result
    assert result.unit == CANONICAL_UNITS[concept]
    return result.value


@pytest.mark.parametrize(
    ("concept", "readings", "expected"),
    [
        (c.LAB_CALCIUM, [(3.0, "mmol/L"), (12.024, "mg/dL"), (12.024, "mg/dl"), (3.0, "mmol/l")], 12.024),
        (c.LAB_CALCIUM_CORRECTED, [(2.5, "mmol/L"), (10.02, "mg/dL"), (5.0, "meq/L")], 10.02),
        (c.LAB_ALBUMIN, [(35, "g/L"), (3.5, "g/dL"), (3.5, "g/dl")], 3.5),
        (c.LAB_HAEMOGLOBIN, [(80, "g/L"), (8.0, "g/dL"), (8.0, "g/dl"), (8000, "mg/dL")], 8.0),
        (
            c.LAB_PLATELETS,
            [
                (42, "10*9/L"),
                (42, "10*3/uL"),
                (42, "10^9/L"),
                (42, "x10E3/uL"),
                (42, "K/uL"),
                (42, "10*3/mm3"),
                (42000, "/uL"),
                (42, "10*3/µL"),
                (42, "x10³/µL"),  # superscript powers, as laboratory reports print them
                (42, "10⁹/L"),
                (42, "×10⁹/L"),
            ],
            42.0,
        ),
        (c.LAB_NEUTROPHILS, [(0.4, "10*9/L"), (400, "/uL"), (0.4, "10*3/uL")], 0.4),
        (c.LAB_EGFR, [(28, "mL/min/{1.73_m2}"), (28, "mL/min/1.73m2"), (28, "mL/min/1.73 m²")], 28.0),
        (c.BODY_WEIGHT, [(70, "kg"), (70000, "g")], 70.0),
        (c.LAB_ALT, [(40, "U/L"), (40, "IU/L"), (40, "[IU]/L")], 40.0),
        (c.PAIN_SCORE, [(7, None), (7, "{score}"), (7, "")], 7.0),
    ],
)
def test_equivalent_units_normalise_to_one_value(
    concept: str, readings: list[tuple[float, str | None]], expected: float
) -> None:
    for value, unit in readings:
        assert _value(concept, value, unit) == pytest.approx(expected, rel=1e-3), unit


@pytest.mark.parametrize(
    ("concept", "value", "unit", "expected"),
    [
        (c.LAB_CREATININE, 88.4, "umol/L", 1.0),
        (c.LAB_CREATININE, 1.0, "mg/dL", 1.0),
        (c.LAB_VITAMIN_D, 50, "nmol/L", 20.03),
        (c.LAB_BILIRUBIN, 17.1, "µmol/L", 1.0),
        (c.LAB_HAEMOGLOBIN, 5.0, "mmol/L", 8.06),
        (c.BODY_WEIGHT, 154, "[lb_av]", 69.85),
        (c.LAB_CALCIUM_IONISED, 1.2, "mmol/L", 1.2),
    ],
)
def test_molar_and_imperial_conversions(concept: str, value: float, unit: str, expected: float) -> None:
    assert _value(concept, value, unit) == pytest.approx(expected, rel=2e-3)


@pytest.mark.parametrize(
    ("concept", "value", "unit", "expected"),
    [
        # Giga per litre, as European laboratories write counts; only counts read "G/L" so.
        (c.LAB_PLATELETS, 42, "G/L", 42.0),
        (c.LAB_PLATELETS, 42, "Gpt/L", 42.0),
        (c.LAB_NEUTROPHILS, 0.4, "G/l", 0.4),
        (c.LAB_PLATELETS, 42, "/nL", 42.0),
        (c.LAB_PLATELETS, 42, "10^3/mm^3", 42.0),
        (c.LAB_PLATELETS, 42, "x10^3/mm^3", 42.0),
        (c.LAB_ALBUMIN, 35, "g/L", 3.5),  # grams per litre everywhere else
        (c.LAB_HAEMOGLOBIN, 80, "g/L", 8.0),
        (c.LAB_CALCIUM, 3.0, "mM", 12.024),
        (c.LAB_CALCIUM_IONISED, 1.2, "mM", 1.2),
        (c.LAB_CREATININE, 88.4, "micromol/L", 1.0),
        (c.LAB_BILIRUBIN, 17.1, "micromol/L", 1.0),
    ],
)
def test_laboratory_spellings_of_counts_and_molar_units(
    concept: str, value: float, unit: str, expected: float
) -> None:
    assert _value(concept, value, unit) == pytest.approx(expected, rel=2e-3)


def test_hypercalcaemia_threshold_compares_equally_in_both_unit_systems() -> None:
    # 12 mg/dL ≈ 3.0 mmol/L (the calcium gate): both readings must land on the same side of 12 mg/dL.
    assert _value(c.LAB_CALCIUM, 3.1, "mmol/L") >= 12.0
    assert _value(c.LAB_CALCIUM, 2.9, "mmol/L") < 12.0


@pytest.mark.parametrize(
    ("concept", "unit"),
    [
        (c.LAB_CALCIUM, "mmol/mol"),
        (c.LAB_PLATELETS, "%"),
        (c.LAB_NEUTROPHILS, "%"),
        (c.LAB_EGFR, "mL/min"),
        (c.LAB_HAEMOGLOBIN, None),
        (c.PAIN_SCORE, "mm"),
    ],
)
def test_unknown_units_are_refused_with_a_reason(concept: str, unit: str | None) -> None:
    result = normalise(concept, 10, unit)
    assert isinstance(result, str)
    assert concept in result
    assert "10" not in result  # the message names the unit, never the value


@pytest.mark.parametrize(
    ("concept", "value"),
    [(c.PAIN_SCORE, 11), (c.PAIN_SCORE, -1), (c.ECOG, 6), (c.MIRELS_TOTAL, 3), (c.SINS_TOTAL, 19)],
)
def test_scores_out_of_their_range_are_refused(concept: str, value: float) -> None:
    assert isinstance(normalise(concept, value, "{score}"), str)


def test_every_lab_concept_has_a_canonical_unit() -> None:
    labs = {name for name in c.ALL_CONCEPTS if name.startswith("lab-")}
    assert labs <= set(CANONICAL_UNITS)
