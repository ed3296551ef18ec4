"""The exercise findings EX01 (tier and prescription), EX02 (global gate) and EX03 (data to complete).

They only describe the plan built by :func:`~fhir_bonemet.core.exercise.plan.build_plan` (read from the
context's ``exercise``); nothing clinical is decided here.  Standard library only: this module is part of
the pure core.
"""

from __future__ import annotations

from collections.abc import Iterable

from fhir_bonemet.core.evidence.lesion_sites import lesion_label, site_label
from fhir_bonemet.core.exercise.domains import ADL_ONLY, DEFAULT_ROWS
from fhir_bonemet.core.exercise.gates import SERVICE_DEFAULT, Gates
from fhir_bonemet.core.exercise.hold_summary import on_hold_summary
from fhir_bonemet.core.exercise.plan import ExerciseWork
from fhir_bonemet.core.exercise.tiers import SCALES_DISAGREE, PersonTier
from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.context import RuleContext
from fhir_bonemet.core.model.finding_builder import Trace
from fhir_bonemet.core.model.findings import (
    MAX_SUMMARY,
    Category,
    DomainStatus,
    ExercisePlan,
    Finding,
    Indicator,
    LesionRisk,
    MissingFact,
    Referral,
    Tier,
    UsedFact,
)
from fhir_bonemet.core.model.rule import rule
from fhir_bonemet.core.model.used_facts import iso
from fhir_bonemet.core.population import age_caveat

__all__ = [
    "DOMAIN_NAMES",
    "GATE_CONCEPTS",
    "GATE_THRESHOLDS",
    "ex01_plan",
    "ex02_gates",
    "ex03_missing",
    "exercise_work",
]

_TIER_THRESHOLDS = (
    "lookback.score_days",
    "lookback.pain_score_days",
    "lookback.recent_radiotherapy_days",
    "exercise.sins_unstable_min",
    "exercise.sins_potentially_unstable_min",
    "exercise.mirels_fixation_min",
    "exercise.mirels_borderline",
    "exercise.pain_upgrade_nrs_min",
    "exercise.ecog_moderate_min",
    "exercise.ecog_adl_only_min",
    "exercise.kps_moderate_max",
    "exercise.kps_adl_only_max",
    "exercise.morse_high_risk_min",
    "exercise.older_age_min",
    "exercise.rpe_low_min",
    "exercise.rpe_low_max",
    "exercise.resistance_target_rm_min",
    "exercise.resistance_target_rm_max",
    "exercise.progression_low_weeks_min",
    "exercise.progression_low_weeks_max",
    "exercise.progression_moderate_weeks",
    "exercise.stop_pain_rise_points",
    "exercise.stop_pain_persist_hours",
    "exercise.restratify_weeks",
)
GATE_THRESHOLDS = (
    "lookback.lab_days",
    "labs.calcium_albumin_pair_hours",
    "exercise.platelets_hold_below",
    "exercise.platelets_restrict_below",
    "exercise.haemoglobin_hold_below",
    "exercise.haemoglobin_low_intensity_below",
    "exercise.neutrophils_hold_below",
    "exercise.calcium_hold_min",
    "exercise.ionised_calcium_hold_min",
    "exercise.fever_temperature_min",
    "exercise.fever_lookback_days",
    "exercise.fatigue_severe_min",
    "exercise.fatigue_lookback_days",
    "red_flags.symptom_lookback_days",
)
_TIER_CONCEPTS = (
    c.BONE_METASTASIS,
    c.SINS_TOTAL,
    c.MIRELS_TOTAL,
    c.LESION_TYPE,
    c.PAIN_MECHANICAL,
    c.PAIN_SCORE,
    c.PATHOLOGICAL_FRACTURE,
    c.IMPENDING_FRACTURE,
    c.RADIOTHERAPY,
    c.SURGICAL_REVIEW,
    c.SURGICAL_FIXATION,
    c.BONE_MODIFYING_AGENT,
    c.ZOLEDRONIC_ACID,
    c.DENOSUMAB,
    c.PAMIDRONATE,
    c.ECOG,
    c.KPS,
    c.FALLS_HISTORY,
    c.FALL_RISK,
    c.MORSE_FALL_SCALE,
    c.PERIPHERAL_NEUROPATHY,
    c.OSTEOPOROSIS,
    c.GABAPENTINOID,
    c.SNRI_TCA,
    c.BENZODIAZEPINE,
    c.OPIOID,
    c.CORD_COMPRESSION,
)
GATE_CONCEPTS = (
    c.LAB_PLATELETS,
    c.LAB_HAEMOGLOBIN,
    c.ANAEMIA,
    c.LAB_NEUTROPHILS,
    c.LAB_CALCIUM,
    c.LAB_CALCIUM_CORRECTED,
    c.LAB_CALCIUM_IONISED,
    c.LAB_ALBUMIN,
    c.FEVER,
    c.FATIGUE_SCORE,
    c.SYMPTOMATIC_HYPERCALCAEMIA,
    c.CHEMOTHERAPY,
)

