"""How a card shows its evidence sources: worked out once per source catalogue, not once per card.

A card names its sources four times: the first primary link as ``source.url``, its first source ids in
``source.label``, every primary link in ``links`` (labelled with the citation), and the evidence line of its
detail (short names, linked sources first).  All of them depend on the card's source ids alone, which come
from the rules and the catalogue loaded at start-up: :func:`card_evidence` works them out once for each
catalogue and each list of ids (a few dozen: the rules' and their usual companions'), and every card looks
them up.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from fhir_bonemet.cards.detail import md_escape
from fhir_bonemet.core.model.findings import shorten
from fhir_bonemet.core.model.per_object import per_object
from fhir_bonemet.knowledge import EvidenceSource

__all__ = ["LINK_LABEL_LIMIT", "SERVICE_LABEL", "CardEvidence", "card_evidence"]

LINK_LABEL_LIMIT = 90
MAX_EVIDENCE = 2  # sources named on a card's evidence line
MAX_SOURCE_IDS = 4  # source ids named in the card's source label
SERVICE_LABEL = "fhir-bonemet"
# Lists of source ids remembered per catalogue.  Each comes from the rules a card merges and folds, so a
# service meets some dozens; the bound only keeps a stream of unusual combinations from growing the memory.
_REMEMBERED = 4096


@dataclass(frozen=True, slots=True)
class ShownSource:
    """One evidence source as cards show it."""

    # (label, url) in the card's links and source, or None when the source has no absolute primary link.
    link: tuple[str, str] | None
    label: str  # on the evidence line: the short name (Markdown), linked when there is a primary link
    primary: bool  # has a primary link: listed first on the evidence line


@dataclass(frozen=True, slots=True)
class CardEvidence:
    """The sources of one card, as the card shows them."""

    labels: tuple[str, ...]  # the evidence line's labels: primary sources first
    links: tuple[tuple[str, str], ...]  # (label, url) of each primary link, each address once
    source_label: str  # "fhir-bonemet (evidence S11, S10)"
    url: str | None  # the first primary link: the card's source url


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


class _CatalogueView:
    """One catalogue's sources as cards show them, and the evidence of each list of source ids asked for."""

    def __init__(self, sources: Mapping[str, EvidenceSource]) -> None:
        self.shown = {sid: _shown(src) for sid, src in sources.items()}
        self.cards: dict[tuple[str, ...], CardEvidence] = {}

    def card(self, ids: tuple[str, ...]) -> CardEvidence:
        found = self.cards.get(ids)
        if found is None:
            found = self._card(ids)
            if len(self.cards) >= _REMEMBERED:
                self.cards.clear()
            self.cards[ids] = found
        return found

    def _card(self, ids: tuple[str, ...]) -> CardEvidence:
        shown = [self.shown[sid] for sid in ids if sid in self.shown]
        # The evidence line: primary sources first (one a clinician can check in a click).
        ordered = [s for s in shown if s.primary] + [s for s in shown if not s.primary]
        links: dict[str, str] = {}  # url -> label, each address once
        for source in shown:
            if source.link is not None and source.link[1] not in links:
                links[source.link[1]] = source.link[0]
        return CardEvidence(
            labels=tuple(s.label for s in ordered[:MAX_EVIDENCE]),
            links=tuple((label, url) for url, label in links.items()),
            source_label=SERVICE_LABEL + (f" (evidence {', '.join(ids[:MAX_SOURCE_IDS])})" if ids else ""),
            url=next(iter(links), None),
        )


# Once per catalogue: the service has one (loaded at start-up, never changed); tests build a few.
_view = per_object(_CatalogueView)


def card_evidence(sources: Mapping[str, EvidenceSource], ids: tuple[str, ...]) -> CardEvidence:
    """How a card citing the sources ``ids`` (each once, in the card's order) shows them."""
    return _view(sources).card(ids)
