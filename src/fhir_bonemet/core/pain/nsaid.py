"""NSAID safety rules P16-P19: kidney, bleeding, platelets, GI/CV risk
(docs/clinical-model.md#pharmacovigilance).

Only systemic NSAIDs count (a topical gel is not a renal or bleeding risk of the same order).  Renal
function is the Cockcroft-Gault CrCl, else a measured clearance, else eGFR, and the card says which; when
none is known the card says that renal function must be checked (never "safe").

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

from fhir_bonemet.core.evidence.unreadable import brief, received
from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.context import RuleContext
from fhir_bonemet.core.model.facts import MedicationFact
from fhir_bonemet.core.model.finding_builder import RENAL_KEYS, Trace
from fhir_bonemet.core.model.findings import Category, Finding, Indicator
from fhir_bonemet.core.model.rule import rule
from fhir_bonemet.core.pain.checks import OLDER_KEYS, active_conditions, is_older, platelets
from fhir_bonemet.core.pain.medicines import RENAL_CONCEPTS, is_systemic

_ALTERNATIVES = "Prefer paracetamol or an opioid for analgesia."


def _nsaids(ctx: RuleContext) -> list[MedicationFact]:
    return [m for m in ctx.active(c.NSAID) if is_systemic(m)]


@rule(
    "P16",
    "NSAID with severe renal impairment",
    Category.MEDICATION_SAFETY,
    concepts=(c.NSAID, *RENAL_CONCEPTS),
    thresholds=(*RENAL_KEYS, "pain.nsaid_avoid_crcl_below", "pain.nsaid_caution_crcl_below"),
    evidence=("S20", "S29"),
    on_orders=True,
)
def p16(ctx: RuleContext, t: Trace) -> Finding | None:
    nsaids = _nsaids(ctx)
    if not nsaids or not ctx.concerns_focus(nsaids):
        return None
    renal = t.renal("the NSAID cannot be confirmed safe for the kidneys: check creatinine first")
    avoid = t.label("pain.nsaid_avoid_crcl_below")
    caution = t.label("pain.nsaid_caution_crcl_below")
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
    if renal.value >= t.v("pain.nsaid_avoid_crcl_below"):
        return None
    t.meds(nsaids)
    shown = f"{'eGFR' if renal.method == 'egfr' else 'CrCl'} {renal.value:.0f}"
    t.act(nsaids, "delete", f"avoid NSAIDs with {renal.describe()}")
    return t.finding(
        Indicator.WARNING,
        f"NSAID with {shown}: avoid; prefer paracetamol or an opioid",
        f"NSAID active with {renal.describe()}, below {avoid}.",
        (
            "Stop or avoid the NSAID: risk of acute kidney injury.",
            _ALTERNATIVES + " Avoid morphine and codeine in renal impairment (see P23).",
            f"For reference: between {avoid} and {caution}, short courses only with creatinine monitoring.",
        ),
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
    if not nsaids or not anticoagulants or not ctx.concerns_focus(nsaids + anticoagulants):
        return None
    t.meds(nsaids + anticoagulants)
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
)
def p19(ctx: RuleContext, t: Trace) -> Finding | None:
    nsaids = _nsaids(ctx)
    if not nsaids:
        return None
    steroids = [m for m in ctx.active(c.CORTICOSTEROID) if is_systemic(m)]
    chemo = ctx.active(c.CHEMOTHERAPY)
    if not ctx.concerns_focus(nsaids + steroids + chemo):
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
