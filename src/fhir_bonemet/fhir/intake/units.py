"""UCUM normalisation: every measured value is converted to one canonical unit per concept.

The thresholds in ``knowledge/thresholds.toml`` are written in these canonical units, so a calcium of
2.6 mmol/L and one of 10.4 mg/dL compare against the same number.  A unit that is not known for a concept
is never guessed: :func:`normalise` returns ``None`` and the caller reports the value as unusable
(values are normalised through UCUM before any threshold is compared; see docs/clinical-model.md).

Molar conversions use the analyte's molar mass, so mmol/L → mg/dL for calcium is ×4.008 (40.08 g/mol),
µmol/L → mg/dL for creatinine is ÷88.4 (113.1 g/mol), for bilirubin ÷17.1 (584.7 g/mol), nmol/L → ng/mL
for 25-OH vitamin D ÷2.496 (400.6 g/mol), and mmol/L → g/dL for haemoglobin ×1.611 (16.11 kg/mol, the
monomer convention used by laboratories).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Final

from fhir_bonemet.core.evidence.unreadable import PLAUSIBLE_UNITS
from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.facts import Quantity

SCORE: Final = "{score}"

# Unit spellings are compared after _spelling(): lower case, no spaces, "µ"/"μ" → "u", "^"/"e" powers → "*".
# Mass per volume, as a factor to g/L.
_MASS_PER_VOLUME: Final[dict[str, float]] = {
    "g/l": 1.0,
    "g/dl": 10.0,
    "g/100ml": 10.0,
    "mg/ml": 1.0,
    "mg/dl": 0.01,
    "mg/100ml": 0.01,
    "mg%": 0.01,
    "mg/l": 0.001,
    "ug/ml": 0.001,
    "ug/dl": 1e-5,
    "ug/l": 1e-6,
    "ng/ml": 1e-6,
    "ng/dl": 1e-8,
    "ng/l": 1e-9,
    "pg/ml": 1e-9,
}
# Amount of substance per volume, as a factor to mol/L.
_MOLAR: Final[dict[str, float]] = {
    "mol/l": 1.0,
    "mmol/l": 1e-3,
    "mm": 1e-3,  # "mM", millimolar (after _spelling(); no length unit is read for any concept)
    "umol/l": 1e-6,
    "nmol/l": 1e-9,
    "pmol/l": 1e-12,
}
# Number of cells per volume, as a factor to 10*9/L.
_COUNT_PER_VOLUME: Final[dict[str, float]] = {
    "10*9/l": 1.0,
    "x10*9/l": 1.0,
    "10*3/ul": 1.0,
    "x10*3/ul": 1.0,
    "10*3/mm3": 1.0,
    "x10*3/mm3": 1.0,
    "k/ul": 1.0,
    "k/mm3": 1.0,
    "thou/ul": 1.0,
    "thousand/ul": 1.0,
    "10*3cells/ul": 1.0,
    "{thousands}/ul": 1.0,
    "10*6/ml": 1.0,
    "10*9cells/l": 1.0,
    # Giga per litre, as European laboratories write counts: "G/L", "Gpt/L" (giga-particles).  Only counts
    # are read through this table, so "G/L" here can never be confused with g/L, grams per litre.
    "g/l": 1.0,
    "gpt/l": 1.0,
    "/nl": 1.0,
    "1/nl": 1.0,
    "/ul": 1e-3,
    "/mm3": 1e-3,
    "{cells}/ul": 1e-3,
    "cells/ul": 1e-3,
    "cells/mm3": 1e-3,
    "10*6/l": 1e-3,
    "/l": 1e-9,
}
_MASS: Final[dict[str, float]] = {  # to kg
    "kg": 1.0,
    "g": 1e-3,
    "[lb_av]": 0.45359237,
    "lb": 0.45359237,
    "lbs": 0.45359237,
    "[oz_av]": 0.028349523125,
    "oz": 0.028349523125,
}
_ENZYME: Final[dict[str, float]] = {"u/l": 1.0, "iu/l": 1.0, "[iu]/l": 1.0, "ukat/l": 60.0}
_EGFR: Final[dict[str, float]] = {
    "ml/min/{1.73_m2}": 1.0,
    "ml/min/1.73_m2": 1.0,
    "ml/min/1.73m2": 1.0,
    "ml/min/{1.73m2}": 1.0,
    "ml/min/1.73m*2": 1.0,
    "ml/min/1.73": 1.0,
    "ml/min/{bsa}": 1.0,
}
_CLEARANCE: Final[dict[str, float]] = {"ml/min": 1.0, "ml/s": 60.0, "l/h": 1000.0 / 60.0}
_DIMENSIONLESS: Final[frozenset[str]] = frozenset(
    {"", "1", "{score}", "score", "{points}", "points", "{#}", "{ratio}", "ratio", "{inr}", "inr"}
)


@dataclass(frozen=True, slots=True)
class UnitRule:
    """How one concept's values are normalised."""

    canonical: str
    factors: dict[str, float]  # spelling → factor to the canonical unit
    # Plausible range of the instrument; outside it the value is unusable.  No measured concept can be
    # negative (a platelet count of -999999 is an error, not a critical cytopenia).
    minimum: float | None = 0.0
    maximum: float | None = None
    offsets: dict[str, float] | None = None  # spelling → offset added after the factor (°F → °C)


