"""Exercise safety (clinical-rules §2): skeletal risk per lesion and a safe, progressive prescription.

:func:`assess_exercise` runs the algorithm of §2.3:

* STEP 0 red-flag pre-gate: a critical red flag puts exercise on hold (plan tier HOLD);
* STEP 1 global gates (§2.5): blood counts, calcium, fever, fatigue (:mod:`.exercise_gates`);
* STEP 2 tier per lesion (:mod:`.exercise_tiers`), with the site matrix of §2.6 applied to every lesion
  (:mod:`.exercise_domains`);
* STEP 3 person modifiers, STEP 4 patient tier; ECOG >= 3 / KPS <= 40 gives an ADL-only plan;
* the tier → prescription table of §2.7 (:mod:`.exercise_prescription`).

Rule ids (registered below):

* ``EX01`` exercise tier and prescription: always emitted for a patient in the population;
* ``EX02`` global gate applied (hold or restriction from blood results, calcium, fever or fatigue);
* ``EX03`` screening data to complete before exercise (labs, performance status, SINS/Mirels, site).

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from fhir_bonemet.core.evidence.lesion_sites import WEIGHT_BEARING_SITES, lesion_key, lesion_label
from fhir_bonemet.core.evidence.lesions import lesion_evidence
from fhir_bonemet.core.exercise.domains import STRUCTURED_DOMAINS, site_row
from fhir_bonemet.core.exercise.findings import ex01_plan, ex02_gates, ex03_missing
from fhir_bonemet.core.exercise.gates import global_gates
from fhir_bonemet.core.exercise.prescription import (
    RegionCells,
    build_domains,
    progression,
    stop_and_call,
    supervision,
)
from fhir_bonemet.core.exercise.tiers import bma_active, person_tier, tier_lesion
from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.catalogue import register
from fhir_bonemet.core.model.fact_index import FactIndex
from fhir_bonemet.core.model.facts import PatientFacts, SiteClass
from fhir_bonemet.core.model.findings import (
    Category,
    DomainStatus,
    ExercisePlan,
    Finding,
    Indicator,
    LesionRisk,
    Tier,
)
from fhir_bonemet.core.model.thresholds import Thresholds
from fhir_bonemet.core.red_flags.pain_escalation import escalations
from fhir_bonemet.core.red_flags.spinal import assess_red_flags

__all__ = ["EXERCISE_RULE_IDS", "assess_exercise"]

EXERCISE_RULE_IDS = ("EX01", "EX02", "EX03")

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
_GATE_THRESHOLDS = (
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
_GATE_CONCEPTS = (
    c.LAB_PLATELETS,
    c.LAB_HAEMOGLOBIN,
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
register(
    "EX01",
    "Exercise tier and prescription",
    Category.EXERCISE,
    concepts=(*_TIER_CONCEPTS, *_GATE_CONCEPTS),
    thresholds=(*_TIER_THRESHOLDS, *_GATE_THRESHOLDS),
    evidence=("S03", "S04", "S05", "S06", "S07", "S10", "S11", "S13", "S01"),
)
register(
    "EX02",
    "Global exercise gate",
    Category.EXERCISE,
    concepts=_GATE_CONCEPTS,
    thresholds=_GATE_THRESHOLDS,
    evidence=("S09", "S08", "S24", "S01"),
)
register(
    "EX03",
    "Screening data to complete before exercise",
    Category.EXERCISE,
    concepts=(c.SINS_TOTAL, c.MIRELS_TOTAL, c.ECOG, c.KPS, c.LAB_PLATELETS, c.LAB_HAEMOGLOBIN, c.LAB_CALCIUM),
    thresholds=("lookback.score_days", "lookback.lab_days"),
    evidence=("S03", "S10", "S11"),
)


def assess_exercise(
    facts: PatientFacts,
    today: date,
    th: Thresholds,
    red_flags: Sequence[Finding] | None = None,
    index: FactIndex | None = None,
) -> tuple[ExercisePlan | None, tuple[Finding, ...]]:
    """The exercise plan and the EX* findings; (None, ()) when the patient has no bone lesion.

    ``red_flags`` are the findings of :func:`~fhir_bonemet.core.red_flags.spinal.assess_red_flags` when the
    caller
    already has them (they are computed here otherwise); they are read, never returned again.
    """
    if not facts.lesions:
        return None, ()
    idx = index if index is not None else FactIndex(facts)
    flags = [
        f
        for f in (red_flags if red_flags is not None else assess_red_flags(facts, today, th, idx))
        if f.category is Category.RED_FLAG
    ]
    critical = sorted({f.rule_id for f in flags if f.indicator is Indicator.CRITICAL})
    spinal_suspected = any("R02" in f.rule_ids for f in flags)
    escalated = {lesion_key(lesion) for esc in escalations(facts, today, th, idx) for lesion in esc.lesions}
    bma = bma_active(facts, today)

    lesions: list[LesionRisk] = []
    regions: list[RegionCells] = []
    keys: set[str] = set()
    for ev in lesion_evidence(facts, today, th, idx):
        lt = tier_lesion(
            ev,
            th,
            bma_active=bma,
            escalated=lesion_key(ev.lesion) in escalated,
            spinal_suspected=spinal_suspected,
        )
        keys |= lt.keys
        cells = site_row(ev.lesion.site.site)
        label = lesion_label(ev.lesion)
        regions.append(RegionCells(label, cells, ev.lesion.site.site in WEIGHT_BEARING_SITES))
        lesions.append(
            LesionRisk(
                lesion_ref=ev.lesion.ref,
                site=ev.lesion.site,
                tier=lt.tier,
                reasons=tuple(lt.reasons),
                avoided_domains=tuple(d for d in STRUCTURED_DOMAINS if cells[d].status is DomainStatus.AVOID),
                restricted_domains=tuple(
                    d for d in STRUCTURED_DOMAINS if cells[d].status is DomainStatus.RESTRICTED
                ),
                used=tuple(lt.used),
                missing=tuple(lt.missing),
            )
        )
    person = person_tier(facts, today, th, idx)
    keys |= person.keys
    if spinal_suspected:
        # R02: a spinal metastasis is suspected but not imaged: hold axial loading as for an unscored,
        # unlocated spinal lesion.
        person.raise_to(Tier.HIGH, "suspected spinal metastasis (R02)")
        regions.append(
            RegionCells("suspected spinal metastasis", site_row(SiteClass.SPINE_UNSPECIFIED), True)
        )
    gates = global_gates(facts, today, th, idx)
    keys |= gates.keys

    hold_reasons = [f"red flag {rid}" for rid in critical] + gates.hold
    if hold_reasons:
        tier = Tier.HOLD
    elif person.adl_only:
        tier = Tier.ADL_ONLY
    else:
        tier = person.minimum
        for risk in lesions:
            tier = tier.at_least(risk.tier)
    hold_reason = "; ".join(hold_reasons) if hold_reasons else None
    plan = ExercisePlan(
        tier=tier,
        lesions=tuple(lesions),
        domains=build_domains(regions, tier, gates, th, hold_reason),
        supervision=supervision(tier),
        progression=progression(tier, th),
        stop_and_call=stop_and_call(th),
        person_factors=tuple(person.factors),
        gates=tuple(gates.descriptions),
        on_hold_reason=hold_reason,
    )
    findings = [ex01_plan(plan, facts, person, gates, th, keys)]
    if gates.any:
        findings.append(ex02_gates(gates, th))
    missing = ex03_missing(plan, facts, person, gates, th)
    if missing is not None:
        findings.append(missing)
    return plan, tuple(findings)
