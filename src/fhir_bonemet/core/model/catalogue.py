"""The rule catalogue: one declaration per rule, and the runner that evaluates them.

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
declared here too and applied by :func:`run_family`, not by the rule bodies:

* ``supersedes``: this rule's concern includes the superseded ones; when it fires they are not evaluated
  and its finding names them in ``related_rules`` (one card for one concern, e.g. R09 over P14 and P13);
* ``absorbs``: when both fire, the absorbed finding's advice is merged into this one at the end of the
  call (:func:`merge_absorbed`; P21 keeps P20's recommendations).

A rule declared ``reads_findings`` (P25) runs after the rest of its family and may read what they found.

Rules register when their module is imported.  :func:`catalogue` imports every family package (each
``__init__`` imports all of its rule modules), so the catalogue is complete whoever asks for it.  At
start-up :func:`validate_catalogue` checks every declaration against the loaded concepts, thresholds and
evidence sources.

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from types import MappingProxyType
from typing import TYPE_CHECKING

from fhir_bonemet.core.model.findings import Category, Finding

if TYPE_CHECKING:
    from fhir_bonemet.core.model.context import RuleContext
    from fhir_bonemet.core.model.finding_builder import Trace

__all__ = [
    "CATALOGUE",
    "Family",
    "Rule",
    "RuleFn",
    "RuleSpec",
    "catalogue",
    "merge_absorbed",
    "rule",
    "rules",
    "run_family",
    "validate_catalogue",
]


class Family(Enum):
    """The passes of the engine, in the order it runs them."""

    RED_FLAGS = "red flags"
    EXERCISE = "exercise"
    PAIN = "pain and bone health"

    @staticmethod
    def of(category: Category) -> Family:
        if category is Category.RED_FLAG:
            return Family.RED_FLAGS
        if category is Category.EXERCISE:
            return Family.EXERCISE
        return Family.PAIN


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


# A rule body: the call's context and the rule's own finding builder in, its finding(s) or None out.
RuleFn = Callable[["RuleContext", "Trace"], "Finding | Sequence[Finding] | None"]


@dataclass(frozen=True, slots=True)
class Rule:
    spec: RuleSpec
    fn: RuleFn

    @property
    def module(self) -> str:
        return self.fn.__module__


_RULES: dict[str, Rule] = {}


def rule(
    rule_id: str,
    title: str,
    category: Category,
    *,
    concepts: Iterable[str] = (),
    thresholds: Iterable[str] = (),
    evidence: Iterable[str] = (),
    unverified: bool = False,
    on_orders: bool = False,
    supersedes: Iterable[str] = (),
    absorbs: Iterable[str] = (),
    reads_findings: bool = False,
) -> Callable[[RuleFn], RuleFn]:
    """Declare a rule; ids must be unique.  The decorated function is returned unchanged."""
    spec = RuleSpec(
        id=rule_id,
        title=title,
        category=category,
        concepts=frozenset(concepts),
        thresholds=frozenset(thresholds),
        evidence=tuple(evidence),
        unverified=unverified,
        on_orders=on_orders,
        supersedes=tuple(supersedes),
        absorbs=tuple(absorbs),
        reads_findings=reads_findings,
    )
    spec.order  # noqa: B018 - fail at import on an id the runner cannot order

    def declare(fn: RuleFn) -> RuleFn:
        if rule_id in _RULES:
            raise ValueError(f"rule id {rule_id!r} declared twice")
        _RULES[rule_id] = Rule(spec, fn)
        return fn

    return declare


def _load_families() -> None:
    # Imported here, not at the top: the family packages import this module to declare their rules.
    from fhir_bonemet.core import exercise, pain, red_flags  # noqa: F401


def rules(family: Family | None = None) -> tuple[Rule, ...]:
    """Every declared rule (or those of one family), in run order."""
    _load_families()
    chosen = (r for r in _RULES.values() if family is None or r.spec.family is family)
    return tuple(sorted(chosen, key=lambda r: r.spec.order))


def catalogue() -> Mapping[str, RuleSpec]:
    """Every rule's declaration by id, in run order; complete whichever modules were imported before."""
    return MappingProxyType({r.spec.id: r.spec for r in rules()})


