"""Two drugs where one is meant: the shared reading of the duplicate-therapy rules (P43 NSAIDs, P45
bone-modifying agents, P46 gabapentinoids and benzodiazepines).

Each rule says what makes two orders the same drug (``identity``): for P43 every order is an NSAID of its
own, for P45 an agent counts once however many orders it has (the next infusion ordered while the last
order is active), for P46 a drug by its ingredients.  A statement that merely repeats an order is never a
second drug.  On the order hooks a duplicate is spoken of only when a draft in focus is part of it, and the
draft of a second drug, ordered while the first is active, is the one to cancel.

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from fhir_bonemet.core.evidence.dose_arithmetic import deduplicate
from fhir_bonemet.core.model.context import RuleContext
from fhir_bonemet.core.model.facts import MedicationFact
from fhir_bonemet.core.model.used_facts import med_label

__all__ = ["Doubled", "by_ingredients", "doubled"]


@dataclass(frozen=True, slots=True)
class Doubled:
    """Two or more drugs where one is meant."""

    meds: tuple[MedicationFact, ...]  # every order counted, statements repeating an order left out
    drafts: tuple[MedicationFact, ...]  # the drafts in focus among them
    others: tuple[MedicationFact, ...]  # the orders of a drug no draft in focus is
    drugs: int  # how many different drugs

    @property
    def names(self) -> str:
        """ "Ibuprofen 400 mg tablet, Naproxen 500 mg tablet": every order, each name once."""
        return _labels(self.meds)

    @property
    def second_drafted(self) -> bool:
        """A draft of a second drug ordered while the first is active: the draft is the one to cancel."""
        return bool(self.drafts and self.others)

    @property
    def active_names(self) -> str:
        """The names of the drugs already active beside the drafts."""
        return _labels(self.others)


def doubled(
    ctx: RuleContext, meds: Iterable[MedicationFact], identity: Callable[[MedicationFact], str]
) -> Doubled | None:
    """The duplicate among ``meds`` (active or ordered), or None: fewer than two drugs by ``identity``, or,
    on an order hook, no draft in focus among them."""
    kept, _ = deduplicate(meds)
    drugs = len({identity(m) for m in kept})
    if drugs < 2 or not ctx.concerns_focus(kept):
        return None
    drafts = ctx.focused(kept)
    drafted = {identity(m) for m in drafts}
    others = tuple(m for m in kept if identity(m) not in drafted)
    return Doubled(tuple(kept), tuple(drafts), others, drugs)


def by_ingredients(med: MedicationFact) -> str:
    """Which drug ``med`` is by its ingredients, else by its name: two orders of one drug are one drug."""
    return "+".join(sorted(i.lower() for i in med.ingredients)) or (med.display or med.ref).lower()


def _labels(meds: Iterable[MedicationFact]) -> str:
    return ", ".join(dict.fromkeys(med_label(m) for m in meds))
