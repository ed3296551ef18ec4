"""Spinal red flags R01 (suspected cord compression) and R02 (suspected spinal metastasis without
neurological symptoms); see ``docs/clinical-model.md#red-flags``.

R01 supersedes R02: when neurological symptoms or a recent cord compression make R01 speak, the spinal
pain pattern is part of that card and R02 is named as related instead of raising a second card.  The
exercise pass reads both (any critical red flag holds exercise; R02 holds axial loading).

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

from datetime import date

from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.catalogue import Family
from fhir_bonemet.core.model.context import RuleContext, build_context
from fhir_bonemet.core.model.fact_index import FactIndex
from fhir_bonemet.core.model.facts import ObservationFact, PatientFacts
from fhir_bonemet.core.model.finding_builder import Trace
from fhir_bonemet.core.model.findings import Category, Finding, Indicator, MissingFact, Referral
from fhir_bonemet.core.model.hooks import Hook
from fhir_bonemet.core.model.queries import noted_on, within_days
from fhir_bonemet.core.model.rule import declared, rule, run_rules
from fhir_bonemet.core.model.thresholds import Thresholds
from fhir_bonemet.core.model.used_facts import ACTIVE_STATUSES, num, used_condition, used_obs

__all__ = ["assess_red_flags", "r01_mscc", "r02_spinal", "symptoms"]

_SYMPTOM_LABELS = {
    c.RF_RADICULAR_PAIN: "Radicular pain",
    c.RF_LIMB_WEAKNESS: "Limb weakness",
    c.RF_WALKING_DIFFICULTY: "Difficulty walking",
    c.RF_SENSORY_LOSS: "Sensory loss",
    c.RF_BLADDER_BOWEL: "Bladder or bowel dysfunction",
    c.RF_THORACIC_CERVICAL_PAIN: "Thoracic or cervical spinal pain",
    c.RF_PROGRESSIVE_LUMBAR_PAIN: "Progressive lumbar pain",
    c.RF_PAIN_ON_STRAINING: "Spinal pain on straining",
    c.RF_SPINAL_TENDERNESS: "Localised spinal tenderness",
    c.RF_NOCTURNAL_SPINAL_PAIN: "Nocturnal spinal pain",
}


def symptoms(idx: FactIndex, today: date, th: Thresholds, concepts: tuple[str, ...]) -> list[ObservationFact]:
    """Red-flag symptoms whose newest answer within the lookback is "yes" (a later "no" clears one).

    A "yes" recorded without any date may be current: unless a dated answer within the lookback settles
    that symptom, it counts (a missing date must not silence a red flag) and :func:`undated_missing`
    says so.
    """
    days = th.v("red_flags.symptom_lookback_days")
    return idx.answered_yes(concepts, today, days, undated_yes=True)


def undated_missing(found: list[ObservationFact]) -> list[MissingFact]:
    return [
        MissingFact(f"date of the {_SYMPTOM_LABELS[o.concept].lower()} record", "treated as current")
        for o in found
        if o.effective is None
    ]


@rule(
    "R01",
    "Suspected metastatic spinal cord compression",
    Category.RED_FLAG,
    concepts=(c.CORD_COMPRESSION, *c.MSCC_NEURO_SYMPTOMS, *c.SPINAL_MET_SYMPTOMS),
    thresholds=(
        "red_flags.mscc_recent_days",
        "red_flags.symptom_lookback_days",
        "red_flags.mscc_dexamethasone_mg",
        "red_flags.mscc_mri_hours",
    ),
    evidence=("S12", "S15b"),
    unverified=True,
    supersedes=("R02",),
)
def r01_mscc(ctx: RuleContext, t: Trace) -> Finding | None:
    today, th, idx = ctx.today, ctx.th, ctx.index
    recent = th.v("red_flags.mscc_recent_days")
    found = False
    for cond in idx.conditions(c.CORD_COMPRESSION):
        if cond.clinical_status not in ACTIVE_STATUSES:
            continue
        when = noted_on(cond, today)
        if when is None:
            t.miss("onset date of the cord-compression record", "treated as new")
        elif not within_days(when, today, recent):
            continue
        t.fact(used_condition("Spinal cord compression", cond))
        found = True
    neuro = symptoms(idx, today, th, c.MSCC_NEURO_SYMPTOMS)
    t.fact(*(used_obs(_SYMPTOM_LABELS[o.concept], o) for o in neuro))
    if not found and not neuro:
        return None
    spinal = symptoms(idx, today, th, c.SPINAL_MET_SYMPTOMS)
    t.fact(*(used_obs(_SYMPTOM_LABELS[o.concept], o) for o in spinal))
    t.missing.extend(undated_missing([*neuro, *spinal]))
    t.rely("red_flags.mscc_recent_days", "red_flags.symptom_lookback_days")
    dex = th["red_flags.mscc_dexamethasone_mg"]
    mri = th["red_flags.mscc_mri_hours"]
    return t.finding(
        Indicator.CRITICAL,
        "Possible spinal cord compression: suggest contacting acute oncology/MSCC team now and "
        "urgent whole-spine MRI; stop exercise",
        "Cord compression or neurological symptoms recorded in a patient with bone metastases.",
        (
            "Oncological emergency: contact the MSCC coordinator or acute oncology immediately.",
            f"Suggest whole-spine MRI urgently (within {mri.label()}).",
            f"If neurological symptoms or signs: consider dexamethasone {num(dex.value)} mg oral "
            "(or equivalent) "
            "as soon as possible, unless contraindicated.",
            "Stop all exercise and put the exercise plan on hold until assessed.",
        ),
        referrals=(Referral.MSCC_PATHWAY, Referral.ACUTE_ONCOLOGY),
        # The spinal pain pattern of R02 is part of this concern only when it is present.
        related=("R02",) if spinal else (),
    )


@rule(
    "R02",
    "Suspected spinal metastasis without neurological signs",
    Category.RED_FLAG,
    concepts=c.SPINAL_MET_SYMPTOMS,
    thresholds=(
        "red_flags.symptom_lookback_days",
        "red_flags.spinal_contact_hours",
        "red_flags.spinal_mri_days",
        "exercise.sins_potentially_unstable_min",
    ),
    evidence=("S12", "S13"),
)
def r02_spinal(ctx: RuleContext, t: Trace) -> Finding | None:
    today, th, idx = ctx.today, ctx.th, ctx.index
    present = symptoms(idx, today, th, c.SPINAL_MET_SYMPTOMS)
    if not present:
        return None
    contact = th["red_flags.spinal_contact_hours"]
    mri = th["red_flags.spinal_mri_days"]
    sins = th["exercise.sins_potentially_unstable_min"]
    t.fact(*(used_obs(_SYMPTOM_LABELS[o.concept], o) for o in present))
    t.missing.extend(undated_missing(present))
    t.rely("red_flags.symptom_lookback_days")
    return t.finding(
        Indicator.WARNING,
        "Spinal red-flag pain: suggest contacting the MSCC coordinator within "
        f"{num(contact.value)} h and MRI within {num(mri.value)} days; hold axial loading",
        "Spinal pain pattern suggestive of spinal metastasis, without neurological symptoms.",
        (
            f"Contact the MSCC coordinator urgently (within {contact.label()}).",
            f"Suggest MRI of the spine within {mri.label()}.",
            "Hold axial loading and spinal flexion or rotation until assessed.",
            f"Calculate SINS once imaging is available; if {num(sins.value)} or more, seek a "
            "surgical opinion.",
            "Tell the patient to report any weakness, numbness or bladder/bowel change at once.",
        ),
        referrals=(Referral.MSCC_PATHWAY,),
    )


def assess_red_flags(
    facts: PatientFacts, today: date, th: Thresholds, index: FactIndex | None = None
) -> tuple[Finding, ...]:
    """The red flags of this package (R01-R05, R08) on ``patient-view``, in rule order.

    The engine runs the whole red-flag family, the medication red flags R06, R07 and R09 of
    :mod:`fhir_bonemet.core.pain` included; this is the pass over the patient's record alone, for callers
    that want it without the medication context.
    """
    ctx = build_context(facts, today, th, Hook.PATIENT_VIEW, index=index)
    # This package's __init__ imports all of its rule modules, so its own rules are all declared here.
    mine = [r for r in declared().values() if r.spec.family is Family.RED_FLAGS and _own(r.module)]
    return run_rules(Family.RED_FLAGS, mine, ctx)


def _own(module: str) -> bool:
    return module.startswith(f"{__package__}.")
