"""Global gates that apply before tiering (clinical-rules §2.5): blood counts, calcium, fever, fatigue.

A *hold* gate suspends structured exercise (functional mobility only); a *restriction* gate removes or
softens domains.  A laboratory value that is missing is never assumed normal: the gap is reported, the
plan asks for the test before the first session, and no tier is lowered because of it.

Performance status (ECOG/KPS) is a person modifier and lives in :mod:`fhir_bonemet.core.exercise.tiers`.

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from fhir_bonemet.core.evidence.labs import CalciumMethod, corrected_calcium, latest_lab
from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.fact_index import FactIndex
from fhir_bonemet.core.model.facts import PatientFacts
from fhir_bonemet.core.model.findings import MissingFact, UsedFact
from fhir_bonemet.core.model.queries import has_active, within_days
from fhir_bonemet.core.model.thresholds import Thresholds
from fhir_bonemet.core.model.traceability import ACTIVE_STATUSES, num, used_condition, used_obs

__all__ = ["Gates", "global_gates"]


@dataclass(slots=True)
class Gates:
    hold: list[str] = field(default_factory=list)  # reasons that suspend structured exercise
    no_resistance: bool = False  # platelets 20-<50: no resistance training
    no_impact: bool = False
    light_aerobic_only: bool = False
    low_moderate_intensity: bool = False  # Hb < 8 g/dL
    short_bouts: bool = False  # severe fatigue
    no_group_settings: bool = False
    descriptions: list[str] = field(default_factory=list)  # every gate that applied, for the card
    used: list[UsedFact] = field(default_factory=list)  # every value checked, normal or not
    triggers: list[UsedFact] = field(default_factory=list)  # the values behind the gates that applied
    missing: list[MissingFact] = field(default_factory=list)
    checks_before_start: list[str] = field(default_factory=list)  # tests to do before the first session
    keys: set[str] = field(default_factory=set)
    unverified: bool = False

    def apply(self, description: str, *facts: UsedFact, hold: str | None = None) -> None:
        """Record a gate that applied, the values behind it and, for a hold gate, the hold reason."""
        self.descriptions.append(description)
        self.triggers.extend(facts)
        if hold is not None:
            self.hold.append(hold)

    @property
    def any(self) -> bool:
        return bool(self.descriptions)


def global_gates(facts: PatientFacts, today: date, th: Thresholds, idx: FactIndex) -> Gates:
    g = Gates()
    days = th.v("lookback.lab_days")
    g.keys.add("lookback.lab_days")
    _platelets(facts, today, th, idx, days, g)
    _haemoglobin(facts, today, th, idx, days, g)
    _neutrophils_and_fever(facts, today, th, idx, days, g)
    _calcium(facts, today, th, idx, g)
    _fatigue(idx, today, th, g)
    return g


def _need_blood_count(g: Gates) -> None:
    if "full blood count" not in g.checks_before_start:
        g.checks_before_start.append("full blood count")


def _platelets(
    facts: PatientFacts, today: date, th: Thresholds, idx: FactIndex, days: float, g: Gates
) -> None:
    plt = latest_lab(facts, c.LAB_PLATELETS, today, days, idx)
    if plt is None:
        g.missing.append(MissingFact(f"platelet count within {num(days)} days", "not assumed normal"))
        _need_blood_count(g)
        return
    g.keys.update(("exercise.platelets_hold_below", "exercise.platelets_restrict_below"))
    g.used.append(plt.used())
    shown = f"Platelets {num(plt.value)}"
    if plt.value < th.v("exercise.platelets_hold_below"):
        g.apply(
            f"{shown}: hold; functional mobility only, avoid falls and Valsalva",
            plt.used(),
            hold=shown[0].lower() + shown[1:],
        )
    elif plt.value < th.v("exercise.platelets_restrict_below"):
        g.no_resistance = g.no_impact = g.light_aerobic_only = True
        g.apply(f"{shown}: no resistance, impact or contact; light aerobic only", plt.used())


def _haemoglobin(
    facts: PatientFacts, today: date, th: Thresholds, idx: FactIndex, days: float, g: Gates
) -> None:
    hb = latest_lab(facts, c.LAB_HAEMOGLOBIN, today, days, idx)
    if hb is None:
        g.missing.append(MissingFact(f"haemoglobin within {num(days)} days", "not assumed normal"))
        _need_blood_count(g)
        return
    g.keys.update(("exercise.haemoglobin_hold_below", "exercise.haemoglobin_low_intensity_below"))
    g.used.append(hb.used())
    shown = f"Haemoglobin {num(hb.value)} g/dL"
    if hb.value < th.v("exercise.haemoglobin_hold_below"):
        g.apply(f"{shown}: hold; medical review", hb.used(), hold=f"haemoglobin {num(hb.value)} g/dL")
    elif hb.value < th.v("exercise.haemoglobin_low_intensity_below"):
        g.low_moderate_intensity = True
        g.apply(f"{shown}: low-to-moderate intensity only; medical review", hb.used())


def _neutrophils_and_fever(
    facts: PatientFacts, today: date, th: Thresholds, idx: FactIndex, days: float, g: Gates
) -> None:
    anc = latest_lab(facts, c.LAB_NEUTROPHILS, today, days, idx)
    if anc is not None:
        g.keys.add("exercise.neutrophils_hold_below")
        g.used.append(anc.used())
        if anc.value < th.v("exercise.neutrophils_hold_below"):
            g.no_group_settings = True
            shown = f"Neutrophils {num(anc.value)}"
            g.apply(
                f"{shown}: hold (infection risk); no group or gym settings",
                anc.used(),
                hold=shown[0].lower() + shown[1:],
            )
    elif has_active(facts, today, c.CHEMOTHERAPY):
        # On chemotherapy an unknown neutrophil count may be dangerously low.
        g.missing.append(
            MissingFact(
                f"neutrophil count within {num(days)} days while on chemotherapy", "not assumed normal"
            )
        )
        _need_blood_count(g)
    fever_days = th.v("exercise.fever_lookback_days")
    g.keys.update(("exercise.fever_lookback_days", "exercise.fever_temperature_min"))
    evidence: list[UsedFact] = []
    newest = next((o for o in idx.observations(c.FEVER) if within_days(o.effective, today, fever_days)), None)
    if newest is not None and (
        newest.flag is True
        or (
            newest.quantity is not None
            and newest.quantity.unit == "Cel"
            and newest.quantity.value >= th.v("exercise.fever_temperature_min")
        )
    ):
        evidence.append(used_obs("Fever", newest))
    for cond in idx.conditions(c.FEVER):
        when = cond.onset or cond.recorded
        if cond.clinical_status in ACTIVE_STATUSES and within_days(when, today, fever_days):
            evidence.append(used_condition("Fever", cond))
    if evidence:
        g.used.extend(evidence)
        g.apply("Fever: hold until assessed", *evidence, hold="fever")


def _calcium(facts: PatientFacts, today: date, th: Thresholds, idx: FactIndex, g: Gates) -> None:
    ca = corrected_calcium(facts, today, th, idx)
    days = th.v("red_flags.symptom_lookback_days")
    newest = next(iter(idx.observations(c.SYMPTOMATIC_HYPERCALCAEMIA)), None)
    symptomatic = (
        newest
        if newest is not None and newest.flag is True and within_days(newest.effective, today, days)
        else None
    )
    held = False
    if ca is None:
        g.missing.append(MissingFact("calcium within the lab lookback", "not assumed normal"))
        g.checks_before_start.append("calcium with albumin")
    else:
        key = (
            "exercise.ionised_calcium_hold_min"
            if ca.method is CalciumMethod.IONISED
            else "exercise.calcium_hold_min"
        )
        g.keys.add(key)
        g.used.extend(ca.used)
        g.unverified = g.unverified or th[key].basis == "unverified"
        if ca.method is CalciumMethod.UNCORRECTED:
            g.missing.append(MissingFact("albumin with the calcium", "calcium not corrected; may be higher"))
        if ca.value >= th.v(key):
            held = True
            g.apply(f"{ca.label} {ca.shown()}: hold (see R03)", *ca.used, hold=ca.short)
    if symptomatic is not None and not held:
        fact = used_obs("Symptoms of hypercalcaemia", symptomatic)
        g.used.append(fact)
        g.apply("Symptomatic hypercalcaemia: hold (see R03)", fact, hold="symptomatic hypercalcaemia")


def _fatigue(idx: FactIndex, today: date, th: Thresholds, g: Gates) -> None:
    days = th.v("exercise.fatigue_lookback_days")
    obs = next(
        (
            o
            for o in idx.observations(c.FATIGUE_SCORE)
            if o.quantity is not None and within_days(o.effective, today, days)
        ),
        None,
    )
    if obs is None or obs.quantity is None:
        return
    g.keys.update(("exercise.fatigue_severe_min", "exercise.fatigue_lookback_days"))
    fact = used_obs("Fatigue", obs)
    g.used.append(fact)
    if obs.quantity.value >= th.v("exercise.fatigue_severe_min"):
        g.short_bouts = True
        g.apply(f"Fatigue {num(obs.quantity.value)}/10: light intensity; short, frequent bouts", fact)
