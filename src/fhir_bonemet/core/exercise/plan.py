"""The exercise plan: skeletal risk per lesion and per person, global gates, the prescription.

:func:`build_plan` follows ``docs/clinical-model.md#exercise-safety``:

* red-flag pre-gate: a critical red flag puts exercise on hold (plan tier HOLD);
* global gates (blood counts, calcium, fever, fatigue; :mod:`.gates`);
* a tier per lesion (:mod:`.tiers`), with the site-by-domain matrix applied to every lesion
  (:mod:`.domains`);
* person modifiers and the patient tier; ECOG >= 3 / KPS <= 40 gives an ADL-only plan;
* the tier-to-prescription table (:mod:`.prescription`).

The findings EX01-EX03 that describe the plan are declared in :mod:`.findings`.

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fhir_bonemet.core.evidence.lesion_sites import WEIGHT_BEARING_SITES, lesion_key, lesion_label
from fhir_bonemet.core.evidence.lesions import lesion_evidence
from fhir_bonemet.core.evidence.unreadable import answer_state
from fhir_bonemet.core.exercise.domains import site_domains
from fhir_bonemet.core.exercise.gates import Gates, global_gates
from fhir_bonemet.core.exercise.prescription import (
    RegionCells,
    build_domains,
    progression,
    stop_and_call,
    supervision,
)
from fhir_bonemet.core.exercise.tiers import PersonTier, bma_active, person_tier, tier_lesion
from fhir_bonemet.core.model.context import RuleContext
from fhir_bonemet.core.model.facts import SiteClass
from fhir_bonemet.core.model.findings import (
    Category,
    ExercisePlan,
    Finding,
    Indicator,
    LesionRisk,
    Tier,
)
from fhir_bonemet.core.model.frozen_init import fast_init
from fhir_bonemet.core.model.rule import declared
from fhir_bonemet.core.red_flags.pain_escalation import escalations
from fhir_bonemet.core.red_flags.spinal import unread_symptoms

__all__ = ["ExerciseWork", "build_plan", "exercise_in_progress"]


@fast_init
@dataclass(frozen=True, slots=True)
class ExerciseWork:
    """The plan and what the findings EX01-EX03 need to explain it."""

    plan: ExercisePlan
    person: PersonTier
    gates: Gates
    keys: frozenset[str]  # the thresholds the tiering and the gates relied on


def exercise_in_progress(plan: ExercisePlan | None) -> bool:
    """A structured exercise programme is being recommended and is not on hold."""
    return plan is not None and plan.tier is not Tier.HOLD and plan.on_hold_reason is None


def _hold_name(rule_id: str) -> str:
    """A critical red flag as a hold reason: its title, then its id ("pathological or impending fracture
    (R04)").  The id alone said nothing at the bedside, and cards strip ids as internal vocabulary: "red flag
    R04; red flag R08; platelets 15" came out as ";; platelets 15"."""
    rule = declared().get(rule_id)
    if rule is None:
        return f"red flag {rule_id}"
    title = rule.spec.title
    return f"{title[:1].lower()}{title[1:]} ({rule_id})"


def _unread_state(ctx: RuleContext) -> str:
    """What R01's warning says of the symptom answers it names: "not readable" or "unknown"."""
    return answer_state(*unread_symptoms(ctx.index, ctx.today, ctx.th))


def build_plan(ctx: RuleContext, red_flags: Sequence[Finding]) -> ExerciseWork | None:
    """The exercise plan and how it was reached; None when the patient has no bone lesion.

    ``red_flags`` are the findings of the red-flag pass of the same call: any critical one holds exercise
    (the pre-gate), a suspected spinal metastasis (R02) holds axial loading.
    """
    facts, today, th, idx = ctx.facts, ctx.today, ctx.th, ctx.index
    if not facts.lesions:
        return None
    flags = [f for f in red_flags if f.category is Category.RED_FLAG]
    critical = sorted({f.rule_id for f in flags if f.indicator is Indicator.CRITICAL})
    spinal_suspected = any("R02" in f.rule_ids for f in flags)
    # R01 below critical: a cord-compression symptom was recorded but its answer could not be read.  It
    # holds nothing by itself (only a critical red flag does), but until the symptom is checked the spine
    # is loaded no more than for a suspected spinal metastasis (R02).
    symptom_unread = any(f.rule_id == "R01" and f.indicator is not Indicator.CRITICAL for f in flags)
    escalated = {lesion_key(lesion) for esc in escalations(facts, today, th, idx) for lesion in esc.lesions}
    bma = bma_active(facts, today)
    unreadable_scores = frozenset(u.concept for u in facts.unreadable)

    lesions: list[LesionRisk] = []
    regions: list[RegionCells] = []
    keys: set[str] = set()
    for ev in lesion_evidence(facts, today, th, idx):
        lt = tier_lesion(
            ev,
            th,
            bma_active=bma,
            escalated=lesion_key(ev.lesion) in escalated,
            spinal_suspected=spinal_suspected or symptom_unread,
            unreadable_scores=unreadable_scores,
        )
        keys |= lt.keys
        row = site_domains(ev.lesion.site.site)
        label = lesion_label(ev.lesion)
        regions.append(RegionCells(label, row.cells, ev.lesion.site.site in WEIGHT_BEARING_SITES))
        lesions.append(
            LesionRisk(
                lesion_ref=ev.lesion.ref,
                site=ev.lesion.site,
                tier=lt.tier,
                reasons=tuple(lt.reasons),
                avoided_domains=row.avoided,
                restricted_domains=row.restricted,
                used=tuple(lt.used),
                missing=tuple(lt.missing),
            )
        )
    person = person_tier(facts, today, th, idx)
    keys |= person.keys
    if spinal_suspected or symptom_unread:
        # R02: a spinal metastasis is suspected but not imaged: hold axial loading as for an unscored,
        # unlocated spinal lesion.  R01 on an unreadable symptom answer: the same until it is checked.
        for suspected, factor in (
            (spinal_suspected, "suspected spinal metastasis (R02)"),
            (symptom_unread, f"cord-compression symptom answer {_unread_state(ctx)} (R01)"),
        ):
            if suspected:
                person.raise_to(Tier.HIGH, factor)
        regions.append(
            RegionCells("suspected spinal metastasis", site_domains(SiteClass.SPINE_UNSPECIFIED).cells, True)
        )
    gates = global_gates(facts, today, th, idx)
    keys |= gates.keys

    hold_reasons = [_hold_name(rid) for rid in critical] + gates.hold
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
    return ExerciseWork(plan, person, gates, frozenset(keys))
