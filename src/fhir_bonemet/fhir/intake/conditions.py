"""Condition → bone lesions and condition facts, handled as a clinician would.

- ``verificationStatus`` entered-in-error or refuted: the record is not real; dropped.
- A bone metastasis (concept ``bone-metastasis``, or ``secondary-malignancy`` with a bone ``bodySite``)
  that is active, recurrent or relapsed becomes one :class:`BoneLesion` per bodySite, or one lesion of
  unknown site when no bodySite is given.  A missing clinicalStatus counts as active unless an abatement
  is recorded on or before today (its latest possible day): treating a metastasis as gone because a field
  was left empty, or because it is expected to go, would be the less cautious error.
- Anything else with a known concept (including an inactive bone metastasis and a brain or liver
  metastasis) becomes a :class:`ConditionFact` that keeps its status; the rules decide what "resolved"
  means for them (a resolved fall still counts as a falls history).
- An onset after today (even its first possible day) is a data error, noted as a read issue (information).
  A bone metastasis so recorded still counts (dropping it would silence its red flags and exercise plan:
  the less cautious error) and its onset is not used, so no card shows a date still to come as when it
  began; any other Condition keeps its onset, which the rules read as today ("recent", the cautious side).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, Final

from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.facts import BodySite, BoneLesion, ConditionFact, ObservationFact, SiteClass
from fhir_bonemet.core.model.frozen_init import fast_init
from fhir_bonemet.fhir.intake.context import Extraction
from fhir_bonemet.fhir.intake.pregnancy import coded_gestational_age
from fhir_bonemet.fhir.intake.read import Item
from fhir_bonemet.fhir.intake.values import (
    as_list,
    codeable_display,
    first_code,
    parse_date,
    period_date,
    reference_of,
)

ACTIVE_STATUSES: Final = frozenset({"active", "recurrence", "relapse"})
_KNOWN_STATUSES: Final = ACTIVE_STATUSES | {"inactive", "remission", "resolved"}
_NOT_REAL: Final = frozenset({"entered-in-error", "refuted"})
# Verification codes that leave the diagnosis open: the record still counts (silence would hide red flags),
# and the cards say it is not confirmed.
_UNCONFIRMED: Final = frozenset({"unconfirmed", "provisional", "differential"})
# Primary cancers in order of preference when a record names several: the specific ones first.
_PRIMARIES: Final = (c.PRIMARY_BREAST, c.PRIMARY_PROSTATE, c.MYELOMA, c.PRIMARY_SOLID)
# More body sites than any real metastasis record lists: past this the record is malformed or hostile, and
# reading every site would make the per-lesion reasoning grow with its square.  The first sites are read
# and the rest stand as one lesion of unknown site, which every rule treats on the cautious side.
MAX_BODY_SITES: Final = 50
_RELATED_URLS: Final = (
    "http://hl7.org/fhir/StructureDefinition/condition-related",
    "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-related-primary-cancer-condition",
)


@fast_init
@dataclass(frozen=True, slots=True)
class _Read:
    item: Item
    concepts: frozenset[str]
    status: str
    sites: tuple[tuple[int, BodySite, bool], ...]  # (position on the Condition, site, evidently bone)
    onset: date | None
    recorded: date | None
    abatement: date | None
    display: str | None
    gestational_age: ObservationFact | None  # from a Z3A weeks-of-gestation code
    unconfirmed: str | None  # the verificationStatus code when it leaves the diagnosis open


def _status(extraction: Extraction, item: Item, abatement: date | None) -> str:
    code = first_code(item.data.get("clinicalStatus"))
    if code in _KNOWN_STATUSES:
        return code
    if code is not None:
        extraction.issue(item, "clinicalStatus", "clinical status not recognised; read as if missing")
    if abatement is not None and extraction.today is not None and abatement > extraction.today:
        # An abatement still to come has not happened: the metastasis is not gone yet.
        extraction.note(item, "abatement[x]", "abatement after today and no clinical status; read as active")
        return "active"
    # FHIR con-4: an abated condition is inactive, resolved or in remission; "inactive" claims least.
    return "inactive" if abatement is not None else "active"


def _date_of(data: Item, prefix: str) -> date | None:
    # Onset and abatement dates are read at their latest possible day: "recent" then errs cautious.
    found = parse_date(data.data.get(f"{prefix}DateTime"), upper=True)
    return found if found is not None else period_date(data.data.get(f"{prefix}Period"), upper=True)


def _onset_after_today(extraction: Extraction, item: Item) -> bool:
    """Even the first day the onset may mean is after today ("2026-12" in December 2026 is not)."""
    if extraction.today is None:
        return False
    first = parse_date(item.data.get("onsetDateTime")) or period_date(item.data.get("onsetPeriod"))
    return first is not None and first > extraction.today


def _read(extraction: Extraction, item: Item) -> _Read | None:
    if not extraction.belongs_to_patient(item):
        return None
    verification = first_code(item.data.get("verificationStatus"))
    if verification in _NOT_REAL:
        return None
    code = extraction.codeable(item, "code")
    concepts = extraction.concepts_for(code) if code is not None else frozenset()
    if not concepts:
        if code is not None and _names_a_bone_metastasis(code):
            # The population hangs on this record: unread, the patient gets no card at all, and the answer
            # must say why rather than pass for "no bone metastasis".
            extraction.issue(item, "code", _METASTASIS_NOT_UNDERSTOOD)
        return None
    abatement = _date_of(item, "abatement")
    listed = extraction.codeables(item, "bodySite")
    sites = tuple(
        (position, *extraction.body_site(body_site)) for position, body_site in listed[:MAX_BODY_SITES]
    )
    if len(listed) > MAX_BODY_SITES:
        extraction.issue(
            item,
            "bodySite",
            f"{len(listed)} body sites on one Condition; the first {MAX_BODY_SITES} were read and the "
            "rest count as one site not recorded",
        )
        sites = (*sites, (listed[MAX_BODY_SITES][0], BodySite(site=SiteClass.UNKNOWN), True))
    return _Read(
        item=item,
        concepts=concepts,
        status=_status(extraction, item, abatement),
        sites=sites,
        onset=_date_of(item, "onset"),
        recorded=parse_date(item.data.get("recordedDate"), upper=True),
        abatement=abatement,
        display=codeable_display(code),
        gestational_age=coded_gestational_age(
            extraction.terminology,
            item.ref,
            code,
            parse_date(item.data.get("recordedDate")) or _date_of(item, "onset"),
        )
        if c.PREGNANCY in concepts
        else None,
        unconfirmed=verification if verification in _UNCONFIRMED else None,
    )


def _related_primary(read: _Read, by_ref: dict[str, frozenset[str]]) -> str | None:
    for extension in as_list(read.item.data.get("extension")):
        if not isinstance(extension, dict) or extension.get("url") not in _RELATED_URLS:
            continue
        reference = reference_of(extension.get("valueReference"))
        related = by_ref.get(reference) if reference is not None else None
        if related is not None:
            for concept in _PRIMARIES:
                if concept in related:
                    return concept
    return None


# Words a bone metastasis is named by (lower case), in a Condition's code text or displays: a metastasis
# word and a bone word in one name.  Read only when the code itself is not understood, to say that a
# mapping is missing, never to read the Condition.  A metastasis elsewhere (brain, liver) under a code the
# service does not map keeps the patient outside the population rightly, and says nothing.
_METASTASIS_WORDS: Final = ("metasta", "secondary malignan", "secondary neoplasm", "secondaries")
_BONE_WORDS: Final = ("bone", "osseous", "skelet", "vertebr", "spine")
_METASTASIS_NOT_UNDERSTOOD: Final = (
    "code not understood, though its name says bone metastasis: received but not read, so the patient may "
    "be outside the population for want of a mapping; map the code with a ConceptMap (docs/integration.md "
    "section 3, fhir-bonemet map-check)"
)


def _names_a_bone_metastasis(code: Mapping[str, Any]) -> bool:
    names = [code.get("text")] + [
        c.get("display") for c in as_list(code.get("coding")) if isinstance(c, dict)
    ]
    return any(
        isinstance(n, str)
        and any(w in (low := n.lower()) for w in _METASTASIS_WORDS)
        and any(w in low for w in _BONE_WORDS)
        for n in names
    )


def _is_bone_metastasis(read: _Read) -> bool:
    if c.BONE_METASTASIS in read.concepts:
        return True
    return c.SECONDARY_MALIGNANCY in read.concepts and any(is_bone for _, _, is_bone in read.sites)


def _lesions(read: _Read, primary: str | None) -> list[BoneLesion]:
    # A generic secondary-malignancy Condition may list a liver and a femur site: only the bones are
    # lesions.  A bone-metastasis code makes every listed site a bone site, named or not.
    every_site = c.BONE_METASTASIS in read.concepts
    lesions = [
        BoneLesion(
            ref=read.item.ref,
            site=site,
            onset=read.onset,
            recorded=read.recorded,
            primary_cancer=primary,
            index=index,
            unconfirmed=read.unconfirmed,
        )
        for index, site, is_bone in read.sites
        if every_site or is_bone
    ]
    # A bodySite whose coding and text name different sites is read both ways: the cautious reading.
    lesions += [
        replace(
            lesion,
            site=replace(lesion.site, site=lesion.site.conflict, conflict=lesion.site.site),
            index=-(lesion.index + 1),
        )
        for lesion in lesions
        if lesion.site.conflict is not None
    ]
    # A junction ("T12-L1") is a lesion in each region it reaches; keyed apart from the copies above.
    lesions += [
        replace(
            lesion,
            site=replace(lesion.site, site=lesion.site.spans, spans=None),
            index=-(lesion.index + 1) - len(read.sites),
        )
        for lesion in lesions
        if lesion.site.spans is not None and lesion.index >= 0
    ]
    if not lesions:
        lesions.append(
            BoneLesion(
                ref=read.item.ref,
                site=BodySite(site=SiteClass.UNKNOWN),
                onset=read.onset,
                recorded=read.recorded,
                primary_cancer=primary,
                unconfirmed=read.unconfirmed,
            )
        )
    return lesions


def condition_facts(
    extraction: Extraction, items: list[Item]
) -> tuple[list[BoneLesion], list[ConditionFact], list[ObservationFact]]:
    """Bone lesions, other conditions, and the gestational ages that current pregnancy Conditions code
    in their Z3A weeks (:mod:`fhir_bonemet.fhir.intake.pregnancy`)."""
    reads = [read for item in items if (read := _read(extraction, item)) is not None]
    by_ref = {read.item.ref: read.concepts for read in reads}
    record_primary = next(
        (concept for concept in _PRIMARIES if any(concept in read.concepts for read in reads)), None
    )
    lesions: list[BoneLesion] = []
    conditions: list[ConditionFact] = []
    weeks = [
        read.gestational_age
        for read in reads
        if read.gestational_age is not None and read.status in ACTIVE_STATUSES
    ]
    for read in reads:
        bone = _is_bone_metastasis(read)
        if _onset_after_today(extraction, read.item):
            if bone:
                extraction.note(
                    read.item, "onset[x]", "onset after today; the metastasis counts, its onset not used"
                )
                read = replace(read, onset=None)
            else:
                extraction.note(read.item, "onset[x]", "onset after today; read as today")
        if bone and read.status in ACTIVE_STATUSES:
            lesions.extend(_lesions(read, _related_primary(read, by_ref) or record_primary))
            continue
        concepts = read.concepts | {c.BONE_METASTASIS} if bone else read.concepts
        bone_sites = [site for _, site, is_bone in read.sites if is_bone]
        conditions.append(
            ConditionFact(
                ref=read.item.ref,
                concepts=concepts,
                onset=read.onset,
                recorded=read.recorded,
                site=bone_sites[0] if bone_sites else None,
                display=read.display,
                clinical_status=read.status,
                abatement=read.abatement,
            )
        )
    return lesions, conditions, weeks
