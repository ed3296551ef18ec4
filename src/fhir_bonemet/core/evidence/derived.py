"""Derived values the pain rules reason on: pain score and trend, pain mechanism, renal function.

Each value says where it came from (resource references) and what was missing, so a card can show
"CrCl 28 mL/min (Cockcroft-Gault)" or "eGFR used: weight not recorded" and never hides a gap.

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from fhir_bonemet.core.evidence.unreadable import brief, received
from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.fact_index import FactIndex
from fhir_bonemet.core.model.facts import BodySite, ObservationFact, PatientFacts, Quantity, Sex
from fhir_bonemet.core.model.findings import UsedFact
from fhir_bonemet.core.model.frozen_init import fast_init
from fhir_bonemet.core.model.queries import obs_date, within_days
from fhir_bonemet.core.model.thresholds import Thresholds

__all__ = [
    "CLEARANCE_UNIT",
    "EGFR_UNIT",
    "RENAL_BAND_EDGES",
    "Mechanism",
    "PainMechanism",
    "PainScore",
    "PainTrend",
    "RenalFunction",
    "Trend",
    "cockcroft_gault",
    "latest_pain",
    "pain_mechanism",
    "pain_scores",
    "pain_trend",
    "renal_function",
]

# "unknown" counts as current: an unknown status is not evidence that the problem has gone away.
ACTIVE_CONDITION_STATUSES = frozenset({"active", "recurrence", "relapse", "unknown"})


def _iso(when: date | datetime | None) -> str | None:
    if when is None:
        return None
    return (when.date() if isinstance(when, datetime) else when).isoformat()


# --- Pain score and trend ---------------------------------------------------------------------------


def clearance_text(value: float) -> str:
    """Renal function as shown to clinicians: one decimal, so a value just under a dosing band boundary
    (39.9 mL/min) is never displayed as the boundary itself (40)."""
    return f"{round(value, 1):g}"


@fast_init
@dataclass(frozen=True, slots=True)
class PainScore:
    """One 0-10 NRS pain score (worst pain in 24 h)."""

    ref: str
    value: float
    effective: datetime
    site: BodySite | None = None

    def used(self) -> UsedFact:
        where = f" ({self.site.text or self.site.site.value})" if self.site is not None else ""
        return UsedFact(f"Pain score 0-10{where}", f"{self.value:g}", self.ref, _iso(self.effective))


def pain_scores(
    facts: PatientFacts, today: date, days: float, index: FactIndex | None = None
) -> list[PainScore]:
    """Dated numeric pain scores within ``days`` of ``today``, newest first."""
    idx = index if index is not None else FactIndex(facts)
    oldest = today - timedelta(days=days)
    found: list[PainScore] = []
    for obs in idx.observations(c.PAIN_SCORE):  # newest first, undated last
        if obs.effective is not None and obs.effective.date() < oldest:
            break  # every later score is older still (or undated, which never counts)
        if obs.quantity is None or obs.effective is None or not within_days(obs.effective, today, days):
            continue
        found.append(PainScore(obs.ref, obs.quantity.value, obs.effective, obs.site))
    return found


def latest_pain(
    facts: PatientFacts, today: date, th: Thresholds, index: FactIndex | None = None
) -> PainScore | None:
    """The latest pain score: the newest within ``lookback.pain_score_days`` (docs/clinical-model.md#pain)."""
    scores = pain_scores(facts, today, th.v("lookback.pain_score_days"), index)
    return scores[0] if scores else None


class Trend(StrEnum):
    RISING = "rising"
    STABLE = "stable"
    FALLING = "falling"
    UNKNOWN = "unknown"  # fewer than two scores in the window


@dataclass(frozen=True, slots=True)
class PainTrend:
    direction: Trend
    change: float | None  # newest minus oldest score in the window
    scores: tuple[PainScore, ...]  # oldest first

    @property
    def refs(self) -> tuple[str, ...]:
        return tuple(s.ref for s in self.scores)


def pain_trend(facts: PatientFacts, today: date, th: Thresholds, index: FactIndex | None = None) -> PainTrend:
    """Direction of the pain scores within ``pain.trend_window_days``: newest compared with oldest.

    A change smaller than ``pain.trend_min_change`` NRS points is "stable", so one noisy score does not
    make a trend.
    """
    scores = tuple(reversed(pain_scores(facts, today, th.v("pain.trend_window_days"), index)))
    if len(scores) < 2:
        return PainTrend(Trend.UNKNOWN, None, scores)
    change = scores[-1].value - scores[0].value
    step = th.v("pain.trend_min_change")
    if change >= step:
        direction = Trend.RISING
    elif change <= -step:
        direction = Trend.FALLING
    else:
        direction = Trend.STABLE
    return PainTrend(direction, change, scores)


# --- Pain mechanism ---------------------------------------------------------------------------------


class Mechanism(StrEnum):
    NOCICEPTIVE = "nociceptive"
    NEUROPATHIC = "neuropathic"
    MIXED = "mixed"
    UNKNOWN = "unknown"


@fast_init
@dataclass(frozen=True, slots=True)
class PainMechanism:
    kind: Mechanism
    nociceptive_refs: tuple[str, ...]  # bone-metastasis Conditions, or a recorded assessment
    neuropathic_refs: tuple[str, ...]  # neuropathic-pain / neuropathy Conditions, radicular pain, assessment
    used: tuple[UsedFact, ...] = ()

    @property
    def has_neuropathic_component(self) -> bool:
        return self.kind in (Mechanism.NEUROPATHIC, Mechanism.MIXED)


# The answers of a recorded ``pain-mechanism`` assessment: the project CodeSystem's codes, which is what
# the Observation reader returns (the bare words never reach the core, so matching on them ignored every
# recorded assessment).
_RECORDED_MECHANISM: dict[str, Mechanism] = {
    "pain-nociceptive": Mechanism.NOCICEPTIVE,
    "pain-neuropathic": Mechanism.NEUROPATHIC,
    "pain-mixed": Mechanism.MIXED,
}


def pain_mechanism(
    facts: PatientFacts, today: date, th: Thresholds, index: FactIndex | None = None
) -> PainMechanism:
    """Nociceptive, neuropathic or mixed, as the union of every recorded component.

    Pain from a bone metastasis is nociceptive; any neuropathic feature on top of it (neuropathic-pain or
    peripheral-neuropathy Condition, radicular pain, or a recorded ``pain-mechanism`` assessment) makes it
    mixed.  A recorded assessment adds its component(s); it does not erase the others.
    """
    idx = index if index is not None else FactIndex(facts)
    days = th.v("pain.mechanism_lookback_days")
    nociceptive: list[str] = sorted({lesion.ref for lesion in facts.lesions})
    neuropathic: list[str] = []
    used: list[UsedFact] = []
    if nociceptive:
        used.append(UsedFact("Bone metastasis (nociceptive pain source)", "active", nociceptive[0]))
    for cond in facts.conditions:
        if cond.clinical_status in ACTIVE_CONDITION_STATUSES and cond.concepts & {
            c.NEUROPATHIC_PAIN,
            c.PERIPHERAL_NEUROPATHY,
        }:
            neuropathic.append(cond.ref)
            used.append(
                UsedFact(cond.display or "Neuropathic condition", "active", cond.ref, _iso(cond.onset))
            )
    radicular = idx.latest(c.RF_RADICULAR_PAIN, today, days)
    if radicular is not None and radicular.flag:
        neuropathic.append(radicular.ref)
        used.append(UsedFact("Radicular pain", "present", radicular.ref, _iso(obs_date(radicular))))
    assessed = idx.latest(c.PAIN_MECHANISM, today, days)
    recorded = _RECORDED_MECHANISM.get(str(assessed.code)) if assessed is not None else None
    if assessed is not None and recorded is not None:
        used.append(
            UsedFact("Recorded pain mechanism", recorded.value, assessed.ref, _iso(obs_date(assessed)))
        )
        if recorded in (Mechanism.NOCICEPTIVE, Mechanism.MIXED):
            nociceptive.append(assessed.ref)
        if recorded in (Mechanism.NEUROPATHIC, Mechanism.MIXED):
            neuropathic.append(assessed.ref)
    if nociceptive and neuropathic:
        kind = Mechanism.MIXED
    elif neuropathic:
        kind = Mechanism.NEUROPATHIC
    elif nociceptive:
        kind = Mechanism.NOCICEPTIVE
    else:
        kind = Mechanism.UNKNOWN
    return PainMechanism(kind, tuple(nociceptive), tuple(neuropathic), tuple(used))


# --- Renal function ---------------------------------------------------------------------------------

# Cockcroft-Gault, as used by the zoledronic acid label (S17; docs/clinical-model.md#pharmacovigilance):
#   CrCl [mL/min] = (140 - age) x weight [kg] / (72 x serum creatinine [mg/dL]), x 0.85 if female.
# These are the published formula's coefficients, not tunable thresholds.
_CG_AGE_CONSTANT = 140.0
_CG_DIVISOR = 72.0
_CG_FEMALE_FACTOR = 0.85

_CREATININE_UMOL_PER_MG_DL = 88.42  # unit conversion: 1 mg/dL creatinine = 88.42 umol/L
_KG_PER_UNIT = {"kg": 1.0, "g": 0.001, "[lb_av]": 0.45359237, "lb": 0.45359237}


def cockcroft_gault(creatinine_mg_dl: float, weight_kg: float, age: int, sex: Sex) -> float:
    """Creatinine clearance in mL/min.  Any sex other than male uses the lower, female value (cautious)."""
    if creatinine_mg_dl <= 0 or weight_kg <= 0 or age >= _CG_AGE_CONSTANT:
        raise ValueError("Cockcroft-Gault needs positive creatinine and weight and a plausible age")
    crcl = (_CG_AGE_CONSTANT - age) * weight_kg / (_CG_DIVISOR * creatinine_mg_dl)
    return crcl if sex is Sex.MALE else crcl * _CG_FEMALE_FACTOR


@fast_init
@dataclass(frozen=True, slots=True)
class RenalFunction:
    """Creatinine clearance (or the eGFR standing in for it), with how it was obtained."""

    value: float | None  # mL/min (eGFR: mL/min/1.73 m2)
    method: str | None  # "cockcroft-gault" | "measured" | "egfr" | None when unknown
    refs: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()  # why a better method could not be used, or why nothing is known
    when: date | None = None
    used: tuple[UsedFact, ...] = ()
    # ">" or ">=" when the laboratory reported a lower bound (eGFR ">60"): ``value`` is the lowest it can
    # be.  "<" or "<=" for an upper bound (eGFR "<15"), used only below every band edge: ``value`` is the
    # highest it can be, so it lies in the lowest band of every rule, as all the values below the bound do.
    comparator: str | None = None

    @property
    def known(self) -> bool:
        return self.value is not None

    def amount(self) -> str:
        """The value as shown: ``45.2``, or ``>60`` for a bound."""
        if self.value is None:
            return "unknown"
        if self.comparator is not None:
            return Quantity(self.value, "", comparator=self.comparator).shown()
        return clearance_text(self.value)

    def measure(self) -> str:
        """The measure used, named beside a cut-off ("eGFR below 30 mL/min/1.73 m2"): ``eGFR`` or
        ``CrCl``, which the cut-offs are written in and which unknown renal function is to be checked as."""
        return "eGFR" if self.method == "egfr" else "CrCl"

    def label(self) -> str:
        """``eGFR 45.2`` / ``CrCl >90``, for a card summary."""
        return f"{self.measure()} {self.amount()}"

    def unit(self) -> str:
        """The unit of the measure used: eGFR is indexed to body surface (mL/min/1.73 m2), a creatinine
        clearance is not (mL/min); a figure beside the one must not carry the other's unit."""
        return EGFR_UNIT if self.method == "egfr" else CLEARANCE_UNIT

    def describe(self) -> str:
        """'CrCl 28 mL/min (Cockcroft-Gault)' / 'eGFR 45 mL/min/1.73 m2 (used instead of CrCl)'."""
        if self.value is None:
            return "renal function unknown"
        if self.method == "egfr":
            return f"eGFR {self.amount()} {self.unit()} (used in place of creatinine clearance)"
        how = "Cockcroft-Gault" if self.method == "cockcroft-gault" else "measured"
        return f"CrCl {self.amount()} {self.unit()} ({how})"

    def estimate(self) -> str:
        """The measure named for a sentence on its precision: 'Cockcroft-Gault', 'eGFR', 'the measured
        clearance'."""
        if self.method == "egfr":
            return "eGFR"
        return "Cockcroft-Gault" if self.method == "cockcroft-gault" else "the measured clearance"


def _creatinine_mg_dl(obs: ObservationFact) -> float | None:
    if obs.quantity is None:
        return None
    unit = obs.quantity.unit
    if unit == "mg/dL":
        return obs.quantity.value
    if unit in ("umol/L", "µmol/L"):
        return obs.quantity.value / _CREATININE_UMOL_PER_MG_DL
    return None


def _weight_kg(obs: ObservationFact) -> float | None:
    if obs.quantity is None or obs.quantity.unit not in _KG_PER_UNIT:
        return None
    return obs.quantity.value * _KG_PER_UNIT[obs.quantity.unit]


# Every renal band edge a rule compares the renal function with (the thresholds in mL/min other than the
# edge margin).  An upper bound ("<15") is a renal function only below all of them: every value it allows
# then lies in the lowest band of every rule.  Above one ("<45"), the band is not known, and neither is the
# renal function: reading it as its highest value would be less cautious than some of the values it allows.
# The units the cards give the two measures of renal function in; every band edge is a clearance.
CLEARANCE_UNIT = "mL/min"
EGFR_UNIT = "mL/min/1.73 m2"
RENAL_BAND_EDGES = (
    "pain.nsaid_avoid_crcl_below",
    "pain.nsaid_caution_crcl_below",
    "pain.renal_opioid_crcl_below",
    "pain.gabapentinoid_renal_crcl_below",
    "pain.denosumab_high_risk_crcl_below",
    "pain.za_crcl_min",
    "pain.za_crcl_band_40_min",
    "pain.za_crcl_band_50_min",
    "pain.za_crcl_full_dose_above",
)
_UPPER_BOUNDS = frozenset({"<", "<="})


def renal_function(
    facts: PatientFacts, today: date, th: Thresholds, index: FactIndex | None = None
) -> RenalFunction:
    """Cockcroft-Gault CrCl when creatinine, weight and age are known; else a measured CrCl; else eGFR.

    Unknown or non-binary sex uses the female factor, the lower (cautious) value, and says so.
    """
    idx = index if index is not None else FactIndex(facts)
    lab_days = th.v("lookback.lab_days")
    missing: list[str] = []
    creat = idx.latest(c.LAB_CREATININE, today, lab_days)
    weight = idx.latest(c.BODY_WEIGHT, today, th.v("pain.weight_lookback_days"))
    age = facts.age_on(today)
    scr = _creatinine_mg_dl(creat) if creat is not None else None
    kg = _weight_kg(weight) if weight is not None else None
    if creat is None:
        unread = received(idx, c.LAB_CREATININE, today, lab_days)
        missing.append(
            f"serum creatinine within {lab_days:g} days"
            if unread is None
            else f"serum creatinine {brief(unread)} received but not read"
        )
    elif scr is None or scr <= 0:
        missing.append("serum creatinine in a unit that could not be converted to mg/dL")
    if weight is None:
        missing.append(f"body weight within {th.v('pain.weight_lookback_days'):g} days")
    elif kg is None or kg <= 0:
        missing.append("body weight in a unit that could not be converted to kg")
    if age is None or age >= _CG_AGE_CONSTANT:
        missing.append("age (birth date)")
    if creat is not None and weight is not None and scr and kg and age is not None and not missing:
        value = cockcroft_gault(scr, kg, age, facts.sex)
        notes = []
        if facts.sex not in (Sex.MALE, Sex.FEMALE):
            notes.append("sex not recorded as male or female: female factor applied (the lower value)")
        used = (
            UsedFact("Serum creatinine", f"{scr:.2f} mg/dL", creat.ref, _iso(obs_date(creat))),
            UsedFact("Body weight", f"{kg:.1f} kg", weight.ref, _iso(obs_date(weight))),
            UsedFact("Creatinine clearance (Cockcroft-Gault)", f"{clearance_text(value)} mL/min"),
        )
        return RenalFunction(
            value, "cockcroft-gault", (creat.ref, weight.ref), tuple(notes), obs_date(creat), used
        )
    for concept, method, label in (
        (c.LAB_CRCL, "measured", "Creatinine clearance (measured)"),
        (c.LAB_EGFR, "egfr", "eGFR"),
    ):
        obs = idx.latest(concept, today, lab_days)
        if obs is not None and obs.quantity is not None:
            quantity = obs.quantity
            amount = f"{quantity.shown()} {quantity.unit}"
            if quantity.unit_from_code:
                amount += " (unit taken from the code; none received)"
            used_fact = UsedFact(label, amount, obs.ref, _iso(obs_date(obs)))
            if quantity.comparator in _UPPER_BOUNDS:
                lowest = min(th.v(key) for key in RENAL_BAND_EDGES)
                if quantity.value >= lowest:
                    # The newest result says only that the kidney is below a band edge: an older or other
                    # result is no better guide to it, so renal function is unknown.
                    # Named first: the card shortens the line, and this is what a reader must check.
                    bound = f"{label} {quantity.shown()} {quantity.unit}"
                    why_unknown = (f"{bound}: band unknown (a bound above {lowest:g} mL/min)", *missing)
                    return RenalFunction(None, None, (obs.ref,), why_unknown, obs_date(obs), (used_fact,))
            why = "Cockcroft-Gault not computed: missing " + ", ".join(missing)
            return RenalFunction(
                quantity.value, method, (obs.ref,), (why,), obs_date(obs), (used_fact,), quantity.comparator
            )
    missing.append(f"eGFR or measured creatinine clearance within {lab_days:g} days")
    return RenalFunction(None, None, (), tuple(missing))