DOMAIN_NAMES = {
    "ex-aerobic-wb": "weight-bearing aerobic",
    "ex-aerobic-nwb": "non-weight-bearing aerobic",
    "ex-resist-upper": "upper-body resistance",
    "ex-resist-trunk": "trunk resistance",
    "ex-resist-lower": "lower-body resistance",
    "ex-flex": "flexibility",
    "ex-balance": "balance",
    "ex-impact": "impact/contact",
    ADL_ONLY: "daily activities and mobility",
}


def _unique(items: Iterable[UsedFact]) -> tuple[UsedFact, ...]:
    return tuple(dict.fromkeys(items))


def _unique_missing(items: Iterable[MissingFact]) -> tuple[MissingFact, ...]:
    return tuple(dict.fromkeys(items))


def _summary(plan: ExercisePlan) -> str:
    if plan.tier is Tier.HOLD:
        return on_hold_summary(plan.on_hold_reason or "", "functional mobility only until reviewed")
    if plan.tier is Tier.ADL_ONLY:
        return "Poor performance status: suggest ADL and mobility upkeep with PT/OT, not structured exercise"
    if plan.tier is Tier.HIGH:
        return "High skeletal risk: exercise only after surgical review, 1:1 physio; no loading of the lesion"
    if plan.tier is Tier.MODERATE:
        head = "Moderate skeletal risk: suggest oncology-trained supervision"
    else:
        # A blood-count or symptom gate limits the programme: no progression while it applies.
        head = "Low skeletal risk: suggest supervised start" + (
            "" if plan.gates else ", then progressive exercise"
        )
    avoided = [DOMAIN_NAMES[d.domain] for d in plan.domains if d.status is DomainStatus.AVOID]
    # Name as many avoided domains as fit; the card detail lists them all.
    for shown in range(len(avoided), 0, -1):
        rest = len(avoided) - shown
        text = f"{head}; avoid {', '.join(avoided[:shown])}" + (f" and {rest} more" if rest else "")
        if len(text) <= MAX_SUMMARY:
            return text
    return head


def _lines(plan: ExercisePlan, gates: Gates, person: PersonTier) -> tuple[str, ...]:
    lines = [plan.supervision]
    if person.reduced_volume is not None and plan.tier not in (Tier.HOLD, Tier.ADL_ONLY):
        lines.append(
            f"{person.reduced_volume}: reduced volume (fewer, shorter sessions) with functional goals "
            "(transfers, walking, stairs)."
        )
    if gates.checks_before_start:
        lines.append(f"Check {' and '.join(gates.checks_before_start)} before the first session.")
    if plan.tier in (Tier.HOLD, Tier.ADL_ONLY):
        # Every structured domain is suspended: one line says so instead of eight.
        lines.append(
            f"Structured exercise (all domains): {'on hold' if plan.tier is Tier.HOLD else 'not advised'}."
        )
        lines.extend(f"{DOMAIN_NAMES[a.domain].capitalize()}: {a.dose}." for a in plan.domains if a.dose)
        lines.extend(f"Stop and call: {item}" for item in plan.stop_and_call)
        return tuple(lines)
    for advice in plan.domains:
        name = DOMAIN_NAMES[advice.domain].capitalize()
        limits = "; ".join(advice.exclusions)
        if advice.status is DomainStatus.AVOID:
            lines.append(f"{name}: avoid ({limits})." if limits else f"{name}: avoid.")
        else:
            parts = [p for p in (advice.dose, limits) if p]
            lines.append(f"{name}: {'; '.join(parts)}." if parts else f"{name}: permitted.")
    defaults = [lesion_label_of(r) for r in plan.lesions if r.site.site in DEFAULT_ROWS]
    if defaults:
        lines.append(
            f"Site restrictions for the {', '.join(dict.fromkeys(defaults))} are a service default "
            "(no trial module for this site)."
        )
    lines.append(f"Progression: {plan.progression}")
    lines.extend(f"Stop and call: {item}" for item in plan.stop_and_call)
    return tuple(lines)


