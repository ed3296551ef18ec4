"""Pregnancy and breast-feeding: P40 (bone-modifying agents), P41 (NSAIDs), P42 (opioids and sedatives), P47
(codeine and tramadol while breast-feeding).

What the record says is read by :func:`~fhir_bonemet.core.evidence.pregnancy.pregnancy_state`; nothing
here fires for a woman whose pregnancy status is unknown.  The advice paraphrases product labels and
regulatory safety communications (S40-S44); the benzodiazepine and gabapentinoid caveats were not confirmed
from a primary source and are marked as awaiting clinical review.

* P40: zoledronic acid and denosumab can harm the fetus (S41, S42): none is proposed (P07 stays silent, and
  P08, P09 and P10 do not tune or prepare a dose that should not be given), and a draft order is named for
  removal with a critical card.  In breast-feeding the agents are not proposed either (zoledronic acid is
  contraindicated, denosumab needs a decision on breast-feeding).
* P41: NSAIDs from 20 weeks (fetal kidney, low amniotic fluid), and not at all from 30 weeks (ductus
  arteriosus), S40.  With the gestational age unknown, 20 weeks or more is assumed and the card says so.
  Low-dose aspirin is outside this advice.
* P42: opioids (neonatal opioid withdrawal syndrome, S43; never stopped abruptly in a dependent patient) and
  the other sedatives.
* P47: codeine and tramadol while breast-feeding: the FDA recommends against them (sleepiness, poor feeding
  and serious breathing problems in the breastfed infant, S44).
* :func:`pain_plan_caveat`: the moderate and severe pain cards (P03, P04) suggest an opioid and radiotherapy
  before any opioid is active, so before P42 or P47 can fire; in pregnancy they lead with a line saying both
  are chosen with obstetric and specialist input (the catalogue has no wording for it: awaiting clinical
  review), in breast-feeding with a line ruling out codeine and tramadol (S44).

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

from fhir_bonemet.core.evidence.dose_arithmetic import has_ingredient
from fhir_bonemet.core.evidence.pregnancy import (
    PREGNANCY_CONCEPTS,
    PREGNANCY_KEYS,
    Pregnancy,
    pregnancy_state,
)
from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.context import RuleContext
from fhir_bonemet.core.model.finding_builder import Trace
from fhir_bonemet.core.model.findings import Category, Finding, Indicator
from fhir_bonemet.core.model.rule import rule
from fhir_bonemet.core.model.used_facts import med_label
from fhir_bonemet.core.pain.bone_health import BMA_CLASSES, bmas_of
from fhir_bonemet.core.pain.medicines import is_systemic
from fhir_bonemet.core.pain.nsaid import is_low_dose_aspirin

__all__ = [
    "BREAST_FEEDING_OPIOIDS",
    "breast_feeding",
    "p40",
    "p41",
    "p42",
    "p47",
    "pain_plan_caveat",
    "pain_plan_sources",
    "pregnancy",
]

# The opioids not to give while breast-feeding, and the source that says so.
BREAST_FEEDING_OPIOIDS = ("codeine", "tramadol")
_BREAST_FEEDING_SOURCE = "S44"

_TEAMS = "Discuss with the oncology and obstetric teams."


def pregnancy(t: Trace) -> Pregnancy:
    """The pregnancy state, with what it used and what it lacked recorded on the finding.  Recorded only
    where pregnancy or breast-feeding applies: every caller returns no finding otherwise (and some rules ask
    on every call of a patient taking an opioid)."""
    state = pregnancy_state(t.ctx.index, t.ctx.today, t.ctx.th)
    if state.applies:
        t.rely(*PREGNANCY_KEYS)
        t.fact(*state.used)
        t.missing.extend(m for m in state.missing if m not in t.missing)
    return state


def pain_plan_caveat(t: Trace) -> str | None:
    """The line a pain card leads with when the record says pregnant or breast-feeding, its pregnancy records
    added to what the card is based on; None otherwise.  A status answered unknown is not pregnancy: the
    rule declares the pregnancy concepts, so the card names that status as the other pregnancy cards do
    (:mod:`fhir_bonemet.core.data_gaps`)."""
    state = pregnancy(t)  # relies on the thresholds, and shows the records, only where the line is said
    if not state.applies:
        return None
    if not state.pregnant:
        return (
            "Breast-feeding: not codeine or tramadol (risk to the infant); choose the opioid with specialist "
            "input."
        )
    weeks = "" if state.weeks is None else f" ({int(state.weeks)} weeks)"
    return (
        f"Pregnant{weeks}: choose the opioid and any radiotherapy with obstetric and specialist input "
        "(awaiting clinical review)."
    )


def pain_plan_sources(t: Trace) -> tuple[str, ...]:
    """The sources a pain card declares, the breast-feeding one (S44) only where its line is said."""
    return tuple(s for s in t.spec.evidence if s != _BREAST_FEEDING_SOURCE or breast_feeding(t))


def breast_feeding(t: Trace) -> bool:
    """Whether the record says breast-feeding and not pregnant (in pregnancy the pregnancy advice leads)."""
    state = pregnancy_state(t.ctx.index, t.ctx.today, t.ctx.th)
    return state.lactating and not state.pregnant


@rule(
    "P40",
    "Bone-modifying agent in pregnancy or breast-feeding",
    Category.BONE_HEALTH,
    concepts=(*BMA_CLASSES, *PREGNANCY_CONCEPTS, c.BONE_METASTASIS),
    thresholds=PREGNANCY_KEYS,
    evidence=("S41", "S42"),
    on_orders=True,
)
def p40(ctx: RuleContext, t: Trace) -> Finding | None:
    bmas = bmas_of(ctx)
    if ctx.order_hook and (not bmas or not ctx.concerns_focus(bmas)):
        return None
    if not bmas and not ctx.facts.lesions:
        return None
    state = pregnancy(t)
    if not state.applies:
        return None
    why = (
        "Zoledronic acid and denosumab can harm the fetus (product labels); bisphosphonate stays in bone "
        "for years."
        if state.pregnant
        else "Zoledronic acid is contraindicated in breast-feeding; denosumab needs a decision to stop "
        "either breast-feeding or the drug (product labels)."
    )
    if not bmas:
        return t.finding(
            Indicator.INFO,
            f"Bone-modifying agent not proposed ({state.describe()}): risk to the "
            f"{'fetus' if state.pregnant else 'infant'}; discuss bone protection",
            f"Bone metastases and {state.describe()}: a bone-modifying agent is not suggested.",
            (why, _TEAMS, "Radiotherapy and analgesia remain the tools for painful lesions."),
        )
    t.meds(bmas)
    names = ", ".join(dict.fromkeys(med_label(m) for m in bmas))
    if state.pregnant:
        t.act(bmas, "delete", "do not give in pregnancy: can harm the fetus")
        return t.finding(
            Indicator.CRITICAL,
            f"{names} in pregnancy: cancel it; bone-modifying agents can harm the fetus",
            f"A bone-modifying agent is active or ordered and the patient is {state.describe()}.",
            (
                why,
                "Do not give further doses during pregnancy. " + _TEAMS,
                "Check that effective contraception was advised for later treatment (denosumab: for at "
                "least 5 months after the last dose).",
            ),
        )
    t.act(bmas, "delete", "breast-feeding: decide on breast-feeding before any dose")
    return t.finding(
        Indicator.WARNING,
        f"{names} while breast-feeding: hold it until breast-feeding is decided",
        f"A bone-modifying agent is active or ordered and the patient is {state.describe()}.",
        (why, _TEAMS),
    )


@rule(
    "P41",
    "NSAID in pregnancy",
    Category.MEDICATION_SAFETY,
    concepts=(c.NSAID, *PREGNANCY_CONCEPTS),
    thresholds=(
        *PREGNANCY_KEYS,
        "pregnancy.nsaid_flag_weeks",
        "pregnancy.nsaid_avoid_weeks",
        "pain.low_dose_aspirin_max_mg",
    ),
    evidence=("S40",),
    on_orders=True,
)
def p41(ctx: RuleContext, t: Trace) -> Finding | None:
    nsaids = [m for m in ctx.active(c.NSAID) if is_systemic(m) and not is_low_dose_aspirin(m, t)]
    if not nsaids or not ctx.concerns_focus(nsaids):
        return None
    state = pregnancy(t)
    if not state.pregnant:
        return None
    flag = t.v("pregnancy.nsaid_flag_weeks")
    avoid = t.v("pregnancy.nsaid_avoid_weeks")
    if state.weeks is not None and state.weeks < flag:
        return None
    t.meds(nsaids)
    names = ", ".join(dict.fromkeys(med_label(m) for m in nsaids))
    late = f"From {avoid:g} weeks do not use NSAIDs at all: premature closure of the fetal ductus arteriosus."
    if state.weeks is not None and state.weeks >= avoid:
        t.act(nsaids, "delete", f"pregnancy at {int(state.weeks)} weeks: NSAIDs are not used")
        return t.finding(
            Indicator.CRITICAL,
            f"{names} at {int(state.weeks)} weeks of pregnancy: stop it; risk to the fetal heart and kidneys",
            f"NSAID active or ordered at {int(state.weeks)} weeks of gestation (from {avoid:g}: avoid).",
            (late, "Prefer paracetamol; an opioid if needed (see the pregnancy caveats).", _TEAMS),
        )
    if state.weeks is None:
        t.miss("gestational age", f"read as {flag:g} weeks or more (the cautious reading)")
        when = f"gestational age unknown, read as {flag:g}+ weeks"
    else:
        when = f"{int(state.weeks)} weeks"
    t.act(nsaids, "delete", f"pregnancy ({when}): avoid NSAIDs")
    return t.finding(
        Indicator.WARNING,
        f"{names} in pregnancy ({when}): avoid; risk of fetal kidney harm and low amniotic fluid",
        f"NSAID active or ordered in pregnancy at {when} (avoid from {flag:g} weeks).",
        (
            f"Avoid NSAIDs from {flag:g} weeks: fetal kidney dysfunction and low amniotic fluid.",
            "If one is essential before 30 weeks: lowest dose, shortest time; amniotic fluid ultrasound if "
            "it runs beyond 48 hours.",
            late,
            "Prefer paracetamol.",
        ),
    )


@rule(
    "P42",
    "Opioid or sedative in pregnancy",
    Category.MEDICATION_SAFETY,
    concepts=(c.OPIOID, c.BENZODIAZEPINE, c.GABAPENTINOID, *PREGNANCY_CONCEPTS),
    thresholds=PREGNANCY_KEYS,
    evidence=("S43",),
    on_orders=True,
)
def p42(ctx: RuleContext, t: Trace) -> Finding | None:
    opioids = ctx.active(c.OPIOID)
    sedatives = [m for m in ctx.active(c.BENZODIAZEPINE, c.GABAPENTINOID) if m not in opioids]
    if not (opioids or sedatives) or not ctx.concerns_focus([*opioids, *sedatives]):
        return None
    state = pregnancy(t)
    if not state.pregnant:
        return None
    t.meds([*opioids, *sedatives])
    recs: list[str] = []
    if opioids:
        recs += [
            "Prolonged opioid use in pregnancy can cause neonatal opioid withdrawal syndrome: tell the "
            "obstetric and neonatal teams so the baby is observed and treated after birth.",
            "Do not stop the opioid abruptly: withdrawal harms mother and fetus; change it only with "
            "obstetric advice.",
        ]
    if sedatives:
        recs.append(
            "Benzodiazepines and gabapentinoids near birth: the newborn may be sedated or withdraw; with an "
            "opioid, the breathing risk adds up (awaiting clinical review)."
        )
    recs.append(_TEAMS)
    names = ", ".join(dict.fromkeys(med_label(m) for m in [*opioids, *sedatives]))
    summary = (
        f"{names} in pregnancy: neonatal withdrawal risk; do not stop abruptly; involve obstetrics"
        if opioids
        else f"{names} in pregnancy: newborn sedation or withdrawal possible; involve obstetrics"
    )
    return t.finding(
        Indicator.WARNING,
        summary,
        f"Opioid or sedative active or ordered; patient {state.describe()}.",
        recs,
        unverified=bool(sedatives),  # the benzodiazepine/gabapentinoid caveat awaits clinical review
    )


@rule(
    "P47",
    "Codeine or tramadol while breast-feeding",
    Category.MEDICATION_SAFETY,
    concepts=(c.OPIOID, c.TRAMADOL, *PREGNANCY_CONCEPTS),
    thresholds=PREGNANCY_KEYS,
    evidence=("S44",),
    on_orders=True,
)
def p47(ctx: RuleContext, t: Trace) -> Finding | None:
    """Codeine or tramadol active or ordered while the record says breast-feeding: the FDA recommends against
    both (S44); a draft in focus is offered for cancellation."""
    risky = [
        m
        for m in ctx.active(c.OPIOID, c.TRAMADOL)
        if c.TRAMADOL in m.classes or has_ingredient(m, *BREAST_FEEDING_OPIOIDS)
    ]
    if not risky or not ctx.concerns_focus(risky):
        return None
    state = pregnancy(t)
    if not state.lactating:
        return None
    t.meds(risky)
    t.act(risky, "delete", "breast-feeding: codeine and tramadol are not recommended (risk to the infant)")
    names = ", ".join(dict.fromkeys(med_label(m) for m in risky))
    return t.finding(
        Indicator.WARNING,
        f"{names} while breast-feeding: not recommended (risk to the infant); choose another analgesic",
        f"Codeine or tramadol active or ordered; patient {state.describe()}.",
        (
            "The FDA recommends against codeine and tramadol in breast-feeding: the infant may become very "
            "sleepy, feed poorly or have serious breathing problems.",
            "Choose another analgesic with specialist input; while any opioid is taken, watch the infant for "
            "sleepiness, feeding difficulty and breathing problems.",
        ),
    )
