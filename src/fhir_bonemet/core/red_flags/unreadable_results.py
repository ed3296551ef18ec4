"""Data-quality red flag R10: a result that could not be read, whose number would be dangerous under a
unit a laboratory plausibly uses (``docs/clinical-model.md#unreadable-results``).

A calcium of 13.5 without a unit is hypercalcaemia in the urgent band if the unit was mg/dL (and an
impossible 54 mg/dL if it was mmol/L); a platelet count of 30 without a unit restricts exercise if it was
×10⁹/L.  The value is never used as if its unit were known: the card says what was received, which units
were considered, and asks to verify the result now, before anything is decided on it.  A reading that is
physiologically impossible in a unit is named and ignored.

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

from fhir_bonemet.core.evidence.unreadable import LABELS, considered, pending, readings, shown
from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.context import RuleContext
from fhir_bonemet.core.model.facts import UnreadableValue
from fhir_bonemet.core.model.finding_builder import Trace
from fhir_bonemet.core.model.findings import Category, Finding, Indicator, UsedFact
from fhir_bonemet.core.model.rule import rule

__all__ = ["r10_unreadable_critical"]

# (concept, threshold key, True when a value *at or above* the key is dangerous, meaning).  Any band
# makes the card critical: until the result is verified, its dangerous reading is the one to act on.
_BANDS = (
    (c.LAB_CALCIUM, "red_flags.calcium_critical_min", True, "severe hypercalcaemia"),
    (c.LAB_CALCIUM, "red_flags.calcium_urgent_min", True, "hypercalcaemia needing urgent review"),
    (c.LAB_CALCIUM_CORRECTED, "red_flags.calcium_critical_min", True, "severe hypercalcaemia"),
    (c.LAB_CALCIUM_CORRECTED, "red_flags.calcium_urgent_min", True, "hypercalcaemia (urgent)"),
    (c.LAB_CALCIUM_IONISED, "red_flags.ionised_calcium_critical_min", True, "severe hypercalcaemia"),
    (c.LAB_CALCIUM_IONISED, "red_flags.ionised_calcium_urgent_min", True, "hypercalcaemia (urgent)"),
    (c.LAB_PLATELETS, "red_flags.platelets_critical_below", False, "critical thrombocytopenia"),
    (c.LAB_PLATELETS, "exercise.platelets_restrict_below", False, "thrombocytopenia (bleeding risk)"),
    (c.LAB_HAEMOGLOBIN, "red_flags.haemoglobin_critical_below", False, "critical anaemia"),
    (c.LAB_NEUTROPHILS, "exercise.neutrophils_hold_below", False, "severe neutropenia"),
)
_CONCEPTS = tuple(dict.fromkeys(concept for concept, *_ in _BANDS))


@rule(
    "R10",
    "Unreadable result that may be critical",
    Category.RED_FLAG,
    concepts=_CONCEPTS,
    thresholds=("lookback.lab_days", *dict.fromkeys(key for _, key, *_ in _BANDS)),
    evidence=("S24", "S09"),
    unverified=True,  # the plausible units and the physiological ranges are service defaults
)
def r10_unreadable_critical(ctx: RuleContext, t: Trace) -> Finding | None:
    days = t.v("lookback.lab_days")
    alarms: list[str] = []
    first: UnreadableValue | None = None
    for value in pending(ctx.index, _CONCEPTS, ctx.today, days):
        alarm = next(
            (
                f"{meaning} if the unit is {reading.unit}"
                for reading in readings(value)
                if reading.possible
                for concept, key, above, meaning in _BANDS
                if concept == value.concept
                and ((reading.value >= t.v(key)) if above else (reading.value < t.v(key)))
            ),
            None,
        ) or _beyond_bound(value, t)
        if alarm is None:
            continue
        t.fact(UsedFact(shown(value), f"not read: {considered(value) or _BOUND}", value.ref))
        alarms.append(f"{_short(value)}: {alarm}")
        first = first or value
    if first is None:
        return None
    return t.finding(
        Indicator.CRITICAL,
        f"Verify now: {alarms[0]} ({_why(first)})",
        "A result was received but could not be read; under a plausible unit it would be dangerous.",
        (
            "Verify the result and its unit with the laboratory now; repeat the test if unconfirmed.",
            "Until then do not treat the result as normal: apply the advice for the dangerous reading.",
            *alarms[1:],
        ),
    )


_BOUND = "a bound (< or >), not a value"


def _beyond_bound(value: UnreadableValue, t: Trace) -> str | None:
    """The band a comparator's bound already lies in, on the side the comparator points to: a calcium
    ">13" mg/dL is at least 13, a platelet count "<10" ×10⁹/L below 10.  Such a result was read as nothing,
    and the red flag it carries was lost."""
    if value.bound is None:
        return None
    higher = value.value_text.startswith(">")
    for concept, key, above, meaning in _BANDS:
        if concept != value.concept or above != higher:
            continue
        if (value.bound >= t.v(key)) if above else (value.bound <= t.v(key)):
            return meaning
    return None


def _short(value: UnreadableValue) -> str:
    return f"{LABELS.get(value.concept, value.concept).lower()} {value.value_text}"


def _why(value: UnreadableValue) -> str:
    if value.bound is not None:
        return "a bound, not a value"
    if value.unit_text is not None and "outside the possible range" in value.reason:
        return "impossible in the unit received"
    return "received without a usable unit"