def _mass_rule(canonical: str, grams_per_litre: float, molar_mass: float | None = None) -> UnitRule:
    """Mass-concentration concept in ``canonical`` (= ``grams_per_litre`` g/L), optionally also molar."""
    factors = {unit: factor / grams_per_litre for unit, factor in _MASS_PER_VOLUME.items()}
    if molar_mass is not None:
        factors.update({unit: factor * molar_mass / grams_per_litre for unit, factor in _MOLAR.items()})
    return UnitRule(canonical, factors)


def _score(low: float, high: float, *extra: str) -> UnitRule:
    return UnitRule(SCORE, dict.fromkeys(_DIMENSIONLESS | set(extra), 1.0), low, high)


# A 0-10 rating is often sent "out of ten".
_OUT_OF_TEN: Final = ("/10", "{score}/10", "{scoreof10}")


_CALCIUM_MG_DL: Final = _mass_rule("mg/dL", 0.01, 40.08)
# mEq/L of a divalent ion is half a mmol/L.
_CALCIUM_MG_DL.factors["meq/l"] = 0.5 * _CALCIUM_MG_DL.factors["mmol/l"]

UNIT_RULES: Final[dict[str, UnitRule]] = {
    c.LAB_CALCIUM: _CALCIUM_MG_DL,
    c.LAB_CALCIUM_CORRECTED: _CALCIUM_MG_DL,
    c.LAB_CALCIUM_IONISED: UnitRule(
        "mmol/L", {unit: factor / 1e-3 for unit, factor in _MOLAR.items()} | {"meq/l": 0.5}
    ),
    c.LAB_ALBUMIN: _mass_rule("g/dL", 10.0),
    c.LAB_HAEMOGLOBIN: _mass_rule("g/dL", 10.0, 16114.0),
    c.LAB_PLATELETS: UnitRule("10*9/L", _COUNT_PER_VOLUME),
    c.LAB_NEUTROPHILS: UnitRule("10*9/L", _COUNT_PER_VOLUME),
    c.LAB_CREATININE: _mass_rule("mg/dL", 0.01, 113.1),
    c.LAB_EGFR: UnitRule("mL/min/{1.73_m2}", _EGFR),
    c.LAB_CRCL: UnitRule("mL/min", _CLEARANCE),
    c.LAB_VITAMIN_D: _mass_rule("ng/mL", 1e-6, 400.64),
    c.LAB_ALT: UnitRule("U/L", _ENZYME),
    c.LAB_AST: UnitRule("U/L", _ENZYME),
    c.LAB_BILIRUBIN: _mass_rule("mg/dL", 0.01, 584.66),
    c.LAB_INR: UnitRule("{INR}", dict.fromkeys(_DIMENSIONLESS, 1.0), 0.0, None),
    c.BODY_WEIGHT: UnitRule("kg", _MASS, 0.0, None),
    # A fever Observation may carry the body temperature itself (exercise gate "fever").
    c.FEVER: UnitRule(
        "Cel",
        {"cel": 1.0, "°c": 1.0, "degc": 1.0, "[degf]": 5 / 9, "°f": 5 / 9, "degf": 5 / 9},
        25.0,
        45.0,
        {"[degf]": -160 / 9, "°f": -160 / 9, "degf": -160 / 9},
    ),
    # Gestational age in completed weeks (UCUM "wk"; days are converted).  Beyond 45 weeks it is not a
    # gestational age: the value is unusable, never guessed.
    c.GESTATIONAL_AGE: UnitRule(
        "wk",
        {"wk": 1.0, "week": 1.0, "weeks": 1.0, "wks": 1.0, "d": 1 / 7, "day": 1 / 7, "days": 1 / 7},
        0.0,
        45.0,
    ),
    c.PAIN_SCORE: _score(0, 10, *_OUT_OF_TEN),
    c.FATIGUE_SCORE: _score(0, 10, *_OUT_OF_TEN),
    c.ECOG: _score(0, 5),
    # Karnofsky is a percentage scale: EHRs often send the unit "%".
    c.KPS: _score(0, 100, "%"),
    c.MORSE_FALL_SCALE: _score(0, 125),
    c.SINS_TOTAL: _score(0, 18),
    c.MIRELS_TOTAL: _score(4, 12),
}
"""Concepts whose value is a quantity, with their canonical unit (the unit thresholds are written in)."""

# A laboratory value above what a living patient can have (the ranges of
# :data:`~fhir_bonemet.core.evidence.unreadable.PLAUSIBLE_UNITS`, service defaults awaiting clinical review)
# is an error, not a result: a platelet count of 10^9 ×10⁹/L is unreadable, never "normal", and a calcium of
# 10^9 mg/dL never a critical card quoting it.
UNIT_RULES.update(
    {
        concept: replace(UNIT_RULES[concept], maximum=highest)
        for concept, (_, (_, highest)) in PLAUSIBLE_UNITS.items()
    }
)

