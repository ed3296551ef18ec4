"""Red flag R08: critical cytopenia (``docs/clinical-model.md#red-flags``).

Platelets or haemoglobin below the critical threshold: structured exercise is held (the exercise gates
read the same results) and the blood count needs medical review.

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

from fhir_bonemet.core.evidence.labs import latest_lab
from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.context import RuleContext
from fhir_bonemet.core.model.finding_builder import Trace
from fhir_bonemet.core.model.findings import Category, Finding, Indicator, Referral
from fhir_bonemet.core.model.rule import rule

__all__ = ["r08_cytopenia"]

# (concept, critical threshold key): a result below its threshold raises R08.
_CRITICAL_BELOW = (
    (c.LAB_PLATELETS, "red_flags.platelets_critical_below"),
    (c.LAB_HAEMOGLOBIN, "red_flags.haemoglobin_critical_below"),
)


@rule(
    "R08",
    "Critical cytopenia",
    Category.RED_FLAG,
    concepts=(c.LAB_PLATELETS, c.LAB_HAEMOGLOBIN),
    thresholds=("lookback.lab_days", *(key for _, key in _CRITICAL_BELOW)),
    evidence=("S09",),
)
def r08_cytopenia(ctx: RuleContext, t: Trace) -> Finding | None:
    days = ctx.th.v("lookback.lab_days")
    below: list[str] = []
    for concept, key in _CRITICAL_BELOW:
        lab = latest_lab(ctx.facts, concept, ctx.today, days, ctx.index)
        # Only a result below its threshold is relied on: a normal value is not what this card is about.
        if lab is not None and lab.value < ctx.th.v(key):
            t.fact(lab.used())
            below.append(key)
    if not below:
        return None
    t.rely("lookback.lab_days", *below)
    what = " and ".join(f"{u.label.lower()} {u.value}" for u in t.used)
    # Only critical values reach this point, and the advice is urgent: the finding is critical itself.
    return t.finding(
        Indicator.CRITICAL,
        f"Critical cytopenia ({what}): hold exercise; suggest medical review",
        "Platelets or haemoglobin below the critical threshold.",
        (
            "Hold structured exercise; functional mobility only; minimise fall and impact risk.",
            "Medical review of the blood count today: transfusion or other support may be needed.",
        ),
        referrals=(Referral.ACUTE_ONCOLOGY,),
    )
