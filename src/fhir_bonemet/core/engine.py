"""The reasoning entry point: ``assess(facts, today, thresholds, hook=...) -> Assessment``.

Order of work, as a clinician would read it (``docs/clinical-model.md``):

1. Population gate: adults with an active bone metastasis; anyone else gets an empty Assessment (the
   service stays silent).
2. Red flags, every one in the catalogue (R01-R09): cord compression, hypercalcaemia, fracture, pain
   escalation, cytopenia and the medication red flags.  Any critical one holds exercise.
3. Exercise safety: the plan (per-lesion and patient tier, domain matrix, prescription) and EX01-EX03.
4. Pain management, pharmacovigilance and bone-modifying agents (P01-P25).

Each pass runs the rules of one family of the catalogue (:mod:`fhir_bonemet.core.rulebook`), each
rule once; supersession (a red flag naming the pain rules it replaces) and merging are declared with the
rules and applied by the runner.  On ``order-select``/``order-sign`` only the rules about the draft orders
in focus speak, next to critical red flags (and the red-flag warnings that restrict loading, before a draft
that may load the bone).

Findings come out critical first, red flags before other concerns of the same urgency, then in rule order,
so the same facts always give the same Assessment.  Standard library only: part of the pure core.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from fhir_bonemet.core import rulebook
from fhir_bonemet.core.data_gaps import annotate
from fhir_bonemet.core.evidence.loading_orders import loading_orders
from fhir_bonemet.core.exercise.plan import build_plan, exercise_in_progress
from fhir_bonemet.core.model.catalogue import Family
from fhir_bonemet.core.model.context import build_context
from fhir_bonemet.core.model.facts import PatientFacts
from fhir_bonemet.core.model.findings import Assessment, Finding, Indicator, MissingFact
from fhir_bonemet.core.model.hooks import Hook
from fhir_bonemet.core.model.rule import merge_absorbed
from fhir_bonemet.core.model.thresholds import Thresholds
from fhir_bonemet.core.population import age_caveat, diagnosis_caveat, population_gate, with_plausible_age

__all__ = ["HOOKS", "assess"]

HOOKS = tuple(hook.value for hook in Hook)


def _priority(finding: Finding) -> tuple[int, int]:
    return (-finding.indicator.rank, finding.category.rank)


def assess(facts: PatientFacts, today: date, th: Thresholds, *, hook: str = "patient-view") -> Assessment:
    """Everything the service has to say about one patient on one hook."""
    if hook not in HOOKS:
        raise ValueError(f"unknown hook {hook!r}; expected one of {', '.join(HOOKS)}")
    # Before anything reads the age: an implausible one is an unknown one, for every rule alike.
    facts = with_plausible_age(facts, today, th)
    in_population, reason = population_gate(facts, today, th)
    if not in_population:
        return Assessment(in_population=False, population_reason=reason)

    ctx = build_context(facts, today, th, hook)
    # One book for the whole call: making sure it is still the declared rules' costs a pass over them.
    book = rulebook.current()
    red_flags = book.run(Family.RED_FLAGS, ctx)
    work = build_plan(ctx, red_flags)
    plan = work.plan if work is not None else None
    ctx = replace(ctx, exercise=work, exercise_active=exercise_in_progress(plan))
    book.run(Family.EXERCISE, ctx)
    book.run(Family.PAIN, ctx)

    specs = book.specs
    # Every card names what it would have used but could not read (docs/clinical-model.md#unreadable-results).
    shown = annotate(ctx.fired, ctx, specs)  # every finding kept, in run order, with supersession applied
    caveat = age_caveat(facts, today, th)
    if caveat is not None:  # an unknown or uncertain age: every card says so, first among what is missing
        shown = [_with_caveat(f, caveat) for f in shown]
    unconfirmed = diagnosis_caveat(facts)
    if unconfirmed is not None:  # no bone metastasis is confirmed: every card says so, first of all
        shown = [replace(f, missing=(unconfirmed, *f.missing)) for f in shown]
    if ctx.order_hook:
        # During order entry the clinician is busy with the orders: red flags about the record itself
        # interrupt only when critical; the medication rules speak about the drafts in focus.  The exercise
        # plan is not shown while ordering, so the red flags that restrict loading (on_loading_orders) say
        # so themselves when a draft in focus may load the bone (and EX04, on_orders, a plan on hold).
        loading = bool(loading_orders(ctx.focus_orders))
        shown = [
            f
            for f in shown
            if specs[f.rule_id].on_orders
            or f.indicator is Indicator.CRITICAL
            or (loading and specs[f.rule_id].on_loading_orders)
        ]
    # sorted() is stable: within one priority the catalogue's run order is kept.
    ordered = tuple(sorted(merge_absorbed(shown), key=_priority))
    return Assessment(
        in_population=True,
        population_reason=reason,
        findings=ordered,
        exercise=None if ctx.order_hook else plan,
    )


def _with_caveat(finding: Finding, caveat: MissingFact) -> Finding:
    """``finding`` naming ``caveat`` first among what is missing.  A plain missing birth date is said once:
    not added where the finding names it already, and replaced where the caveat says more (a birth date
    that came but could not be read, or is after today)."""
    if caveat in finding.missing:
        return finding
    if caveat.what == "birth date":
        if any("birth date" in m.what for m in finding.missing):
            return finding
        return replace(finding, missing=(caveat, *finding.missing))
    # The rule's own reading of the missing age (an exercise tier floor) is kept, under the caveat's name.
    own = [m.consequence for m in finding.missing if m.what == "birth date"]
    said = replace(caveat, consequence="; ".join([caveat.consequence, *own])) if own else caveat
    return replace(finding, missing=(said, *(m for m in finding.missing if m.what != "birth date")))
