"""Red flags that come before any advice (clinical-rules §4): R01, R02 and R08 here; R03 in
:mod:`.red_flags_calcium`, R04 in :mod:`.red_flags_skeletal`, R05 in :mod:`.red_flags_pain`.

:func:`assess_red_flags` runs all six in a fixed order.
The exercise rules read the same findings for their pre-gate (§2.3 STEP 0): any *critical* red flag
puts exercise on hold.

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

from datetime import date

from fhir_bonemet.core.evidence.labs import latest_lab
from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.catalogue import register
from fhir_bonemet.core.model.fact_index import FactIndex
from fhir_bonemet.core.model.facts import ObservationFact, PatientFacts
from fhir_bonemet.core.model.findings import Category, Finding, Indicator, MissingFact, Referral, UsedFact
from fhir_bonemet.core.model.queries import within_days
from fhir_bonemet.core.model.thresholds import Thresholds
from fhir_bonemet.core.model.traceability import (
    ACTIVE_STATUSES,
    defaults_in,
    fit_summary,
    num,
    used_condition,
    used_obs,
)
from fhir_bonemet.core.red_flags.calcium import r03_hypercalcaemia
from fhir_bonemet.core.red_flags.fracture import r04_fracture
from fhir_bonemet.core.red_flags.pain_escalation import r05_pain_escalation

__all__ = ["assess_red_flags", "r01_mscc", "r02_spinal", "r03_hypercalcaemia", "r08_cytopenia", "symptoms"]

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

register(
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
)
register(
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
register(
    "R08",
    "Critical cytopenia",
    Category.RED_FLAG,
    concepts=(c.LAB_PLATELETS, c.LAB_HAEMOGLOBIN),
    thresholds=(
        "lookback.lab_days",
        "red_flags.platelets_critical_below",
        "red_flags.haemoglobin_critical_below",
    ),
    evidence=("S09",),
)


def symptoms(idx: FactIndex, today: date, th: Thresholds, concepts: tuple[str, ...]) -> list[ObservationFact]:
    """Red-flag symptoms whose newest answer within the lookback is "yes" (a later "no" clears one).

    A "yes" recorded without any date may be current: unless a dated answer within the lookback settles
    that symptom, it counts (a missing date must not silence a red flag) and :func:`undated_missing`
    says so.
    """
    days = th.v("red_flags.symptom_lookback_days")
    present = idx.answered_yes(concepts, today, days)
    seen = {o.concept for o in present}
    for concept in concepts:
        if concept in seen:
            continue
        answers = idx.observations(concept)
        if any(o.flag is not None and within_days(o.effective, today, days) for o in answers):
            continue
        undated = next((o for o in answers if o.effective is None and o.flag is True), None)
        if undated is not None:
            present.append(undated)
    return present


def undated_missing(found: list[ObservationFact]) -> list[MissingFact]:
    return [
        MissingFact(f"date of the {_SYMPTOM_LABELS[o.concept].lower()} record", "treated as current")
        for o in found
        if o.effective is None
    ]


def r01_mscc(facts: PatientFacts, today: date, th: Thresholds, idx: FactIndex) -> tuple[Finding, ...]:
    recent = th.v("red_flags.mscc_recent_days")
    used: list[UsedFact] = []
    missing: list[MissingFact] = []
    for cond in idx.conditions(c.CORD_COMPRESSION):
        if cond.clinical_status not in ACTIVE_STATUSES:
            continue
        when = cond.onset or cond.recorded
        if when is None:
            missing.append(MissingFact("onset date of the cord-compression record", "treated as new"))
        elif not within_days(when, today, recent):
            continue
        used.append(used_condition("Spinal cord compression", cond))
    neuro = symptoms(idx, today, th, c.MSCC_NEURO_SYMPTOMS)
    used.extend(used_obs(_SYMPTOM_LABELS[o.concept], o) for o in neuro)
    if not used:
        return ()
    spinal = symptoms(idx, today, th, c.SPINAL_MET_SYMPTOMS)
    used.extend(used_obs(_SYMPTOM_LABELS[o.concept], o) for o in spinal)
    missing.extend(undated_missing([*neuro, *spinal]))
    dex = th["red_flags.mscc_dexamethasone_mg"]
    mri = th["red_flags.mscc_mri_hours"]
    return (
        Finding(
            rule_id="R01",
            title="Suspected metastatic spinal cord compression",
            category=Category.RED_FLAG,
            indicator=Indicator.CRITICAL,
            summary=fit_summary(
                "Possible spinal cord compression: suggest contacting acute oncology/MSCC team now and "
                "urgent whole-spine MRI; stop exercise"
            ),
            rationale="Cord compression or neurological symptoms recorded in a patient with bone metastases.",
            recommendations=(
                "Oncological emergency: contact the MSCC coordinator or acute oncology immediately.",
                f"Suggest whole-spine MRI urgently (within {mri.label()}).",
                f"If neurological symptoms or signs: consider dexamethasone {num(dex.value)} mg oral "
                "(or equivalent) "
                "as soon as possible, unless contraindicated.",
                "Stop all exercise and put the exercise plan on hold until assessed.",
            ),
            evidence=("S12", "S15b"),
            used=tuple(used),
            missing=tuple(missing),
            referrals=(Referral.MSCC_PATHWAY, Referral.ACUTE_ONCOLOGY),
            related_rules=("R02",) if spinal else (),
            defaults_used=defaults_in(th, ("red_flags.mscc_recent_days", "red_flags.symptom_lookback_days")),
            unverified=True,
        ),
    )


def r02_spinal(facts: PatientFacts, today: date, th: Thresholds, idx: FactIndex) -> tuple[Finding, ...]:
    present = symptoms(idx, today, th, c.SPINAL_MET_SYMPTOMS)
    if not present or symptoms(idx, today, th, c.MSCC_NEURO_SYMPTOMS):
        return ()  # with neurological symptoms R01 speaks and lists these as related
    contact = th["red_flags.spinal_contact_hours"]
    mri = th["red_flags.spinal_mri_days"]
    sins = th["exercise.sins_potentially_unstable_min"]
    return (
        Finding(
            rule_id="R02",
            title="Suspected spinal metastasis",
            category=Category.RED_FLAG,
            indicator=Indicator.WARNING,
            summary=fit_summary(
                "Spinal red-flag pain: suggest contacting the MSCC coordinator within "
                f"{num(contact.value)} h and MRI within {num(mri.value)} days; hold axial loading"
            ),
            rationale="Spinal pain pattern suggestive of spinal metastasis, without neurological symptoms.",
            recommendations=(
                f"Contact the MSCC coordinator urgently (within {contact.label()}).",
                f"Suggest MRI of the spine within {mri.label()}.",
                "Hold axial loading and spinal flexion or rotation until assessed.",
                f"Calculate SINS once imaging is available; if {num(sins.value)} or more, seek a "
                "surgical opinion.",
                "Tell the patient to report any weakness, numbness or bladder/bowel change at once.",
            ),
            evidence=("S12", "S13"),
            used=tuple(used_obs(_SYMPTOM_LABELS[o.concept], o) for o in present),
            missing=tuple(undated_missing(present)),
            referrals=(Referral.MSCC_PATHWAY,),
            defaults_used=defaults_in(th, ("red_flags.symptom_lookback_days",)),
        ),
    )


def r08_cytopenia(facts: PatientFacts, today: date, th: Thresholds, idx: FactIndex) -> tuple[Finding, ...]:
    days = th.v("lookback.lab_days")
    used: list[UsedFact] = []
    keys: list[str] = []
    plt = latest_lab(facts, c.LAB_PLATELETS, today, days, idx)
    if plt is not None and plt.value < th.v("red_flags.platelets_critical_below"):
        used.append(plt.used())
        keys.append("red_flags.platelets_critical_below")
    hb = latest_lab(facts, c.LAB_HAEMOGLOBIN, today, days, idx)
    if hb is not None and hb.value < th.v("red_flags.haemoglobin_critical_below"):
        used.append(hb.used())
        keys.append("red_flags.haemoglobin_critical_below")
    if not used:
        return ()
    what = " and ".join(f"{u.label.lower()} {u.value}" for u in used)
    return (
        Finding(
            rule_id="R08",
            title="Critical cytopenia",
            category=Category.RED_FLAG,
            indicator=Indicator.WARNING,
            summary=fit_summary(f"Critical cytopenia ({what}): hold exercise; suggest medical review"),
            rationale="Platelets or haemoglobin below the critical threshold.",
            recommendations=(
                "Hold structured exercise; functional mobility only; minimise fall and impact risk.",
                "Medical review of the blood count.",
            ),
            evidence=("S09",),
            used=tuple(used),
            defaults_used=defaults_in(th, ["lookback.lab_days", *keys]),
        ),
    )


def assess_red_flags(
    facts: PatientFacts, today: date, th: Thresholds, index: FactIndex | None = None
) -> tuple[Finding, ...]:
    """Every red-flag finding, in rule order (R01, R02, R03, R04, R05, R08) and reference order within."""
    idx = index if index is not None else FactIndex(facts)
    return (
        *r01_mscc(facts, today, th, idx),
        *r02_spinal(facts, today, th, idx),
        *r03_hypercalcaemia(facts, today, th, idx),
        *r04_fracture(facts, today, th, idx),
        *r05_pain_escalation(facts, today, th, idx),
        *r08_cytopenia(facts, today, th, idx),
    )
