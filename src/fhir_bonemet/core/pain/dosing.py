"""Dose-dependent analgesic safety: acetaminophen ceilings (P20, P21), corticosteroid duration (P22) and
renally cleared opioids (P23) (docs/clinical-model.md#pharmacovigilance).

Acetaminophen is totalled across every active product, combination products included (see
:mod:`~fhir_bonemet.core.evidence.dose_arithmetic`); a product whose dose cannot be read is named, never
assumed small.

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

import math
from datetime import date, timedelta

from fhir_bonemet.core.evidence.dose_arithmetic import (
    ACETAMINOPHEN_NAMES,
    IngredientTotal,
    daily_acetaminophen,
    dose_mg,
    has_ingredient,
)
from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.context import RuleContext
from fhir_bonemet.core.model.facts import MedicationFact
from fhir_bonemet.core.model.finding_builder import RENAL_KEYS, Trace
from fhir_bonemet.core.model.findings import (
    Category,
    DoseChange,
    Finding,
    Indicator,
    MissingFact,
    OrderChange,
    UsedFact,
)
from fhir_bonemet.core.model.queries import obs_date
from fhir_bonemet.core.model.rule import rule
from fhir_bonemet.core.model.used_facts import med_label
from fhir_bonemet.core.pain.checks import LIVER_KEYS, OLDER_KEYS, is_older, liver_risk
from fhir_bonemet.core.pain.medicines import RENAL_CONCEPTS, is_systemic

# A corticosteroid whose recorded reason is one of these is "for pain" (P22); no reason recorded counts too.
_PAIN_REASONS = frozenset({c.NEOPLASM_PAIN, c.NEUROPATHIC_PAIN, c.BONE_METASTASIS})


def _products(ctx: RuleContext) -> list[MedicationFact]:
    found = ctx.index.memo(
        ("acetaminophen_products", ctx.hook, ctx.today),  # P20 and P21 ask: worked out once per call
        lambda: tuple(
            m for m in ctx.meds if c.ACETAMINOPHEN in m.classes or has_ingredient(m, *ACETAMINOPHEN_NAMES)
        ),
    )
    return list(found)


def _acetaminophen_total(ctx: RuleContext, products: list[MedicationFact]) -> IngredientTotal:
    # P20 and P21 read the same total: worked out once per call (``products`` is ``_products(ctx)``).
    key = ("daily_acetaminophen", ctx.hook, ctx.today)
    return ctx.index.memo(key, lambda: daily_acetaminophen(products))


def amount_per_day(mg: float) -> str:
    """ "8.2 g/day", "650 mg/day": a daily acetaminophen amount as a clinician reads it.  An absurd dose
    (an entry error) is still shown as a number, never in exponent notation or as "inf"."""
    if not math.isfinite(mg):
        return "an impossibly large amount a day (check the doses)"
    if mg >= 100_000:
        return f"{mg / 1000:,.0f} g/day"
    return f"{mg / 1000:.3g} g/day" if mg >= 1000 else f"{mg:g} mg/day"


def _total_facts(t: Trace, total: IngredientTotal, products: list[MedicationFact]) -> None:
    # A product whose dose is unknown is named as the clinician knows it: card text says a reference only
    # as the kind of record ("medication order"), which does not tell which product to check.
    names = {med.ref: med_label(med) for med in products}
    for part in total.per_med:
        t.fact(
            UsedFact(
                part.display, f"acetaminophen {part.daily.value:g} mg/day ({part.daily.basis})", part.ref
            )
        )
    for ref, reason in total.not_computable:
        name = names.get(ref, "an acetaminophen product")
        if "not understood" in reason:  # a dose was recorded: name what could not be read, not a gap
            t.missing.append(
                MissingFact(
                    f"daily acetaminophen dose of {name}",
                    f"{reason}; the total may be higher than shown",
                    unreadable=True,
                    ref=ref,
                )
            )
        else:
            t.miss(f"daily acetaminophen dose of {name} ({reason})", "the total may be higher than shown")
    for dropped, kept in total.duplicates:
        t.fact(UsedFact("Not counted twice", f"{dropped} records the same drug as {kept}", dropped))
    shown = f"{total.total:g} mg/day" + ("" if total.complete else " (at least)")
    t.fact(UsedFact("Total daily acetaminophen", shown))


def _products_text(total: IngredientTotal) -> str:
    n = len(total.per_med)
    return f"{n} product{'s' if n != 1 else ''}"


def _limit_drafts(t: Trace, products: list[MedicationFact], total: IngredientTotal, cap: float) -> None:
    """For each draft in focus: the same order taken fewer times a day so that the total (all products)
    fits ``cap``; a draft no whole number of doses of which fits (or whose dose cannot be read) is
    cancelled.  The numbers are worked out here, so the card only writes them into the order."""
    counted = {part.ref: part for part in total.per_med}
    for med in t.ctx.focused(products):
        part = counted.get(med.ref)
        per_admin = dose_mg(med, part.ingredient) if part is not None and len(med.doses) == 1 else None
        if part is None or not isinstance(per_admin, float) or per_admin <= 0:
            why = "its dose cannot be read" if part is None else "its schedule cannot be changed safely"
            t.act([med], "delete", f"cancel: the total is above {cap:g} mg/day and {why}")
            continue
        others = max(0.0, total.total - part.contribution)
        room = (cap - others) / per_admin
        times = math.floor(room) if math.isfinite(room) else 0
        if times < 1 or times * per_admin >= part.contribution:
            t.act(
                [med],
                "delete",
                f"cancel: no whole number of doses keeps the total at or below {cap:g} mg/day (the other "
                f"products give {others:g} mg/day)",
            )
            continue
        dose = med.doses[0]
        ceiling = dose.amount * times if dose.as_needed and dose.amount is not None else None
        change = DoseChange(
            unit=dose.amount_unit or "",
            per_day=times,
            max_per_day=ceiling if dose.max_per_day is not None else None,
            daily=times * per_admin,
            reason=f"total daily acetaminophen at most {cap:g} mg",
            ingredient=part.ingredient,
            product=" / ".join(med.ingredients) if len(med.ingredients) > 1 else "",
        )
        t.act(
            [med],
            "update",
            f"reduce to {times} dose(s) a day ({times * per_admin:g} mg/day) so that the total daily "
            f"acetaminophen stays at or below {cap:g} mg",
            change=OrderChange.SCHEDULE,
            dose=change,
        )


def _raised_enzymes(t: Trace) -> list[str]:
    """ALT or AST above ``pain.acetaminophen_overdose_enzyme_uln_multiple`` x the upper limit of normal:
    with a total above the maximum, a possible sign of hepatotoxicity ("ALT 150 U/L")."""
    multiple = t.v("pain.acetaminophen_overdose_enzyme_uln_multiple")
    raised: list[str] = []
    for concept, key, name in ((c.LAB_ALT, "pain.alt_uln", "ALT"), (c.LAB_AST, "pain.ast_uln", "AST")):
        obs = t.ctx.index.latest(concept, t.ctx.today, t.v("lookback.lab_days"))
        if obs is None or obs.quantity is None or obs.quantity.unit != "U/L":
            continue
        when = obs_date(obs)
        t.fact(UsedFact(name, f"{obs.quantity.value:g} U/L", obs.ref, when.isoformat() if when else None))
        if obs.quantity.value > multiple * t.v(key):
            raised.append(f"{name} {obs.quantity.value:g}")
    return raised


_OVERDOSE_KEYS = (
    "pain.acetaminophen_max_mg_day",
    "pain.acetaminophen_overdose_enzyme_uln_multiple",
    "pain.alt_uln",
    "pain.ast_uln",
    "lookback.lab_days",
)


def _overdose(t: Trace, total: IngredientTotal) -> Finding | None:
    """Above the short-term maximum the total is an overdose: critical, whatever the patient's ceiling.
    With raised liver enzymes: stop acetaminophen and assess for hepatotoxicity."""
    maximum = t.v("pain.acetaminophen_max_mg_day")
    # The known part at the maximum with another product of unknown amount on top is above it: a Percocet
    # whose strength could not be read beside 4 g/day of paracetamol read as a warning, not an overdose.
    if total.total < maximum or (total.total == maximum and total.complete):
        return None
    raised = _raised_enzymes(t)
    at_least = "" if total.complete else "at least "
    shown = f"Acetaminophen {at_least}{amount_per_day(total.total)} ({_products_text(total)})"
    top = f"{maximum / 1000:g} g"
    recs = [
        f"The total is above the {t.label('pain.acetaminophen_max_mg_day')} short-term maximum: an overdose "
        "range for many patients.",
        "Find out how long this total has been taken and when the last dose was; count over-the-counter "
        "and combination products.",
    ]
    if raised:
        recs.insert(
            0,
            "Stop acetaminophen now and assess for hepatotoxicity (LFTs, INR, time of the last dose); "
            "ask poison control about acetylcysteine.",
        )
        summary = f"{shown}, {', '.join(raised)}: above the {top} maximum, stop and assess for hepatotoxicity"
    else:
        recs.insert(0, "Reduce below the maximum now and check liver function tests (ALT, AST) and INR.")
        summary = f"{shown} is above the {top} maximum: reduce now and check liver function"
    return t.finding(
        Indicator.CRITICAL,
        summary,
        f"Total daily acetaminophen across {_products_text(total)} is above "
        f"{t.label('pain.acetaminophen_max_mg_day')}"
        + (f" with {', '.join(raised)} U/L above the upper limit of normal." if raised else "."),
        recs,
    )


@rule(
    "P20",
    "Total daily acetaminophen above the maximum",
    Category.MEDICATION_SAFETY,
    concepts=(c.ACETAMINOPHEN, c.LAB_ALT, c.LAB_AST),
    thresholds=(
        *_OVERDOSE_KEYS,
        "pain.acetaminophen_long_term_max_mg_day",
        "pain.acetaminophen_long_term_days",
    ),
    evidence=("S25", "S20"),
    on_orders=True,
)
def p20(ctx: RuleContext, t: Trace) -> Finding | None:
    products = _products(ctx)
    if not products or not ctx.concerns_focus(products):
        return None
    total = _acetaminophen_total(ctx, products)
    long_days = t.v("pain.acetaminophen_long_term_days")
    # Courses already under way: the record's orders, and drafts that replace one (a dose change) and so
    # continue its course; any other draft starts today.
    running = [m for m in products if not m.is_draft or m.replaces is not None]
    starts = [s for s in (m.course_start if m.is_draft else m.start for m in running) if s is not None]
    long_term = any(ctx.today - s > timedelta(days=long_days) for s in starts)
    continued: set[str] = set()
    for med in running:  # a draft's own start is empty: the course it continues says why it is long
        begun = med.course_start if med.is_draft else None
        if begun is not None and ctx.today - begun > timedelta(days=long_days):
            _say_course_continued(t, med, begun, continued)
    if not long_term:
        # A course planned beyond the limit (a new order for 30 days) is long-term use from its first dose.
        planned = [m for m in products if m.planned_days is not None and m.planned_days > long_days]
        for med in planned:
            t.fact(UsedFact(f"Planned course of {med_label(med)}", f"{med.planned_days:.0f} days", med.ref))
        long_term = bool(planned)
    if not long_term and len(starts) < len(running):
        long_term = True  # a start date is missing: the duration cannot be shown to be short
        t.miss("start date of an acetaminophen product", "treated as long-term use (the lower ceiling)")
    key = "pain.acetaminophen_long_term_max_mg_day" if long_term else "pain.acetaminophen_max_mg_day"
    cap = t.v(key)
    if total.total <= cap and total.complete:
        return None
    _total_facts(t, total, products)
    t.meds(products)
    term = "long-term" if long_term else "short-term"
    if total.total > cap or (total.total == cap and not total.complete):  # at the cap, plus an unknown amount
        _limit_drafts(t, products, total, cap)
        overdose = _overdose(t, total)
        if overdose is not None:
            return overdose
        return t.finding(
            Indicator.WARNING,
            f"Acetaminophen {amount_per_day(total.total)} ({_products_text(total)}) exceeds the {term} "
            f"maximum of {amount_per_day(cap)}: reduce",
            f"Total daily acetaminophen across {_products_text(total)} is above {t.label(key)}.",
            (
                f"Keep the total at or below {t.label('pain.acetaminophen_max_mg_day')} short term and "
                f"{t.label('pain.acetaminophen_long_term_max_mg_day')} long term.",
                "Count combination products (e.g. with an opioid) and over-the-counter products.",
            ),
        )
    return t.finding(
        Indicator.INFO,
        f"Check total daily acetaminophen: {len(total.not_computable)} product dose(s) could not be read",
        f"The daily acetaminophen total could not be computed; the known part is {total.total:g} mg/day.",
        (f"Confirm the total stays at or below {cap:g} mg/day ({term}), counting combination products.",),
    )


@rule(
    "P21",
    "Acetaminophen with liver disease or older age",
    Category.MEDICATION_SAFETY,
    concepts=(c.ACETAMINOPHEN, c.LIVER_DISEASE, c.LAB_ALT, c.LAB_AST),
    thresholds=(
        *LIVER_KEYS,
        *OLDER_KEYS,
        *_OVERDOSE_KEYS,
        "pain.acetaminophen_liver_max_mg_day",
    ),
    evidence=("S25", "S29"),
    on_orders=True,
    absorbs=("P20",),  # the lower ceiling includes the general one: one card, with P20's advice
)
def p21(ctx: RuleContext, t: Trace) -> Finding | None:
    products = _products(ctx)
    if not products or not ctx.concerns_focus(products):
        return None
    reasons = liver_risk(t)
    total = _acetaminophen_total(ctx, products)
    cap = t.v("pain.acetaminophen_liver_max_mg_day")
    over = total.total > cap or not total.complete
    if not reasons and over:
        older = is_older(t, "older age not excluded: the lower ceiling applies")
        if older or older is None:
            shown = f"age {ctx.age}" if older else "age unknown"
            reasons.append((shown, shown))
    if not reasons:
        return None
    _total_facts(t, total, products)
    t.meds(products)
    if total.total > cap:
        _limit_drafts(t, products, total, cap)
        overdose = _overdose(t, total)
        if overdose is not None:
            return overdose
    elif over:
        t.act(products, "update", f"confirm the total daily acetaminophen stays at or below {cap:g} mg")
    amount = f" {amount_per_day(total.total)}" if total.total > cap else ""
    return t.finding(
        Indicator.WARNING,
        f"Acetaminophen{amount} with {reasons[0][0]}: cap at {amount_per_day(cap)} and monitor liver "
        "function",
        "Acetaminophen active with " + "; ".join(detail for _, detail in reasons) + ".",
        (
            f"Keep total daily acetaminophen at or below {t.label('pain.acetaminophen_liver_max_mg_day')}, "
            "counting combination products.",
            "Monitor liver function tests.",
        ),
    )


@rule(
    "P22",
    "Prolonged corticosteroid for pain",
    Category.PAIN,
    concepts=(c.CORTICOSTEROID, c.NSAID, *_PAIN_REASONS),
    thresholds=("pain.corticosteroid_review_days",),
    evidence=("S18", "S19", "S14"),
    unverified=True,
    # At order entry too (clinical-rules: order hooks re-run P08-P24): a steroid for pain drafted for a
    # course beyond the review window, or a dose change continuing one, is the moment to review it.
    on_orders=True,
)
def p22(ctx: RuleContext, t: Trace) -> Finding | None:
    days = t.v("pain.corticosteroid_review_days")
    long: list[MedicationFact] = []
    continued: set[str] = set()
    for med in ctx.active(c.CORTICOSTEROID):
        if not is_systemic(med) or (med.reason_concepts and not med.reason_concepts & _PAIN_REASONS):
            continue  # topical/inhaled, or prescribed for another reason (e.g. antiemetic, cord compression)
        if med.is_draft:
            if _draft_course_beyond(ctx, t, med, days, continued):
                long.append(med)
            continue
        if med.start is None:
            t.miss(
                f"start date of {med_label(med)}", "duration unknown: reviewed as if longer than the limit"
            )
            long.append(med)
        elif (ctx.today - med.start).days > days:
            long.append(med)
    if not long or not ctx.concerns_focus(long):
        return None
    t.meds(long)
    recs = [
        "Use corticosteroids for pain and pain flare as short courses; review the need and taper.",
        "Monitor blood glucose; watch for myopathy, infection and mood change.",
    ]
    if ctx.active(c.NSAID):
        t.meds(ctx.active(c.NSAID))
        recs.append("NSAID co-prescribed: add gastric protection (see P19).")
    return t.finding(
        Indicator.INFO,
        f"Corticosteroid for pain beyond {days:g} days: review the need, taper, monitor glucose",
        f"Systemic corticosteroid {_taken_or_planned(long)} for longer than "
        f"{t.label('pain.corticosteroid_review_days')} (or for an unknown time).",
        recs,
    )


def _taken_or_planned(long: list[MedicationFact]) -> str:
    return "active or ordered" if any(m.is_draft for m in long) else "active"


def _draft_course_beyond(
    ctx: RuleContext, t: Trace, med: MedicationFact, days: float, continued: set[str]
) -> bool:
    """A drafted corticosteroid runs beyond the review window: it plans a longer course, or it replaces an
    order (a dose change) whose course has already run that long or began on an unknown date.  Any other
    draft starts today: a short course for a pain flare is what the rule advises."""
    if med.planned_days is not None and med.planned_days > days:
        t.fact(UsedFact(f"Planned course of {med_label(med)}", f"{med.planned_days:.0f} days", med.ref))
        return True
    if med.replaces is None:
        return False
    if med.course_start is None:
        t.miss(f"start date of {med.replaces}", "duration unknown: reviewed as if longer than the limit")
        return True
    if (ctx.today - med.course_start).days <= days:
        return False
    _say_course_continued(t, med, med.course_start, continued)
    return True


def _say_course_continued(t: Trace, med: MedicationFact, start: date, continued: set[str]) -> None:
    """The course a draft continues, dated from its first day: the draft itself has no start, so without
    this the card's data would not show why the course counts as long.  Said once per course (``continued``
    holds the orders already named): two drafts replacing one order continue one course, and a second
    line for it would push a dose off the card's short list of what it rests on."""
    if med.replaces is None or med.replaces in continued:
        return
    continued.add(med.replaces)
    t.fact(UsedFact(f"Course of {med_label(med)}", "continued by the draft", med.replaces, start.isoformat()))


