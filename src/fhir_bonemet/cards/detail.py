"""The Markdown ``detail`` of a card: what to do, why, what was missing, the evidence, a disclaimer.

A clinician should be able to check every statement: each rule is named with its id and title, each piece of
patient data with its value, date and record reference, each missing item with how it made the advice more
cautious, each engineering default as a "service default", and each rule awaiting clinical review as such.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Mapping, Sequence
from typing import TypeVar

from fhir_bonemet.core.model.findings import Finding, MissingFact, UsedFact
from fhir_bonemet.core.model.thresholds import Thresholds
from fhir_bonemet.knowledge import EvidenceSource

__all__ = ["DISCLAIMER", "detail_markdown", "md_escape"]

DISCLAIMER = "Decision support only: it does not replace clinical judgement, and the treating team decides."
_H = TypeVar("_H", bound=Hashable)
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<|~])")


def md_escape(text: str) -> str:
    """Patient data is shown literally: no character of it may become Markdown or HTML."""
    text = " ".join(text.split())
    # Most strings have nothing to escape: a search is cheaper than a substitution (hundreds per call).
    return _MD_SPECIAL.sub(r"\\\1", text) if _MD_SPECIAL.search(text) else text


def _unique(items: Sequence[_H]) -> list[_H]:
    return list(dict.fromkeys(items))


def _used_line(fact: UsedFact) -> str:
    where = [w for w in (fact.when, f"`{fact.ref}`" if fact.ref else "derived value") if w]
    return f"- {md_escape(fact.label)}: **{md_escape(fact.value)}** ({', '.join(where)})"


def _missing_line(fact: MissingFact) -> str:
    return f"- {md_escape(fact.what)}: {md_escape(fact.consequence)}"


def _default_line(key: str, thresholds: Mapping[str, object] | None) -> str:
    if isinstance(thresholds, Thresholds) and key in thresholds:
        threshold = thresholds[key]
        note = f": {md_escape(threshold.note)}" if threshold.note else ""
        return f"- `{key}` = {md_escape(threshold.label())}{note}"
    return f"- `{key}` (service default)"


def detail_markdown(
    findings: Sequence[Finding],
    *,
    sources: Mapping[str, EvidenceSource],
    thresholds: Thresholds | None = None,
    extra: Sequence[str] = (),
) -> str:
    """Detail text for one concern; ``findings[0]`` is the primary finding, the rest were merged into it."""
    primary = findings[0]
    out: list[str] = ["**What to do**", ""]
    todo = [*primary.recommendations]
    for other in findings[1:]:
        todo.append(other.summary)
        todo.extend(other.recommendations)
    todo = _unique(todo) or [primary.summary]
    out += [f"- {md_escape(line)}" for line in todo]
    out += [*(f"\n{line}" for line in extra)]

    out += ["", "**Why**", ""]
    for finding in findings:
        review = " *(awaiting clinical review)*" if finding.unverified else ""
        related = f" (also covers {', '.join(finding.related_rules)})" if finding.related_rules else ""
        out.append(
            f"- **{finding.rule_id}** {md_escape(finding.title)}{related}{review}: "
            f"{md_escape(finding.rationale)}"
        )
    used = _unique([u for f in findings for u in f.used])
    if used:
        out += ["", "Patient data used:", "", *(_used_line(u) for u in used)]

    missing = _unique([m for f in findings for m in f.missing])
    if missing:
        out += ["", "**Missing data** (the advice was kept on the cautious side)", ""]
        out += [_missing_line(m) for m in missing]

    defaults = _unique([k for f in findings for k in f.defaults_used])
    if defaults:
        out += [
            "",
            "**Service defaults used** (engineering defaults, configurable, not guideline values)",
            "",
        ]
        out += [_default_line(k, thresholds) for k in defaults]

    if any(f.unverified for f in findings):
        out += ["", "Parts of this advice rest on knowledge **awaiting clinical review**."]

    evidence = _unique([e for f in findings for e in f.evidence])
    if evidence:
        out += ["", "**Evidence**", ""]
        for sid in evidence:
            src = sources.get(sid)
            text = f"{md_escape(src.citation)} ({md_escape(src.year)})" if src else "not in the source list"
            out.append(f"- {sid}: {text}")

    out += ["", "---", f"*{DISCLAIMER}*"]
    return "\n".join(out)