def _rationale(plan: ExercisePlan) -> str:
    parts = [f"{lesion_label_of(r)} {r.tier.value} ({', '.join(r.reasons)})" for r in plan.lesions]
    if plan.person_factors:
        parts.append("person factors: " + ", ".join(plan.person_factors))
    if plan.gates:
        parts.append("gates: " + "; ".join(plan.gates))
    return f"Tier {plan.tier.value}: " + "; ".join(parts) + "."


def lesion_label_of(risk: LesionRisk) -> str:
    return site_label(risk.site)


# Who EX01 refers to, by plan tier: a table made once (it was rebuilt on every call, nine enum reads).
_REFERRALS = {
    Tier.LOW: (Referral.EXERCISE_PHYSIOLOGY,),
    Tier.MODERATE: (Referral.PHYSIOTHERAPY,),
    Tier.HIGH: (Referral.PHYSIOTHERAPY,),
    Tier.ADL_ONLY: (Referral.PHYSIOTHERAPY,),
    Tier.HOLD: (),
}


def exercise_work(ctx: RuleContext) -> ExerciseWork | None:
    """The plan this call built, as the engine put it in the context (None without a bone lesion)."""
    return ctx.exercise if isinstance(ctx.exercise, ExerciseWork) else None


@rule(
    "EX01",
    "Exercise tier and prescription",
    Category.EXERCISE,
    concepts=(*_TIER_CONCEPTS, *GATE_CONCEPTS),
    thresholds=(*_TIER_THRESHOLDS, *GATE_THRESHOLDS),
    evidence=("S03", "S04", "S05", "S06", "S07", "S10", "S11", "S13", "S01", "S09"),
)
def ex01_plan(ctx: RuleContext, t: Trace) -> Finding | None:
    """Always emitted for a patient with a bone lesion: the plan itself."""
    work = exercise_work(ctx)
    if work is None:
        return None
    plan, person, gates, keys = work.plan, work.person, work.gates, work.keys
    facts = ctx.facts
    used: list[UsedFact] = [
        UsedFact("Bone metastasis", lesion_label(lesion), lesion.ref, iso(lesion.onset or lesion.recorded))
        for lesion in sorted(facts.lesions, key=lambda x: (x.ref, x.index))
    ]
    missing: list[MissingFact] = []
    for risk in plan.lesions:
        used.extend(risk.used)
        missing.extend(risk.missing)
    used.extend(person.used)
    used.extend(gates.used)
    missing.extend(person.missing)
    missing.extend(gates.missing)
    evidence = ["S03", "S04", "S05", "S06", "S01"]
    labels = " ".join(u.label for u in used)
    for marker, source in (("SINS", "S10"), ("Mirels", "S11"), ("Surgical review", "S13")):
        if marker in labels:
            evidence.append(source)
    if plan.tier is Tier.LOW:
        evidence.append("S07")
    if gates.any:
        evidence.append("S09")
    referrals = _REFERRALS[plan.tier]
    low_dose_keys = {"exercise.rpe_low_min", "exercise.rpe_low_max"} if plan.tier is Tier.LOW else set()
    t.fact(*used)
    t.missing.extend(_unique_missing(missing))
    t.rely(*keys, *low_dose_keys)
    return t.finding(
        Indicator.INFO if plan.tier in (Tier.LOW, Tier.MODERATE) else Indicator.WARNING,
        _summary(plan),
        _rationale(plan),
        _lines(plan, gates, person),
        referrals=referrals,
        evidence=evidence,
        unverified=bool(low_dose_keys) or gates.unverified,
    )


@rule(
    "EX02",
    "Global exercise gate",
    Category.EXERCISE,
    concepts=GATE_CONCEPTS,
    thresholds=GATE_THRESHOLDS,
    evidence=("S09", "S08", "S24", "S01"),
)
def ex02_gates(ctx: RuleContext, t: Trace) -> Finding | None:
    """A gate applied: hold or restriction from blood results, anaemia on record, calcium, fever or
    fatigue."""
    work = exercise_work(ctx)
    if work is None or not work.gates.any:
        return None
    gates = work.gates
    hold = bool(gates.hold)
    head = "Hold structured exercise" if hold else "Adjust exercise"
    evidence = ["S09", "S08"]
    if any("calcium" in d.lower() for d in gates.descriptions):
        evidence.append("S24")
    if gates.short_bouts:
        evidence.append("S01")
    t.fact(*gates.triggers)
    t.rely(*gates.keys)
    # The summary leaves out the service-default label: the card would drop it anyway, after it had cost the
    # summary the room of the gate's last words (the recommendations and the plan keep it).  A gate asking
    # for a medical review comes first: a long summary is cut at its end, and the review was what got cut
    # ("Platelets 35 ...; light aerobic only; Haemoglobin 7.6 g/dL: low-to-moderate…").
    ordered = [*gates.reviewed, *(d for d in gates.descriptions if d not in gates.reviewed)]
    summary = "; ".join(d.removesuffix(SERVICE_DEFAULT) for d in ordered)
    # A restriction is for the exercise professional; a medical review is for the clinician reading it.
    return t.finding(
        Indicator.WARNING if hold or gates.reviewed else Indicator.INFO,
        f"{head}: {summary}",
        "Global pre-exercise gates applied: " + "; ".join(gates.descriptions) + ".",
        gates.descriptions,
        evidence=evidence,
        unverified=gates.unverified,
    )


