"""``bodySite`` → :class:`~fhir_bonemet.core.model.facts.BodySite`: site class, laterality, location
qualifiers.

Sources, in order of trust:

1. the bodySite codings, through the terminology's ``site-*`` concepts (SNOMED CT regions of DICOM CID
   4031, evidence S27 in ``knowledge/sources.toml``);
2. the mCODE extensions on the bodySite: laterality qualifier and body-location qualifier (mCODE IG, S26);
3. the words of ``bodySite.text`` and coding displays: vertebral levels ("T9", "L3 vertebra"), bone names
   ("left proximal femur", "rib 5").  Text refines an unspecific coded site (a coded "spine" with text
   "T9" is thoracic) but never overrides a specific one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final, Protocol

from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.facts import BodySite, Laterality, SiteClass
from fhir_bonemet.fhir.intake.values import JsonDict, as_list, codeable_display, codeable_words

LATERALITY_URL: Final = "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-laterality-qualifier"
LOCATION_QUALIFIER_URL: Final = (
    "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-body-location-qualifier"
)


class ConceptLookup(Protocol):
    def concepts_for(self, codeable_concept: Mapping[str, Any] | None) -> frozenset[str]: ...


# Coded site concepts, most specific first.  Where a coding falls in two spinal regions (a junctional
# code), the weight-bearing region wins: thoracic, then lumbar, then cervical.
_CODED_SITES: Final[tuple[tuple[str, SiteClass], ...]] = (
    (c.SITE_SPINE_THORACIC, SiteClass.SPINE_THORACIC),
    (c.SITE_SPINE_LUMBAR, SiteClass.SPINE_LUMBAR),
    (c.SITE_SPINE_CERVICAL, SiteClass.SPINE_CERVICAL),
    (c.SITE_SACRUM, SiteClass.SACRUM),
    (c.SITE_PELVIS, SiteClass.PELVIS),
    # A hip lesion is peritrochanteric until shown otherwise: the site with the highest fracture risk.
    (c.SITE_HIP, SiteClass.FEMUR_PROXIMAL),
    (c.SITE_FEMUR, SiteClass.FEMUR),
    (c.SITE_LOWER_LIMB, SiteClass.LOWER_LIMB),
    (c.SITE_HUMERUS, SiteClass.HUMERUS),
    (c.SITE_UPPER_LIMB, SiteClass.UPPER_LIMB),
    (c.SITE_RIB, SiteClass.RIB),
    (c.SITE_STERNUM, SiteClass.STERNUM),
    (c.SITE_SCAPULA, SiteClass.SCAPULA),
    (c.SITE_CLAVICLE, SiteClass.CLAVICLE),
    (c.SITE_SKULL, SiteClass.SKULL),
    (c.SITE_SPINE, SiteClass.SPINE_UNSPECIFIED),
)

_LEVEL = re.compile(r"\b(c|t|th|d|l|s)\s?-?\s?(\d{1,2})\b")
_LEVEL_CLASSES: Final[dict[str, tuple[SiteClass, int]]] = {
    "c": (SiteClass.SPINE_CERVICAL, 7),
    "t": (SiteClass.SPINE_THORACIC, 12),
    "th": (SiteClass.SPINE_THORACIC, 12),
    "d": (SiteClass.SPINE_THORACIC, 12),  # "dorsal" levels, older notation
    "l": (SiteClass.SPINE_LUMBAR, 5),
    "s": (SiteClass.SACRUM, 5),
}
# Bone names in text, most specific first.  "cervical" and "thoracic" alone also name lymph-node
# stations and the chest, so they count only next to a spinal word.
_TEXT_SITES: Final[tuple[tuple[re.Pattern[str], SiteClass], ...]] = tuple(
    (re.compile(pattern), site)
    for pattern, site in (
        (r"\bsacr(?:um|al)\b|\bcoccy", SiteClass.SACRUM),
        (r"acetabul|\bili(?:um|ac)\b|\bischi|\bpubi[cs]\b|\bpelvi[cs]\b", SiteClass.PELVIS),
        (r"\bhip\b|trochant|femoral neck|neck of femur", SiteClass.FEMUR_PROXIMAL),
        (r"\bfemora?l?\b|\bfemur\b|\bthigh\b", SiteClass.FEMUR),
        (r"\btibi|\bfibul", SiteClass.LOWER_LIMB),
        (r"\bhumer", SiteClass.HUMERUS),
        (r"\bradius\b|\bulna", SiteClass.UPPER_LIMB),
        (r"\bribs?\b|\bcostal\b", SiteClass.RIB),
        (r"\bstern(?:um|al)\b", SiteClass.STERNUM),
        (r"\bscapul", SiteClass.SCAPULA),
        (r"\bclavic", SiteClass.CLAVICLE),
        (r"\bskull\b|\bcrani(?:um|al)\b|\bcalvari", SiteClass.SKULL),
        (r"\bcervical (?:spine|vertebra|column|cord)", SiteClass.SPINE_CERVICAL),
        (r"\b(?:thoracic|dorsal) (?:spine|vertebra|column)", SiteClass.SPINE_THORACIC),
        (r"\blumbar\b", SiteClass.SPINE_LUMBAR),
        (r"\bspin(?:e|al)\b|\bvertebra", SiteClass.SPINE_UNSPECIFIED),
    )
)
_BONE_WORDS = re.compile(r"\bbones?\b|\bbony\b|\bosseous\b|\bskelet")
_LATERALITY_WORDS: Final[tuple[tuple[re.Pattern[str], Laterality], ...]] = (
    (re.compile(r"\bbilateral\b|\bboth\b|right and left|left and right"), Laterality.BILATERAL),
    (re.compile(r"\bleft\b|\blt\b"), Laterality.LEFT),
    (re.compile(r"\bright\b|\brt\b"), Laterality.RIGHT),
    (re.compile(r"\bmidline\b|\bmedian\b"), Laterality.MIDLINE),
)
# The laterality qualifiers of mCODE LateralityQualifierVS (SNOMED CT; ValueSet-laterality in profiles/).
# The extension's value is often the bare code: mCODE requires the code, not its display.
_LATERALITY_CODES: Final[dict[str, Laterality]] = {
    "7771000": Laterality.LEFT,
    "24028007": Laterality.RIGHT,
    "51440002": Laterality.BILATERAL,
    "399488007": Laterality.MIDLINE,
}
_PROXIMAL = re.compile(r"\bproximal\b")
_UNSPECIFIC: Final = frozenset({SiteClass.SPINE_UNSPECIFIED, SiteClass.UNKNOWN})


def _coded_site(concepts: frozenset[str]) -> SiteClass | None:
    for concept, site in _CODED_SITES:
        if concept in concepts:
            return site
    return None


def _text_site(words: str) -> SiteClass | None:
    for match in _LEVEL.finditer(words):
        site, highest = _LEVEL_CLASSES[match.group(1)]
        if 1 <= int(match.group(2)) <= highest:
            return site
    for pattern, site in _TEXT_SITES:
        if pattern.search(words):
            return site
    return None


_LEVEL_RANGE = re.compile(r"\b(c|t|th|d|l|s)\s?(\d{1,2})\s?(?:-|–|to)\s?(?:(c|t|th|d|l|s)\s?)?(\d{1,2})\b")
_LEVEL_LETTER: Final = {"c": "C", "t": "T", "th": "T", "d": "T", "l": "L", "s": "S"}
_SPINE_ORDER: Final = (
    *(f"C{n}" for n in range(1, 8)),
    *(f"T{n}" for n in range(1, 13)),
    *(f"L{n}" for n in range(1, 6)),
    *(f"S{n}" for n in range(1, 6)),
)


_REGION_OF_LEVEL: Final = {
    "C": SiteClass.SPINE_CERVICAL,
    "T": SiteClass.SPINE_THORACIC,
    "L": SiteClass.SPINE_LUMBAR,
    "S": SiteClass.SACRUM,
}


def _spans(site: SiteClass | None, levels: tuple[str, ...]) -> SiteClass | None:
    """The first spinal region the levels reach other than ``site`` ("C7-T1" read as cervical also reaches
    the thoracic spine), if ``site`` is a spinal region itself."""
    if site not in _REGION_OF_LEVEL.values() and site is not SiteClass.SPINE_UNSPECIFIED:
        return None
    return next((r for r in (_REGION_OF_LEVEL[level[0]] for level in levels) if r is not site), None)


def _level(letter: str, number: str) -> str | None:
    name = f"{_LEVEL_LETTER[letter]}{int(number)}"
    return name if name in _SPINE_ORDER else None


def _levels(words: str) -> tuple[str, ...]:
    """The vertebral levels named in the text ("T8-T10", "L4 vertebra", "T12-L1"), in spinal order.

    A range is spelled out level by level, so that a treatment field "T8-T10" is known to include T9."""
    found: set[str] = set()
    for match in _LEVEL_RANGE.finditer(words):
        first = _level(match.group(1), match.group(2))
        last = _level(match.group(3) or match.group(1), match.group(4))
        if first is not None and last is not None:
            a, b = sorted((_SPINE_ORDER.index(first), _SPINE_ORDER.index(last)))
            found.update(_SPINE_ORDER[a : b + 1])
    for match in _LEVEL.finditer(words):
        level = _level(match.group(1), match.group(2))
        if level is not None:
            found.add(level)
    return tuple(sorted(found, key=_SPINE_ORDER.index))


def _laterality(words: str) -> Laterality | None:
    for pattern, side in _LATERALITY_WORDS:
        if pattern.search(words):
            return side
    return None


def _coded_laterality(value: JsonDict, terminology: ConceptLookup) -> Laterality | None:
    """The side a laterality qualifier codes, when one of its codings is a known laterality code (checked
    against the laterality value set, so the system is right whatever way it is spelled)."""
    for coding in as_list(value.get("coding")):
        if not isinstance(coding, dict):
            continue
        code = coding.get("code")
        side = _LATERALITY_CODES.get(code.strip()) if isinstance(code, str) else None
        if side is not None and c.LATERALITY in terminology.concepts_for({"coding": [coding]}):
            return side
    return None


def _extensions(body_site: JsonDict, url: str) -> list[JsonDict]:
    found: list[JsonDict] = []
    for extension in as_list(body_site.get("extension")):
        if isinstance(extension, dict) and extension.get("url") == url:
            value = extension.get("valueCodeableConcept")
            if isinstance(value, dict):
                found.append(value)
    return found


def _qualifiers(body_site: JsonDict, words: str, terminology: ConceptLookup) -> tuple[str, ...]:
    qualifiers: list[str] = []
    for value in _extensions(body_site, LOCATION_QUALIFIER_URL):
        said = codeable_words(value)
        if c.QUALIFIER_PROXIMAL in terminology.concepts_for(value) or _PROXIMAL.search(said):
            qualifiers.append("proximal")
        elif said:
            qualifiers.append(said)
    if "proximal" not in qualifiers and _PROXIMAL.search(words):
        qualifiers.append("proximal")
    return tuple(dict.fromkeys(qualifiers))


def read_body_site(body_site: JsonDict, terminology: ConceptLookup) -> tuple[BodySite, bool]:
    """The BodySite a ``bodySite`` CodeableConcept describes, and whether it is evidently bone.

    "Evidently bone" means a coded skeletal site, a bone named in the text, or the word "bone": it decides
    whether a generic secondary-malignancy Condition is a bone metastasis.
    """
    concepts = terminology.concepts_for(body_site)
    words = codeable_words(body_site)
    site = _coded_site(concepts)
    coded = site is not None
    if site is None or site in _UNSPECIFIC:
        from_text = _text_site(words) if words else None
        if from_text is not None:
            site = from_text
    is_bone = site is not None or bool(words and _BONE_WORDS.search(words))
    qualifiers = _qualifiers(body_site, words, terminology)
    if "proximal" in qualifiers:
        if site is SiteClass.FEMUR:
            site = SiteClass.FEMUR_PROXIMAL
        elif site is SiteClass.HUMERUS:
            site = SiteClass.HUMERUS_PROXIMAL
    conflict = _conflict(site, body_site) if coded else None
    laterality = None
    for value in _extensions(body_site, LATERALITY_URL):
        # The code first: a qualifier sent without a display ("24028007" alone) was read as no side, and a
        # score or radiotherapy of the other side was then taken for this lesion's.
        laterality = _coded_laterality(value, terminology) or _laterality(codeable_words(value))
        if laterality is not None:
            break
    if laterality is None and words:
        laterality = _laterality(words)
    levels = _levels(words) if words else ()
    return (
        BodySite(
            site=site if site is not None else SiteClass.UNKNOWN,
            text=codeable_display(body_site),
            laterality=laterality,
            qualifiers=qualifiers,
            conflict=conflict,
            levels=levels,
            spans=_spans(site, levels) if len(levels) > 1 else None,
        ),
        is_bone,
    )


# A text that only refines the coded site is no conflict: proximal femur within femur, a humerus within
# the upper limb, a level within an unspecified spine.
_REGION: Final[dict[SiteClass, SiteClass]] = {
    SiteClass.FEMUR_PROXIMAL: SiteClass.FEMUR,
    SiteClass.HUMERUS_PROXIMAL: SiteClass.UPPER_LIMB,
    SiteClass.HUMERUS: SiteClass.UPPER_LIMB,
}


def _conflict(coded: SiteClass | None, body_site: JsonDict) -> SiteClass | None:
    """The site ``bodySite.text`` names when it is another site than the specific coded one."""
    text = body_site.get("text")
    if coded is None or coded in _UNSPECIFIC or not isinstance(text, str) or not text.strip():
        return None
    said = _text_site(text[:200].lower())  # a site name is short: a long note is not searched whole
    if said is None or said in _UNSPECIFIC or _REGION.get(said, said) == _REGION.get(coded, coded):
        return None
    return said
