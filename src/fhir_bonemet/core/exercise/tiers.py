"""Skeletal-risk tier per lesion and the person-level minimum tier
(docs/clinical-model.md#tier-per-lesion, #person-modifiers-and-patient-tier).

Lesion tier: the base tier from the first matching row (SINS for spinal lesions, Mirels for long bones,
otherwise the site class and lesion type), then one-tier upgrades capped at HIGH.  A fact that may belong
to several lesions (see :mod:`~fhir_bonemet.core.evidence.lesions`) raises every candidate and never lowers
one: a
shared score gives the higher of "scored" and "unscored".  Missing data never lowers a tier; each gap
is recorded as a :class:`MissingFact` saying what was assumed.

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from fhir_bonemet.core.evidence.lesion_sites import (
    LONG_BONE_SITES,
    SPINE_SITES,
    WEIGHT_BEARING_SITES,
    lesion_label,
)
from fhir_bonemet.core.evidence.lesions import (
    Attributed,
    LesionEvidence,
    fixation_order,
    review_covers,
    review_predates,
)
from fhir_bonemet.core.evidence.unreadable import answer_state, received, shown
from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.fact_index import FactIndex
from fhir_bonemet.core.model.facts import ObservationFact, PatientFacts, SiteClass
from fhir_bonemet.core.model.findings import MissingFact, Tier, UsedFact
from fhir_bonemet.core.model.queries import active_meds, has_active, within_days
from fhir_bonemet.core.model.thresholds import Thresholds
from fhir_bonemet.core.model.used_facts import ACTIVE_STATUSES, num, used_attr, used_condition, used_obs

__all__ = [
    "SCALES_DISAGREE",
    "LesionTier",
    "PersonTier",
    "bma_active",
    "person_tier",
    "scales_disagree",
    "tier_lesion",
]

S = SiteClass
# The "no score, weight-bearing/axial site" row of docs/clinical-model.md#tier-per-lesion:
# spine, sacrum, pelvis, femur, tibia (and unknown).
_UNSCORED_MODERATE = frozenset(SPINE_SITES | {S.PELVIS, S.FEMUR_PROXIMAL, S.FEMUR, S.LOWER_LIMB, S.UNKNOWN})
_SEDATING = (c.GABAPENTINOID, c.SNRI_TCA, c.BENZODIAZEPINE, c.OPIOID)
_BMA = (c.BONE_MODIFYING_AGENT, c.ZOLEDRONIC_ACID, c.DENOSUMAB, c.PAMIDRONATE)


def _up(tier: Tier) -> Tier:
    return Tier.MODERATE if tier is Tier.LOW else Tier.HIGH


@dataclass(slots=True)
class LesionTier:
    tier: Tier
    reasons: list[str] = field(default_factory=list)
    used: list[UsedFact] = field(default_factory=list)
    missing: list[MissingFact] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)  # thresholds relied on


def _score_tier(ev: LesionEvidence, score: Attributed, th: Thresholds, high: str, low: str) -> Tier:
    value = score.value or 0.0
    if value >= th.v(high):
        return Tier.HIGH
    if value >= th.v(low):
        return Tier.MODERATE if review_covers(ev, score) else Tier.HIGH
    return Tier.LOW


def _base(
    ev: LesionEvidence, th: Thresholds, out: LesionTier, label: str, unreadable_scores: frozenset[str]
) -> Tier:
    site = ev.lesion.site.site
    unscored = Tier.MODERATE if site in _UNSCORED_MODERATE else _unscored_non_wb(ev)
    scored: tuple[str, Attributed, str, str] | None = None
    if site in SPINE_SITES and ev.sins is not None:
        scored = ("SINS", ev.sins, "exercise.sins_unstable_min", "exercise.sins_potentially_unstable_min")
    elif site in LONG_BONE_SITES and ev.mirels is not None:
        scored = ("Mirels", ev.mirels, "exercise.mirels_fixation_min", "exercise.mirels_borderline")
    if scored is None:
        _explain_unscored(ev, out, label, site, unreadable_scores)
        if site not in _UNSCORED_MODERATE:
            _explain_non_wb_type(ev, out, label)
        return unscored
    name, score, high, low = scored
    out.keys.update((high, low))
    out.used.append(used_attr(f"{name} ({label})", score))
    tier = _score_tier(ev, score, th, high, low)
    value = num(score.value or 0.0)
    if tier is Tier.MODERATE:
        out.reasons.append(f"{name} {value} with a recorded surgical review")
        if ev.surgical_review is not None:
            out.used.append(used_attr(f"Surgical review ({label})", ev.surgical_review))
    elif tier is Tier.HIGH and (score.value or 0.0) < th.v(high) and review_predates(ev, score):
        out.reasons.append(f"{name} {value}; the surgical review predates the score")
        if ev.surgical_review is not None:
            out.used.append(used_attr(f"Surgical review ({label}, before the score)", ev.surgical_review))
        out.missing.append(
            MissingFact(f"surgical review of the {label} after the {name}", "treated as unreviewed: HIGH")
        )
    elif tier is Tier.HIGH and (score.value or 0.0) < th.v(high):
        out.reasons.append(f"{name} {value} without a recorded surgical review")
        out.missing.append(MissingFact(f"surgical review of the {label}", "treated as unreviewed: HIGH"))
    elif tier is Tier.HIGH and (fixed := fixation_order(ev, score).after) is not None:
        # R04 no longer asks for the fixation this score called for, but nothing says how stable the fixed
        # lesion is: the score still sets the tier, and the card names the fixation and asks for a new score.
        out.reasons.append(f"{name} {value}, taken before the lesion's fixation")
        out.used.append(used_attr(f"Surgical fixation ({label}, after the {name})", fixed))
        out.missing.append(
            MissingFact(
                f"{name} for the {label} after its fixation", f"the {name} before the operation applies: HIGH"
            )
        )
    else:
        out.reasons.append(f"{name} {value}")
    if score.shared:
        out.missing.append(
            MissingFact(
                f"which lesion the {name} result describes", "not used to lower the tier of the " + label
            )
        )
        return tier.at_least(unscored)
    return tier


def _unscored_non_wb(ev: LesionEvidence) -> Tier:
    # Tier table: a non-weight-bearing site without a score is LOW only when known to be blastic.
    lt = ev.lesion_type
    return Tier.LOW if lt is not None and lt.code == "blastic" and not lt.shared else Tier.MODERATE


def _explain_non_wb_type(ev: LesionEvidence, out: LesionTier, label: str) -> None:
    """Why an unscored non-weight-bearing lesion is not LOW: its type.  An unknown type decided the tier and
    is named as missing; the card said only "no validated score for this site" and asked for nothing."""
    lt = ev.lesion_type
    if lt is None:
        out.reasons.append("lesion type unknown")
        out.missing.append(
            MissingFact(f"lesion type (lytic/blastic/mixed) of the {label}", "not assumed blastic: MODERATE")
        )
    elif lt.code == "blastic" and lt.shared:
        out.reasons.append("lesion type not matched to this lesion")
        out.missing.append(
            MissingFact(
                f"which lesion the lesion-type result describes ({label})", "not assumed blastic: MODERATE"
            )
        )
    elif lt.code != "blastic":
        out.reasons.append(f"{lt.code} lesion")


def _explain_unscored(
    ev: LesionEvidence, out: LesionTier, label: str, site: SiteClass, unreadable_scores: frozenset[str]
) -> None:
    if site is S.UNKNOWN:
        out.missing.append(
            MissingFact("site of the bone lesion", "MODERATE at least; restrictions of every site")
        )
        out.reasons.append("site not recorded")
        return
    score = "SINS" if site in SPINE_SITES else "Mirels" if site in LONG_BONE_SITES else None
    if score is None:
        out.reasons.append("no validated score for this site")
        return
    stale = ""
    # A score received but not readable is not an absent score: the reason says so (the cards name the value
    # and why it was not read), and the tier stays as cautious as with no score at all.
    unread = (c.SINS_TOTAL if score == "SINS" else c.MIRELS_TOTAL) in unreadable_scores
    if unread:
        stale = " (a result was received but could not be read)"
    elif ev.stale_score is not None:
        stale = (
            " (only a result dated to the month or year exists: date imprecise, read as its earliest day)"
            if ev.stale_score.date_imprecise
            else " (only an older result exists)"
        )
    out.missing.append(
        MissingFact(
            f"{score} for the {label} within the score lookback{stale}",
            "tier not lowered below MODERATE"
            if site in _UNSCORED_MODERATE
            else "tier from site and lesion type only (LOW only if blastic)",
        )
    )
    out.reasons.append(f"{score} received but not readable" if unread else f"no recent {score}")
    out.keys.add("lookback.score_days")


def _site_words(site: SiteClass) -> str:
    head, _, tail = site.value.partition("-")
    return f"{tail} {head}" if head == "spine" and tail != "unspecified" else site.value.replace("-", " ")


def tier_lesion(
    ev: LesionEvidence,
    th: Thresholds,
    *,
    bma_active: bool,
    escalated: bool,
    spinal_suspected: bool = False,
    unreadable_scores: frozenset[str] = frozenset(),
) -> LesionTier:
    """The lesion's tier with the reasons, data used and data missing.  ``unreadable_scores`` are the score
    concepts (SINS, Mirels) of which a result was received that could not be read."""
    label = lesion_label(ev.lesion)
    site = ev.lesion.site.site
    out = LesionTier(Tier.LOW)
    conflict = ev.lesion.site.conflict
    if conflict is not None and ev.lesion.index >= 0:  # said once, on the record's coded reading
        out.missing.append(
            MissingFact(
                f"site of the {label}: coded {_site_words(site)}, text {_site_words(conflict)}",
                "read as both: the restrictions of both sites apply",
                conflict=True,
            )
        )
    tier = _base(ev, th, out, label, unreadable_scores)
    wb = site in WEIGHT_BEARING_SITES
    fractures = list(ev.fractures)  # any time, any status: the bone stays weakened
    impending = [f for f in ev.impending if f.status in ACTIVE_STATUSES]
    if fractures or impending:
        tier = Tier.HIGH
        for f in (*fractures, *impending):
            out.used.append(used_attr(f"Fracture ({label})", f))
        out.reasons.append("pathological or impending fracture at this site")
    unread = {u.concept: u for u in ev.unread}
    if (u := unread.get(c.IMPENDING_FRACTURE)) is not None and not (fractures or impending):
        # An impending-fracture answer received but not read may be "yes": this site is not loaded until
        # it is verified (the cautious reading; a HIGH tier costs a few weeks of protected loading).
        tier = Tier.HIGH
        out.reasons.append(f"impending-fracture answer {answer_state(u)}")
        out.missing.append(
            MissingFact(shown(u), "read as an impending fracture: HIGH, site not loaded until verified", True)
        )
    if fractures:  # a Mirels score predicts a fracture: on a broken bone it is not asked for
        out.missing = [m for m in out.missing if not m.what.startswith("Mirels")]
    upgrades = 0
    mech = ev.mechanical_pain if ev.mechanical_pain is not None and ev.mechanical_pain.flag else None
    severe = (
        ev.pain
        if ev.pain is not None and (ev.pain.value or 0) >= th.v("exercise.pain_upgrade_nrs_min")
        else None
    )
    if mech or severe:
        upgrades += 1
        out.keys.add("exercise.pain_upgrade_nrs_min")
        for fact, name in ((mech, "Mechanical pain"), (severe, "Pain NRS")):
            if fact is not None:
                out.used.append(used_attr(f"{name} ({label})", fact))
        out.reasons.append(
            "mechanical pain" if mech else f"pain NRS {num(severe.value or 0) if severe else ''}"
        )
    elif (u := unread.get(c.PAIN_MECHANICAL)) is not None:
        # A mechanical-pain answer received but not read may be "yes": the pain upgrade applies.
        upgrades += 1
        out.keys.add("exercise.pain_upgrade_nrs_min")
        out.reasons.append(f"mechanical-pain answer {answer_state(u)}")
        out.missing.append(
            MissingFact(shown(u), "read as mechanical pain: one tier higher until verified", True)
        )
    lt = ev.lesion_type
    lytic_or_unknown = lt is None or lt.shared or lt.code not in ("blastic", "mixed")
    if lt is not None:
        out.used.append(used_attr(f"Lesion type ({label})", lt))
    if wb and lytic_or_unknown:
        upgrades += 1
        out.reasons.append(
            "lytic lesion in a weight-bearing bone"
            if lt and lt.code == "lytic"
            else "lesion type unknown in a weight-bearing bone"
        )
        if lt is None or lt.code != "lytic":
            out.missing.append(
                MissingFact(f"lesion type (lytic/blastic/mixed) of the {label}", "treated as lytic")
            )
    if ev.radiotherapy is not None:
        upgrades += 1
        out.keys.add("lookback.recent_radiotherapy_days")
        out.used.append(used_attr(f"Radiotherapy ({label})", ev.radiotherapy))
        out.reasons.append("radiotherapy to this site within the lookback")
        if ev.radiotherapy.when is None:
            out.missing.append(MissingFact("date of the radiotherapy", "treated as recent"))
    if upgrades == 0 and wb and not bma_active:
        upgrades = 1  # weak modifier, only when nothing else upgrades
        out.reasons.append("weight-bearing site and no bone-modifying agent")
    for _ in range(upgrades):
        tier = _up(tier)
    if escalated:
        tier = Tier.HIGH
        out.reasons.append("pain escalation at this site (R05): loading paused")
    if spinal_suspected and site in SPINE_SITES:
        tier = Tier.HIGH
    out.tier = tier.at_least(Tier.LOW)
    return out


@dataclass(slots=True)
class PersonTier:
    minimum: Tier = Tier.LOW
    adl_only: bool = False
    # The recorded performance status that makes the plan ADL-only ("ECOG 3", "KPS 40"): what an order for
    # exercise is told, where ``factors`` also holds everything that only raised the tier.
    adl_because: list[str] = field(default_factory=list)
    # The recorded performance status that calls for a reduced volume and functional goals ("ECOG 2"),
    # clinical-rules 2.5; None when none does.
    reduced_volume: str | None = None
    factors: list[str] = field(default_factory=list)
    used: list[UsedFact] = field(default_factory=list)
    missing: list[MissingFact] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)

    def raise_to(self, tier: Tier, factor: str) -> None:
        self.minimum = self.minimum.at_least(tier)
        self.factors.append(factor)


def _unreadable(facts: PatientFacts, kind: str) -> bool:
    """Whether a whole source of this kind (prefetch key or resource type, e.g. "medication-requests",
    "MedicationStatement", "procedures") could not be read: its facts are unknown, not absent."""
    return any(source.lower().startswith(kind) for source in facts.unavailable)


def person_tier(facts: PatientFacts, today: date, th: Thresholds, idx: FactIndex) -> PersonTier:
    """STEP 3: person-related factors setting a patient-level minimum tier, and the ADL-only switch."""
    out = PersonTier()
    days = th.v("lookback.score_days")
    _performance(idx, today, th, days, out)
    for concept, name, any_status in (
        (c.FALLS_HISTORY, "falls history", True),
        (c.FALL_RISK, "at risk of falls", False),
        (c.PERIPHERAL_NEUROPATHY, "peripheral neuropathy", False),
        (c.OSTEOPOROSIS, "osteoporosis", False),
    ):
        conds = [x for x in idx.conditions(concept) if any_status or x.clinical_status in ACTIVE_STATUSES]
        # Recorded as a finding (an Observation answered yes) within the score lookback, it counts too; a
        # "yes" without a date counts unless a dated answer settles it (a missing date is no "no").
        said = idx.answered_yes((concept,), today, days, undated_yes=True)
        if conds or said:
            out.raise_to(Tier.MODERATE, name)
            if any(o.effective is None for o in said):
                out.missing.append(MissingFact(f"date of the {name} record", "treated as current"))
            out.used.extend(used_condition(name.capitalize(), x) for x in conds)
            out.used.extend(used_obs(name.capitalize(), x) for x in said)
        elif (unread := received(idx, concept, today, days)) is not None:
            # A falls answer received but not read may be "yes": read so (the tier it sets is a floor).
            out.raise_to(Tier.MODERATE, f"{name} answer {answer_state(unread)}")
            out.missing.append(
                MissingFact(shown(unread), "read as yes: at least MODERATE until verified; verify it", True)
            )
    morse = _latest_number(idx, c.MORSE_FALL_SCALE, today, days)
    if (
        morse is not None
        and morse.quantity is not None
        and morse.quantity.value >= th.v("exercise.morse_high_risk_min")
    ):
        out.raise_to(Tier.MODERATE, f"Morse Fall Scale {num(morse.quantity.value)}")
        out.used.append(used_obs("Morse Fall Scale", morse))
        out.keys.add("exercise.morse_high_risk_min")
    age = facts.age_on(today)
    out.keys.add("exercise.older_age_min")
    if age is None:
        out.raise_to(Tier.MODERATE, "age unknown")
        out.missing.append(MissingFact("birth date", "older age not excluded: at least MODERATE"))
    elif age >= th.v("exercise.older_age_min"):
        out.raise_to(Tier.MODERATE, f"age {age}")
        out.used.append(UsedFact("Age", f"{age} years", facts.patient_ref))
    sedating = sorted(active_meds(facts, today, *_SEDATING), key=lambda m: m.ref)
    if sedating:
        out.raise_to(Tier.MODERATE, "sedating or fall-risk medicine")
        out.used.extend(
            UsedFact("Medication", m.display or ", ".join(m.ingredients) or "active", m.ref) for m in sedating
        )
    elif _unreadable(facts, "medication"):
        out.raise_to(Tier.MODERATE, "medications could not be read")
        out.missing.append(
            MissingFact("medication list", "sedating medicines not excluded: at least MODERATE")
        )
    if _unreadable(facts, "procedure"):
        out.raise_to(Tier.MODERATE, "procedures could not be read")
        out.missing.append(
            MissingFact(
                "procedure records", "recent radiotherapy not excluded, reviews not credited: MODERATE"
            )
        )
    compression = [x for x in idx.conditions(c.CORD_COMPRESSION) if x.clinical_status in ACTIVE_STATUSES]
    if compression:
        out.raise_to(Tier.HIGH, "spinal cord compression on record")
        out.used.extend(used_condition("Spinal cord compression", x) for x in compression)
    return out


def _latest_number(idx: FactIndex, concept: str, today: date, days: float) -> ObservationFact | None:
    for obs in idx.observations(concept):
        if obs.quantity is not None and within_days(obs.effective, today, days):
            return obs
    return None


def _worst_same_day(
    idx: FactIndex, newest: ObservationFact | None, worse_is_higher: bool, name: str, out: PersonTier
) -> ObservationFact | None:
    """The worst score recorded on the day of the newest one.  Two different scores the same day contradict
    each other: the worse is applied (the cautious reading) and the card says so."""
    if newest is None or newest.effective is None or newest.quantity is None:
        return newest
    day = newest.effective.date()
    same_day = [
        o
        for o in idx.observations(newest.concept)
        if o.quantity is not None and o.effective is not None and o.effective.date() == day
    ]
    values = sorted({o.quantity.value for o in same_day if o.quantity is not None})
    if len(values) < 2:
        return newest
    worst = max if worse_is_higher else min
    chosen = worst(same_day, key=lambda o: o.quantity.value if o.quantity is not None else 0.0)
    shown = " and ".join(num(v) for v in values)
    out.missing.append(
        MissingFact(
            f"{name} {shown} recorded on {day.isoformat()}",
            f"the worse ({name} {num(chosen.quantity.value if chosen.quantity else 0.0)}) applied",
            conflict=True,
        )
    )
    return chosen


def _performance(idx: FactIndex, today: date, th: Thresholds, days: float, out: PersonTier) -> None:
    ecog = _worst_same_day(idx, _latest_number(idx, c.ECOG, today, days), True, "ECOG", out)
    kps = _worst_same_day(idx, _latest_number(idx, c.KPS, today, days), False, "Karnofsky", out)
    out.keys.update(("exercise.ecog_moderate_min", "exercise.ecog_adl_only_min", "lookback.score_days"))
    if ecog is None and kps is None:
        out.raise_to(Tier.MODERATE, "performance status unknown")
        out.missing.append(
            MissingFact(
                "ECOG or Karnofsky performance status",
                "not assumed ECOG 0-1: at least MODERATE",
                concept=c.ECOG,
            )
        )
        return
    if ecog is not None and ecog.quantity is not None:
        out.used.append(used_obs("ECOG", ecog))
        value = ecog.quantity.value
        if value >= th.v("exercise.ecog_adl_only_min"):
            out.adl_only = True
            out.factors.append(f"ECOG {num(value)}")
            out.adl_because.append(f"ECOG {num(value)}")
        elif value >= th.v("exercise.ecog_moderate_min"):
            out.raise_to(Tier.MODERATE, f"ECOG {num(value)}")
            out.reduced_volume = f"ECOG {num(value)}"
    if kps is not None and kps.quantity is not None:
        out.used.append(used_obs("Karnofsky", kps))
        out.keys.update(("exercise.kps_moderate_max", "exercise.kps_adl_only_max"))
        value = kps.quantity.value
        if value <= th.v("exercise.kps_adl_only_max"):
            out.adl_only = True
            out.factors.append(f"KPS {num(value)}")
            out.adl_because.append(f"KPS {num(value)}")
        elif value <= th.v("exercise.kps_moderate_max"):
            out.raise_to(Tier.MODERATE, f"KPS {num(value)}")
            out.reduced_volume = out.reduced_volume or f"KPS {num(value)}"
    scales_disagree(ecog, kps, th, out)


# How the line naming two performance scales in different bands ends (EX03 asks which is right).
SCALES_DISAGREE = " disagree"


def _band(value: float, limits: tuple[float, float], worse_is_higher: bool) -> int:
    """0 full programme, 1 moderate, 2 ADL-only: where a performance score falls (``limits``: the moderate
    and the ADL-only threshold of its scale)."""
    moderate, adl_only = limits
    if worse_is_higher:
        return 2 if value >= adl_only else 1 if value >= moderate else 0
    return 2 if value <= adl_only else 1 if value <= moderate else 0


def scales_disagree(
    ecog: ObservationFact | None, kps: ObservationFact | None, th: Thresholds, out: PersonTier
) -> None:
    """ECOG and Karnofsky both recorded in the lookback but in different bands ("ECOG 1" one day, "KPS 40"
    another): both are applied, so the worse decides, and the card asks which is right rather than leave
    the clinician to wonder why the plan is stricter than the score on top of the chart."""
    if ecog is None or kps is None or ecog.quantity is None or kps.quantity is None:
        return
    ecog_limits = (th.v("exercise.ecog_moderate_min"), th.v("exercise.ecog_adl_only_min"))
    kps_limits = (th.v("exercise.kps_moderate_max"), th.v("exercise.kps_adl_only_max"))
    if _band(ecog.quantity.value, ecog_limits, True) == _band(kps.quantity.value, kps_limits, False):
        return
    when = {o.concept: o.effective.date().isoformat() if o.effective else "undated" for o in (ecog, kps)}
    out.missing.append(
        MissingFact(
            f"ECOG {num(ecog.quantity.value)} ({when[c.ECOG]}) and Karnofsky {num(kps.quantity.value)} "
            f"({when[c.KPS]}){SCALES_DISAGREE}",
            "the worse applied",
            conflict=True,
        )
    )


def bma_active(facts: PatientFacts, today: date) -> bool:
    return has_active(facts, today, *_BMA)
