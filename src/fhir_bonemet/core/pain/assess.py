"""Pain management and bone-health reasoning: the entry point :func:`assess_pain`.

Runs the rules of clinical-rules §3 (P01-P25) and the medication red flags R06, R07 and R09 for one
patient and one hook, in a fixed order (red flags first, then P01...P25), and removes duplicate concerns:
R09 supersedes P13/P14 (the rules themselves stay silent), R06 supersedes P09, and P21 (lower ceiling for
liver disease or older age) absorbs P20 when both fire.

Population gating (adults with an active bone metastasis) is the caller's job
(:mod:`fhir_bonemet.core.population`); this module assumes the patient is in scope.

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from fhir_bonemet.core.model.catalogue import register
from fhir_bonemet.core.model.fact_index import FactIndex
from fhir_bonemet.core.model.facts import PatientFacts
from fhir_bonemet.core.model.findings import Category, ExercisePlan, Finding, Indicator, Tier
from fhir_bonemet.core.model.thresholds import Thresholds
from fhir_bonemet.core.pain import analgesia as pain_analgesia
from fhir_bonemet.core.pain import bone_health, bone_health_safety
from fhir_bonemet.core.pain import cns_safety as pain_safety
from fhir_bonemet.core.pain import dosing as pain_dosing
from fhir_bonemet.core.pain import nsaid as pain_nsaid
from fhir_bonemet.core.pain import review as pain_review
from fhir_bonemet.core.pain.context import HOOKS, PainContext, PainRule, Trace, build_context

__all__ = ["HOOKS", "PAIN_RULES", "assess_pain", "exercise_in_progress"]


def _order(rule: PainRule) -> tuple[int, int]:
    rid = rule.spec.id
    return (0 if rid.startswith("R") else 1, int(rid[1:]))


PAIN_RULES: tuple[PainRule, ...] = tuple(
    sorted(
        (
            *pain_analgesia.RULES,
            *pain_review.RULES,
            *pain_safety.RULES,
            *pain_nsaid.RULES,
            *pain_dosing.RULES,
            *bone_health.RULES,
            *bone_health_safety.RULES,
        ),
        key=_order,
    )
)


def exercise_in_progress(plan: ExercisePlan | None) -> bool:
    """A structured exercise programme is being recommended and is not on hold."""
    return plan is not None and plan.tier is not Tier.HOLD and plan.on_hold_reason is None


# P25 looks at what the other rules found, so it runs last and is not a PainRule.
P25_SPEC = register("P25", "Pain plan and exercise", Category.PAIN, evidence=("S01", "S02"))


def _p25(ctx: PainContext, fired: tuple[Finding, ...]) -> Finding | None:
    # Analgesia and its side effects matter for exercise timing; bone-modifying-agent checks do not.
    pain_findings = [f for f in fired if f.category in (Category.PAIN, Category.MEDICATION_SAFETY)]
    if not ctx.exercise_active or not pain_findings:
        return None
    t = Trace(ctx, P25_SPEC)
    return t.finding(
        Indicator.INFO,
        "Exercise with pain treatment: time activity to analgesic peak; keep a pain log",
        "Pain-management concerns (" + ", ".join(f.rule_id for f in pain_findings) + ") in a patient "
        "with an exercise programme.",
        (
            "Time exercise sessions to the analgesic peak and to periods of lower sedation.",
            "Keep a pain log (before, during, after activity).",
            "Analgesics must not mask mechanical pain at a lesion: new or escalating pain on loading means "
            "stop that activity and report it for assessment of fracture or instability.",
        ),
    )


def _merge(findings: list[Finding], keeper_id: str, absorbed_id: str) -> list[Finding]:
    keeper = next((f for f in findings if f.rule_id == keeper_id), None)
    absorbed = next((f for f in findings if f.rule_id == absorbed_id), None)
    if keeper is None or absorbed is None:
        return findings
    merged = replace(
        keeper,
        related_rules=(*keeper.related_rules, absorbed_id),
        recommendations=(*keeper.recommendations, *absorbed.recommendations),
        used=(*keeper.used, *(u for u in absorbed.used if u not in keeper.used)),
        missing=(*keeper.missing, *(m for m in absorbed.missing if m not in keeper.missing)),
        order_actions=keeper.order_actions or absorbed.order_actions,
        defaults_used=(
            *keeper.defaults_used,
            *(d for d in absorbed.defaults_used if d not in keeper.defaults_used),
        ),
        evidence=(*keeper.evidence, *(e for e in absorbed.evidence if e not in keeper.evidence)),
    )
    return [merged if f is keeper else f for f in findings if f is not absorbed]


def assess_pain(
    facts: PatientFacts,
    today: date,
    th: Thresholds,
    *,
    hook: str,
    exercise: ExercisePlan | None = None,
    index: FactIndex | None = None,
) -> tuple[Finding, ...]:
    """Pain and bone-health findings for one patient on one hook, in a deterministic order.

    ``hook`` is ``patient-view`` (all rules, active medications only), ``order-select`` or ``order-sign``
    (draft orders count as active; only medication rules about a draft in focus speak).  ``exercise`` is
    the exercise plan issued in the same call, if any (P12 and P25 take an exercise programme into
    account).  ``index`` is the call's fact index when the caller already has one.  Raises
    ``ValueError`` for an unknown hook.
    """
    ctx = build_context(facts, today, th, hook, exercise_active=exercise_in_progress(exercise), index=index)
    findings: list[Finding] = []
    for rule in PAIN_RULES:
        if ctx.order_hook and not rule.on_orders:
            continue
        found = rule.fn(ctx, rule.spec)
        if found is not None:
            findings.append(found)
    if not ctx.order_hook:
        found = _p25(ctx, tuple(findings))
        if found is not None:
            findings.append(found)
    findings = _merge(findings, "P21", "P20")
    return tuple(findings)
