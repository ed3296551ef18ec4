"""What a rule declares (:class:`RuleSpec`), the family it belongs to, and the start-up check of them all.

A rule is a small pure function declared with :func:`rule`::

    @rule("P26", "Title as the card shows it", Category.PAIN, thresholds=("pain.x",), evidence=("S02",))
    def p26(ctx: RuleContext, t: Trace) -> Finding | None: ...

The declaration is the single source for the rule's id, title, category, the concepts and thresholds it
reads, its evidence ids and whether it relies on knowledge awaiting clinical review.  The catalogue (and
so ``docs/rules.md`` and the start-up check) and the
:class:`~fhir_bonemet.core.model.findings.Finding` (built by the rule's
:class:`~fhir_bonemet.core.model.finding_builder.Trace`, and so the card) both read it; they cannot drift
apart.

The category decides the rule's :class:`Family`, and the engine runs the families in a fixed order (red
flags, then exercise, then pain and bone health), each rule in id order.  Two relations between rules are
declared here too and applied by :func:`~fhir_bonemet.core.model.rule.run_rules`, not by the rule bodies:

* ``supersedes``: this rule's concern includes the superseded ones; when it fires they are not evaluated
  and its finding names them in ``related_rules`` (one card for one concern, e.g. R09 over P14 and P13);
* ``absorbs``: when both fire, the absorbed finding's advice is merged into this one at the end of the
  call (:func:`~fhir_bonemet.core.model.rule.merge_absorbed`; P21 keeps P20's recommendations).

A rule declared ``reads_findings`` (P25) runs after the rest of its family and may read what they found.

The decorator :func:`~fhir_bonemet.core.model.rule.rule` records declarations and runs them;
:mod:`fhir_bonemet.core.rulebook` imports every family package, so the catalogue it offers is complete
whoever asks for it.  At start-up :func:`validate_catalogue` checks every declaration against the loaded
concepts, thresholds and evidence sources.

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum

from fhir_bonemet.core.model.findings import Category

__all__ = ["Family", "RuleSpec", "validate_catalogue"]


class Family(Enum):
    """The passes of the engine, in the order it runs them."""

    RED_FLAGS = "red flags"
    EXERCISE = "exercise"
    PAIN = "pain and bone health"

    @staticmethod
    def of(category: Category) -> Family:
        return _FAMILY_OF.get(category, Family.PAIN)


# Red flags and exercise have a family of their own; every other category is pain and bone health.
_FAMILY_OF = {Category.RED_FLAG: Family.RED_FLAGS, Category.EXERCISE: Family.EXERCISE}
_FAMILY_ORDER = {family: rank for rank, family in enumerate(Family)}
_ID = re.compile(r"(?P<prefix>[A-Z]+)(?P<number>\d+)")


@dataclass(frozen=True, slots=True)
class RuleSpec:
    id: str  # "R01", "P16", "EX01"
    title: str
    category: Category
    concepts: frozenset[str]  # concept ids the rule reads (must exist as ValueSets)
    thresholds: frozenset[str]  # threshold keys the rule compares against
    evidence: tuple[str, ...]  # source ids from knowledge/sources.toml
    unverified: bool = False  # relies on [M]/UNVERIFIED knowledge: flagged in cards and docs
    on_orders: bool = False  # also speaks on order-select / order-sign (about the draft orders in focus)
    # A red flag whose warnings are about loading the skeleton: on order-select / order-sign they speak when
    # a draft in focus may load the bone (core/evidence/loading_orders.py), its critical findings always.
    on_loading_orders: bool = False
    supersedes: tuple[str, ...] = ()  # rules whose findings this one replaces (listed as related)
    absorbs: tuple[str, ...] = ()  # rules whose advice this one takes over when both fire
    reads_findings: bool = False  # runs after the rest of its family and reads their findings (ctx.fired)

    @property
    def family(self) -> Family:
        return Family.of(self.category)

    @property
    def order(self) -> tuple[int, bool, str, int]:
        """Run order: family; rules that read the others' findings last; then id prefix and number
        (R01 < R02 < R10; P09 < P10)."""
        match = _ID.fullmatch(self.id)
        if match is None:
            raise ValueError(f"rule id {self.id!r} is not a prefix and a number")
        return (_FAMILY_ORDER[self.family], self.reads_findings, match["prefix"], int(match["number"]))


def _suggest(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def validate_catalogue(
    concepts: Iterable[str],
    thresholds: Mapping[str, object],
    sources: Iterable[str],
    specs: Mapping[str, RuleSpec],
    *,
    all_rules: Mapping[str, RuleSpec] | None = None,
) -> list[str]:
    """Every problem with ``specs`` as one message each; an empty list means the service may start.

    ``all_rules`` is the whole catalogue the ``supersedes``/``absorbs`` relations may point into (default:
    ``specs`` itself, which then must be the whole catalogue).
    """
    declared = specs
    known_concepts = set(concepts)
    known_sources = set(sources)
    problems: list[str] = []
    for spec in sorted(declared.values(), key=lambda s: s.id):
        for concept in sorted(spec.concepts - known_concepts):
            problems.append(f"rule {spec.id}: unknown concept {concept!r}{_suggest(concept, known_concepts)}")
        for key in sorted(spec.thresholds - set(thresholds)):
            problems.append(f"rule {spec.id}: unknown threshold {key!r}{_suggest(key, thresholds)}")
        for source in spec.evidence:
            if source not in known_sources:
                problems.append(
                    f"rule {spec.id}: unknown evidence source {source!r}{_suggest(source, known_sources)}"
                )
        every = declared if all_rules is None else all_rules
        for other in (*spec.supersedes, *spec.absorbs):
            if other not in every:
                problems.append(f"rule {spec.id}: supersedes or absorbs unknown rule {other!r}")
            elif other in spec.supersedes and every[other].order <= spec.order:
                # The runner drops a superseded finding when its keeper has already fired.
                problems.append(f"rule {spec.id}: supersedes {other}, which runs before it")
    return problems
