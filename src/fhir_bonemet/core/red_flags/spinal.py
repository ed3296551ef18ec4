"""Spinal red flags R01 (suspected cord compression) and R02 (suspected spinal metastasis without
neurological symptoms); see ``docs/clinical-model.md#red-flags``.

R01 supersedes R02: when neurological symptoms or a recent cord compression make R01 speak, the spinal
pain pattern is part of that card and R02 is named as related instead of raising a second card; the card
carries the one piece of R02's advice R01's lines lack (SINS on the new imaging).  The
exercise pass reads both (any critical red flag holds exercise; R02 holds axial loading).

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

from datetime import date

from fhir_bonemet.core.evidence.dose_arithmetic import has_ingredient
from fhir_bonemet.core.evidence.unreadable import LABELS, answer_state, missing_line, recorded_how, to_correct
from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.catalogue import Family
from fhir_bonemet.core.model.context import RuleContext, build_context
from fhir_bonemet.core.model.fact_index import FactIndex, instant
from fhir_bonemet.core.model.facts import ObservationFact, PatientFacts, UnreadableValue
from fhir_bonemet.core.model.finding_builder import Trace
from fhir_bonemet.core.model.findings import Category, Finding, Indicator, MissingFact, Referral, UsedFact
from fhir_bonemet.core.model.hooks import Hook
from fhir_bonemet.core.model.queries import noted_on, within_days
from fhir_bonemet.core.model.rule import declared, rule, run_rules
from fhir_bonemet.core.model.thresholds import Thresholds
from fhir_bonemet.core.model.used_facts import ACTIVE_STATUSES, num, used_condition, used_obs
from fhir_bonemet.core.pain.medicines import is_systemic

__all__ = ["assess_red_flags", "r01_mscc", "r02_spinal", "symptoms", "unread_symptoms"]

_SYMPTOM_LABELS = {concept: LABELS[concept] for concept in (*c.MSCC_NEURO_SYMPTOMS, *c.SPINAL_MET_SYMPTOMS)}


def symptoms(idx: FactIndex, today: date, th: Thresholds, concepts: tuple[str, ...]) -> list[ObservationFact]:
    """Red-flag symptoms whose newest answer within the lookback is "yes" (a later "no" clears one).

    A "yes" recorded without any date may be current: unless a dated answer within the lookback settles
    that symptom, it counts (a missing date must not silence a red flag) and :func:`undated_missing`
    says so.
    """
    days = th.v("red_flags.symptom_lookback_days")
    return idx.answered_yes(concepts, today, days, undated_yes=True)


def unread_symptoms(idx: FactIndex, today: date, th: Thresholds) -> list[UnreadableValue]:
    """Red-flag symptom records within the lookback whose answer was received but could not be read, or
    that were recorded with no answer (asked but unknown), and that no newer readable answer to the same
    symptom settles.

    Read like :func:`symptoms` reads a "yes": a record without a date counts unless a dated answer within
    the lookback settles that symptom, and one whose date could not be read may be recent, so it counts.
    """
    days = th.v("red_flags.symptom_lookback_days")
    found: list[UnreadableValue] = []
    for value in idx.facts.unreadable:
        if value.concept not in _SYMPTOM_LABELS:
            continue
        answers = [o for o in idx.observations(value.concept) if o.flag is not None]
        if value.date_unreadable:
            found.append(value)
        elif value.effective is None:
            if not any(within_days(o.effective, today, days) for o in answers):
                found.append(value)
        elif within_days(value.effective, today, days):
            newest = next((o.effective for o in answers if o.effective is not None), None)
            if newest is None or instant(newest) <= instant(value.effective):
                found.append(value)
    return found


def undated_missing(found: list[ObservationFact]) -> list[MissingFact]:
    return [
        MissingFact(f"date of the {_SYMPTOM_LABELS[o.concept].lower()} record", "treated as current")
        for o in found
        if o.effective is None
    ]


# R01's own sources, and with the spinal pain pattern the one R02's SINS advice rests on.
_EVIDENCE = ("S12", "S15b")
_EVIDENCE_WITH_R02 = (*_EVIDENCE, "S13")


@rule(
    "R01",
    "Suspected metastatic spinal cord compression",
    Category.RED_FLAG,
    concepts=(c.CORD_COMPRESSION, *c.MSCC_NEURO_SYMPTOMS, *c.SPINAL_MET_SYMPTOMS, c.CORTICOSTEROID),
    thresholds=(
        "red_flags.mscc_recent_days",
        "red_flags.symptom_lookback_days",
        "red_flags.mscc_dexamethasone_mg",
        "red_flags.mscc_mri_hours",
        "red_flags.spinal_contact_hours",
        "red_flags.spinal_mri_days",
        "exercise.sins_potentially_unstable_min",
    ),
    evidence=_EVIDENCE_WITH_R02,
    unverified=True,
    # Its warning (a symptom answer not read) holds axial loading until checked, as R02's does.
    on_loading_orders=True,
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
    # A symptom answer received but not read is not "no symptom": named on the card either way.
    unread = unread_symptoms(idx, today, th)
    if not found and not neuro and not unread:
        return None
    spinal = symptoms(idx, today, th, c.SPINAL_MET_SYMPTOMS)
    t.fact(*(used_obs(_SYMPTOM_LABELS[o.concept], o) for o in spinal))
    t.missing.extend(missing_line(u) for u in unread)
    t.missing.extend(undated_missing([*neuro, *spinal]))
    t.rely("red_flags.mscc_recent_days", "red_flags.symptom_lookback_days")
    if not found and not neuro:
        return _unread_warning(t, unread, spinal)
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
            _steroid_line(t, num(dex.value)),
            "Stop all exercise and put the exercise plan on hold until assessed.",
            *_spinal_pattern_line(t, spinal),
        ),
        referrals=(Referral.MSCC_PATHWAY, Referral.ACUTE_ONCOLOGY),
        # The spinal pain pattern of R02 is part of this concern only when it is present.
        related=("R02",) if spinal else (),
        evidence=_EVIDENCE_WITH_R02 if spinal else _EVIDENCE,
    )


def _steroid_line(t: Trace, dose: str) -> str:
    """The dexamethasone line: suggested afresh, or, when a systemic corticosteroid is already ordered (a
    draft) or active, acknowledged with the dose to confirm; suggesting it again beside that order read as
    if it had not been seen."""
    steroids = [m for m in t.ctx.active(c.CORTICOSTEROID) if is_systemic(m)]
    if not steroids:
        return (
            f"If neurological symptoms or signs: consider dexamethasone {dose} mg oral (or equivalent) "
            "as soon as possible, unless contraindicated."
        )
    t.meds(steroids)
    dexamethasone = [m for m in steroids if has_ingredient(m, "dexamethasone")]
    named = dexamethasone or steroids
    state = "ordered" if any(m.is_draft for m in named) else "active"
    if dexamethasone:
        return (
            f"Dexamethasone is {state}: if neurological symptoms or signs, confirm {dose} mg oral (or "
            "equivalent) is given as soon as possible."
        )
    drug = next((m.ingredients[0] for m in named if m.ingredients), "a corticosteroid").capitalize()
    return (
        f"{drug} is {state}: if neurological symptoms or signs, confirm the equivalent of dexamethasone "
        f"{dose} mg is given as soon as possible."
    )


def _spinal_pattern_line(t: Trace, spinal: list[ObservationFact]) -> tuple[str, ...]:
    """What R02's advice adds to the critical card when the spinal pain pattern is present too.

    The rest of R02 is already in R01's lines, and more urgently: the MSCC coordinator now rather than
    within a day, whole-spine MRI within hours rather than a spine MRI within a week, all exercise stopped
    rather than axial loading held, and the neurological change R02 asks the patient to report is what R01
    already acts on.  Only the stability score on the new imaging, and the surgical opinion it may call
    for, is not: one line, which also says the pattern was present (R02 stays in the card's rule ids)."""
    if not spinal:
        return ()
    sins = t.ctx.th["exercise.sins_potentially_unstable_min"]
    t.rely("exercise.sins_potentially_unstable_min")
    return (
        f"Spinal red-flag pain is also recorded: calculate SINS on the new imaging ({num(sins.value)} or "
        "more: surgical opinion).",
    )


def _unread_warning(t: Trace, unread: list[UnreadableValue], spinal: list[ObservationFact]) -> Finding:
    """R01 when the only sign of cord compression is a symptom answer that could not be read or is unknown:
    the symptom is not known to be present, so a warning, not an emergency; the card asks for it to be
    checked now.

    R01 supersedes R02, so when the spinal pain pattern is present this card also carries R02's advice."""
    for u in unread:
        when = u.effective.date().isoformat() if u.effective is not None else None
        said = f"answer {u.value_text!r} not read" if u.no_answer is None else f"no answer ({u.no_answer})"
        t.fact(UsedFact(_SYMPTOM_LABELS[u.concept], said, u.ref, when))
    first = _SYMPTOM_LABELS[unread[0].concept]
    more = f" (and {len(unread) - 1} more)" if len(unread) > 1 else ""
    pattern: tuple[str, ...] = ()
    hold = "Hold axial loading and spinal flexion or rotation until checked."
    fix = to_correct(unread)
    if spinal:
        contact = t.ctx.th["red_flags.spinal_contact_hours"]
        mri = t.ctx.th["red_flags.spinal_mri_days"]
        sins = t.ctx.th["exercise.sins_potentially_unstable_min"]
        t.rely(
            "red_flags.spinal_contact_hours",
            "red_flags.spinal_mri_days",
            "exercise.sins_potentially_unstable_min",
        )
        pattern = (
            f"Spinal red-flag pain is recorded: contact the MSCC coordinator within {contact.label()} and "
            f"suggest MRI of the spine within {mri.label()}.",
        )
        # The rest of R02's advice, merged into this card's lines: a card shows five lines at most.
        hold = (
            "Hold axial loading and spinal flexion or rotation until checked; calculate SINS once imaged "
            f"({num(sins.value)} or more: surgical opinion)."
        )
        fix = (
            "Tell the patient to report any weakness, numbness or bladder/bowel change at once; "
            f"{fix[0].lower()}{fix[1:]}"
        )
    return t.finding(
        Indicator.WARNING,
        f"{first} answer{more} {answer_state(*unread)}: check now for cord-compression symptoms; treat as "
        "MSCC if present",
        f"A red-flag symptom was recorded {recorded_how(unread)}; it may be present.",
        (
            "Check now for back pain, limb weakness, sensory loss, bladder or bowel dysfunction and "
            "difficulty walking.",
            "If any is present: treat as suspected MSCC and contact the MSCC coordinator or acute oncology "
            "immediately.",
            *pattern,
            hold,
            fix,
        ),
        referrals=(Referral.MSCC_PATHWAY,),
        related=("R02",) if spinal else (),
        evidence=_EVIDENCE_WITH_R02 if spinal else _EVIDENCE,
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
    on_loading_orders=True,  # hold axial loading
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
