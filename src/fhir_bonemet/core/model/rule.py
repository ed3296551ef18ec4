"""Declaring a rule (:func:`rule`) and running declared rules (:func:`run_rules`, :func:`merge_absorbed`).

A rule is a small pure function declared with its metadata::

    @rule("P26", "Title as the card shows it", Category.PAIN, thresholds=("pain.x",), evidence=("S02",))
    def p26(ctx: RuleContext, t: Trace) -> Finding | None: ...

The declaration (:class:`~fhir_bonemet.core.model.catalogue.RuleSpec`) feeds the catalogue, and the
rule's :class:`~fhir_bonemet.core.model.finding_builder.Trace` builds its Finding from the same
declaration, so catalogue and card cannot drift apart.  Standard library only: part of the pure core.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from operator import attrgetter
from types import MappingProxyType

from fhir_bonemet.core.model.catalogue import Family, RuleSpec
from fhir_bonemet.core.model.context import RuleContext
from fhir_bonemet.core.model.finding_builder import Trace
from fhir_bonemet.core.model.findings import Category, Finding

__all__ = ["Rule", "RuleFn", "declared", "merge_absorbed", "rule", "run_in_order", "run_rules"]


# A rule body: the call's context and the rule's own finding builder in, its finding(s) or None out.
RuleFn = Callable[[RuleContext, Trace], Finding | Sequence[Finding] | None]


@dataclass(frozen=True, slots=True)
class Rule:
    spec: RuleSpec
    fn: RuleFn
    # The spec's family and run order (a regex over the id), worked out once here: the runner checks and
    # sorts by them on every call.
    family: Family = field(init=False, repr=False, compare=False)
    order: tuple[int, bool, str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "family", self.spec.family)
        object.__setattr__(self, "order", self.spec.order)

    @property
    def module(self) -> str:
        return self.fn.__module__


_RULES: dict[str, Rule] = {}
_RUN_ORDER = attrgetter("order")


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
    on_loading_orders: bool = False,
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
        on_loading_orders=on_loading_orders,
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


def declared() -> Mapping[str, Rule]:
    """The rules declared so far, by id.  Complete only once their modules are imported: ask
    :mod:`fhir_bonemet.core.rulebook` for the whole catalogue."""
    return MappingProxyType(_RULES)


def run_rules(family: Family, chosen: Iterable[Rule], ctx: RuleContext) -> tuple[Finding, ...]:
    """Evaluate one family on ``ctx`` (or the given rules of it), each rule at most once, in run order.

    On ``order-select``/``order-sign`` only rules declared ``on_orders`` speak, except red flags: they
    always run (they gate exercise) and their critical findings interrupt order entry (the engine also
    shows the warnings of those declared ``on_loading_orders`` before a draft that may load the bone).  A
    rule superseded by one that already fired in this call is not evaluated: the keeper's finding names it.
    Every finding is appended to ``ctx.fired`` for the rules that come later; the pass's own findings are
    returned.
    """
    ordered = sorted(chosen, key=_RUN_ORDER)
    for entry in ordered:
        if entry.family is not family:
            raise ValueError(f"rule {entry.spec.id} is not a {family.value} rule")
    return run_in_order(family, ordered, ctx)


def run_in_order(family: Family, ordered: Sequence[Rule], ctx: RuleContext) -> tuple[Finding, ...]:
    """:func:`run_rules` for rules already known to be of ``family`` and in run order (the rulebook's
    tuple of a family): the engine runs three families on every call, and sorting and checking rules
    that were sorted and checked when the catalogue was built was a good part of the runner's own cost."""
    found: list[Finding] = []
    # The rules superseded by a finding kept so far, kept up to date as findings come in (rather than every
    # finding so far asked about every rule).
    superseded = {rid for f in ctx.fired for rid in _RULES[f.rule_id].spec.supersedes}
    orders_only = ctx.order_hook and family is not Family.RED_FLAGS
    fired = ctx.fired
    trace: Trace | None = None  # one builder for the pass, emptied for each rule (Trace.for_rule)
    for entry in ordered:
        spec = entry.spec
        if orders_only and not spec.on_orders:
            continue
        if spec.id in superseded:
            continue
        trace = Trace(ctx, spec) if trace is None else trace.for_rule(spec)
        result = entry.fn(ctx, trace)
        if result is None:
            continue
        for finding in (result,) if isinstance(result, Finding) else result:
            fired.append(finding)
            found.append(finding)
            superseded.update(_RULES[finding.rule_id].spec.supersedes)
    return tuple(found)


def merge_absorbed(findings: Sequence[Finding]) -> tuple[Finding, ...]:
    """Fold each absorbed finding into the rule that absorbs it, where both fired (kept in place)."""
    result = list(findings)
    # The rules that absorb others among those that fired, by id: a set of the Rules themselves hashed each
    # one's whole declaration, and most rules absorb nothing.
    keepers = {f.rule_id: r for f in findings if (r := _RULES.get(f.rule_id)) is not None and r.spec.absorbs}
    for keeper_rule in sorted(keepers.values(), key=_RUN_ORDER):
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