def _confirm(conflict: MissingFact) -> str:
    """A contradiction to confirm: "ECOG 1 and 3 recorded on 2025-05-29" → "ECOG (1 and 3 recorded on
    2025-05-29: confirm)"; two scales in different bands (:func:`~fhir_bonemet.core.exercise.tiers.
    scales_disagree`) → "which performance status is right (ECOG 1 (...) and Karnofsky 40 (...) disagree)"."""
    if conflict.what.endswith(SCALES_DISAGREE):
        return f"which performance status is right ({conflict.what})"
    name, _, rest = conflict.what.partition(" ")
    return f"{name} ({rest}: confirm)"


_USABLE_BIRTH_DATE = "a usable birth date"


def _birth_date_unusable(ctx: RuleContext) -> bool:
    caveat = age_caveat(ctx.facts, ctx.today, ctx.th)
    return caveat is not None and caveat.unreadable


@rule(
    "EX03",
    "Screening data to complete before exercise",
    Category.EXERCISE,
    concepts=(c.SINS_TOTAL, c.MIRELS_TOTAL, c.ECOG, c.KPS, c.LAB_PLATELETS, c.LAB_HAEMOGLOBIN, c.LAB_CALCIUM),
    thresholds=("lookback.score_days", "lookback.lab_days"),
    evidence=("S03", "S10", "S11"),
)
def ex03_missing(ctx: RuleContext, t: Trace) -> Finding | None:
    """What to record before exercise starts: the gaps that made this plan more cautious."""
    work = exercise_work(ctx)
    if work is None:
        return None
    plan, person, gates, facts = work.plan, work.person, work.gates, ctx.facts
    items: list[str] = list(gates.checks_before_start)
    missing: list[MissingFact] = list(gates.missing)
    # The record that was searched: the patient for labs and performance status, the lesion otherwise.
    used: list[UsedFact] = []
    if items or person.missing:
        used.append(UsedFact("Patient record", "searched", facts.patient_ref))
    # Performance status, birth date, medication list; contradictory scores are to be confirmed.
    # A birth date that came but cannot be used (not a date, after today, an implausible age) is to be
    # corrected: "record the birth date" asked for what the record already holds.  Asked only when the plan
    # misses a birth date at all (most calls it does not).
    unusable = any(m.what == "birth date" for m in person.missing) and _birth_date_unusable(ctx)
    items.extend(
        _confirm(m) if m.conflict else _USABLE_BIRTH_DATE if unusable and m.what == "birth date" else m.what
        for m in person.missing
    )
    missing.extend(person.missing)
    for risk in plan.lesions:
        for gap in risk.missing:
            if gap.conflict:  # the site recorded two ways: confirm which, both are applied meanwhile
                missing.append(gap)
                items.append(f"which site the {lesion_label_of(risk)} is at (code and text disagree)")
            elif gap.what.startswith(("SINS", "Mirels", "site of")):
                missing.append(gap)
                used.append(UsedFact("Bone metastasis", lesion_label_of(risk), risk.lesion_ref))
                score = gap.what.split(" for ")[0] if " for " in gap.what else "site"
                items.append(f"{score} for the {lesion_label_of(risk)}" if score != "site" else "lesion site")
    if not items:
        return None
    items = list(dict.fromkeys(items))
    t.fact(*used)
    t.missing.extend(_unique_missing(missing))
    t.rely("lookback.score_days", "lookback.lab_days")
    return t.finding(
        Indicator.INFO,
        "Before exercise, suggest recording: " + "; ".join(items),
        "Screening data missing: the plan was made more cautious rather than assume normal values.",
        tuple(f"Record {item}." for item in items),
    )
