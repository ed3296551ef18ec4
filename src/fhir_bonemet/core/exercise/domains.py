"""The site-specific domain matrix, applied to every lesion whatever the tier
(docs/clinical-model.md#site-by-domain-matrix; S05, S06).

Each site class maps to a row: for each exercise domain (``ex-*`` codes of the local CodeSystem) whether
it is permitted, restricted (permitted with exclusions) or to be avoided.  Rows for pelvis, proximal
femur, lumbar, thoracic and cervical spine, ribs and proximal humerus transcribe the modular trial
programmes (S05, S06); the remaining rows are service defaults built from them on the cautious side:

* sacrum: union of the pelvis and lumbar-spine rows (it carries both loads);
* femur other than proximal: the proximal-femur row;
* tibia/fibula and the rest of the upper limb: no resistance loading of the affected limb;
* spinal level not recorded: union of the three spinal rows;
* site unknown: the "multiple regions / all" row (the union of every row).

Impact, high-velocity, contact or ballistic loading is avoided wherever a weight-bearing or axial lesion
exists (S05); for a free upper-limb lesion it is restricted to spare the affected arm.

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from fhir_bonemet.core.evidence.lesion_sites import AXIAL_SITES, WEIGHT_BEARING_SITES
from fhir_bonemet.core.model.facts import SiteClass
from fhir_bonemet.core.model.findings import DomainStatus

__all__ = [
    "ADL_ONLY",
    "AEROBIC_NWB",
    "AEROBIC_WB",
    "BALANCE",
    "DEFAULT_ROWS",
    "DOMAIN_ORDER",
    "FLEX",
    "IMPACT",
    "RESIST_LOWER",
    "RESIST_TRUNK",
    "RESIST_UPPER",
    "STRUCTURED_DOMAINS",
    "Cell",
    "SiteDomains",
    "site_domains",
    "site_row",
]

AEROBIC_WB = "ex-aerobic-wb"
AEROBIC_NWB = "ex-aerobic-nwb"
RESIST_UPPER = "ex-resist-upper"
RESIST_TRUNK = "ex-resist-trunk"
RESIST_LOWER = "ex-resist-lower"
FLEX = "ex-flex"
BALANCE = "ex-balance"
IMPACT = "ex-impact"
ADL_ONLY = "ex-adl-only"

# Order of domains in every plan and CarePlan (deterministic output).
STRUCTURED_DOMAINS = (
    AEROBIC_WB,
    AEROBIC_NWB,
    RESIST_UPPER,
    RESIST_TRUNK,
    RESIST_LOWER,
    FLEX,
    BALANCE,
    IMPACT,
)
DOMAIN_ORDER = (*STRUCTURED_DOMAINS, ADL_ONLY)


@dataclass(frozen=True, slots=True)
class Cell:
    status: DomainStatus
    exclusion: str | None = None


P = Cell(DomainStatus.PERMITTED)
A = Cell(DomainStatus.AVOID)


def R(text: str) -> Cell:
    return Cell(DomainStatus.RESTRICTED, text)


NO_SPINE_MOTION = "No spinal flexion, extension or rotation"
NO_SHOULDER = "No shoulder flexion, extension, abduction or adduction"
ELBOW_ONLY = "Elbow flexion/extension only; " + NO_SHOULDER.lower()
KNEE_ONLY = "Knee flexion/extension only; no hip flexion or extension under load"
NO_SPINE_OR_SHOULDER = NO_SPINE_MOTION + "; " + NO_SHOULDER.lower()

Row = dict[str, Cell]

_PELVIS: Row = {
    RESIST_UPPER: P,
    RESIST_TRUNK: P,
    RESIST_LOWER: R(KNEE_ONLY),
    AEROBIC_WB: A,
    AEROBIC_NWB: P,
    FLEX: P,
}
_LUMBAR: Row = {
    RESIST_UPPER: P,
    RESIST_TRUNK: A,
    RESIST_LOWER: P,
    AEROBIC_WB: A,
    AEROBIC_NWB: P,
    FLEX: R(NO_SPINE_MOTION),
}
_THORACIC: Row = {
    RESIST_UPPER: R(ELBOW_ONLY),
    RESIST_TRUNK: A,
    RESIST_LOWER: P,
    AEROBIC_WB: P,
    AEROBIC_NWB: P,
    FLEX: R(NO_SPINE_OR_SHOULDER),
}
_HUMERUS: Row = {
    RESIST_UPPER: R(NO_SHOULDER),
    RESIST_TRUNK: P,
    RESIST_LOWER: P,
    AEROBIC_WB: P,
    AEROBIC_NWB: P,
    FLEX: R(NO_SHOULDER),
}
_ALL: Row = {
    RESIST_UPPER: R(ELBOW_ONLY),
    RESIST_TRUNK: A,
    RESIST_LOWER: R(KNEE_ONLY),
    AEROBIC_WB: A,
    AEROBIC_NWB: P,
    FLEX: R(NO_SPINE_OR_SHOULDER),
}
_FREE: Row = {RESIST_UPPER: P, RESIST_TRUNK: P, RESIST_LOWER: P, AEROBIC_WB: P, AEROBIC_NWB: P, FLEX: P}
_SHOULDER_GIRDLE: Row = {**_FREE, RESIST_UPPER: R(NO_SHOULDER + " on the affected side")}
_LEG: Row = {**_FREE, RESIST_LOWER: R("No resistance loading of the affected leg"), AEROBIC_WB: A}
_ARM: Row = {**_FREE, RESIST_UPPER: R("No resistance loading of the affected arm")}

_RANK = {DomainStatus.PERMITTED: 0, DomainStatus.RESTRICTED: 1, DomainStatus.AVOID: 2}


def _union(*rows: Row) -> Row:
    """The most restrictive cell of each domain across rows, keeping every exclusion text once."""
    out: Row = {}
    for domain in (AEROBIC_WB, AEROBIC_NWB, RESIST_UPPER, RESIST_TRUNK, RESIST_LOWER, FLEX):
        cells = [row[domain] for row in rows]
        worst = max(cells, key=lambda cell: _RANK[cell.status])
        # Exclusion texts are "; "-separated clauses; keep each clause once, whatever its case.
        clauses: dict[str, str] = {}
        for cell in cells:
            for clause in (cell.exclusion or "").split("; "):
                if clause:
                    clauses.setdefault(clause.lower(), clause[0].upper() + clause[1:])
        texts = list(clauses.values())
        if worst.status is DomainStatus.AVOID:
            out[domain] = A
        elif worst.status is DomainStatus.RESTRICTED:
            out[domain] = R("; ".join(texts))
        else:
            out[domain] = P
    return out


S = SiteClass
_ROWS: dict[SiteClass, Row] = {
    S.PELVIS: _PELVIS,
    S.FEMUR_PROXIMAL: _PELVIS,
    S.FEMUR: _PELVIS,
    S.SPINE_LUMBAR: _LUMBAR,
    S.SPINE_THORACIC: _THORACIC,
    S.RIB: _THORACIC,
    S.SPINE_CERVICAL: _THORACIC,
    S.SPINE_UNSPECIFIED: _union(_LUMBAR, _THORACIC),
    S.SACRUM: _union(_PELVIS, _LUMBAR),
    S.HUMERUS_PROXIMAL: _HUMERUS,
    # A humerus lesion with no part named may be proximal: the shoulder row with the arm's own restriction,
    # as an unspecified femur takes the proximal femur's row.
    S.HUMERUS: _union(_HUMERUS, _ARM),
    S.UPPER_LIMB: _ARM,
    S.LOWER_LIMB: _LEG,
    S.SKULL: _FREE,
    S.STERNUM: _FREE,
    S.SCAPULA: _SHOULDER_GIRDLE,
    S.CLAVICLE: _SHOULDER_GIRDLE,
    S.UNKNOWN: _ALL,
}
# Sites whose row is an engineering default rather than a transcription of the trial tables.
DEFAULT_ROWS = frozenset(
    {
        S.SPINE_UNSPECIFIED,
        S.SACRUM,
        S.FEMUR,
        S.HUMERUS,
        S.UPPER_LIMB,
        S.LOWER_LIMB,
        S.SKULL,
        S.STERNUM,
        S.SCAPULA,
        S.CLAVICLE,
    }
)


def site_row(site: SiteClass) -> dict[str, Cell]:
    """Every structured domain's cell for one lesion site, including balance and impact."""
    row = dict(_ROWS[site])
    row[BALANCE] = P
    if site in WEIGHT_BEARING_SITES or site in AXIAL_SITES:
        row[IMPACT] = A
    else:
        row[IMPACT] = R("No contact or ballistic loading of the affected arm")
    return row


@dataclass(frozen=True, slots=True)
class SiteDomains:
    """A site's row (:func:`site_row`, read-only) with the structured domains it avoids and restricts, in
    plan order."""

    cells: Mapping[str, Cell]
    avoided: tuple[str, ...]
    restricted: tuple[str, ...]


def _site_domains(site: SiteClass) -> SiteDomains:
    cells = site_row(site)
    return SiteDomains(
        MappingProxyType(cells),
        tuple(d for d in STRUCTURED_DOMAINS if cells[d].status is DomainStatus.AVOID),
        tuple(d for d in STRUCTURED_DOMAINS if cells[d].status is DomainStatus.RESTRICTED),
    )


# Every site's row and the domains it avoids and restricts depend on the site alone: worked out once here,
# where every plan built each lesion's row and read each domain's status twice on every call.
_SITE_DOMAINS = {site: _site_domains(site) for site in _ROWS}


def site_domains(site: SiteClass) -> SiteDomains:
    """:func:`site_row` and its avoided and restricted domains, made once per site."""
    return _SITE_DOMAINS[site]
