"""P25: pain treatment in a patient with an exercise programme.

It looks at what the other pain and medication-safety rules found in the same call (``ctx.fired``), so it
is declared ``reads_findings`` and runs after the rest of its family.

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

from fhir_bonemet.core.model.context import RuleContext
from fhir_bonemet.core.model.finding_builder import Trace
from fhir_bonemet.core.model.findings import Category, Finding, Indicator
from fhir_bonemet.core.model.rule import rule

__all__ = ["p25"]


@rule("P25", "Pain plan and exercise", Category.PAIN, evidence=("S01", "S02"), reads_findings=True)
def p25(ctx: RuleContext, t: Trace) -> Finding | None:
    if not ctx.exercise_active:
        return None
    # Analgesia and its side effects matter for exercise timing; bone-modifying-agent checks do not.
    wanted = (Category.PAIN, Category.MEDICATION_SAFETY)
    pain_findings = [f for f in ctx.fired if f.category in wanted]
    if not pain_findings:
        return None
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
