"""The exercise pass on its own: :func:`assess_exercise` (plan and EX findings for one patient).

The engine builds the plan with :func:`~fhir_bonemet.core.exercise.plan.build_plan` and runs the EX rules
through the catalogue; this entry point does the same for callers that want exercise alone.

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date

from fhir_bonemet.core.exercise.plan import build_plan
from fhir_bonemet.core.model.catalogue import Family
from fhir_bonemet.core.model.context import build_context
from fhir_bonemet.core.model.fact_index import FactIndex
from fhir_bonemet.core.model.facts import PatientFacts
from fhir_bonemet.core.model.findings import ExercisePlan, Finding
from fhir_bonemet.core.model.hooks import Hook
from fhir_bonemet.core.model.rule import declared, run_rules
from fhir_bonemet.core.model.thresholds import Thresholds
from fhir_bonemet.core.red_flags.spinal import assess_red_flags

__all__ = ["assess_exercise"]


def assess_exercise(
    facts: PatientFacts,
    today: date,
    th: Thresholds,
    red_flags: Sequence[Finding] | None = None,
    index: FactIndex | None = None,
) -> tuple[ExercisePlan | None, tuple[Finding, ...]]:
    """The exercise plan and the EX findings; (None, ()) when the patient has no bone lesion.

    ``red_flags`` are the red-flag findings when the caller already has them (the record's own red flags
    are worked out here otherwise); they are read, never returned again.
    """
    ctx = build_context(facts, today, th, Hook.PATIENT_VIEW, index=index)
    flags = red_flags if red_flags is not None else assess_red_flags(facts, today, th, ctx.index)
    work = build_plan(ctx, flags)
    if work is None:
        return None, ()
    mine = [r for r in declared().values() if r.spec.family is Family.EXERCISE]
    return work.plan, run_rules(Family.EXERCISE, mine, replace(ctx, exercise=work))
