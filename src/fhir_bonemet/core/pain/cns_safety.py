"""Pharmacovigilance of CNS-active and opioid therapy: P12-P15, P24, P46 and R09
(docs/clinical-model.md#pharmacovigilance).

Sedation, dizziness, respiratory depression and constipation are what stop patients moving (S02).  On
order hooks these rules speak only when a draft order in focus is part of the concern, and name it.
R09 (opioid + benzodiazepine + gabapentinoid) supersedes P14 and P13: only one card for that combination.

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

from fhir_bonemet.core.evidence.dose_arithmetic import daily_mme, has_ingredient
from fhir_bonemet.core.evidence.unreadable import answer_state, received, shown
from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.context import RuleContext
from fhir_bonemet.core.model.facts import MedicationFact
from fhir_bonemet.core.model.finding_builder import RENAL_KEYS, Trace
from fhir_bonemet.core.model.findings import (
    Category,
    Finding,
    Indicator,
    MissingFact,
    OrderChange,
    Referral,
    UsedFact,
    spoken_list,
)
from fhir_bonemet.core.model.rule import rule
from fhir_bonemet.core.model.used_facts import med_label, used_obs
from fhir_bonemet.core.pain.checks import OLDER_KEYS, active_conditions, is_older
from fhir_bonemet.core.pain.duplicate_therapy import by_ingredients, doubled
from fhir_bonemet.core.pain.medicines import CNS_ACTIVE, RENAL_CONCEPTS

_NALOXONE = (
    "Consider a take-home naloxone prescription and teach the patient and carers to use it "
    "(awaiting clinical review)."
)


def _mme_fact(t: Trace) -> None:
    opioids = t.ctx.active(c.OPIOID)
    if opioids:
        t.fact(UsedFact("Daily oral morphine equivalents", daily_mme(opioids, t.ctx.th).describe()))


@rule(
    "P12",
    "Sedating adjuvant and fall risk",
    Category.MEDICATION_SAFETY,
    concepts=(
        c.GABAPENTINOID,
        c.SNRI_TCA,
        c.FALLS_HISTORY,
        c.FALL_RISK,
        c.MORSE_FALL_SCALE,
        *CNS_ACTIVE,
        *RENAL_CONCEPTS,
    ),
    thresholds=(
        *OLDER_KEYS,
        *RENAL_KEYS,
        "pain.morse_fall_risk_min",
        "pain.cns_active_drug_count",
        "lookback.score_days",
        "pain.gabapentinoid_renal_crcl_below",
    ),
    evidence=("S23", "S02", "S20"),
    on_orders=True,
)
def p12(ctx: RuleContext, t: Trace) -> Finding | None:
    adjuvants = ctx.active(c.GABAPENTINOID, c.SNRI_TCA)
    if not adjuvants or not ctx.concerns_focus(adjuvants):
        return None
    reasons: list[str] = []
    older = is_older(t, "older age not excluded: fall-risk precautions advised")
    if older:
        reasons.append(f"age {ctx.age}")
    falls = (c.FALLS_HISTORY, c.FALL_RISK)
    observed = ctx.index.answered_yes(falls, ctx.today, t.v("lookback.score_days"), undated_yes=True)
    t.fact(*(used_obs("Falls history or fall risk", o) for o in observed))
    if any(o.effective is None for o in observed):
        t.miss("date of the falls record", "treated as current")
    if active_conditions(t, falls, include_resolved=True) or observed:
        reasons.append("falls history or fall risk recorded")
    else:
        # A falls answer received but not read may be "yes": read so (the advice is a dose review).
        unread = [
            u for u in (received(ctx.index, f, ctx.today, t.v("lookback.score_days")) for f in falls) if u
        ]
        if unread:
            reasons.append(f"falls answer {answer_state(*unread)} (read as a fall risk)")
            t.missing.extend(
                MissingFact(shown(u), "read as a fall risk: precautions advised; verify it", True)
                for u in unread
            )
    morse = ctx.index.latest(c.MORSE_FALL_SCALE, ctx.today, t.v("lookback.score_days"))
    if morse is not None and morse.quantity is not None:
        t.fact(UsedFact("Morse Fall Scale", f"{morse.quantity.value:g}", morse.ref))
        if morse.quantity.value >= t.v("pain.morse_fall_risk_min"):
            reasons.append(f"Morse Fall Scale {morse.quantity.value:g}")
    if ctx.exercise_active:
        # The programme this answer recommends (no exercise CarePlan need exist yet): saying "in progress"
        # told the clinician of a programme the record does not hold.
        reasons.append("structured exercise recommended")
    if older is None:
        reasons.append("age unknown")
    if not reasons:
        return None
    t.meds(adjuvants)
    recs = ["Use the lowest effective dose; review fall risk (gait, balance, home hazards)."]
    if ctx.exercise_active:  # no exercise to schedule while the plan is on hold
        recs.append("Schedule exercise at times of lower sedation and supervise balance work.")
    cns = [m for m in ctx.meds if set(CNS_ACTIVE) & m.classes]
    limit = t.v("pain.cns_active_drug_count")
    if older and len(cns) >= limit:
        t.meds(cns)
        recs.insert(0, f"{len(cns)} CNS-active drugs at age {ctx.age}: reduce their number (Beers, S23).")
    renal_line, renal_short = _gabapentinoid_renal(ctx, t)
    if renal_line is not None:  # a dose to reduce first; renal function unknown after the other advice
        recs.insert(0 if renal_short is not None else len(recs), renal_line)
    t.act(adjuvants, "update", "use the lowest effective dose; fall risk present")
    return t.finding(
        Indicator.WARNING,
        f"Gabapentinoid with {renal_short} and fall risk: reduce the dose, review falls"
        if renal_short is not None
        else "Sedating adjuvant with fall risk: lowest effective dose, review falls",
        "Gabapentinoid, SNRI or TCA active with " + ", ".join(reasons) + ".",
        recs,
    )


def _gabapentinoid_renal(ctx: RuleContext, t: Trace) -> tuple[str | None, str | None]:
    """The card's line on renal function for a gabapentinoid, and the renal measure for its summary when
    the dose is to be reduced.

    Gabapentin and pregabalin are cleared by the kidney (S20): below the cut-off they accumulate, and
    sedation and falls are what they then cause, so the fall-risk card says so first.  Unknown renal function
    is said too: the dose cannot be checked."""
    gabas = ctx.active(c.GABAPENTINOID)
    if not gabas:
        return None, None
    renal = t.renal("gabapentinoid dose could not be checked against renal function")
    if renal.value is None:
        return (
            "Renal function unknown: check it before setting the gabapentinoid dose (renally cleared).",
            None,
        )
    limit = t.renal_label("pain.gabapentinoid_renal_crcl_below", renal)
    if renal.value >= t.v("pain.gabapentinoid_renal_crcl_below"):
        return None, None
    names = spoken_list(list(dict.fromkeys(med_label(m) for m in gabas)))
    short = f"{'eGFR' if renal.method == 'egfr' else 'CrCl'} {renal.amount()}"
    line = f"{names}: renally cleared; reduce the dose for {renal.describe()}, below {limit}."
    return line, short


def _cns_combination(
    ctx: RuleContext,
) -> tuple[tuple[MedicationFact, ...], tuple[MedicationFact, ...], tuple[MedicationFact, ...]]:
    return ctx.active(c.OPIOID), ctx.active(c.BENZODIAZEPINE), ctx.active(c.GABAPENTINOID)


@rule(
    "R09",
    "Opioid, benzodiazepine and gabapentinoid together",
    Category.RED_FLAG,
    concepts=(c.OPIOID, c.BENZODIAZEPINE, c.GABAPENTINOID, c.NALOXONE, c.COPD),
    evidence=("S21", "S22", "S23"),
    on_orders=True,
    supersedes=("P14", "P13"),  # one card for the combination: P14 and P13 are named as related
)
def r09(ctx: RuleContext, t: Trace) -> Finding | None:
    opioids, benzos, gabas = _cns_combination(ctx)
    if not (opioids and benzos and gabas) or not ctx.concerns_focus(opioids + benzos + gabas):
        return None
    t.meds(opioids + benzos + gabas)
    _mme_fact(t)
    t.act(benzos, "delete", "avoid adding a benzodiazepine to an opioid and a gabapentinoid")
    # Any one of the three completes the combination: the draft that does is the one to cancel.
    t.act(gabas, "delete", "avoid, or start at the lowest dose with sedation and breathing monitoring")
    t.act(opioids, "delete", "lowest effective dose; monitor sedation and breathing")
    recs = [
        "Triple CNS depression: profound sedation, respiratory depression, coma and death are possible.",
        "Co-prescribe only if alternatives are inadequate: taper the benzodiazepine if possible; lowest "
        "doses, shortest duration.",
        "Monitor sedation and respiratory rate; counsel the patient and carers.",
    ]
    if not ctx.has(c.NALOXONE):
        recs.append(_NALOXONE)
    if active_conditions(t, (c.COPD,)):
        recs.append("COPD recorded: respiratory depression risk is higher.")
    return t.finding(
        Indicator.CRITICAL,
        "Opioid + benzodiazepine + gabapentinoid: avoid this combination; reduce or stop one",
        "An opioid, a benzodiazepine and a gabapentinoid are all active (boxed warnings S21, S22).",
        recs,
        referrals=(Referral.SEDATING_REGIMEN_REVIEW,),  # a review of the regimen, to take one away safely
        one_change_only=True,  # the draft that completes the combination is the one to cancel
    )


@rule(
    "P14",
    "Opioid with a benzodiazepine",
    Category.MEDICATION_SAFETY,
    concepts=(c.OPIOID, c.BENZODIAZEPINE, c.GABAPENTINOID, c.NALOXONE),
    evidence=("S21", "S23"),
    on_orders=True,
)
def p14(ctx: RuleContext, t: Trace) -> Finding | None:
    opioids, benzos, _ = _cns_combination(ctx)
    if not (opioids and benzos) or not ctx.concerns_focus(opioids + benzos):
        return None
    t.meds(opioids + benzos)
    _mme_fact(t)
    t.act(benzos, "delete", "avoid a benzodiazepine with an opioid unless alternatives are inadequate")
    t.act(opioids, "update", "benzodiazepine active: lowest effective opioid dose and shortest duration")
    recs = [
        "Boxed warning: profound sedation, respiratory depression, coma and death.",
        "Co-prescribe only if alternatives are inadequate; lowest doses and shortest duration.",
        "Counsel the patient and carers about sedation and breathing.",
    ]
    if not ctx.has(c.NALOXONE):
        recs.append(_NALOXONE)
    return t.finding(
        Indicator.WARNING,
        "Opioid with a benzodiazepine: avoid unless no alternative; lowest doses if needed",
        "An opioid and a benzodiazepine are both active (boxed warning S21).",
        recs,
    )


@rule(
    "P13",
    "Gabapentinoid with an opioid",
    Category.MEDICATION_SAFETY,
    concepts=(c.OPIOID, c.GABAPENTINOID, c.BENZODIAZEPINE, c.COPD),
    thresholds=OLDER_KEYS,
    evidence=("S22",),
    on_orders=True,
)
def p13(ctx: RuleContext, t: Trace) -> Finding | None:
    opioids, _, gabas = _cns_combination(ctx)
    if not (opioids and gabas) or not ctx.concerns_focus(opioids + gabas):
        return None
    t.meds(opioids + gabas)
    _mme_fact(t)
    recs = [
        "Start the gabapentinoid at the lowest dose and titrate slowly; adjust to renal function.",
        "Monitor sedation and breathing, especially after starting or increasing either drug.",
    ]
    higher = []
    if active_conditions(t, (c.COPD,)):
        higher.append("COPD")
    if is_older(t, "older age not excluded"):
        higher.append(f"age {ctx.age}")
    if higher:
        recs.append("Higher risk of respiratory depression: " + ", ".join(higher) + ".")
    t.act(gabas, "update", "start at the lowest dose with sedation and breathing monitoring (opioid active)")
    t.act(opioids, "update", "gabapentinoid active: lowest effective opioid dose; monitor breathing")
    return t.finding(
        Indicator.WARNING,
        "Gabapentinoid with an opioid: lowest dose, monitor sedation and breathing",
        "A gabapentinoid and an opioid are both active (FDA warning S22).",
        recs,
    )


@rule(
    "P15",
    "Opioid without a bowel regimen",
    Category.MEDICATION_SAFETY,
    concepts=(c.OPIOID, c.LAXATIVE_STIMULANT, c.LAXATIVE_OSMOTIC, c.LAXATIVE_SOFTENER),
    evidence=("S19", "S02"),
    unverified=True,
    on_orders=True,
)
def p15(ctx: RuleContext, t: Trace) -> Finding | None:
    opioids = ctx.active(c.OPIOID)
    if not opioids or ctx.has(c.LAXATIVE_STIMULANT, c.LAXATIVE_OSMOTIC) or not ctx.concerns_focus(opioids):
        return None
    t.meds(opioids)
    softeners = ctx.active(c.LAXATIVE_SOFTENER)
    t.meds(softeners)
    if any("medication" in source.lower() for source in ctx.facts.unavailable):
        t.miss("medication list (could not be read completely)", "a laxative may exist but could not be seen")
    recs = [
        "Prescribe a bowel regimen with the opioid: a stimulant (senna or bisacodyl) with or without an "
        "osmotic laxative (macrogol/PEG 3350 or lactulose).",
        "If constipation is refractory, consider a peripherally acting opioid antagonist (methylnaltrexone, "
        "naloxegol, naldemedine).",
    ]
    if softeners:
        recs.insert(1, "A stool softener (docusate) alone is not enough.")
    t.act(
        opioids,
        "update",
        "add a stimulant laxative (with or without an osmotic) alongside this order",
        change=OrderChange.ADD_LAXATIVE,
    )
    names = ", ".join(med_label(m) for m in opioids)
    return t.finding(
        Indicator.WARNING,
        "Opioid without a stimulant or osmotic laxative: add a bowel regimen",
        f"Opioid active ({names}) and no stimulant or osmotic laxative"
        + (" (softener only)." if softeners else "."),
        recs,
    )


@rule(
    "P24",
    "Tramadol with a serotonergic antidepressant",
    Category.MEDICATION_SAFETY,
    concepts=(c.TRAMADOL, c.SNRI_TCA, c.SSRI),
    evidence=(),  # product labels [M]: no catalogue source yet, flagged as awaiting clinical review
    unverified=True,
    on_orders=True,
)
def p24(ctx: RuleContext, t: Trace) -> Finding | None:
    tramadol = [m for m in ctx.meds if c.TRAMADOL in m.classes or has_ingredient(m, "tramadol")]
    serotonergic = ctx.active(c.SNRI_TCA, c.SSRI)
    if not tramadol or not serotonergic or not ctx.concerns_focus([*tramadol, *serotonergic]):
        return None
    t.meds([*tramadol, *serotonergic])
    t.act(tramadol, "delete", "consider an alternative opioid (serotonergic antidepressant active)")
    t.act(
        serotonergic, "update", "tramadol active: review the combination or choose a non-serotonergic option"
    )
    return t.finding(
        Indicator.WARNING,
        "Tramadol with an SSRI, SNRI or TCA: serotonin toxicity and seizure risk; consider an alternative",
        "Tramadol and a serotonergic antidepressant are both active (product labels, awaiting review).",
        (
            "Consider an alternative opioid to tramadol.",
            "If continued: watch for agitation, tremor, clonus, hyperthermia and seizures.",
        ),
    )


# The sedating classes where a second drug of the class adds sedation without adding a different effect.
_ONE_AT_A_TIME = ((c.GABAPENTINOID, "gabapentinoid"), (c.BENZODIAZEPINE, "benzodiazepine"))


@rule(
    "P46",
    "Two gabapentinoids or two benzodiazepines at once",
    Category.MEDICATION_SAFETY,
    concepts=(c.GABAPENTINOID, c.BENZODIAZEPINE),
    evidence=("S22", "S23"),
    unverified=True,  # duplicate therapy within the class is not a quoted guideline statement [M]
    on_orders=True,
)
def p46(ctx: RuleContext, t: Trace) -> Finding | None:
    """Gabapentin with pregabalin, or two benzodiazepines: the sedation, dizziness and falls add up (S22,
    S23) and the effect does not.  Often a switch whose first drug was not stopped.  A draft of a second
    drug of the class is offered for cancellation; two active ones are named to keep one.  One finding for
    both classes: the decision is the same."""
    found = [
        (name, d)
        for concept, name in _ONE_AT_A_TIME
        if (d := doubled(ctx, ctx.active(concept), by_ingredients))
    ]
    if not found:
        return None
    summaries: list[str] = []
    for name, d in found:
        t.meds(d.meds)
        if d.second_drafted:
            t.act(d.drafts, "delete", f"{d.active_names} is already active: one {name} at a time")
            summaries.append(f"{med_label(d.drafts[0])} ordered while {d.active_names} is active")
        else:
            summaries.append(d.names)
    classes = " and ".join(f"two {name}s" for name, _ in found)
    return t.finding(
        Indicator.WARNING,
        f"{classes[0].upper()}{classes[1:]} at once: keep one ({'; '.join(summaries)})",
        f"More than one drug of a sedating class is active or ordered: {'; '.join(summaries)}.",
        (
            "Use one drug of each class at a time: a second adds sedation, dizziness and falls without a "
            "different effect (awaiting clinical review).",
            "If switching, stop the first (taper a benzodiazepine or gabapentinoid taken for weeks) and "
            "record it, so that both are not taken.",
        ),
    )
