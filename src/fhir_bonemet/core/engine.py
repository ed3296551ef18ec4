"""The reasoning entry point: ``assess(facts, today, thresholds, hook=...) -> Assessment``.

Order of work, as a clinician would read it:

1. Population gate: adults with an active bone metastasis; anyone else gets an empty Assessment (the
   service stays silent).
2. Red flags (cord compression, hypercalcaemia, fracture, pain escalation, cytopenia) — they also gate
   exercise, as do the critical medication red flags of step 4 (R06, R09).
3. Exercise safety (per-lesion and patient tier, domain matrix, prescription) on ``patient-view``.
4. Pain management, pharmacovigilance and bone-modifying agents; on ``order-select``/``order-sign`` only
   the rules about the draft orders in focus speak.

Findings come out critical first, red flags before other concerns of the same urgency, then in rule order,
so the same facts always give the same Assessment.  Standard library only: part of the pure core.
"""

from __future__ import annotations

from datetime import date

from fhir_bonemet.core.exercise.assess import assess_exercise
from fhir_bonemet.core.model.fact_index import FactIndex
from fhir_bonemet.core.model.facts import PatientFacts
from fhir_bonemet.core.model.findings import Assessment, Category, Finding, Indicator
from fhir_bonemet.core.model.hooks import Hook
from fhir_bonemet.core.model.thresholds import Thresholds
from fhir_bonemet.core.pain.assess import assess_pain
from fhir_bonemet.core.population import population_gate
from fhir_bonemet.core.red_flags.spinal import assess_red_flags

__all__ = ["HOOKS", "assess"]

HOOKS = tuple(hook.value for hook in Hook)


def _priority(finding: Finding) -> tuple[int, int]:
    return (-finding.indicator.rank, finding.category.rank)


def assess(facts: PatientFacts, today: date, th: Thresholds, *, hook: str = "patient-view") -> Assessment:
    """Everything the service has to say about one patient on one hook."""
    if hook not in HOOKS:
        raise ValueError(f"unknown hook {hook!r}; expected one of {', '.join(HOOKS)}")
    in_population, reason = population_gate(facts, today, th)
    if not in_population:
        return Assessment(in_population=False, population_reason=reason)

    index = FactIndex(facts)
    red_flags = assess_red_flags(facts, today, th, index)
    order_hook = hook != "patient-view"
    plan, exercise_findings = assess_exercise(facts, today, th, red_flags=red_flags, index=index)
    pain_findings = assess_pain(facts, today, th, hook=hook, exercise=plan, index=index)
    # clinical-rules §2.3 STEP 0 holds exercise on *any* critical red flag, including the two the
    # medication rules raise (R06 severe hypocalcaemia, R09 triple CNS depression).  Rare, so the plan
    # and the pain rules that look at it (P12, P25) are simply worked out again.
    late = tuple(
        f for f in pain_findings if f.category is Category.RED_FLAG and f.indicator is Indicator.CRITICAL
    )
    if late and plan is not None:
        plan, exercise_findings = assess_exercise(
            facts, today, th, red_flags=(*red_flags, *late), index=index
        )
        pain_findings = assess_pain(facts, today, th, hook=hook, exercise=plan, index=index)

    findings: list[Finding] = []
    if order_hook:
        # During order entry the clinician is busy with the orders: only critical red flags interrupt,
        # next to the medication findings about the drafts in focus.
        findings.extend(f for f in red_flags if f.indicator is Indicator.CRITICAL)
    else:
        findings.extend(red_flags)
        findings.extend(exercise_findings)
    findings.extend(pain_findings)
    # sorted() is stable: within one priority the rule modules' own deterministic order is kept.
    ordered = tuple(sorted(findings, key=_priority))
    return Assessment(
        in_population=True,
        population_reason=reason,
        findings=ordered,
        exercise=None if order_hook else plan,
    )
