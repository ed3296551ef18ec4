"""EX04: an order that may load the bone while the exercise plan is on hold or ADL-only.

The plan is shown on patient-view only.  While ordering, a physiotherapy, exercise, rehabilitation or
mobility order (core/evidence/loading_orders.py) went ahead with nothing said when that plan holds
structured exercise (a blood count, fever, calcium, a critical red flag) or allows ADL and mobility upkeep
only (ECOG 3-4, KPS 40 or less).  EX04 says it before such a draft in focus: why the plan is on hold or
ADL-only, which order it concerns, and a cancellation of that draft.

A warning, whatever the reason: a critical red flag that holds exercise interrupts with its own card.  On
hold, cancelling is the safest choice; on an ADL-only plan it is offered but not recommended, because that
plan itself asks for PT/OT (ADL, transfers, mobility), which the order may be.  A plan restricted at a
lesion but not on hold (HIGH) says nothing here: it asks for 1:1 physiotherapy, and the red flags that
restrict loading speak for themselves before such an order (``on_loading_orders``).

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

from fhir_bonemet.core.evidence.loading_orders import draft_order_label, loading_orders
from fhir_bonemet.core.exercise.findings import GATE_CONCEPTS, GATE_THRESHOLDS, exercise_work
from fhir_bonemet.core.exercise.hold_summary import on_hold_summary
from fhir_bonemet.core.exercise.plan import ExerciseWork
from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.context import RuleContext
from fhir_bonemet.core.model.facts import OrderFact
from fhir_bonemet.core.model.finding_builder import Trace
from fhir_bonemet.core.model.findings import (
    Category,
    Finding,
    Indicator,
    OrderAction,
    Tier,
    UsedFact,
    spoken_list,
)
from fhir_bonemet.core.model.rule import rule

__all__ = ["ex04_loading_order_on_hold"]

_ADL_THRESHOLDS = ("lookback.score_days", "exercise.ecog_adl_only_min", "exercise.kps_adl_only_max")
# What a draft that may load the bone is, in the words of loading_orders, for the card's "why".
_LOADING = "a draft order may load the bone (exercise, physiotherapy, rehabilitation or mobility)"


def _name(order: OrderFact) -> str:
    if order.display and order.display.strip():
        return order.display.strip()
    # Coded but not named: the code tells the clinician which draft it is, and that it was not recognised.
    if order.coded_as:
        return f"an unnamed draft order ({order.coded_as}, not recognised)"
    return "an unnamed draft order"


def _names(orders: tuple[OrderFact, ...]) -> str:
    return spoken_list(list(dict.fromkeys(_name(o) for o in orders)))


@rule(
    "EX04",
    "Exercise order while the plan is on hold or ADL-only",
    Category.EXERCISE,
    # bone-loading-order: loading_orders reads it on the drafts (a hospital's mapped order codes).
    concepts=(*GATE_CONCEPTS, c.ECOG, c.KPS, c.BONE_LOADING_ORDER),
    thresholds=(*GATE_THRESHOLDS, *_ADL_THRESHOLDS),
    evidence=("S09", "S08", "S24", "S01"),
    on_orders=True,
)
def ex04_loading_order_on_hold(ctx: RuleContext, t: Trace) -> Finding | None:
    """One warning naming every draft in focus that may load the bone, with a cancellation of each."""
    work = exercise_work(ctx)
    orders = loading_orders(ctx.focus_orders)  # none on patient-view
    if work is None or not orders:
        return None
    plan = work.plan
    if plan.tier is Tier.HOLD and plan.on_hold_reason is not None:
        return _on_hold(work, plan.on_hold_reason, orders, t)
    if plan.tier is Tier.ADL_ONLY:
        return _adl_only(work, orders, t)
    return None


def _ordered(orders: tuple[OrderFact, ...], t: Trace, why: str, *, safest: bool) -> str:
    """The drafts as used facts and their cancellations; the names, for the text."""
    for order in orders:
        t.fact(UsedFact(draft_order_label(order), "may load the bone", order.ref))
        # No order name before the reason: a name such as "Physiotherapy: gait training" holds the separator
        # the card layer splits the reason off at.
        t.actions.append(
            OrderAction(order.ref, "delete", f"Order that may load the bone: {why}", safest=safest)
        )
    return _names(orders)


def _on_hold(work: ExerciseWork, reason: str, orders: tuple[OrderFact, ...], t: Trace) -> Finding:
    gates = work.gates
    names = _ordered(orders, t, f"exercise on hold ({reason})", safest=True)
    t.fact(*gates.triggers)
    t.missing.extend(gates.missing)  # a hold on a result that could not be read names it
    t.rely(*gates.keys)
    # The gates that hold, as the plan words them ("Platelets 15 ×10⁹/L: hold; functional mobility only,
    # avoid falls and Valsalva"); a critical red flag's hold is explained on its own card.
    holds = [d for d in gates.descriptions if ": hold" in d]
    evidence = ["S09", "S08"]
    if any("calcium" in d.lower() for d in holds):
        evidence.append("S24")
    return t.finding(
        Indicator.WARNING,
        on_hold_summary(reason, f"defer {names}"),
        f"The exercise plan is on hold ({reason}) and {_LOADING}.",
        (
            "Cancel or defer the order until the hold is reviewed; meanwhile functional mobility only "
            "(transfers, walking with care).",
            *holds,
        ),
        evidence=evidence,
        unverified=gates.unverified,
    )


def _adl_only(work: ExerciseWork, orders: tuple[OrderFact, ...], t: Trace) -> Finding:
    person = work.person
    because = ", ".join(person.adl_because) or "poor performance status"
    names = _ordered(orders, t, f"structured exercise not advised ({because})", safest=False)
    t.fact(*(u for u in person.used if u.label.startswith(("ECOG", "Karnofsky"))))
    t.missing.extend(m for m in person.missing if m.conflict)  # two scores the same day: the worse applied
    t.rely(*_ADL_THRESHOLDS)
    return t.finding(
        Indicator.WARNING,
        f"Structured exercise not advised ({because}): limit {names} to ADL and mobility upkeep",
        f"The exercise plan is ADL-only ({because}) and {_LOADING}.",
        (
            "Limit the order to ADL, transfers and mobility upkeep with PT/OT and positioning advice; no "
            "structured exercise programme.",
            "Cancel it if it asks for a structured exercise programme.",
        ),
        evidence=("S01",),
    )
