"""Findings and the Assessment: the output of the reasoning core.

A :class:`Finding` is one concern a rule raised, with everything a clinician or a CDS committee needs to
trace it: the rule id, the patient data it used (with resource references and dates), what was missing
and how that made the advice more cautious, a one-line rationale and the evidence source ids (``S01`` ...
of ``knowledge/sources.toml``).  The card and CarePlan builders outside the core only format findings;
they never decide anything clinical.

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property

from fhir_bonemet.core.model.facts import BodySite
from fhir_bonemet.core.model.frozen_init import fast_init

MAX_SUMMARY = 139  # CDS Hooks asks for card summaries under 140 characters


def shorten(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` characters, marked "…" when shortened: cut at a word boundary, unless
    that keeps less than half of the room (one long drug name would leave "Cancel…"): then inside the word.
    """
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    words = head.rsplit(" ", 1)[0].rstrip(",;:")
    return (words if len(words) >= limit // 2 else head.rstrip()) + "…"


def spoken_list(items: Sequence[str]) -> str:
    """ "a, b and c": ``items`` (at least one) as running text reads them."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def fit_summary(text: str) -> str:
    """Keep a summary under the CDS Hooks limit (:func:`shorten`)."""
    return shorten(text, MAX_SUMMARY)


class Indicator(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @cached_property  # kept on the member: sorting and tiering read ranks on every call
    def rank(self) -> int:
        return _INDICATOR_RANK[self]


_INDICATOR_RANK = {Indicator.INFO: 0, Indicator.WARNING: 1, Indicator.CRITICAL: 2}


class Category(StrEnum):
    RED_FLAG = "red-flag"
    EXERCISE = "exercise"
    PAIN = "pain"
    BONE_HEALTH = "bone-health"  # bone-modifying agents and their safety checks
    MEDICATION_SAFETY = "medication-safety"

    @cached_property  # kept on the member: sorting and tiering read ranks on every call
    def rank(self) -> int:
        """Reading order among concerns of the same urgency: red flags first, then medication harm."""
        return _CATEGORY_RANK[self]


_CATEGORY_RANK = {
    Category.RED_FLAG: 0,
    Category.MEDICATION_SAFETY: 1,
    Category.EXERCISE: 2,
    Category.PAIN: 3,
    Category.BONE_HEALTH: 4,
}


class Tier(StrEnum):
    """Skeletal-complication risk tier, ordered; HOLD and ADL_ONLY suspend structured exercise."""

    LOW = "low"
    MODERATE = "moderate"
    HIGH = "high"
    ADL_ONLY = "adl-only"
    HOLD = "hold"

    @cached_property  # kept on the member: sorting and tiering read ranks on every call
    def rank(self) -> int:
        return _TIER_RANK[self]

    def at_least(self, other: Tier) -> Tier:
        return self if self.rank >= other.rank else other


_TIER_RANK = {Tier.LOW: 0, Tier.MODERATE: 1, Tier.HIGH: 2, Tier.ADL_ONLY: 3, Tier.HOLD: 4}


class Referral(StrEnum):
    """Referrals a finding may propose; the card layer turns them into ServiceRequest suggestions."""

    PHYSIOTHERAPY = "physiotherapy"
    EXERCISE_PHYSIOLOGY = "exercise-physiology"
    RADIATION_ONCOLOGY = "radiation-oncology"
    ORTHOPAEDIC_SURGERY = "orthopaedic-surgery"
    SPINE_SURGERY = "spine-surgery"
    MSCC_PATHWAY = "mscc-pathway"
    DENTAL = "dental-examination"
    ORAL_MAXILLOFACIAL = "oral-maxillofacial"  # R07: suspected jaw osteonecrosis
    PALLIATIVE_CARE = "palliative-care"
    PAIN_SPECIALIST = "pain-specialist"  # P05: uncontrolled pain, interventional options
    # R09: a review of the sedating regimen, to take one medicine away safely; no intervention intended.
    SEDATING_REGIMEN_REVIEW = "sedating-regimen-review"
    ACUTE_ONCOLOGY = "acute-oncology"


@fast_init
@dataclass(frozen=True, slots=True)
class UsedFact:
    """A piece of patient data a rule relied on, as it will be shown in the card."""

    label: str  # "Platelets", "SINS (T9)", "Oxycodone 5 mg tablet"
    value: str  # "42 10*9/L", "14", "active"
    ref: str | None = None  # "Observation/abc"; None for derived values
    when: str | None = None  # ISO date of the fact, when known


@fast_init
@dataclass(frozen=True, slots=True)
class MissingFact:
    """Data a rule wanted and did not have, and what the rule assumed instead (always the cautious side)."""

    what: str  # "SINS for the T9 lesion", "platelet count within 30 days"
    consequence: str  # "tier not lowered below MODERATE", "treated as possibly unstable"
    # Data that was received but could not be read (a value without a unit, a medication list the EHR
    # could not return): the card shows it as such, never as "no result".
    unreadable: bool = False
    # Records that contradict each other (coded lumbar, text "T10"; ECOG 1 and 3 the same day): ``what``
    # names both, ``consequence`` the cautious reading applied.  Shown as a conflict, never resolved silently.
    conflict: bool = False
    # The record the gap is about, when ``what`` names it in words (a product's name) rather than by its
    # reference: the data-gap pass then does not name that record again from its read issue.  Not compared:
    # two lines saying the same are the same line whatever record they came from.
    ref: str | None = field(default=None, compare=False)
    # The concept whose result is missing ("calcium within the lab lookback": lab-calcium), where the line
    # says one is: a result of it received under a code not understood then replaces the line with one
    # naming that result (core.data_gaps).  Not compared, as ``ref``.
    concept: str | None = field(default=None, compare=False)


class OrderChange(StrEnum):
    """The concrete change a finding proposes for a draft order; the card layer builds it as FHIR."""

    CANCEL = "cancel"  # cancel the draft
    DOSE = "dose"  # the same draft with a lower dose per administration (``DoseChange.dose``)
    SCHEDULE = "schedule"  # the same draft given fewer times a day (``DoseChange.per_day``)
    ADD_LAXATIVE = "add-laxative"  # a new stimulant-laxative order beside this draft
    ADD_CALCIUM_VITAMIN_D = "add-calcium-vitamin-d"  # a new calcium and vitamin D order beside this draft
    REVIEW = "review"  # advice without a concrete change ("lowest effective dose"): no suggestion


@fast_init
@dataclass(frozen=True, slots=True)
class DoseChange:
    """The numbers of a dose change, worked out by the rule that proposes it (never parsed from text).

    ``dose`` is the new dose per administration in ``unit`` (DOSE); ``per_day`` the new number of
    administrations a day and ``max_per_day`` the new as-needed ceiling in the order's own dose unit
    (SCHEDULE); ``daily`` the resulting daily amount of the ingredient in ``daily_unit``, for the label.
    ``ingredient`` names the drug those amounts are of ("zoledronic acid"), as the rule knows it: the label
    names it whole, never a word of the order's text ("Reduce zoledronic to 3.5 mg").  ``product`` names
    every ingredient of a combination product ("oxycodone / acetaminophen"), all of which a schedule change
    reduces: the label names the product and the ingredient of the amounts, never "Reduce oxycodone to
    1.95 g/day".
    """

    unit: str  # unit of ``dose`` ("mg") or the order's own dose unit for a schedule change
    dose: float | None = None
    per_day: int | None = None
    max_per_day: float | None = None
    daily: float | None = None
    daily_unit: str = "mg/d"
    reason: str = ""  # short clause for the draft's dosage text: "reduced for renal function"
    ingredient: str = ""  # "zoledronic acid", "acetaminophen"
    product: str = ""  # a combination's ingredients, "oxycodone / acetaminophen"; empty for one ingredient


@fast_init
@dataclass(frozen=True, slots=True)
class OrderAction:
    """What a finding proposes to do with a draft order it concerns.

    ``action`` is the CDS Hooks action type ("delete" | "update"); ``change`` and ``dose`` say exactly what
    the update is, so that the card layer builds it without reading ``description`` (shown to people).
    ``safest`` says the change is the safest choice, which the card recommends: a cancellation is, except
    where the plan itself still asks for the order in some form (a physiotherapy order for a patient whose
    plan is ADL and mobility upkeep with PT/OT)."""

    order_ref: str  # "MedicationRequest/draft-1", "ServiceRequest/draft-physio"
    action: str  # "delete" | "update"
    description: str
    change: OrderChange = OrderChange.REVIEW
    dose: DoseChange | None = None
    safest: bool = True

    def __post_init__(self) -> None:
        if self.action == "delete" and self.change is not OrderChange.CANCEL:
            object.__setattr__(self, "change", OrderChange.CANCEL)  # a deletion is always a cancellation
        needs_numbers = self.change in (OrderChange.DOSE, OrderChange.SCHEDULE)
        if needs_numbers and self.dose is None:
            raise ValueError(f"order change {self.change.value} needs its DoseChange")


@fast_init
@dataclass(frozen=True, slots=True)
class Finding:
    rule_id: str  # "R01", "P16", "EX-TIER", ...
    title: str
    category: Category
    indicator: Indicator
    summary: str  # < 140 characters, says what to do
    rationale: str  # one line: why this fired
    recommendations: tuple[str, ...] = ()
    evidence: tuple[str, ...] = ()  # source ids, e.g. ("S10", "S13")
    used: tuple[UsedFact, ...] = ()
    missing: tuple[MissingFact, ...] = ()
    referrals: tuple[Referral, ...] = ()
    order_actions: tuple[OrderAction, ...] = ()
    related_rules: tuple[str, ...] = ()  # further rule ids merged into this concern (e.g. P14 into R09)
    defaults_used: tuple[str, ...] = ()  # threshold keys tagged [D] that this finding relied on
    unverified: bool = False  # relies on [M]/UNVERIFIED knowledge awaiting clinical review
    # Its changes to draft orders are alternatives: the clinician makes one of them (R09: "stop one" of
    # three drafts that complete a combination), not each of them (R03: cancel every calcium supplement).
    one_change_only: bool = False

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return (self.rule_id, *self.related_rules)


class DomainStatus(StrEnum):
    PERMITTED = "permitted"
    RESTRICTED = "restricted"  # permitted with exclusions (e.g. "elbow only")
    AVOID = "avoid"


@fast_init
@dataclass(frozen=True, slots=True)
class DomainAdvice:
    """One exercise domain (``ex-*`` code) for the whole patient, after every lesion's restrictions."""

    domain: str  # "ex-aerobic-wb", "ex-resist-trunk", ...
    status: DomainStatus
    exclusions: tuple[str, ...] = ()  # "No spinal flexion, extension or rotation (T9 lesion)"
    dose: str | None = None  # tier-specific prescription text for this domain


@fast_init
@dataclass(frozen=True, slots=True)
class LesionRisk:
    lesion_ref: str
    site: BodySite
    tier: Tier
    reasons: tuple[str, ...]  # "SINS 14 (unstable)", "lytic lesion in a weight-bearing bone"
    avoided_domains: tuple[str, ...]
    restricted_domains: tuple[str, ...] = ()
    used: tuple[UsedFact, ...] = ()
    missing: tuple[MissingFact, ...] = ()


@fast_init
@dataclass(frozen=True, slots=True)
class ExercisePlan:
    """The exercise prescription: overall tier, per-lesion tiers and the domain matrix."""

    tier: Tier
    lesions: tuple[LesionRisk, ...]
    domains: tuple[DomainAdvice, ...]
    supervision: str
    progression: str
    stop_and_call: tuple[str, ...]
    person_factors: tuple[str, ...] = ()
    gates: tuple[str, ...] = ()  # global gates that applied (platelets, Hb, ECOG, ...)
    on_hold_reason: str | None = None


@fast_init
@dataclass(frozen=True, slots=True)
class Assessment:
    """The whole answer of the core for one patient and one hook call."""

    in_population: bool
    population_reason: str  # why the service speaks or stays silent, for logs and audit (no patient data)
    findings: tuple[Finding, ...] = ()
    exercise: ExercisePlan | None = None
    notes: tuple[str, ...] = field(default=())  # e.g. unreadable resources summarised, without patient data