# Concepts whose code fixes the unit (profiles/source/concepts.toml): every eGFR is reported per 1.73 m2
# in mL/min nearly everywhere.  A number received without a unit is read in that unit, but only within
# this range (canonical unit), where no other unit in use could have been meant: in mL/s/1.73 m2, the SI
# unit some laboratories use, the same kidneys give numbers 60 times smaller (a normal kidney about 1.5-2),
# so a smaller number is ambiguous and stays unread; a larger one is no renal function at all.  (Read in
# mL/min, a number that was in mL/s is a poorer kidney than the real one, never a better one.)  A measured
# creatinine clearance implies no unit: mL/min, mL/s and L/24 h are all in use, and 100 L/24 h read as
# 100 mL/min would be a better kidney (69 mL/min) than the real one.  Nor does serum creatinine: mg/dL and
# µmol/L are both in use.  Service defaults, awaiting clinical review.
IMPLIED_UNIT_RANGES: Final[dict[str, tuple[float, float]]] = {
    c.LAB_EGFR: (5.0, 200.0),
}

CANONICAL_UNITS: Final[dict[str, str]] = {concept: rule.canonical for concept, rule in UNIT_RULES.items()}

_SPELLING_CACHE: dict[str, str] = {}
_UNIT_LIKE = re.compile(r"[A-Za-z0-9*/^.%{}\[\]_µμ²³×-]{1,20}(?: [A-Za-z0-9*/^.%{}\[\]_µμ²³-]{1,8})?")


def _spelling(unit: str) -> str:
    """One spelling for the many ways EHRs write a unit (``x10E3/uL``, ``10^9/L``, ``µmol/l``)."""
    cached = _SPELLING_CACHE.get(unit)
    if cached is not None:
        return cached
    text = unit.strip().lower().replace(" ", "").replace("µ", "u").replace("μ", "u").replace("mcl", "ul")
    # A superscript power of ten is a power ("x10³/µL", "10⁹/L", as laboratory reports print them), not a
    # digit: "10³" read as "103" left the count unreadable.
    text = text.replace("10³", "10*3").replace("10⁶", "10*6").replace("10⁹", "10*9")
    text = text.replace("^", "*").replace("×", "x").replace("²", "2").replace("³", "3").replace("mcg", "ug")
    for power in ("10e", "10**"):
        text = text.replace(power, "10*")
    # "10^3/mm^3" and "micromol/L" are spelled out as often as "10^3/mm3" and "umol/L".
    text = text.replace("mm*3", "mm3").replace("micro", "u")
    if len(_SPELLING_CACHE) < 4096:  # units form a small vocabulary; the bound stops abuse
        _SPELLING_CACHE[unit] = text
    return text


def is_known_unit(concept: str, unit: str) -> bool:
    """Whether ``unit`` is a spelling :func:`normalise` reads for ``concept``."""
    rule = UNIT_RULES.get(concept)
    return rule is not None and _spelling(unit) in rule.factors


def normalise(concept: str, value: float, unit: str | None) -> Quantity | str:
    """The value in the concept's canonical unit (keeping ``unit`` as the reported one when it differs), or
    a message saying why it cannot be used.

    The message names the unit and the concept, never the value.
    """
    rule = UNIT_RULES.get(concept)
    if rule is None:
        return f"{concept} is not a measured concept"
    factor = rule.factors.get(_spelling(unit) if unit is not None else "")
    if factor is None:
        # The unit is echoed only when it looks like one: a free-text field may hold anything.
        shown = repr(unit) if unit and _UNIT_LIKE.fullmatch(unit) else "(none)" if not unit else "(free text)"
        return f"unit {shown} is not a known unit for {concept}; value not used"
    converted = value * factor
    if rule.offsets:
        converted += rule.offsets.get(_spelling(unit or ""), 0.0)
    # round() goes through the decimal digits (formatted to text and parsed back); an integral value, as
    # most scores and counts are, is its own rounding and spares that.  (The factors are floats, so the
    # product is one; the isinstance keeps an int factor added later from failing: int has no is_integer
    # before Python 3.12.)
    if not (isinstance(converted, float) and converted.is_integer()):
        converted = round(converted, 6)
    if (rule.minimum is not None and converted < rule.minimum) or (
        rule.maximum is not None and converted > rule.maximum
    ):
        return f"value outside the possible range of {concept}; value not used"
    return Quantity(converted, rule.canonical, unit if unit != rule.canonical else None)


def implied(concept: str, value: float) -> Quantity | None:
    """``value``, received without a unit, in the unit the concept's code implies, when the code implies
    one and the number is unambiguous in it (:data:`IMPLIED_UNIT_RANGES`); else None."""
    span = IMPLIED_UNIT_RANGES.get(concept)
    if span is None or not span[0] <= value <= span[1]:
        return None
    return Quantity(value, UNIT_RULES[concept].canonical, unit_from_code=True)
