"""Loads and validates the reviewed knowledge files shipped with the package.

``thresholds.toml`` (every number the rules compare against) and ``sources.toml`` (the evidence ids that
findings cite).  Both are read once at start-up; a malformed entry raises :class:`KnowledgeError` naming
the file and key, so the service refuses to start rather than fail mid-request.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from fhir_bonemet.core.evidence.derived import CLEARANCE_UNIT, RENAL_BAND_EDGES
from fhir_bonemet.core.model.thresholds import BASES, Threshold, Thresholds
from fhir_bonemet.errors import KnowledgeError

__all__ = ["EvidenceSource", "load_sources", "load_thresholds"]


# Hosts of primary sources (publishers' DOI resolver, NCBI, guideline bodies, regulators): card links point
# only there, never at third-party summary sites.
PRIMARY_HOSTS = (
    "doi.org",
    "pubmed.ncbi.nlm.nih.gov",
    "pmc.ncbi.nlm.nih.gov",
    "www.who.int",
    "www.fda.gov",
    "fda.gov",
    "www.nice.org.uk",
    "www.ema.europa.eu",
    "www.cdc.gov",
)


@dataclass(frozen=True, slots=True)
class EvidenceSource:
    id: str
    citation: str
    year: str
    url: str
    doi: str = ""
    pmid: str = ""
    short: str = ""  # "Campbell 2022 (JCO OP)": the name on a card's evidence line
    # A link to the primary source (DOI, then PubMed, then ``url`` on a primary host), or ``""``.  Worked
    # out once when the source is loaded: every card asks for the links of its evidence, several times.
    link: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "link", _primary_link(self.doi, self.pmid, self.url))


def _primary_link(doi: str, pmid: str, url: str) -> str:
    if doi:
        return f"https://doi.org/{doi}"
    if pmid:
        return f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/"
    host = url.split("://", 1)[-1].split("/", 1)[0].lower()
    return url if url.startswith("https://") and host in PRIMARY_HOSTS else ""


def _read_toml(name: str, path: Path | None) -> dict[str, Any]:
    try:
        if path is not None:
            text = path.read_text(encoding="utf-8")
        else:
            text = resources.files(__name__).joinpath(name).read_text(encoding="utf-8")
        return tomllib.loads(text)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise KnowledgeError(f"{path or name}: cannot be read: {exc}") from exc


def _threshold(file: str, key: str, raw: Any, sources: set[str]) -> Threshold:
    if not isinstance(raw, dict):
        raise KnowledgeError(f"{file}: [{key}] must be a table with value, unit and basis")
    value = raw.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise KnowledgeError(f"{file}: [{key}].value must be a number, got {value!r}")
    unit = raw.get("unit")
    if not isinstance(unit, str):
        raise KnowledgeError(f"{file}: [{key}].unit must be a string")
    basis = raw.get("basis")
    if basis not in BASES:
        raise KnowledgeError(f"{file}: [{key}].basis must be one of {', '.join(BASES)}, got {basis!r}")
    source = raw.get("source")
    if basis == "evidence" and source not in sources:
        raise KnowledgeError(
            f"{file}: [{key}] has basis evidence but source {source!r} is not in sources.toml"
        )
    if source is not None and source not in sources:
        raise KnowledgeError(f"{file}: [{key}].source {source!r} is not in sources.toml")
    unknown = set(raw) - {"value", "unit", "basis", "source", "note"}
    if unknown:
        raise KnowledgeError(f"{file}: [{key}] has unknown fields {sorted(unknown)}")
    return Threshold(
        key=key, value=float(value), unit=unit, basis=basis, source=source, note=raw.get("note", "")
    )


@cache
def load_sources(path: Path | None = None) -> dict[str, EvidenceSource]:
    data = _read_toml("sources.toml", path)
    out: dict[str, EvidenceSource] = {}
    for sid, raw in data.items():
        if not isinstance(raw, dict) or not isinstance(raw.get("citation"), str):
            raise KnowledgeError(f"sources.toml: [{sid}] needs a citation string")
        out[sid] = EvidenceSource(
            sid,
            raw["citation"],
            str(raw.get("year", "")),
            str(raw.get("url", "")),
            doi=str(raw.get("doi", "")),
            pmid=str(raw.get("pmid", "")),
            short=str(raw.get("short", "")),
        )
    return out


@cache
def load_thresholds(path: Path | None = None, sources_path: Path | None = None) -> Thresholds:
    """Read and validate thresholds.toml (sections of tables, keys ``section.name``)."""
    file = str(path or "thresholds.toml")
    data = _read_toml("thresholds.toml", path)
    sources = set(load_sources(sources_path))
    items: dict[str, Threshold] = {}
    for section, entries in data.items():
        if not isinstance(entries, dict):
            raise KnowledgeError(f"{file}: top-level {section!r} must be a section of tables")
        for name, raw in entries.items():
            key = f"{section}.{name}"
            items[key] = _threshold(file, key, raw, sources)
    # The renal band edges are creatinine clearances, and an eGFR standing in for one is compared with the
    # same number (cards quote the edge in the eGFR's unit then): an edge in another unit would be compared
    # wrongly.  Refused here, at start-up, not when a card first quotes it.
    for key in RENAL_BAND_EDGES:
        edge = items.get(key)
        if edge is not None and edge.unit != CLEARANCE_UNIT:
            raise KnowledgeError(f"{file}: [{key}].unit must be {CLEARANCE_UNIT!r} (a renal band edge)")
    return Thresholds(items)
