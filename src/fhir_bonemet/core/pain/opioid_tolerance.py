"""P48: a fentanyl patch ordered for a patient not shown to be opioid-tolerant
(docs/clinical-model.md#pharmacovigilance).

The label allows transdermal fentanyl only in opioid-tolerant patients: those who have taken, for a week or
longer, at least 60 mg of oral morphine a day or an equivalent dose of another opioid (S45).  In anyone
else the patch, which cannot be taken back for a day or more, can stop their breathing.  The order hooks
check a patch drafted as a new order: the opioids the patient is already on count towards tolerance only
when their daily dose is known and they started at least a week ago; a draft replacing an order continues
a patch the patient already has.  With no other opioid on record the card is critical; with opioids whose
dose or duration does not show tolerance it asks to confirm it.

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

from fhir_bonemet.core.evidence.dose_arithmetic import daily_mme, has_ingredient
from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.context import RuleContext
from fhir_bonemet.core.model.facts import MedicationFact
from fhir_bonemet.core.model.finding_builder import Trace
from fhir_bonemet.core.model.findings import Category, Finding, Indicator, UsedFact
from fhir_bonemet.core.model.rule import rule
from fhir_bonemet.core.model.used_facts import med_label

__all__ = ["is_fentanyl_patch", "p48"]


def is_fentanyl_patch(med: MedicationFact) -> bool:
    """Fentanyl given through the skin: a transdermal route, or a product named as a patch."""
    if not has_ingredient(med, "fentanyl"):
        return False
    if any(d.route == "transdermal" for d in med.doses):
        return True
    words = (med.display or "").lower()
    return "patch" in words or "transdermal" in words


@rule(
    "P48",
    "Fentanyl patch without opioid tolerance",
    Category.MEDICATION_SAFETY,
    concepts=(c.OPIOID,),
    thresholds=("pain.opioid_tolerant_mme_min", "pain.opioid_tolerant_days"),
    evidence=("S45", "S30"),
    on_orders=True,
)
def p48(ctx: RuleContext, t: Trace) -> Finding | None:
    opioids = ctx.active(c.OPIOID)
    patches = [m for m in ctx.focused(opioids) if is_fentanyl_patch(m) and m.replaces is None]
    if not patches:
        return None
    minimum, days = t.v("pain.opioid_tolerant_mme_min"), t.v("pain.opioid_tolerant_days")
    # What the patient is already taking: other drafts of this order are not taken yet.
    taking = [m for m in opioids if not m.is_draft]
    week_or_more = [m for m in taking if m.start is not None and (ctx.today - m.start).days >= days]
    mme = daily_mme(week_or_more, ctx.th) if week_or_more else None
    if mme is not None and mme.total >= minimum:
        return None  # tolerance shown, however many other doses could not be read
    t.meds(patches)
    t.meds(taking)
    if mme is not None:
        t.fact(
            UsedFact(
                f"Daily oral morphine equivalents of opioids taken {days:g} days or more", mme.describe()
            )
        )
    for med in taking:
        if med.start is None:
            t.miss(f"start date of {med_label(med)}", "not counted towards a week of opioid use")
    if mme is not None:
        label_of = {m.ref: med_label(m) for m in week_or_more}
        for ref, reason in mme.not_computable:
            t.miss(f"daily dose of {label_of[ref]}", f"not counted ({reason})")
    unknown = ctx.facts.medications_unknown
    if unknown:
        t.miss("current medicines", "could not be read: opioid tolerance not shown")
    naive = not taking and not unknown
    t.act(patches, "delete", "opioid tolerance not shown: start with an oral opioid and convert once stable")
    patch = med_label(patches[0])
    summary = (
        f"{patch} with no other opioid on record: not for opioid-naive patients (fatal breathing risk)"
        if naive
        else f"{patch}: opioid tolerance not shown; confirm {minimum:g} mg oral morphine a day for a week"
    )
    return t.finding(
        Indicator.CRITICAL if naive else Indicator.WARNING,
        summary,
        "A fentanyl patch is ordered and the record does not show opioid tolerance "
        f"({minimum:g} mg oral morphine a day or an equivalent, for {days:g} days or more).",
        (
            f"Transdermal fentanyl is for opioid-tolerant patients only: at least {minimum:g} mg oral "
            f"morphine a day, or an equivalent dose of another opioid, for {days:g} days or more (label).",
            "In a patient who is not opioid-tolerant it can cause fatal respiratory depression: start and "
            "titrate an oral opioid, then convert to a patch once the dose is stable.",
        ),
    )
