"""A draft medication order the service cannot identify: the clinician is told its checks were not run.

On order-select and order-sign the cards speak about the drafts.  A draft whose drug nothing names (a
``medicationReference`` that resolves to nothing and has no display, or a code the service does not know
with no text) is in no class and has no ingredient, so no rule counts it: without this rule the answer was
silent, which reads as "nothing to check".  Standard library only: part of the pure core.
"""

from __future__ import annotations

from fhir_bonemet.core.model.context import RuleContext
from fhir_bonemet.core.model.finding_builder import Trace
from fhir_bonemet.core.model.findings import Category, Finding, Indicator
from fhir_bonemet.core.model.rule import rule

__all__ = ["p44"]


@rule(
    "P44",
    "Drafted medication not identified",
    Category.MEDICATION_SAFETY,
    evidence=(),  # a data-quality rule: it reports what could not be checked, it recommends no treatment
    on_orders=True,
)
def p44(ctx: RuleContext, t: Trace) -> Finding | None:
    drafts = [m for m in ctx.meds if m.is_draft and ctx.concerns_focus([m])]
    unnamed = [m for m in drafts if m.display is None and not m.classes and not m.ingredients]
    if not unnamed:
        return None
    for med in unnamed:
        t.miss(f"the drug of draft order {med.ref}", "its dose and interaction checks were not run")
    return t.finding(
        Indicator.WARNING,
        "Drafted medication not identified: its dose and interaction checks were not run",
        f"{len(unnamed)} draft order(s) name no drug the service can read (no known code, no name).",
        ("Check the order's drug, dose and interactions by hand, or re-select the drug so it is coded.",),
    )
