"""Results that were received but could not be read: what they were, and what they could have meant.

A calcium of 13.5 sent without a unit is not a missing calcium.  The reader keeps such results as
:class:`~fhir_bonemet.core.model.facts.UnreadableValue` (value and unit as received, and why they were not
used); this module answers the two questions the rules then ask:

* which unreadable results still matter: those within the lookback that are at least as recent as the
  newest readable result of the same concept (a newer readable result makes an older unreadable one moot);
* what the number would be under each unit a laboratory plausibly reports the analyte in, and whether that
  reading is physiologically possible at all.  The value is never *used* under any of these readings: the
  readings only decide whether the card says "verify now" (rule R10) and which units it considered.

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.fact_index import FactIndex, instant
from fhir_bonemet.core.model.facts import UnreadableValue
from fhir_bonemet.core.model.findings import MissingFact
from fhir_bonemet.core.model.queries import within_days

__all__ = [
    "CODE_NOT_UNDERSTOOD",
    "LABELS",
    "NO_ANSWER",
    "PLAUSIBLE_UNITS",
    "Reading",
    "answer_state",
    "brief",
    "considered",
    "is_answer",
    "missing_line",
    "pending",
    "readings",
    "received",
    "recorded_how",
    "shown",
    "to_correct",
]

# How a gap line names a finding recorded with no answer ("Fever (recorded with no answer: asked-unknown,
# 2025-06-01)"): the card files such lines apart from values received but not read.
NO_ANSWER = "recorded with no answer"
# How a card names a result received under a code not understood (its name said what it was: core.data_gaps).
CODE_NOT_UNDERSTOOD = "code not understood"

LABELS = {
    c.LAB_CALCIUM: "Calcium",
    c.LAB_CALCIUM_CORRECTED: "Corrected calcium",
    c.LAB_CALCIUM_IONISED: "Ionised calcium",
    c.LAB_ALBUMIN: "Albumin",
    c.LAB_PLATELETS: "Platelets",
    c.LAB_HAEMOGLOBIN: "Haemoglobin",
    c.LAB_NEUTROPHILS: "Neutrophils",
    c.LAB_CREATININE: "Serum creatinine",
    c.LAB_EGFR: "eGFR",
    c.LAB_CRCL: "Creatinine clearance",
    c.BODY_WEIGHT: "Body weight",
    c.PAIN_SCORE: "Pain score 0-10",
    c.SINS_TOTAL: "SINS",
    c.MIRELS_TOTAL: "Mirels score",
    c.ECOG: "ECOG performance status",
    c.KPS: "Karnofsky performance status",
    c.LESION_TYPE: "Lesion type",
    c.PAIN_MECHANISM: "Pain mechanism",
    c.PREGNANCY: "Pregnancy status",
    c.PREGNANCY_STATUS: "Pregnancy status",  # the coded answer (pregnant, not pregnant, unknown)
    c.LACTATION: "Breast-feeding status",
    # Red-flag symptoms (yes/no answers): rule R01 reads them all, R02 the spinal pain pattern.
    c.RF_RADICULAR_PAIN: "Radicular pain",
    c.RF_LIMB_WEAKNESS: "Limb weakness",
    c.RF_WALKING_DIFFICULTY: "Difficulty walking",
    c.RF_SENSORY_LOSS: "Sensory loss",
    c.RF_BLADDER_BOWEL: "Bladder or bowel dysfunction",
    c.RF_THORACIC_CERVICAL_PAIN: "Thoracic or cervical spinal pain",
    c.RF_PROGRESSIVE_LUMBAR_PAIN: "Progressive lumbar pain",
    c.RF_PAIN_ON_STRAINING: "Spinal pain on straining",
    c.RF_SPINAL_TENDERNESS: "Localised spinal tenderness",
    c.RF_NOCTURNAL_SPINAL_PAIN: "Nocturnal spinal pain",
    c.RF_ONJ_SYMPTOM: "Jaw symptom",
    # The other yes/no findings: each rule that reads one names it, most read it as "yes" (the cautious
    # reading; docs/clinical-model.md, "Unreadable results").
    c.FEVER: "Fever",
    c.SYMPTOMATIC_HYPERCALCAEMIA: "Symptoms of hypercalcaemia",
    c.IMPENDING_FRACTURE: "Impending fracture",
    c.PAIN_MECHANICAL: "Mechanical pain",
    c.FALLS_HISTORY: "Falls history",
    c.FALL_RISK: "At risk of falls",
}

# Units a laboratory plausibly reports each analyte in, with the factor to the canonical unit the rules
# and thresholds use (labs.py, units.py), and the range of values (canonical unit) a living patient can
# have.  The ranges are deliberately wide: they only tell "impossible in this unit" from "possible", so a
# reading outside them is named as impossible, never used.  Service defaults, awaiting clinical review.
PLAUSIBLE_UNITS: dict[str, tuple[tuple[tuple[str, float], ...], tuple[float, float]]] = {
    c.LAB_CALCIUM: ((("mg/dL", 1.0), ("mmol/L", 4.008)), (3.0, 25.0)),
    c.LAB_CALCIUM_CORRECTED: ((("mg/dL", 1.0), ("mmol/L", 4.008)), (3.0, 25.0)),
    c.LAB_CALCIUM_IONISED: ((("mmol/L", 1.0), ("mg/dL", 1 / 4.008)), (0.3, 4.0)),
    c.LAB_ALBUMIN: ((("g/dL", 1.0), ("g/L", 0.1)), (0.5, 7.0)),
    c.LAB_PLATELETS: ((("10*9/L", 1.0), ("/uL", 1e-3)), (1.0, 3000.0)),
    c.LAB_NEUTROPHILS: ((("10*9/L", 1.0), ("/uL", 1e-3)), (0.01, 200.0)),
    c.LAB_HAEMOGLOBIN: ((("g/dL", 1.0), ("g/L", 0.1), ("mmol/L", 1.6114)), (1.5, 25.0)),
    c.LAB_CREATININE: ((("mg/dL", 1.0), ("umol/L", 1 / 88.4)), (0.1, 30.0)),
}


@dataclass(frozen=True, slots=True)
class Reading:
    """The received number read in one plausible unit, in the canonical unit of the analyte."""

    unit: str
    value: float  # in the canonical unit
    possible: bool  # within the range a living patient can have


def readings(value: UnreadableValue) -> tuple[Reading, ...]:
    """The received number under every plausible unit of its analyte (none without a number)."""
    known = PLAUSIBLE_UNITS.get(value.concept)
    if known is None or value.number is None or value.value_text.startswith(("<", ">")):
        return ()
    units, (low, high) = known
    return tuple(
        Reading(unit, value.number * factor, low <= value.number * factor <= high) for unit, factor in units
    )


# The yes/no findings (LABELS above): an answer to one that could not be read is read cautiously.
_YES_NO = frozenset(
    {
        *c.MSCC_NEURO_SYMPTOMS,
        *c.SPINAL_MET_SYMPTOMS,
        c.RF_ONJ_SYMPTOM,
        c.FEVER,
        c.SYMPTOMATIC_HYPERCALCAEMIA,
        c.IMPENDING_FRACTURE,
        c.PAIN_MECHANICAL,
        c.FALLS_HISTORY,
        c.FALL_RISK,
        c.PREGNANCY,
        c.LACTATION,
    }
)


def is_answer(value: UnreadableValue) -> bool:
    """A coded or yes/no answer that could not be read or was recorded with no answer (not a measurement:
    a temperature sent for a fever, a laboratory value)."""
    return value.no_answer is not None or value.reason.startswith("answer not recognised")


def _answer(value: UnreadableValue) -> bool:
    """A yes/no answer that was neither, or none (not a temperature sent for a fever, a measurement)."""
    return value.concept in _YES_NO and is_answer(value)


# How a card says what became of a yes/no answer it reads cautiously.  An answer recorded with no answer
# ("asked-unknown") was not misread: saying "could not be read" of it would send the reader to fix a record
# that is correct, when what is wanted is the answer itself.
def answer_state(*values: UnreadableValue) -> str:
    """ "not readable", or "unknown" when none of ``values`` had an answer, after "<finding> answer" in a
    card's summary or a tier's reason."""
    return "unknown" if values and all(v.no_answer is not None for v in values) else "not readable"


def recorded_how(values: Sequence[UnreadableValue]) -> str:
    """ "but its answer could not be read", or "with no answer (asked-unknown)" when none of ``values`` had
    one, after "<finding> was recorded" in a card's detail."""
    reasons = [v.no_answer for v in values]
    if any(r is None for r in reasons):
        return "but its answer could not be read"
    return f"with no answer ({', '.join(dict.fromkeys(r for r in reasons if r is not None))})"


