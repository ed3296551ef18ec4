"""Grouping findings into concerns, and the order in which concerns become cards.

A *concern* is a group of findings that share a rule id: a finding names the further rules it absorbed in
``related_rules`` (R09 covers P14), and the same rule may fire twice (two lesions).  One concern gives one
card, led by its most severe finding, so nothing fires twice for the same concern.

Order: critical, then warning, then info; within an indicator red flags first, then medication safety,
exercise, pain, bone health; then rule id in natural order (P5 before P15).  Stable for equal input.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fhir_bonemet.core.model.findings import Finding

__all__ = ["Concern", "group_concerns", "natural_key"]


def natural_key(rule_id: str) -> tuple[Any, ...]:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", rule_id))


def _finding_key(finding: Finding) -> tuple[Any, ...]:
    return (-finding.indicator.rank, finding.category.rank, natural_key(finding.rule_id))


@dataclass(frozen=True, slots=True)
class Concern:
    findings: tuple[Finding, ...]  # most severe first

    @property
    def primary(self) -> Finding:
        return self.findings[0]

    @property
    def rule_ids(self) -> tuple[str, ...]:
        """Every rule behind the concern, the primary finding's first, each once."""
        return tuple(dict.fromkeys(r for f in self.findings for r in f.rule_ids))

    @property
    def key(self) -> str:
        """Identifies the concern across retries of the same hook call (input of the card uuid)."""
        return f"{self.primary.category.value}:{'+'.join(sorted(self.rule_ids))}"


def group_concerns(findings: Sequence[Finding]) -> list[Concern]:
    """Findings sharing any rule id form one concern; concerns come back in card order."""
    groups: list[list[Finding]] = []
    for finding in findings:
        ids = set(finding.rule_ids)
        merged = [finding]
        for group in [g for g in groups if ids & {r for f in g for r in f.rule_ids}]:
            merged = group + merged
            groups.remove(group)
        groups.append(merged)
    concerns = [Concern(tuple(sorted(g, key=_finding_key))) for g in groups]
    return sorted(concerns, key=lambda c: _finding_key(c.primary))
