"""Patient-level checks shared by several pain rules (older age, bleeding and liver risk, NSAID cautions).

Each check records what it used in the rule's :class:`~fhir_bonemet.core.model.finding_builder.Trace`,
and treats unknown data as "cannot be excluded": the rule then says so instead of staying silent.

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

from collections.abc import Iterable

from fhir_bonemet.core.evidence.labs import LabValue, latest_lab
from fhir_bonemet.core.evidence.unreadable import brief, received
from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.facts import ConditionFact
from fhir_bonemet.core.model.finding_builder import RENAL_KEYS, Trace
from fhir_bonemet.core.model.findings import UsedFact
from fhir_bonemet.core.model.queries import obs_date
from fhir_bonemet.core.pain.medicines import RENAL_CONCEPTS

# "unknown" counts as current: an unknown status is not evidence that the problem has gone away.
ACTIVE_STATUSES = frozenset({"active", "recurrence", "relapse", "unknown"})

# Threshold keys read by the helpers below: rules that call a helper declare its keys.
OLDER_KEYS = ("pain.older_adult_age",)
NSAID_CAUTION_KEYS = (
    *RENAL_KEYS,
    "pain.nsaid_avoid_crcl_below",
    "pain.platelets_nsaid_avoid_below",
    "pain.older_adult_age",
)
NSAID_CAUTION_CONCEPTS = (
    *RENAL_CONCEPTS,
    c.ANTICOAGULANT,
    c.LAB_PLATELETS,
    c.THROMBOCYTOPENIA,
    c.GI_BLEED_ULCER,
    c.CORTICOSTEROID,
    c.CHEMOTHERAPY,
)
LIVER_KEYS = ("pain.liver_enzyme_uln_multiple", "pain.alt_uln", "pain.ast_uln", "lookback.lab_days")


def active_conditions(
    t: Trace, concepts: Iterable[str], *, include_resolved: bool = False
) -> list[ConditionFact]:
    """Conditions carrying any of ``concepts`` (active ones, or any status for histories such as falls)."""
    wanted = set(concepts)
    found = [
        cond
        for cond in t.ctx.facts.conditions
        if wanted & cond.concepts and (include_resolved or cond.clinical_status in ACTIVE_STATUSES)
    ]
    for cond in found:
        when = cond.onset.isoformat() if cond.onset else None
        t.fact(
            UsedFact(cond.display or sorted(cond.concepts & wanted)[0], cond.clinical_status, cond.ref, when)
        )
    return found


def is_older(t: Trace, consequence: str) -> bool | None:
    """Age at or above ``pain.older_adult_age``; None (recorded as missing) when the age is unknown."""
    age = t.ctx.age
    if age is None:
        t.miss("age (birth date)", consequence)
        return None
    limit = t.v("pain.older_adult_age")
    if age >= limit:
        t.fact(UsedFact("Age", f"{age} years"))
        return True
    return False


def platelets(t: Trace) -> LabValue | None:
    ctx = t.ctx
    # The call's index: without it latest_lab indexed the whole record again for one platelet count.
    value = latest_lab(ctx.facts, c.LAB_PLATELETS, ctx.today, t.v("lookback.lab_days"), ctx.index)
    if value is not None:
        t.fact(value.used())
    return value


def nsaid_cautions(t: Trace) -> list[str]:
    """Why an NSAID would be unwise or need precautions now (used when suggesting one, P02/P03)."""
    ctx = t.ctx
    notes: list[str] = []
    renal = t.renal("an NSAID is suggested only after renal function is checked")
    if not renal.known:
        notes.append("Renal function unknown: check creatinine before starting an NSAID.")
    elif renal.value is not None and renal.value < t.v("pain.nsaid_avoid_crcl_below"):
        notes.append(f"Avoid NSAIDs: {renal.describe()} (see P16).")
    if ctx.has(c.ANTICOAGULANT):
        t.meds(ctx.active(c.ANTICOAGULANT))
        notes.append("Avoid NSAIDs with the active anticoagulant: bleeding risk (see P17).")
    plt = platelets(t)
    if plt is not None and plt.value < t.v("pain.platelets_nsaid_avoid_below"):
        notes.append(f"Avoid NSAIDs: platelets {plt.value:g} 10*9/L (see P18).")
    elif plt is None:
        unread = received(ctx.index, c.LAB_PLATELETS, ctx.today, t.v("lookback.lab_days"))
        if unread is not None:
            notes.append(f"Platelet count received but not read {brief(unread)}: verify it before an NSAID.")
        else:
            t.miss(
                "platelet count", "NSAID suggested only after a platelet count is checked", c.LAB_PLATELETS
            )
            notes.append("No recent platelet count: check it before starting an NSAID.")
    gi_risk = active_conditions(t, (c.GI_BLEED_ULCER,), include_resolved=True)
    steroids = ctx.active(c.CORTICOSTEROID)
    chemo = ctx.active(c.CHEMOTHERAPY)
    t.meds(steroids + chemo)
    older = is_older(t, "NSAID precautions for older adults applied")
    if gi_risk or steroids or chemo or older is not False:
        notes.append(
            "If an NSAID is used: shortest course with a PPI; monitor creatinine and blood counts (P19)."
        )
    return notes


def liver_risk(t: Trace) -> list[tuple[str, str]]:
    """Liver disease (incl. liver metastases) or ALT/AST above the configured multiple of normal.

    Returns (short label, detail) pairs: the label fits a card summary, the detail its rationale.
    """
    reasons = [
        ("liver disease", f"{cond.display or 'liver disease'} recorded")
        for cond in active_conditions(t, (c.LIVER_DISEASE,))
    ]
    multiple = t.v("pain.liver_enzyme_uln_multiple")
    for concept, key, name in ((c.LAB_ALT, "pain.alt_uln", "ALT"), (c.LAB_AST, "pain.ast_uln", "AST")):
        obs = t.ctx.index.latest(concept, t.ctx.today, t.v("lookback.lab_days"))
        if obs is None or obs.quantity is None or obs.quantity.unit != "U/L":
            continue
        when = obs_date(obs)
        t.fact(UsedFact(name, f"{obs.quantity.value:g} U/L", obs.ref, when.isoformat() if when else None))
        if obs.quantity.value > multiple * t.v(key):
            detail = f"{name} {obs.quantity.value:g} U/L (> {multiple:g} x upper limit {t.label(key)})"
            reasons.append(("raised liver enzymes", detail))
    return reasons
