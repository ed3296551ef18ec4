"""NSAID safety rules P16-P19 and P43: kidney, bleeding, platelets, GI/CV risk, two NSAIDs at once
(docs/clinical-model.md#pharmacovigilance).

Only systemic NSAIDs count (a topical gel is not a renal or bleeding risk of the same order).  Renal
function is the Cockcroft-Gault CrCl, else a measured clearance, else eGFR, and the card says which; when
none is known the card says that renal function must be checked (never "safe").

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

from fhir_bonemet.core.evidence.derived import RenalFunction, clearance_text
from fhir_bonemet.core.evidence.dose_arithmetic import dose_mg
from fhir_bonemet.core.evidence.unreadable import brief, received
from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.context import RuleContext
from fhir_bonemet.core.model.facts import MedicationFact
from fhir_bonemet.core.model.finding_builder import RENAL_KEYS, Trace
from fhir_bonemet.core.model.findings import Category, Finding, Indicator
from fhir_bonemet.core.model.rule import rule
from fhir_bonemet.core.model.used_facts import med_label
from fhir_bonemet.core.pain.checks import OLDER_KEYS, active_conditions, is_older, platelets
from fhir_bonemet.core.pain.duplicate_therapy import doubled
from fhir_bonemet.core.pain.medicines import RENAL_CONCEPTS, is_systemic

_ALTERNATIVES = "Prefer paracetamol or an opioid for analgesia."


def _nsaids(ctx: RuleContext) -> list[MedicationFact]:
    return [m for m in ctx.active(c.NSAID) if is_systemic(m)]


def near_edge(t: Trace, renal: RenalFunction, edge_key: str) -> str:
    """How near the renal function lies to the band edge ``edge_key``: a clause for the card when it is
    within the margin (the estimate's own uncertainty is larger than the distance), else "".  The gap and
    the edge are worded in the unit of the measure used (an eGFR in mL/min/1.73 m2 is not a clearance in
    mL/min).  An upper bound ("<15") says nothing of its distance below an edge: no clause."""
    if renal.value is None or renal.comparator in ("<", "<="):
        return ""
    edge = t.v(edge_key)
    gap = renal.value - edge
    if abs(gap) > t.v("pain.renal_band_edge_margin"):
        return ""
    side = "above" if gap >= 0 else "below"
    unit = renal.unit()
    return f"{clearance_text(abs(gap))} {unit} {side} the {clearance_text(edge)} {unit} edge"


@rule(
    "P16",
    "NSAID with renal impairment",
    Category.MEDICATION_SAFETY,
    concepts=(c.NSAID, *RENAL_CONCEPTS),
    thresholds=(
        *RENAL_KEYS,
        "pain.nsaid_avoid_crcl_below",
        "pain.nsaid_caution_crcl_below",
        "pain.renal_band_edge_margin",
    ),
    evidence=("S20", "S29"),
    on_orders=True,
)
def p16(ctx: RuleContext, t: Trace) -> Finding | None:
    """Below the avoid cut-off: avoid (delete the draft).  Between it and the caution cut-off: a short
    course with creatinine monitoring, alternatives preferred (change the draft).  Either way the card says
    how near the estimate lies to a band edge, since a CrCl of 30.4 and one of 29.4 are the same kidney."""
    nsaids = _nsaids(ctx)
    if not nsaids or not ctx.concerns_focus(nsaids):
        return None
    renal = t.renal("the NSAID cannot be confirmed safe for the kidneys: check creatinine first")
    # The cut-offs in the unit of the measure compared with them, as near_edge words the gap.
    avoid = t.renal_label("pain.nsaid_avoid_crcl_below", renal)
    caution = t.renal_label("pain.nsaid_caution_crcl_below", renal)
    t.v("pain.renal_band_edge_margin")
    if renal.value is None:
        t.meds(nsaids)
        return t.finding(
            Indicator.INFO,
            "Renal function unknown: check creatinine before continuing or starting the NSAID",
            "NSAID active and no recent creatinine clearance or eGFR.",
            (
                f"Avoid NSAIDs if CrCl or eGFR is below {avoid}; below {caution} use short courses only "
                "and monitor creatinine.",
                _ALTERNATIVES,
            ),
        )
    if renal.value >= t.v("pain.nsaid_caution_crcl_below"):
        return None
    t.meds(nsaids)
    shown = renal.label()
    if renal.value < t.v("pain.nsaid_avoid_crcl_below"):
        edge = near_edge(t, renal, "pain.nsaid_avoid_crcl_below")
        recs = [
            "Stop or avoid the NSAID: risk of acute kidney injury.",
            _ALTERNATIVES + " Avoid morphine and codeine in renal impairment (see P23).",
            f"For reference: between {avoid} and {caution}, short courses only with creatinine monitoring.",
        ]
        if edge:
            recs.insert(
                1, f"{shown} is {edge}: the estimate is not that precise, but the cautious band holds."
            )
        t.act(nsaids, "delete", f"avoid NSAIDs with {renal.describe()}")
        return t.finding(
            Indicator.WARNING,
            f"NSAID with {shown}"
            + (f" ({edge})" if edge else "")
            + ": avoid; prefer paracetamol or an opioid",
            f"NSAID active with {renal.describe()}, below {avoid}.",
            recs,
        )
    # The caution band: an NSAID may be used, briefly and watched; the nearer the avoid edge, the more so.
    low_edge = near_edge(t, renal, "pain.nsaid_avoid_crcl_below")
    high_edge = near_edge(t, renal, "pain.nsaid_caution_crcl_below")
    edge = low_edge or high_edge
    recs = [
        f"{renal.describe()}: between {avoid} and {caution}, NSAIDs only as a short course at the lowest "
        "dose; check creatinine within a week of starting and stop if it rises.",
        _ALTERNATIVES,
        "Avoid with dehydration, diuretics, ACE inhibitors or angiotensin receptor blockers.",
    ]
    if low_edge:
        recs.insert(
            1,
            f"{shown} is {low_edge} below which NSAIDs are avoided: {renal.estimate()} is not that precise, "
            "so prefer an alternative.",
        )
    elif high_edge:
        recs.insert(1, f"{shown} is {high_edge}: renal function near normal, but the caution still applies.")
    t.act(nsaids, "update", f"short course only with {renal.describe()}; monitor creatinine")
    return t.finding(
        Indicator.WARNING,
        f"NSAID with {shown}" + (f" ({edge})" if edge else "") + ": short course only, monitor creatinine; "
        "prefer alternatives",
        f"NSAID active with {renal.describe()}, between {avoid} and {caution}.",
        recs,
    )


@rule(
    "P17",
    "NSAID with an anticoagulant",
    Category.MEDICATION_SAFETY,
    concepts=(c.NSAID, c.ANTICOAGULANT),
    evidence=("S20",),
    on_orders=True,
)
def p17(ctx: RuleContext, t: Trace) -> Finding | None:
    nsaids = _nsaids(ctx)
    anticoagulants = ctx.active(c.ANTICOAGULANT)
    if not nsaids or not anticoagulants or not ctx.concerns_focus([*nsaids, *anticoagulants]):
        return None
    t.meds([*nsaids, *anticoagulants])
    t.act(nsaids, "delete", "avoid an NSAID with the active anticoagulant (bleeding risk)")
    t.act(anticoagulants, "update", "NSAID active: review the combination (bleeding risk)")
    return t.finding(
        Indicator.WARNING,
        "NSAID with an anticoagulant: bleeding risk; avoid, or add a PPI if unavoidable",
        "An NSAID and an anticoagulant are both active.",
        (
            "Avoid the combination; " + _ALTERNATIVES.lower(),
            "If an NSAID is unavoidable: shortest course, add a proton-pump inhibitor, monitor for bleeding.",
        ),
    )


@rule(
    "P18",
    "NSAID with thrombocytopenia",
    Category.MEDICATION_SAFETY,
    concepts=(c.NSAID, c.LAB_PLATELETS, c.THROMBOCYTOPENIA),
    thresholds=("pain.platelets_nsaid_avoid_below", "lookback.lab_days"),
    evidence=("S20",),
    on_orders=True,
)
def p18(ctx: RuleContext, t: Trace) -> Finding | None:
    nsaids = _nsaids(ctx)
    if not nsaids or not ctx.concerns_focus(nsaids):
        return None
    limit = t.label("pain.platelets_nsaid_avoid_below")
    plt = platelets(t)
    low_count = plt is not None and plt.value < t.v("pain.platelets_nsaid_avoid_below")
    condition = active_conditions(t, (c.THROMBOCYTOPENIA,))
    if plt is None and not condition:
        t.meds(nsaids)
        unread = received(ctx.index, c.LAB_PLATELETS, ctx.today, t.v("lookback.lab_days"))
        if unread is not None:  # a count was received: never say there is none
            return t.finding(
                Indicator.WARNING,
                f"Platelet count received but not read {brief(unread)}: verify it before the NSAID",
                "NSAID active; the latest platelet count could not be read: thrombocytopenia not excluded.",
                (f"Avoid NSAIDs if platelets are below {limit} (antiplatelet effect).", _ALTERNATIVES),
            )
        t.miss(
            f"platelet count within {t.label('lookback.lab_days')}",
            "thrombocytopenia cannot be excluded: check the count before continuing the NSAID",
            c.LAB_PLATELETS,
        )
        return t.finding(
            Indicator.INFO,
            "No recent platelet count: check it before continuing or starting the NSAID",
            "NSAID active and no recent platelet count.",
            (f"Avoid NSAIDs if platelets are below {limit} (antiplatelet effect).", _ALTERNATIVES),
        )
    if not low_count and not condition:
        return None
    t.meds(nsaids)
    t.act(nsaids, "delete", "avoid NSAIDs with thrombocytopenia (antiplatelet effect)")
    what = f"platelets {plt.value:g} 10*9/L" if plt is not None and low_count else "thrombocytopenia recorded"
    return t.finding(
        Indicator.WARNING,
        f"NSAID with {what}: avoid NSAIDs",
        f"NSAID active with {what} (avoid below {limit}).",
        ("Stop or avoid the NSAID: its antiplatelet effect adds to the bleeding risk.", _ALTERNATIVES),
    )


@rule(
    "P19",
    "NSAID with GI, renal or CV risk factors",
    Category.MEDICATION_SAFETY,
    concepts=(c.NSAID, c.GI_BLEED_ULCER, c.CORTICOSTEROID, c.CHEMOTHERAPY),
    thresholds=OLDER_KEYS,
    evidence=("S29", "S20", "S23"),
    on_orders=True,
    unverified=True,  # the catalogue marks its Beers NSAID criterion (age 65 and over) [M]
)
def p19(ctx: RuleContext, t: Trace) -> Finding | None:
    nsaids = _nsaids(ctx)
    if not nsaids:
        return None
    steroids = [m for m in ctx.active(c.CORTICOSTEROID) if is_systemic(m)]
    chemo = ctx.active(c.CHEMOTHERAPY)
    if not ctx.concerns_focus([*nsaids, *steroids, *chemo]):
        return None
    reasons: list[str] = []
    if active_conditions(t, (c.GI_BLEED_ULCER,), include_resolved=True):
        reasons.append("GI bleeding or peptic ulcer history")
    if steroids:
        t.meds(steroids)
        reasons.append("systemic corticosteroid")
    if chemo:
        t.meds(chemo)
        reasons.append("chemotherapy")
    older = is_older(t, "older age not excluded: NSAID precautions for older adults applied")
    if older:
        reasons.append(f"age {ctx.age}")
    elif older is None:
        reasons.append("age unknown")
    if not reasons:
        return None
    t.meds(nsaids)
    t.act(nsaids, "update", "shortest course with a proton-pump inhibitor; " + ", ".join(reasons))
    return t.finding(
        Indicator.WARNING,
        "NSAID with GI/renal/CV risk factors: shortest course with a PPI, monitor",
        "NSAID active with " + ", ".join(reasons) + ".",
        (
            "Avoid long-term use; if necessary, the shortest course with a proton-pump inhibitor.",
            "Monitor liver function, creatinine and blood counts.",
            _ALTERNATIVES,
        ),
    )


def is_low_dose_aspirin(med: MedicationFact, t: Trace) -> bool:
    """Aspirin alone at a cardioprotective dose: not an analgesic NSAID for the duplicate and pregnancy
    rules.  An aspirin whose dose cannot be read counts as an NSAID (the cautious reading)."""
    if [i.lower() for i in med.ingredients] != ["aspirin"]:
        return False
    dose = dose_mg(med, "aspirin")
    return not isinstance(dose, str) and dose <= t.v("pain.low_dose_aspirin_max_mg")


@rule(
    "P43",
    "Two NSAIDs at once",
    Category.MEDICATION_SAFETY,
    concepts=(c.NSAID,),
    thresholds=("pain.low_dose_aspirin_max_mg",),
    evidence=("S20", "S29"),
    on_orders=True,
)
def p43(ctx: RuleContext, t: Trace) -> Finding | None:
    """Two systemic NSAIDs (a draft naproxen while ibuprofen is active, or two active orders): the risks
    add up and the analgesia does not.  A statement that merely repeats an order is one NSAID, not two."""
    analgesic = [m for m in _nsaids(ctx) if not is_low_dose_aspirin(m, t)]
    # Every order counts: a second order of the same NSAID doubles it as much as another NSAID does.
    found = doubled(ctx, analgesic, identity=lambda m: m.ref)
    if found is None:
        return None
    t.meds(found.meds)
    if found.second_drafted:
        kept = found.active_names
        t.act(found.drafts, "delete", f"{kept} is already active: one NSAID at a time")
        summary = f"Second NSAID: {med_label(found.drafts[0])} ordered while {kept} is active; cancel one"
    else:
        t.act(found.drafts[1:], "delete", "one NSAID at a time")
        summary = f"Two NSAIDs at once ({found.names}): keep one"
    return t.finding(
        Indicator.WARNING,
        summary,
        f"{found.drugs} systemic NSAIDs active or ordered together: {found.names}.",
        (
            "Use one NSAID at a time: a second adds kidney, bleeding and GI risk without better analgesia.",
            "If switching, stop the first before starting the second.",
            _ALTERNATIVES,
        ),
    )
