"""The rules of this package on their own: :func:`assess_pain`.

The engine runs the whole catalogue by family; this entry point runs the rules declared in
:mod:`fhir_bonemet.core.pain` (the medication red flags R06, R07 and R09, then P01-P25) for one patient and
one hook, with the same supersession and merging, for callers that want the medication view alone.

Population gating (adults with an active bone metastasis) is the caller's job
(:mod:`fhir_bonemet.core.population`); this module assumes the patient is in scope.

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

from datetime import date

from fhir_bonemet.core.exercise.plan import exercise_in_progress
from fhir_bonemet.core.model.catalogue import Family
from fhir_bonemet.core.model.context import build_context
from fhir_bonemet.core.model.fact_index import FactIndex
from fhir_bonemet.core.model.facts import PatientFacts
from fhir_bonemet.core.model.findings import ExercisePlan, Finding
from fhir_bonemet.core.model.rule import declared, merge_absorbed, run_rules
from fhir_bonemet.core.model.thresholds import Thresholds

__all__ = ["assess_pain"]


def assess_pain(
    facts: PatientFacts,
    today: date,
    th: Thresholds,
    *,
    hook: str,
    exercise: ExercisePlan | None = None,
    index: FactIndex | None = None,
) -> tuple[Finding, ...]:
    """Medication red flags, pain and bone-health findings for one patient on one hook, in rule order.

    ``hook`` is ``patient-view`` (all rules, active medications only), ``order-select`` or ``order-sign``
    (draft orders count as active; only medication rules about a draft in focus speak).  ``exercise`` is
    the exercise plan issued in the same call, if any (P12 and P25 take an exercise programme into
    account).  ``index`` is the call's fact index when the caller already has one.  Raises
    ``ValueError`` for an unknown hook.
    """
    ctx = build_context(facts, today, th, hook, exercise_active=exercise_in_progress(exercise), index=index)
    # This package's __init__ imports all of its rule modules, so its own rules are all declared here.
    mine = [r for r in declared().values() if r.module.startswith(f"{__package__}.")]
    run_rules(Family.RED_FLAGS, [r for r in mine if r.spec.family is Family.RED_FLAGS], ctx)
    run_rules(Family.PAIN, [r for r in mine if r.spec.family is Family.PAIN], ctx)
    return merge_absorbed(ctx.fired)
