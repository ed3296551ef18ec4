"""Safety of bone-modifying agents: P10 (dental exam), R06 (hypocalcaemia), R07 (jaw osteonecrosis) and
P45 (two agents at once).

On order hooks each rule speaks only when a bone-modifying-agent draft is in focus, and names it so the
card can offer to hold (remove) the dose.  Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

from fhir_bonemet.core.evidence.labs import CalciumMethod
from fhir_bonemet.core.evidence.pregnancy import PREGNANCY_CONCEPTS, PREGNANCY_KEYS
from fhir_bonemet.core.evidence.unreadable import answer_state, received, recorded_how, shown, to_correct
from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.context import RuleContext
from fhir_bonemet.core.model.facts import MedicationFact, UnreadableValue
from fhir_bonemet.core.model.finding_builder import RENAL_KEYS, Trace
from fhir_bonemet.core.model.findings import Category, Finding, Indicator, MissingFact, Referral, UsedFact
from fhir_bonemet.core.model.queries import obs_date
from fhir_bonemet.core.model.rule import rule
from fhir_bonemet.core.model.used_facts import med_label
from fhir_bonemet.core.pain.bone_health import (
    BMA_CLASSES,
    CALCIUM_CONCEPTS,
    CALCIUM_KEYS,
    bmas_of,
    calcium,
    calcium_low,
    dental_exam_on_record,
    pregnancy_blocks_bma,
)
from fhir_bonemet.core.pain.checks import active_conditions
from fhir_bonemet.core.pain.duplicate_therapy import by_ingredients, doubled
from fhir_bonemet.core.pain.medicines import RENAL_CONCEPTS


@rule(
    "R06",
    "Hypocalcaemia on a bone-modifying agent",
    Category.RED_FLAG,
    concepts=(*BMA_CLASSES, *CALCIUM_CONCEPTS, *RENAL_CONCEPTS),
    thresholds=(
        *CALCIUM_KEYS,
        *RENAL_KEYS,
        "pain.calcium_critical_low",
        "pain.ionised_calcium_critical_low",
        "pain.denosumab_high_risk_crcl_below",
    ),
    evidence=("S17",),
    on_orders=True,
    supersedes=("P09",),  # with calcium already low, the calcium and vitamin D advice of P09 is part of R06
)
def r06(ctx: RuleContext, t: Trace) -> Finding | None:
    bmas = bmas_of(ctx)
    if not bmas or not ctx.concerns_focus(bmas):
        return None
    ca = calcium(t)
    if ca is None or not calcium_low(t, ca):
        return None
    t.meds(bmas)
    critical_key = "pain.calcium_critical_low" if ca.is_total else "pain.ionised_calcium_critical_low"
    critical = ca.value < t.v(critical_key)
    recs = [
        "Hold the next dose until calcium is corrected.",
        "Give calcium and vitamin D; check magnesium, phosphate and 25-OH vitamin D.",
    ]
    if critical:
        recs.insert(0, f"Calcium below {t.label(critical_key)}: urgent medical review.")
    if ca.method is CalciumMethod.UNCORRECTED:
        recs.append("Repeat calcium with albumin to confirm the corrected value.")
    if ctx.active(c.DENOSUMAB):
        key = "pain.denosumab_high_risk_crcl_below"
        renal = t.renal(
            f"the highest-risk group (denosumab with CrCl below {t.label(key)}) cannot be excluded"
        )
        if renal.value is None or renal.value < t.v(key):
            # Named as the measure compared: an eGFR below the cut-off is not a "CrCl below" it.
            below = f"{renal.measure()} below {t.renal_label(key, renal)}"
            recs.append(f"Denosumab with {below} carries the highest risk.")
    t.act(bmas, "delete", "hold this dose until calcium is corrected")
    return t.finding(
        Indicator.CRITICAL if critical else Indicator.WARNING,
        f"{ca.label} {ca.shown()} on a bone-modifying agent: hold the next dose, correct calcium",
        f"{ca.label} is below the lower limit of normal while on a bone-modifying agent.",
        recs,
        referrals=(Referral.ACUTE_ONCOLOGY,),  # the team that gives the agent corrects the calcium
    )


@rule(
    "R07",
    "Suspected osteonecrosis of the jaw",
    Category.RED_FLAG,
    concepts=(*BMA_CLASSES, c.ONJ, c.RF_ONJ_SYMPTOM, c.DENTAL_EXAM),
    thresholds=("red_flags.symptom_lookback_days",),
    evidence=("S16", "S17"),
    unverified=True,  # the action (holding the agent) is [M]
    on_orders=True,
    # The jaw is to be assessed now: the screening examination before a first dose (P10) beside the
    # referral for the jaw was a second dental order for the same mouth, its label "before a
    # bone-modifying agent" wrong for a patient on one.
    supersedes=("P10",),
)
def r07(ctx: RuleContext, t: Trace) -> Finding | None:
    bmas = bmas_of(ctx)
    if not bmas or not ctx.concerns_focus(bmas):
        return None
    onj = active_conditions(t, (c.ONJ,))
    days = t.v("red_flags.symptom_lookback_days")
    symptom = ctx.index.latest(c.RF_ONJ_SYMPTOM, ctx.today, days)
    if symptom is not None and symptom.flag:
        when = obs_date(symptom)
        t.fact(
            UsedFact(
                "Jaw symptom (pain, exposed bone)", "present", symptom.ref, when.isoformat() if when else None
            )
        )
    elif not onj:
        unread = received(ctx.index, c.RF_ONJ_SYMPTOM, ctx.today, days)
        return None if unread is None else _r07_unread(t, bmas, unread)
    t.meds(bmas)
    t.act(bmas, "delete", "discuss holding the bone-modifying agent while the jaw is assessed")
    return t.finding(
        Indicator.WARNING,
        "Possible osteonecrosis of the jaw on a bone-modifying agent: dental referral; discuss holding it",
        "Jaw osteonecrosis recorded or jaw symptoms reported while on a bone-modifying agent.",
        (
            "Refer to dentistry or oral-maxillofacial surgery.",
            "Discuss holding the bone-modifying agent with the oncologist (awaiting clinical review).",
            "Avoid invasive dental procedures; keep good oral hygiene.",
        ),
        # Assessment of the jaw, not the screening examination before a first dose (Referral.DENTAL).
        referrals=(Referral.ORAL_MAXILLOFACIAL,),
    )


def _r07_unread(t: Trace, bmas: tuple[MedicationFact, ...], unread: UnreadableValue) -> Finding:
    """R07 when the only sign is a jaw-symptom answer that could not be read: the jaw is to be checked
    before the agent is given again.  Not read as a symptom: no hold of the agent is offered (discussing
    it is for a symptom known to be present), but silence would let the next dose go ahead unexamined."""
    t.meds(bmas)
    t.missing.append(
        MissingFact(shown(unread), "not read as a jaw symptom: check the jaw now", unreadable=True)
    )
    how = recorded_how((unread,))
    detail = (
        f"A jaw symptom was recorded {how} while on a bone-modifying agent."
        if unread.no_answer is not None
        else f"A jaw symptom was recorded while on a bone-modifying agent {how}."
    )
    recs = [
        "Ask about jaw pain, swelling or numbness and look for exposed bone before the next dose.",
        "If present: refer to dentistry or oral-maxillofacial surgery and discuss holding the agent.",
        to_correct((unread,)),
    ]
    if not dental_exam_on_record(t.ctx):  # P10's advice, which this finding supersedes
        t.miss("dental examination", "treated as not done: a dental examination is advised")
        recs.insert(2, "If absent: no dental examination on record; arrange one.")
    return t.finding(
        Indicator.WARNING,
        f"Jaw symptom answer {answer_state(unread)} on a bone-modifying agent: check the jaw before the next "
        "dose",
        detail,
        recs,
    )


@rule(
    "P10",
    "Dental examination before a bone-modifying agent",
    Category.BONE_HEALTH,
    concepts=(*BMA_CLASSES, c.DENTAL_EXAM, *PREGNANCY_CONCEPTS),
    thresholds=PREGNANCY_KEYS,
    evidence=("S16",),
    on_orders=True,
)
def p10(ctx: RuleContext, t: Trace) -> Finding | None:
    bmas = bmas_of(ctx)
    if not bmas or not ctx.concerns_focus(bmas) or dental_exam_on_record(ctx) or pregnancy_blocks_bma(ctx):
        return None
    t.meds(bmas)
    t.miss("dental examination", "treated as not done: a dental examination is advised")
    return t.finding(
        Indicator.INFO,
        "No dental examination on record: arrange one before or early in bone-modifying therapy",
        "Bone-modifying agent active or ordered and no dental examination recorded (ONJ risk).",
        (
            "Dental examination and preventive dentistry before starting, where possible.",
            "Avoid invasive dental procedures during therapy; keep good oral hygiene.",
        ),
        referrals=(Referral.DENTAL,),
    )


# The agents a patient may be given for bone metastases, each counted once however many orders it has (the
# next zoledronic acid infusion ordered while the last order is still active is one agent, not two).
_AGENTS = (c.ZOLEDRONIC_ACID, c.PAMIDRONATE, c.DENOSUMAB)


def _agent(med: MedicationFact) -> str:
    """Which agent ``med`` is: its named class, else (a bone-modifying agent the service has no class for)
    its ingredients, else its name."""
    for agent in _AGENTS:
        if agent in med.classes:
            return agent
    return by_ingredients(med)


@rule(
    "P45",
    "Two bone-modifying agents at once",
    Category.BONE_HEALTH,
    concepts=(*BMA_CLASSES, *PREGNANCY_CONCEPTS),
    thresholds=PREGNANCY_KEYS,
    evidence=("S16", "S17"),
    unverified=True,  # combining agents is not a guideline statement the service could quote [M]
    on_orders=True,
)
def p45(ctx: RuleContext, t: Trace) -> Finding | None:
    """Denosumab with zoledronic acid (or pamidronate, or two bisphosphonates): a switch whose first agent
    was never stopped, or a duplicate order.  The guidelines give one agent at a time; together they add
    hypocalcaemia and jaw-osteonecrosis risk without a known benefit.  A draft of a second agent is
    offered for cancellation; two agents already active are named to keep one.  Silent in pregnancy and
    breast-feeding, where P40 says not to give any."""
    found = doubled(ctx, bmas_of(ctx), identity=_agent)
    if found is None or pregnancy_blocks_bma(ctx):
        return None
    t.meds(found.meds)
    if found.second_drafted:
        active = found.active_names
        t.act(found.drafts, "delete", f"{active} is already active: one bone-modifying agent at a time")
        summary = (
            f"Second bone-modifying agent: {med_label(found.drafts[0])} ordered while {active} is active"
        )
    else:
        summary = f"Two bone-modifying agents at once ({found.names}): keep one"
    return t.finding(
        Indicator.WARNING,
        summary,
        f"{found.drugs} bone-modifying agents active or ordered together: {found.names}.",
        (
            "Give one bone-modifying agent at a time: together they add hypocalcaemia and jaw-osteonecrosis "
            "risk without a known benefit (awaiting clinical review).",
            "If switching agents, stop the first and record it, so that both are not given.",
        ),
    )