def to_correct(values: Sequence[UnreadableValue]) -> str:
    """The card's last recommendation: what to do about the record(s) in ``values``."""
    if any(v.no_answer is None for v in values):
        return "Correct the record so the answer can be read."
    return "Record the answer once it is known."


def pending(
    idx: FactIndex,
    concepts: Iterable[str],
    today: date,
    max_age_days: float,
    *,
    name_undated: bool = False,
) -> list[UnreadableValue]:
    """Unreadable results of ``concepts`` within the lookback that no newer readable result supersedes.

    A yes/no answer recorded without any date may be current: it counts unless a readable result dated
    within the lookback settles it, as rule R01 counts an undated red-flag answer (missing data must not
    make the advice less cautious).  An undated measurement is not used by any rule even when readable (it
    may be old), so it is returned only with ``name_undated``, for the cards to name it: no rule acts on
    a number that could not be read and whose date is unknown.
    """
    unreadable = idx.facts.unreadable
    if not unreadable:  # the usual record, every result read: a dozen rules and gates ask on every call
        return []
    wanted = set(concepts)
    found: list[UnreadableValue] = []
    for value in unreadable:
        if value.concept not in wanted:
            continue
        # A readable result: a measured value, a coded or yes/no answer understood.
        readable = [
            o
            for o in idx.observations(value.concept)
            if o.quantity is not None or o.code is not None or o.flag is not None
        ]
        if value.effective is None and not value.date_unreadable:
            if (name_undated or _answer(value)) and not any(
                within_days(o.effective, today, max_age_days) for o in readable
            ):
                found.append(value)
            continue
        if not (value.date_unreadable or within_days(value.effective, today, max_age_days)):
            continue
        # A newer readable result makes this one moot.  One whose date could not be read cannot be placed
        # before any result: it may be the newest.
        newest = next((o.effective for o in readable if o.effective is not None), None)
        if (
            newest is not None
            and not value.date_unreadable
            and value.effective is not None
            and instant(newest) > instant(value.effective)
        ):
            continue
        found.append(value)
    return found


