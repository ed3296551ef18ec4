"""What every rule sees in one call: :class:`RuleContext`, built once by :func:`build_context`.

The context is computed once per call (active medications, renal function, latest pain score, which draft
orders are in focus, the call's fact index) so every rule sees the same values.

Hooks (see ``docs/clinical-model.md#hooks``):

* ``patient-view``: every rule runs against the patient's active medications; draft orders are ignored.
* ``order-select`` / ``order-sign``: draft orders count as active, and the medication rules speak only
  about concerns that involve a draft in focus (order-select: the selected drafts, or every draft when
  no selected draft could be read; order-sign: every draft).  Findings name those drafts in ``order_actions``.
  The other draft orders (a ServiceRequest, a DeviceRequest) in focus are chosen the same way
  (``focus_orders``).

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from fhir_bonemet.core.evidence.derived import PainScore, RenalFunction, latest_pain, renal_function
from fhir_bonemet.core.model.fact_index import FactIndex
from fhir_bonemet.core.model.facts import MedicationFact, OrderFact, PatientFacts
from fhir_bonemet.core.model.findings import Finding, UsedFact
from fhir_bonemet.core.model.frozen_init import fast_init
from fhir_bonemet.core.model.hooks import Hook
from fhir_bonemet.core.model.queries import is_active
from fhir_bonemet.core.model.thresholds import Thresholds

__all__ = ["RuleContext", "build_context"]


@fast_init
@dataclass(frozen=True, slots=True)
class RuleContext:
    facts: PatientFacts
    today: date
    th: Thresholds
    hook: str
    meds: tuple[MedicationFact, ...]  # active medications (+ drafts on order hooks), in record order
    focus: frozenset[str] | None  # refs of the medication draft orders in focus; None on patient-view
    renal: RenalFunction
    pain: PainScore | None
    # The latest pain score as cards name it, built once: half a dozen rules cite it on every call.
    pain_used: UsedFact | None
    # The call's fact index, so the rules look facts up by concept instead of scanning the record.
    index: FactIndex = field(compare=False, repr=False)
    exercise_active: bool = False  # a structured exercise programme is in progress (P12, P25)
    # The draft orders in focus that are not medicines (a referral, a device), chosen as the medication
    # drafts are; none on patient-view.
    focus_orders: tuple[OrderFact, ...] = ()
    # The exercise plan and how it was reached, once the exercise pass has built it (read by EX01-EX03).
    # The exercise family's own working state (its ExerciseWork), carried for its rules only; typed loosely
    # so the model does not import a family (the exercise rules read it back with a type check).
    exercise: object | None = field(default=None, compare=False, repr=False)
    # Findings kept so far in this call, in run order: later rules may read them (P25) and supersession
    # is applied against them.  Shared by the copies the engine makes with dataclasses.replace.
    fired: list[Finding] = field(default_factory=list, compare=False, repr=False)
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

    def active(self, *classes: str) -> tuple[MedicationFact, ...]:
        """The active medications in any of ``classes``, in record order (the same tuple on every ask)."""
        found = self._active.get(classes)
        if found is None:
            wanted = set(classes)
            found = self._active[classes] = tuple(m for m in self.meds if wanted & m.classes)
        return found

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
) -> RuleContext:
    """The context of one call; raises ``ValueError`` for an unknown hook."""
    try:
        which = Hook(hook)
    except ValueError:
        known = ", ".join(h.value for h in Hook)
        raise ValueError(f"unknown hook {hook!r}; expected one of {known}") from None
    if which is Hook.PATIENT_VIEW:
        meds = tuple(m for m in facts.medications if not m.is_draft and is_active(m, today))
        focus: frozenset[str] | None = None
        orders: tuple[OrderFact, ...] = ()
    else:
        meds = tuple(m for m in facts.medications if is_active(m, today))
        drafts = [m for m in facts.medications if m.is_draft]
        selected = [m for m in drafts if m.is_selected]
        # A selected referral or other non-medication order is a selection too: the medication drafts
        # beside it are not in focus.  Only when no selected draft was read at all (a medication draft
        # too malformed to read) is every draft in focus, the cautious reading.
        marked = bool(selected) or any(o.is_selected for o in facts.orders)
        picked = which is Hook.ORDER_SELECT and marked
        chosen = selected if picked else drafts
        focus = frozenset(m.ref for m in chosen)
        orders = tuple(o for o in facts.orders if o.is_selected or not picked)
    idx = index if index is not None else FactIndex(facts)
    pain = latest_pain(facts, today, th, idx)
    return RuleContext(
        facts=facts,
        today=today,
        th=th,
        hook=hook,
        meds=meds,
        focus=focus,
        renal=renal_function(facts, today, th, idx),
        pain=pain,
        pain_used=pain.used() if pain is not None else None,
        exercise_active=exercise_active,
        focus_orders=orders,
        index=idx,
    )