@rule(
    "P23",
    "Morphine or codeine with renal impairment",
    Category.MEDICATION_SAFETY,
    concepts=(c.RENAL_RISK_OPIOID, *RENAL_CONCEPTS),
    thresholds=(*RENAL_KEYS, "pain.renal_opioid_crcl_below"),
    evidence=("S20",),
    on_orders=True,
)
def p23(ctx: RuleContext, t: Trace) -> Finding | None:
    opioids = [
        m for m in ctx.meds if c.RENAL_RISK_OPIOID in m.classes or has_ingredient(m, "morphine", "codeine")
    ]
    if not opioids or not ctx.concerns_focus(opioids):
        return None
    renal = t.renal("accumulation of active metabolites cannot be excluded: check renal function")
    limit = t.renal_label("pain.renal_opioid_crcl_below", renal)
    if renal.value is None:
        t.meds(opioids)
        return t.finding(
            Indicator.INFO,
            "Renal function unknown on morphine or codeine: check creatinine clearance",
            "Morphine or codeine active and no recent creatinine clearance or eGFR.",
            (f"Below {limit} their active metabolites accumulate: consider an alternative opioid.",),
        )
    if renal.value >= t.v("pain.renal_opioid_crcl_below"):
        return None
    t.meds(opioids)
    t.act(opioids, "delete", f"consider an alternative opioid at a reduced dose ({renal.describe()})")
    # One decimal, as P08 and P16 show it: a CrCl of 29.6 rounded to "30" would read as the cut-off itself.
    shown = renal.label()
    return t.finding(
        Indicator.WARNING,
        f"Morphine or codeine with {shown}: consider an alternative opioid and a lower dose",
        f"Renally cleared opioid active with {renal.describe()}, below {limit}.",
        (
            "Active metabolites accumulate (sedation, myoclonus, respiratory depression).",
            "Consider an alternative opioid and reduce the dose; monitor for toxicity.",
        ),
    )
