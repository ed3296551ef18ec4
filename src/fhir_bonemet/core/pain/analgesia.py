"""Pain assessment and analgesia rules P01-P04 (docs/clinical-model.md#pain): patient-view only.

They read the latest 0-10 pain score (worst pain in 24 h) and the active analgesics, and suggest the next
step: record a score, simple analgesia, a weak or low-dose strong opioid, a titrated strong opioid.  In
pregnancy the opioid and radiotherapy cards lead with a line asking for obstetric and specialist input
(:func:`~fhir_bonemet.core.pain.pregnancy.pain_plan_caveat`).

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

from fhir_bonemet.core.evidence.dose_arithmetic import daily_mme
from fhir_bonemet.core.evidence.pregnancy import PREGNANCY_CONCEPTS, PREGNANCY_KEYS
from fhir_bonemet.core.evidence.unreadable import brief, received
from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.context import RuleContext
from fhir_bonemet.core.model.facts import MedicationFact
from fhir_bonemet.core.model.finding_builder import PAIN_KEYS, RENAL_KEYS, Trace
from fhir_bonemet.core.model.findings import Category, Finding, Indicator, UsedFact
from fhir_bonemet.core.model.rule import rule
from fhir_bonemet.core.pain.checks import NSAID_CAUTION_CONCEPTS, NSAID_CAUTION_KEYS, nsaid_cautions
from fhir_bonemet.core.pain.medicines import RENAL_CONCEPTS
from fhir_bonemet.core.pain.pregnancy import breast_feeding, pain_plan_caveat, pain_plan_sources

ANALGESICS = (c.ACETAMINOPHEN, c.NSAID, c.OPIOID)
NON_DRUG = (
    "Non-drug measures alongside: patient education, heat, pacing, assistive devices or bracing, "
    "physiotherapy or occupational therapy, CBT or mindfulness, sleep hygiene."
)
_BANDS = (*PAIN_KEYS, "pain.nrs_mild_min", "pain.nrs_moderate_min", "pain.nrs_severe_min")


def _regular(med: MedicationFact) -> bool:
    """Taken on a schedule: any dose that is not as-needed (no dose recorded counts as regular)."""
    return not med.doses or any(not d.as_needed for d in med.doses)


@rule(
    "P01",
    "Record a pain score",
    Category.PAIN,
    concepts=(c.BONE_METASTASIS, c.PAIN_SCORE),
    thresholds=("lookback.pain_score_days", "pain.nrs_detailed_assessment_min"),
    evidence=("S19", "S02"),
)
def p01(ctx: RuleContext, t: Trace) -> Finding | None:
    if not ctx.facts.lesions or ctx.pain is not None:
        return None
    days = t.label("lookback.pain_score_days")
    t.fact(UsedFact("Bone metastasis", "active", ctx.facts.lesions[0].ref))
    t.miss(
        f"0-10 pain score within {days}",
        "pain is not assumed to be controlled: a score is requested",
        c.PAIN_SCORE,
    )
    if any("observation" in source.lower() for source in ctx.facts.unavailable):
        t.miss("observations (could not be read)", "a pain score may exist but could not be seen")
    detail = t.label("pain.nrs_detailed_assessment_min")
    unread = received(ctx.index, c.PAIN_SCORE, ctx.today, t.v("lookback.pain_score_days"))
    return t.finding(
        Indicator.INFO,
        "Record worst pain in the last 24 h (0-10): no pain score in the recent record"
        if unread is None
        else f"Pain score received but not read {brief(unread)}: record worst pain in 24 h (0-10) again",
        "Bone metastasis without a recent pain score: pain cannot be assessed or followed.",
        (
            "Ask the same question every time: worst pain in the last 24 hours on a 0-10 scale.",
            f"If the score is {detail} or more, assess in detail: character, location, timing, mechanism "
            "(nociceptive, neuropathic, mixed) and impact on sleep, mood, walking and daily activities.",
        ),
    )


@rule(
    "P02",
    "Mild pain without regular analgesia",
    Category.PAIN,
    concepts=(c.PAIN_SCORE, *ANALGESICS, *NSAID_CAUTION_CONCEPTS),
    thresholds=(*_BANDS, *NSAID_CAUTION_KEYS),
    evidence=("S18", "S19", "S02"),
    unverified=True,  # the NRS bands are [M]
)
def p02(ctx: RuleContext, t: Trace) -> Finding | None:
    score = t.pain()
    if score is None or not t.v("pain.nrs_mild_min") <= score.value < t.v("pain.nrs_moderate_min"):
        return None
    if any(_regular(m) for m in ctx.active(*ANALGESICS)):
        return None
    t.meds(ctx.active(*ANALGESICS))
    return t.finding(
        Indicator.INFO,
        f"Mild pain (NRS {score.value:g}): consider regular paracetamol",
        "Mild pain and no regular analgesic.",
        (
            "Paracetamol (acetaminophen) and/or an NSAID, taking the contraindications below into account.",
            *nsaid_cautions(t),
            NON_DRUG,
        ),
    )


@rule(
    "P03",
    "Moderate pain without an opioid",
    Category.PAIN,
    concepts=(c.PAIN_SCORE, c.OPIOID, c.SNRI_TCA, c.SSRI, *RENAL_CONCEPTS, *PREGNANCY_CONCEPTS),
    thresholds=(*_BANDS, *RENAL_KEYS, "pain.renal_opioid_crcl_below", *PREGNANCY_KEYS),
    evidence=("S19", "S18", "S20", "S44"),
    unverified=True,
)
def p03(ctx: RuleContext, t: Trace) -> Finding | None:
    score = t.pain()
    if score is None or not t.v("pain.nrs_moderate_min") <= score.value < t.v("pain.nrs_severe_min"):
        return None
    if ctx.has(c.OPIOID):
        return None
    # Read before the kidney so that the pregnancy records come right after the score under "Based on".
    pregnant = pain_plan_caveat(t)
    # In breast-feeding the weak opioids are the ones ruled out (S44): a low-dose strong opioid remains.
    weak = "" if breast_feeding(t) else "a weak opioid (e.g. tramadol) or "
    recs = [
        f"Add {weak}a low-dose strong opioid (morphine or oxycodone) to the non-opioid analgesic, given "
        "orally and around the clock, with a rescue dose.",
        "Start a bowel regimen with the opioid (stimulant +/- osmotic laxative).",
    ]
    renal = t.renal("renal dosing could not be checked: avoid morphine and codeine until it is known")
    if not renal.known:
        recs.append("Renal function unknown: check it before choosing the opioid and its dose.")
    elif renal.value is not None and renal.value < t.v("pain.renal_opioid_crcl_below"):
        recs.append(f"{renal.describe()}: avoid morphine and codeine (see P23).")
    serotonergic = ctx.active(c.SNRI_TCA, c.SSRI)
    if serotonergic:
        t.meds(serotonergic)
        recs.append("Antidepressant active: tramadol raises serotonin-toxicity and seizure risk (see P24).")
    recs.append(NON_DRUG)
    if pregnant:  # first: it qualifies the opioid the next line suggests
        recs.insert(0, pregnant)
    if ctx.facts.medications_unknown:  # "no opioid" cannot be said of a list that could not be read
        recs.insert(0, "Check the current medicines first: the medication list could not be read.")
        return t.finding(
            Indicator.WARNING,
            f"Moderate pain (NRS {score.value:g}); medication list could not be read: check for an opioid",
            "Moderate pain; no opioid was seen, but the medication list could not be read.",
            recs,
            evidence=pain_plan_sources(t),
        )
    return t.finding(
        Indicator.WARNING,
        f"Moderate pain (NRS {score.value:g}) without an opioid: consider adding a weak or low-dose opioid",
        "Moderate pain and no opioid among the active medications.",
        recs,
        evidence=pain_plan_sources(t),
    )


@rule(
    "P04",
    "Severe pain",
    Category.PAIN,
    concepts=(c.PAIN_SCORE, c.OPIOID, c.STRONG_OPIOID, *RENAL_CONCEPTS, *PREGNANCY_CONCEPTS),
    thresholds=(
        *PAIN_KEYS,
        *RENAL_KEYS,
        *PREGNANCY_KEYS,
        "pain.renal_opioid_crcl_below",
        "pain.nrs_severe_min",
        "pain.severe_reassess_min_hours",
        "pain.severe_reassess_max_hours",
    ),
    evidence=("S18", "S19", "S44"),
    unverified=True,
)
def p04(ctx: RuleContext, t: Trace) -> Finding | None:
    score = t.pain()
    if score is None or score.value < t.v("pain.nrs_severe_min"):
        return None
    lo, hi = t.v("pain.severe_reassess_min_hours"), t.v("pain.severe_reassess_max_hours")
    pregnant = pain_plan_caveat(t)  # before the medicines, so "Based on" shows it beside the score
    opioids = ctx.active(c.OPIOID)
    t.meds(opioids)
    if opioids:
        t.fact(UsedFact("Daily oral morphine equivalents", daily_mme(opioids, ctx.th).describe()))
    strong = ctx.has(c.STRONG_OPIOID)
    unknown = not strong and ctx.facts.medications_unknown  # a strong opioid may be active but unseen
    first = (
        "Titrate the strong opioid around the clock with rescue doses for breakthrough pain."
        if strong
        else "Check the current medicines (the list could not be read); if no strong opioid is active, start "
        "one (oral morphine, oxycodone or hydromorphone), titrated with rescue doses."
        if unknown
        else "Start a strong opioid (oral morphine, oxycodone or hydromorphone), titrated around the clock "
        "with rescue doses for breakthrough pain."
    )
    action = (
        "titrate the strong opioid and reassess"
        if strong
        else "medication list could not be read: check opioids, titrate a strong opioid"
        if unknown
        else "start a titrated strong opioid"
    )
    recs = [
        first,
        f"Reassess pain and side effects within {lo:g}-{hi:g} h (service default).",
        "If the pain is focal bone pain, consider palliative radiotherapy (see P06).",
        "Prescribe a bowel regimen with the opioid.",
    ]
    # The opioid to start or titrate depends on the kidney, as for moderate pain (P03): morphine named
    # first, or titrated, beside a clearance under 30 contradicted P23.  Second, so the card shows it.
    renal = t.renal("renal dosing could not be checked: avoid morphine and codeine until it is known")
    if not renal.known:
        recs.insert(1, "Renal function unknown: check it before choosing the opioid and its dose.")
    elif renal.value is not None and renal.value < t.v("pain.renal_opioid_crcl_below"):
        recs.insert(1, f"{renal.describe()}: avoid morphine and codeine (see P23).")
    if pregnant:  # first: it qualifies the opioid and the radiotherapy the lines below suggest
        recs.insert(0, pregnant)
    return t.finding(
        Indicator.WARNING,
        f"Severe pain (NRS {score.value:g}): {action}",
        "Severe pain on the latest 0-10 score.",
        recs,
        evidence=pain_plan_sources(t),
    )