class _Catalogue(Mapping[str, RuleSpec]):
    """:func:`catalogue` as a module constant, for code that reads it like a dict."""

    def __getitem__(self, rule_id: str) -> RuleSpec:
        return catalogue()[rule_id]

    def __iter__(self) -> Iterator[str]:
        return iter(catalogue())

    def __len__(self) -> int:
        return len(catalogue())


CATALOGUE: Mapping[str, RuleSpec] = _Catalogue()


def _findings(result: Finding | Sequence[Finding] | None) -> tuple[Finding, ...]:
    if result is None:
        return ()
    if isinstance(result, Finding):
        return (result,)
    return tuple(result)


def run_family(
    family: Family, ctx: RuleContext, *, only: Iterable[Rule] | None = None
) -> tuple[Finding, ...]:
    """Evaluate one family on ``ctx`` (or the given rules of it), each rule at most once, in run order.

    On ``order-select``/``order-sign`` only rules declared ``on_orders`` speak, except red flags: they
    always run (they gate exercise) and their critical findings interrupt order entry.  A rule superseded
    by one that already fired in this call is not evaluated: the keeper's finding names it.  Every finding
    is appended to ``ctx.fired`` for the rules that come later; the pass's own findings are returned.
    """
    # Imported here: the builder module imports this one for RuleSpec.
    from fhir_bonemet.core.model.finding_builder import Trace

    chosen = rules(family) if only is None else tuple(sorted(only, key=lambda r: r.spec.order))
    found: list[Finding] = []
    for entry in chosen:
        spec = entry.spec
        if spec.family is not family:
            raise ValueError(f"rule {spec.id} is not a {family.value} rule")
        if ctx.order_hook and not spec.on_orders and family is not Family.RED_FLAGS:
            continue
        if any(spec.id in _RULES[f.rule_id].spec.supersedes for f in ctx.fired):
            continue
        for finding in _findings(entry.fn(ctx, Trace(ctx, spec))):
            ctx.fired.append(finding)
            found.append(finding)
    return tuple(found)


def merge_absorbed(findings: Sequence[Finding]) -> tuple[Finding, ...]:
    """Fold each absorbed finding into the rule that absorbs it, where both fired (kept in place)."""
    result = list(findings)
    for keeper_rule in rules():
        for absorbed_id in keeper_rule.spec.absorbs:
            keeper = next((f for f in result if f.rule_id == keeper_rule.spec.id), None)
            absorbed = next((f for f in result if f.rule_id == absorbed_id), None)
            if keeper is None or absorbed is None:
                continue
            merged = replace(
                keeper,
                related_rules=(*keeper.related_rules, absorbed_id),
                recommendations=(*keeper.recommendations, *absorbed.recommendations),
                used=(*keeper.used, *(u for u in absorbed.used if u not in keeper.used)),
                missing=(*keeper.missing, *(m for m in absorbed.missing if m not in keeper.missing)),
                order_actions=keeper.order_actions or absorbed.order_actions,
                defaults_used=(
                    *keeper.defaults_used,
                    *(d for d in absorbed.defaults_used if d not in keeper.defaults_used),
                ),
                evidence=(*keeper.evidence, *(e for e in absorbed.evidence if e not in keeper.evidence)),
            )
            result = [merged if f is keeper else f for f in result if f is not absorbed]
    return tuple(result)


def _suggest(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def validate_catalogue(
    concepts: Iterable[str],
    thresholds: Mapping[str, object],
    sources: Iterable[str],
    specs: Mapping[str, RuleSpec] | None = None,
) -> list[str]:
    """Every problem with the catalogue as one message each; an empty list means the service may start."""
    declared = catalogue() if specs is None else specs
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
        every = catalogue()
        for other in (*spec.supersedes, *spec.absorbs):
            if other not in every:
                problems.append(f"rule {spec.id}: supersedes or absorbs unknown rule {other!r}")
            elif other in spec.supersedes and every[other].order <= spec.order:
                # The runner drops a superseded finding when its keeper has already fired.
                problems.append(f"rule {spec.id}: supersedes {other}, which runs before it")
    return problems
