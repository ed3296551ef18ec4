"""The whole rule catalogue, complete whoever asks: every family package is imported here.

A family package's ``__init__`` imports all of its rule modules, and each rule registers itself with
:func:`~fhir_bonemet.core.model.rule.rule` when its module is imported.  Importing the three families at
the top of this module is what makes :func:`catalogue` complete, whichever modules a caller happened to
import before (a rule module added to a family needs one import line in that family's ``__init__``).

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from fhir_bonemet.core import exercise, pain, red_flags
from fhir_bonemet.core.model.catalogue import Family, RuleSpec
from fhir_bonemet.core.model.context import RuleContext
from fhir_bonemet.core.model.findings import Finding
from fhir_bonemet.core.model.rule import Rule, declared, run_in_order

__all__ = ["CATALOGUE", "FAMILY_PACKAGES", "Rulebook", "catalogue", "current", "rules", "run_family"]

# The packages whose rules make up the catalogue, in the order the engine runs their families.
FAMILY_PACKAGES = (red_flags, exercise, pain)


@dataclass(frozen=True, slots=True)
class Rulebook:
    """The declared rules as the engine reads them: each family's in run order, and every declaration by
    id.  Built once per set of declared rules."""

    declared: tuple[Rule, ...]  # as declared() held them when the book was made
    ordered: tuple[Rule, ...]
    by_family: Mapping[Family, tuple[Rule, ...]]
    specs: Mapping[str, RuleSpec]

    def run(self, family: Family, ctx: RuleContext) -> tuple[Finding, ...]:
        """Every rule of one family on ``ctx``, each at most once, in run order (see
        :func:`~fhir_bonemet.core.model.rule.run_rules`)."""
        return run_in_order(family, self.by_family[family], ctx)


def _make_book(everything: tuple[Rule, ...]) -> Rulebook:
    ordered = tuple(sorted(everything, key=lambda r: r.spec.order))
    return Rulebook(
        declared=everything,
        ordered=ordered,
        by_family=MappingProxyType({f: tuple(r for r in ordered if r.spec.family is f) for f in Family}),
        specs=MappingProxyType({r.spec.id: r.spec for r in ordered}),
    )


_BOOK: Rulebook | None = None


def current() -> Rulebook:
    """The book of the rules declared now.  The engine asks once per call and runs every family from the
    same book; sorting the rules (a regex per rule id) cost more than some families' rules, so the book is
    rebuilt only when a rule was declared or replaced since (tests do both).  Comparing the tuple of
    declared rules with the book's finds that in one pass, the same rule objects comparing equal by
    identity."""
    global _BOOK
    everything = tuple(declared().values())
    book = _BOOK
    if book is None or book.declared != everything:
        book = _BOOK = _make_book(everything)
    return book


def rules(family: Family | None = None) -> tuple[Rule, ...]:
    """Every declared rule (or those of one family), in run order."""
    book = current()
    return book.ordered if family is None else book.by_family[family]


def catalogue() -> Mapping[str, RuleSpec]:
    """Every rule's declaration by id, in run order."""
    return current().specs


class _Catalogue(Mapping[str, RuleSpec]):
    """:func:`catalogue` as a module constant, for code that reads it like a dict."""

    def __getitem__(self, rule_id: str) -> RuleSpec:
        return catalogue()[rule_id]

    def __iter__(self) -> Iterator[str]:
        return iter(catalogue())

    def __len__(self) -> int:
        return len(catalogue())


CATALOGUE: Mapping[str, RuleSpec] = _Catalogue()


def run_family(family: Family, ctx: RuleContext) -> tuple[Finding, ...]:
    """Every rule of one family on ``ctx``, each at most once, in run order (see
    :func:`~fhir_bonemet.core.model.rule.run_rules`)."""
    return current().run(family, ctx)
