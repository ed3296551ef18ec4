"""Shared machinery of the pain and bone-health rules: the evaluation context and the finding builder.

The context is computed once per call (active medications, renal function, latest pain score, which draft
orders are in focus) so every rule sees the same values.  The :class:`Trace` collects what a rule used,
what was missing and which service-default thresholds it relied on, and builds the :class:`Finding`.

Hooks (clinical-rules §5.7):

* ``patient-view``: every rule runs against the patient's active medications; draft orders are ignored.
* ``order-select`` / ``order-sign``: draft orders count as active, and the medication rules speak only
  about concerns that involve a draft in focus (order-select: the selected drafts, or every draft when
  none is marked selected; order-sign: every draft).  Findings name those drafts in ``order_actions``.

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from fhir_bonemet.core.evidence.derived import PainScore, RenalFunction, latest_pain, renal_function
from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.catalogue import RuleSpec, register
from fhir_bonemet.core.model.fact_index import FactIndex
from fhir_bonemet.core.model.facts import MedicationFact, PatientFacts
from fhir_bonemet.core.model.findings import (
    Category,
    Finding,
    Indicator,
    MissingFact,
    OrderAction,
    Referral,
    UsedFact,
)
from fhir_bonemet.core.model.queries import is_active
from fhir_bonemet.core.model.thresholds import Thresholds

PATIENT_VIEW = "patient-view"
ORDER_SELECT = "order-select"
ORDER_SIGN = "order-sign"
HOOKS = (PATIENT_VIEW, ORDER_SELECT, ORDER_SIGN)
SUMMARY_MAX = 140

# Threshold keys and concepts behind the shared derived values; rules that use them declare these.
PAIN_KEYS = ("lookback.pain_score_days",)
RENAL_KEYS = ("lookback.lab_days", "pain.weight_lookback_days")
RENAL_CONCEPTS = (c.LAB_CREATININE, c.BODY_WEIGHT, c.LAB_CRCL, c.LAB_EGFR)

# Drugs counted as CNS-active by the Beers criteria (S23) that this service can recognise.
CNS_ACTIVE = (c.OPIOID, c.BENZODIAZEPINE, c.GABAPENTINOID, c.SNRI_TCA, c.SSRI)
# Routes that are not systemic (a steroid cream or inhaler is not a systemic corticosteroid).
LOCAL_ROUTES = frozenset(
    {"topical", "cutaneous", "inhalation", "nasal", "ophthalmic", "otic", "intra-articular"}
)


@dataclass(frozen=True, slots=True)
class PainContext:
    facts: PatientFacts
    today: date
    th: Thresholds
    hook: str
    meds: tuple[MedicationFact, ...]  # active medications (+ drafts on order hooks), in record order
    focus: frozenset[str] | None  # refs of the draft orders in focus; None on patient-view
    renal: RenalFunction
    pain: PainScore | None
    # The call's fact index (shared with the red-flag and exercise rules), so the rules look facts up
    # by concept instead of scanning the record; built by build_context when the caller has none.
    index: FactIndex = field(compare=False, repr=False)
    exercise_active: bool = False  # a structured exercise programme is in progress (P12, P25)
    # active(*classes) answers, remembered: the rules ask about the same drug classes again and again.
    _active: dict[tuple[str, ...], tuple[MedicationFact, ...]] = field(
        default_factory=dict, compare=False, repr=False
    )

    @property
    def order_hook(self) -> bool:
        return self.focus is not None

    @property
    def age(self) -> int | None:
        return self.facts.age_on(self.today)

    def active(self, *classes: str) -> list[MedicationFact]:
        found = self._active.get(classes)
        if found is None:
            wanted = set(classes)
            found = self._active[classes] = tuple(m for m in self.meds if wanted & m.classes)
        return list(found)  # a list of its own: callers may change it

    def has(self, *classes: str) -> bool:
        return bool(self.active(*classes))

    def concerns_focus(self, meds: Iterable[MedicationFact]) -> bool:
        """Patient-view: always.  Order hooks: only when one of ``meds`` is a draft in focus."""
        return self.focus is None or any(m.ref in self.focus for m in meds)

    def focused(self, meds: Iterable[MedicationFact]) -> list[MedicationFact]:
        return [m for m in meds if self.focus is not None and m.ref in self.focus]


def build_context(
    facts: PatientFacts,
    today: date,
    th: Thresholds,
    hook: str,
    *,
    exercise_active: bool = False,
    index: FactIndex | None = None,
) -> PainContext:
    if hook not in HOOKS:
        raise ValueError(f"unknown hook {hook!r}; expected one of {', '.join(HOOKS)}")
    if hook == PATIENT_VIEW:
        meds = tuple(m for m in facts.medications if not m.is_draft and is_active(m, today))
        focus: frozenset[str] | None = None
    else:
        meds = tuple(m for m in facts.medications if is_active(m, today))
        drafts = [m for m in facts.medications if m.is_draft]
        selected = [m for m in drafts if m.is_selected]
        chosen = selected if hook == ORDER_SELECT and selected else drafts
        focus = frozenset(m.ref for m in chosen)
    idx = index if index is not None else FactIndex(facts)
    return PainContext(
        facts=facts,
        today=today,
        th=th,
        hook=hook,
        meds=meds,
        focus=focus,
        renal=renal_function(facts, today, th, idx),
        pain=latest_pain(facts, today, th, idx),
        exercise_active=exercise_active,
        index=idx,
    )


def med_label(med: MedicationFact) -> str:
    return med.display or " / ".join(med.ingredients) or med.ref


def med_used(med: MedicationFact) -> UsedFact:
    state = "draft order" if med.is_draft else f"{med.status} ({med.source})"
    return UsedFact(med_label(med), state, med.ref, med.start.isoformat() if med.start else None)


def is_systemic(med: MedicationFact) -> bool:
    routes = {d.route for d in med.doses if d.route is not None}
    return not routes or bool(routes - LOCAL_ROUTES)


@dataclass
class Trace:
    """Collects what one rule evaluation used, missed and assumed; builds the Finding."""

    ctx: PainContext
    spec: RuleSpec
    used: list[UsedFact] = field(default_factory=list)
    missing: list[MissingFact] = field(default_factory=list)
    defaults: list[str] = field(default_factory=list)
    actions: list[OrderAction] = field(default_factory=list)

    def v(self, key: str) -> float:
        """A threshold value; service defaults are recorded so the card can label them."""
        if key not in self.spec.thresholds:  # keeps the catalogue's declared dependencies truthful
            raise KeyError(f"rule {self.spec.id} reads threshold {key!r} it did not declare")
        if self.ctx.th[key].is_default and key not in self.defaults:
            self.defaults.append(key)
        return self.ctx.th.v(key)

    def label(self, key: str) -> str:
        self.v(key)
        return self.ctx.th[key].label()

    def meds(self, meds: Iterable[MedicationFact]) -> None:
        for med in meds:
            fact = med_used(med)
            if fact not in self.used:
                self.used.append(fact)

    def fact(self, *facts: UsedFact) -> None:
        for fact in facts:
            if fact not in self.used:
                self.used.append(fact)

    def miss(self, what: str, consequence: str) -> None:
        self.missing.append(MissingFact(what, consequence))

    def renal(self, consequence: str) -> RenalFunction:
        """Record the renal function used (or that it is unknown, with ``consequence``)."""
        renal = self.ctx.renal
        for key in RENAL_KEYS:
            self.v(key)
        self.fact(*renal.used)
        if not renal.known:
            self.miss("renal function: " + "; ".join(renal.missing), consequence)
        elif renal.method != "cockcroft-gault":
            self.miss(
                "Cockcroft-Gault creatinine clearance", f"{renal.describe()}; " + "; ".join(renal.missing)
            )
        elif renal.missing:
            self.miss("sex", "; ".join(renal.missing))
        return renal

    def pain(self) -> PainScore | None:
        """The latest pain score (recorded as used when present)."""
        self.v(PAIN_KEYS[0])
        if self.ctx.pain is not None:
            self.fact(self.ctx.pain.used())
        return self.ctx.pain

    def act(self, meds: Iterable[MedicationFact], action: str, description: str) -> None:
        """Offer ``action`` on every draft order in focus among ``meds``."""
        for med in self.ctx.focused(meds):
            if not any(a.order_ref == med.ref for a in self.actions):
                self.actions.append(OrderAction(med.ref, action, f"{med_label(med)}: {description}"))

    def finding(
        self,
        indicator: Indicator,
        summary: str,
        rationale: str,
        recommendations: Sequence[str] = (),
        *,
        referrals: Sequence[Referral] = (),
        related: Sequence[str] = (),
    ) -> Finding:
        spec = self.spec
        if len(summary) >= SUMMARY_MAX:  # never fail a request over wording: shorten, keep the start
            summary = summary[: SUMMARY_MAX - 2].rstrip() + "…"
        return Finding(
            rule_id=spec.id,
            title=spec.title,
            category=spec.category,
            indicator=indicator,
            summary=summary,
            rationale=rationale,
            recommendations=tuple(recommendations),
            evidence=spec.evidence,
            used=tuple(self.used),
            missing=tuple(self.missing),
            referrals=tuple(referrals),
            order_actions=tuple(self.actions),
            related_rules=tuple(related),
            defaults_used=tuple(self.defaults),
            unverified=spec.unverified,
        )


RuleFn = Callable[[PainContext, RuleSpec], Finding | None]


@dataclass(frozen=True, slots=True)
class PainRule:
    spec: RuleSpec
    fn: RuleFn
    on_orders: bool  # also evaluated on order-select / order-sign (medication-safety rules)


def pain_rule(
    registry: list[PainRule],
    rule_id: str,
    title: str,
    category: Category,
    *,
    concepts: Iterable[str] = (),
    thresholds: Iterable[str] = (),
    evidence: Iterable[str] = (),
    unverified: bool = False,
    on_orders: bool = False,
) -> Callable[[RuleFn], RuleFn]:
    """Register a rule in the catalogue and in the module's ``registry`` list."""
    spec = register(
        rule_id,
        title,
        category,
        concepts=concepts,
        thresholds=thresholds,
        evidence=evidence,
        unverified=unverified,
    )

    def decorate(fn: RuleFn) -> RuleFn:
        registry.append(PainRule(spec, fn, on_orders))
        return fn

    return decorate
