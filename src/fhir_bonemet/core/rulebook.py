"""The whole rule catalogue, complete whoever asks: every family package is imported here.

A family package's ``__init__`` imports all of its rule modules, and each rule registers itself with
:func:`~fhir_bonemet.core.model.rule.rule` when its module is imported.  Importing the three families at
the top of this module is what makes :func:`catalogue` complete, whichever modules a caller happened to
import before (a rule module added to a family needs one import line in that family's ``__init__``).

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType

from fhir_bonemet.core import exercise, pain, red_flags
from fhir_bonemet.core.model.catalogue import Family, RuleSpec
from fhir_bonemet.core.model.context import RuleContext
from fhir_bonemet.core.model.findings import Finding
from fhir_bonemet.core.model.rule import Rule, declared, run_in_order

__all__ = ["CATALOGUE", "FAMILY_PACKAGES", "catalogue", "rules", "run_family"]

# The packages whose rules make up the catalogue, in the order the engine runs their families.
FAMILY_PACKAGES = (red_flags, exercise, pain)


# The engine asks for each family's rules on every hook call; sorting them (a regex per rule id) cost more
# than some families' rules.  Keyed on the identity of every declared rule, so a rule declared or replaced
# later (tests do both) is never missed.
# The entry keeps every rule of its key alive, so no id in a key can be reused by another object.
_ORDERED: dict[tuple[Family | None, tuple[int, ...]], tuple[tuple[Rule, ...], tuple[Rule, ...]]] = {}


def rules(family: Family | None = None) -> tuple[Rule, ...]:
    """Every declared rule (or those of one family), in run order."""
    everything = tuple(declared().values())
    key = (family, tuple(map(id, everything)))
    entry = _ORDERED.get(key)
    if entry is None:
        chosen = (r for r in everything if family is None or r.spec.family is family)
        entry = _ORDERED.setdefault(key, (everything, tuple(sorted(chosen, key=lambda r: r.spec.order))))
    return entry[1]


# The catalogue of the last rules() answer: the engine reads it on every call, and rules() gives back the
# same tuple for as long as the declarations stay the same.
_SPECS: tuple[tuple[Rule, ...], Mapping[str, RuleSpec]] | None = None


def catalogue() -> Mapping[str, RuleSpec]:
    """Every rule's declaration by id, in run order."""
    global _SPECS
    ordered = rules()
    if _SPECS is None or _SPECS[0] is not ordered:
        _SPECS = (ordered, MappingProxyType({r.spec.id: r.spec for r in ordered}))
    return _SPECS[1]


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
    return run_in_order(family, rules(family), ctx)