def received(idx: FactIndex, concept: str, today: date, max_age_days: float) -> UnreadableValue | None:
    """The newest unreadable result of ``concept`` that still matters (see :func:`pending`), if any: a rule
    that found no usable value says "received but not read" instead of "no result"."""
    found = pending(idx, (concept,), today, max_age_days)
    if not found:
        return None
    return max(found, key=lambda u: instant(u.effective) if u.effective else float("-inf"))


def _what(value: UnreadableValue) -> str:
    if value.no_answer is not None:  # said before its date: the date is not what is wrong with it
        return f"{NO_ANSWER}: {value.no_answer}"
    if value.date_unreadable:
        return "date not readable"
    if value.reason.startswith("answer not recognised"):  # a coded answer has no unit to speak of
        return "answer not recognised"
    return f"unit {value.unit_text!r}" if value.unit_text else "no unit"


def brief(value: UnreadableValue) -> str:
    """``'30' (no unit)`` for a card summary."""
    unit = _what(value)
    return f"{value.value_text!r} ({unit})" if not value.value_text.startswith("(") else f"({unit})"


def shown(value: UnreadableValue) -> str:
    """``Platelets '30' (no unit, 2026-12-01)`` as a card line names the received result."""
    unit = _what(value)
    when = f", {value.effective.date().isoformat()}" if value.effective is not None else ""
    label = LABELS.get(value.concept, value.concept)
    if value.no_answer is not None:  # no value to quote: "Fever (recorded with no answer: ...)"
        return f"{label} ({unit}{when})"
    return f"{label} {value.value_text!r} ({unit}{when})"


def missing_line(value: UnreadableValue) -> MissingFact:
    """The line a card carries for an unreadable result its rule would have used."""
    units = considered(value)
    # A coded answer's reason is already in the line ("answer not recognised", "recorded with no answer"):
    # said once.
    why = "" if is_answer(value) else f" ({_reason(value)})"
    return MissingFact(
        shown(value),
        f"not used{why}" + (f"; units considered: {units}" if units else "") + "; verify it",
        unreadable=True,
    )


def _reason(value: UnreadableValue) -> str:
    """The reader's reason in a clinician's words (the reader's names concept ids for the logs)."""
    if value.date_unreadable:
        return "its date could not be read, so it may be recent"
    if "not a known unit" in value.reason:
        return "no unit" if value.unit_text is None else "unit not recognised for this test"
    if "comparator" in value.reason:
        return "a bound (< or >), not a value"
    if "outside the possible range" in value.reason:
        return "outside the possible range"
    if "not a number" in value.reason:
        return "not a number"
    return value.reason.split(";")[0]


def considered(value: UnreadableValue) -> str:
    """Which units were considered and what each would make of the number, for the card:
    "as mg/dL: 13.5 mg/dL; as mmol/L: 54.1 mg/dL (impossible)"."""
    known = PLAUSIBLE_UNITS.get(value.concept)
    if known is None:
        return ""
    canonical = known[0][0][0]
    parts = []
    for reading in readings(value):
        text = f"as {reading.unit}: {reading.value:.3g} {canonical}"
        parts.append(text if reading.possible else f"{text} (impossible)")
    return "; ".join(parts)
