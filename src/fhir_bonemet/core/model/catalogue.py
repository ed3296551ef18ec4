"""The rule catalogue: every rule's id, title, category, and what it depends on.

Rules are small pure functions in :mod:`~fhir_bonemet.core.red_flags.spinal`,
:mod:`~fhir_bonemet.core.exercise.assess`
and :mod:`~fhir_bonemet.core.pain.assess`; each declares a :class:`RuleSpec` here with :func:`register`.  At
start-up :func:`validate_catalogue` checks every spec against the loaded concepts, thresholds and evidence
sources, so a rule naming an unknown fact, threshold or source stops the service with a precise message
(and a "did you mean") instead of failing mid-request.

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from fhir_bonemet.core.model.findings import Category


@dataclass(frozen=True, slots=True)
class RuleSpec:
    id: str  # "R01", "P16", "EX-TIER"
    title: str
    category: Category
    concepts: frozenset[str]  # concept ids the rule reads (must exist as ValueSets)
    thresholds: frozenset[str]  # threshold keys the rule compares against
    evidence: tuple[str, ...]  # source ids from knowledge/sources.toml
    unverified: bool = False  # relies on [M]/UNVERIFIED knowledge: flagged in cards and docs


CATALOGUE: dict[str, RuleSpec] = {}


def register(
    rule_id: str,
    title: str,
    category: Category,
    *,
    concepts: Iterable[str] = (),
    thresholds: Iterable[str] = (),
    evidence: Iterable[str] = (),
    unverified: bool = False,
) -> RuleSpec:
    """Declare a rule.  Called at import time by the rule modules; ids must be unique."""
    if rule_id in CATALOGUE:
        raise ValueError(f"rule id {rule_id!r} registered twice")
    spec = RuleSpec(
        id=rule_id,
        title=title,
        category=category,
        concepts=frozenset(concepts),
        thresholds=frozenset(thresholds),
        evidence=tuple(evidence),
        unverified=unverified,
    )
    CATALOGUE[rule_id] = spec
    return spec


def _suggest(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def validate_catalogue(
    concepts: Iterable[str],
    thresholds: Mapping[str, object],
    sources: Iterable[str],
    catalogue: Mapping[str, RuleSpec] | None = None,
) -> list[str]:
    """Every problem with the catalogue as one message each; an empty list means the service may start."""
    specs = CATALOGUE if catalogue is None else catalogue
    known_concepts = set(concepts)
    known_sources = set(sources)
    problems: list[str] = []
    for spec in sorted(specs.values(), key=lambda s: s.id):
        for concept in sorted(spec.concepts - known_concepts):
            problems.append(f"rule {spec.id}: unknown concept {concept!r}{_suggest(concept, known_concepts)}")
        for key in sorted(spec.thresholds - set(thresholds)):
            problems.append(f"rule {spec.id}: unknown threshold {key!r}{_suggest(key, thresholds)}")
        for source in spec.evidence:
            if source not in known_sources:
                problems.append(
                    f"rule {spec.id}: unknown evidence source {source!r}{_suggest(source, known_sources)}"
                )
    return problems
