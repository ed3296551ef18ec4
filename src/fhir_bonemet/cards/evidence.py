"""How a card shows its evidence sources: worked out once per source catalogue, not once per card.

A card names its sources three times: the first primary link as ``source.url``, every primary link in
``links`` (labelled with the citation), and the evidence line of its detail (short names, linked sources
first).  All three depend on the source alone, which is knowledge loaded at start-up, so
:func:`shown_sources` works them out once for each catalogue and every card looks them up by id.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from fhir_bonemet.cards.detail import md_escape
from fhir_bonemet.core.model.findings import shorten
from fhir_bonemet.core.model.per_object import per_object
from fhir_bonemet.knowledge import EvidenceSource

__all__ = ["LINK_LABEL_LIMIT", "ShownSource", "evidence_labels", "shown_sources"]

LINK_LABEL_LIMIT = 90
MAX_EVIDENCE = 2  # sources named on a card's evidence line


@dataclass(frozen=True, slots=True)
class ShownSource:
    """One evidence source as cards show it."""

    # (label, url) in the card's links and source, or None when the source has no absolute primary link.
    link: tuple[str, str] | None
    label: str  # on the evidence line: the short name (Markdown), linked when there is a primary link
    primary: bool  # has a primary link: listed first on the evidence line


def _absolute(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _short_source(src: EvidenceSource) -> str:
    """The source's short name ("Campbell 2022 (JCO OP)"), else its first word and year."""
    if src.short:
        return src.short
    head = re.split(r"[\s,.]", src.citation.strip().lstrip('"'), maxsplit=1)[0]
    year = re.match(r"\d{4}", src.year)
    return f"{head} {year.group(0)}" if year else head


def _shown(src: EvidenceSource) -> ShownSource:
    label = " ".join(src.citation.split())  # a label on one line, cut at a word boundary if it must be
    link = (shorten(label, LINK_LABEL_LIMIT), src.link) if _absolute(src.link) else None
    name = md_escape(_short_source(src))
    return ShownSource(link, f"[{name}]({src.link})" if src.link else name, bool(src.link))


def _table(sources: Mapping[str, EvidenceSource]) -> dict[str, ShownSource]:
    """Each source of ``sources`` by id, as cards show it (see the module docstring)."""
    return {sid: _shown(src) for sid, src in sources.items()}


# Once per catalogue: the service has one (loaded at start-up, never changed); tests build a few.
shown_sources = per_object(_table)


def evidence_labels(shown: Sequence[ShownSource]) -> list[str]:
    """The evidence line's labels: primary sources first (one a clinician can check in a click)."""
    ordered = [s for s in shown if s.primary] + [s for s in shown if not s.primary]
    return [s.label for s in ordered[:MAX_EVIDENCE]]
