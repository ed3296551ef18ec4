"""The one finding builder: :class:`Trace`, handed to every rule by the catalogue's runner.

A Trace collects what one rule evaluation used, what was missing and what it assumed instead, which
service-default thresholds it relied on and which draft orders it proposes to change; then it builds the
:class:`~fhir_bonemet.core.model.findings.Finding`.  The title, category, evidence ids and the unverified
flag come from the rule's declaration (:func:`~fhir_bonemet.core.model.rule.rule`), so a card can
never name a rule differently from ``docs/rules.md``.  A threshold the rule did not declare cannot be read,
which keeps the catalogue's dependencies truthful.

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from fhir_bonemet.core.evidence.derived import CLEARANCE_UNIT, RENAL_BAND_EDGES, PainScore, RenalFunction
from fhir_bonemet.core.model.catalogue import RuleSpec
from fhir_bonemet.core.model.context import RuleContext
from fhir_bonemet.core.model.facts import MedicationFact
from fhir_bonemet.core.model.findings import (
    DoseChange,
    Finding,
    Indicator,
    MissingFact,
    OrderAction,
    OrderChange,
    Referral,
    UsedFact,
    fit_summary,
)
from fhir_bonemet.core.model.thresholds import UnknownThresholdError
from fhir_bonemet.core.model.used_facts import med_label, med_used

__all__ = ["PAIN_KEYS", "RENAL_KEYS", "Trace"]

# Threshold keys behind the shared derived values of the context; rules that use them declare these.
PAIN_KEYS = ("lookback.pain_score_days",)
RENAL_KEYS = ("lookback.lab_days", "pain.weight_lookback_days")


@dataclass(slots=True, init=False)
class Trace:
    """Collects what one rule evaluation used, missed and assumed; builds the Finding."""

    ctx: RuleContext
    spec: RuleSpec
    used: list[UsedFact]
    missing: list[MissingFact]
    defaults: list[str]
    actions: list[OrderAction]

    def __init__(self, ctx: RuleContext, spec: RuleSpec) -> None:
        # Written out: the generated __init__ checked each list for a value passed in, which no caller does.
        self.ctx = ctx
        self.spec = spec
        self.used = []
        self.missing = []
        self.defaults = []
        self.actions = []

    def for_rule(self, spec: RuleSpec) -> Trace:
        """This builder, emptied, for the next rule of the same call.  The runner hands every rule of a pass
        the same builder, emptied so: some fifty rules run on every call, and making a new Trace for each
        (a class call and a Python __init__) cost more than the emptying.  The Findings built keep copies
        (tuples) of the lists, never the lists themselves."""
        self.spec = spec
        # A list the last rule left empty is kept (most rules record nothing but the thresholds they read).
        if self.used:
            self.used = []
        if self.missing:
            self.missing = []
        if self.defaults:
            self.defaults = []
        if self.actions:
            self.actions = []
        return self

    def v(self, key: str) -> float:
        """A threshold value; service defaults are recorded so the card can label them."""
        if key not in self.spec.thresholds:  # keeps the catalogue's declared dependencies truthful
            raise KeyError(f"rule {self.spec.id} reads threshold {key!r} it did not declare")
        th = self.ctx.th
        if key in th.service_defaults and key not in self.defaults:
            self.defaults.append(key)
        return th.v(key)

    def rely(self, *keys: str) -> None:
        """The finding relies on these thresholds (compared elsewhere, e.g. by a shared helper): check they
        were declared and record the service defaults among them, in key order."""
        # Set operations rather than a look-up per key (as v does it): EX01 relies on some twenty thresholds.
        wanted = set(keys)
        undeclared = wanted - self.spec.thresholds
        if undeclared:  # keeps the catalogue's declared dependencies truthful
            raise KeyError(f"rule {self.spec.id} reads threshold {min(undeclared)!r} it did not declare")
        th = self.ctx.th
        unknown = wanted - th.known
        if unknown:
            raise UnknownThresholdError(min(unknown))
        # The new service defaults in key order, added at once (EX01 adds some twenty).
        self.defaults.extend(sorted((wanted & th.service_defaults).difference(self.defaults)))

    def label(self, key: str) -> str:
        """A threshold as card text cites it: '20 10*9/L (S09)', '7 d (service default)'."""
        self.v(key)
        return self.ctx.th[key].label()

    def renal_label(self, key: str, renal: RenalFunction) -> str:
        """A renal band edge as card text cites it, in the unit of the measure compared with it: the cut-offs
        are creatinine clearances (mL/min), and an eGFR standing in for one is compared with the same number,
        so the card says '30 mL/min/1.73 m2' beside an eGFR, never a clearance's unit beside an eGFR.
        Unknown renal function keeps the file's unit."""
        if key not in RENAL_BAND_EDGES:
            raise KeyError(f"rule {self.spec.id} labels {key!r} as a renal band edge, which it is not")
        self.v(key)
        threshold = self.ctx.th[key]
        if threshold.unit != CLEARANCE_UNIT:  # only a clearance's number may be read as an eGFR's as is
            raise ValueError(f"renal band edge {key!r} is in {threshold.unit!r}, not {CLEARANCE_UNIT}")
        return threshold.label(renal.unit())

    def meds(self, meds: Iterable[MedicationFact]) -> None:
        for med in meds:
            self.fact(med_used(med))

    def fact(self, *facts: UsedFact) -> None:
        used = self.used
        if len(facts) == 1:
            if facts[0] not in used:
                used.append(facts[0])
            return
        # Several at once (EX01 adds a dozen): a set of those kept hashes each fact once, where asking the
        # list compared every new fact with every kept one.
        kept = set(used)
        for fact in facts:
            # Added, then kept if the set grew: one hash per fact (UsedFact's hash is a Python call), where
            # asking first and adding after hashed each new fact twice.
            size = len(kept)
            kept.add(fact)
            if len(kept) > size:
                used.append(fact)

    def miss(self, what: str, consequence: str, concept: str | None = None) -> None:
        """A gap; ``concept`` when the gap is that no result of it was found (:class:`MissingFact`)."""
        self.missing.append(MissingFact(what, consequence, concept=concept))

    def renal(self, consequence: str) -> RenalFunction:
        """Record the renal function used (or that it is unknown, with ``consequence``)."""
        renal = self.ctx.renal
        for key in RENAL_KEYS:
            self.v(key)
        self.fact(*renal.used)
        if not renal.known:
            self.miss("renal function: " + "; ".join(renal.missing), consequence)
        elif renal.method == "egfr":
            # eGFR stands in for a clearance it is not (normalised to 1.73 m2): the card says so.  A measured
            # clearance is the quantity the dose tables use, a basis of its own ("CrCl 70 mL/min (measured)"
            # in the rationale), not a gap: listed as missing, a correct zoledronic-acid dose got a card.
            self.miss(
                "Cockcroft-Gault creatinine clearance", f"{renal.describe()}; " + "; ".join(renal.missing)
            )
        elif renal.method == "cockcroft-gault" and renal.missing:
            self.miss("sex", "; ".join(renal.missing))
        return renal

    def pain(self) -> PainScore | None:
        """The latest pain score (recorded as used when present)."""
        self.v(PAIN_KEYS[0])
        ctx = self.ctx
        if ctx.pain_used is not None:
            self.fact(ctx.pain_used)
        return ctx.pain

    def act(
        self,
        meds: Iterable[MedicationFact],
        action: str,
        description: str,
        *,
        change: OrderChange | None = None,
        dose: DoseChange | None = None,
    ) -> None:
        """Offer ``action`` on every draft order in focus among ``meds``: ``change`` (and its ``dose``
        numbers) says what it does; without one, a deletion cancels and an update is advice only."""
        kind = change or (OrderChange.CANCEL if action == "delete" else OrderChange.REVIEW)
        for med in self.ctx.focused(meds):
            if not any(a.order_ref == med.ref for a in self.actions):
                self.actions.append(
                    OrderAction(med.ref, action, f"{med_label(med)}: {description}", kind, dose)
                )

    def finding(
        self,
        indicator: Indicator,
        summary: str,
        rationale: str,
        recommendations: Sequence[str] = (),
        *,
        referrals: Sequence[Referral] = (),
        related: Sequence[str] | None = None,
        evidence: Sequence[str] | None = None,
        unverified: bool = False,
        one_change_only: bool = False,
    ) -> Finding:
        """The Finding.  ``related`` are the rules this concern includes: by default every rule the
        declaration supersedes, or those of them that apply to this case.  ``evidence`` narrows the
        declared sources to those this case relied on (EX01); ``unverified`` marks a case that relies on
        unreviewed knowledge even when the rule as a whole does not; ``one_change_only`` says its changes
        to draft orders are alternatives (see :attr:`Finding.one_change_only`)."""
        spec = self.spec
        if related is not None and not set(related) <= set(spec.supersedes):
            raise ValueError(f"rule {spec.id} names rules it does not supersede: {sorted(set(related))}")
        if evidence is not None and not set(evidence) <= set(spec.evidence):
            raise ValueError(f"rule {spec.id} cites evidence it did not declare: {sorted(set(evidence))}")
        return Finding(
            rule_id=spec.id,
            title=spec.title,
            category=spec.category,
            indicator=indicator,
            summary=fit_summary(summary),
            rationale=rationale,
            recommendations=tuple(recommendations),
            evidence=spec.evidence if evidence is None else tuple(evidence),
            used=tuple(self.used),
            missing=tuple(self.missing),
            referrals=tuple(referrals),
            order_actions=tuple(self.actions),
            related_rules=spec.supersedes if related is None else tuple(related),
            defaults_used=tuple(self.defaults),
            unverified=spec.unverified or unverified,
            one_change_only=one_change_only,
        )
