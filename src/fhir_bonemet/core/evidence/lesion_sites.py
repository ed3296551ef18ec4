"""Lesion sites: site-class families, which facts may describe which lesion, and lesion names
(docs/clinical-model.md#skeletal-site-classes).

Attribution.  A fact belongs to a lesion when its ``focus`` names the lesion's Condition (if it has a
focus) and its body site is compatible with the lesion's site (if it has a site): same site class, or
the same bone recorded at different precision (femur / proximal femur; an unspecified spinal level and
any spinal region), and not the other side.  A fact with neither focus nor site fits every eligible
lesion.

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from fhir_bonemet.core.model.facts import BodySite, BoneLesion, Laterality, SiteClass

__all__ = [
    "AXIAL_SITES",
    "LONG_BONE_SITES",
    "SPINE_SITES",
    "WEIGHT_BEARING_SITES",
    "LesionKey",
    "attribute",
    "lesion_key",
    "lesion_label",
    "lesions_label",
    "site_label",
    "sites_compatible",
    "treated_lesions",
]

S = SiteClass
SPINE_SITES = frozenset({S.SPINE_CERVICAL, S.SPINE_THORACIC, S.SPINE_LUMBAR, S.SPINE_UNSPECIFIED, S.SACRUM})
LONG_BONE_SITES = frozenset(
    {S.FEMUR_PROXIMAL, S.FEMUR, S.LOWER_LIMB, S.HUMERUS_PROXIMAL, S.HUMERUS, S.UPPER_LIMB}
)
# Thoracic, lumbar and sacral spine, pelvis and lower-limb bones carry body weight.  An unspecified spinal
# level or an unknown site may be any of them, so both count as weight-bearing (the cautious side).
WEIGHT_BEARING_SITES = frozenset(
    {
        S.SPINE_THORACIC,
        S.SPINE_LUMBAR,
        S.SPINE_UNSPECIFIED,
        S.SACRUM,
        S.PELVIS,
        S.FEMUR_PROXIMAL,
        S.FEMUR,
        S.LOWER_LIMB,
        S.UNKNOWN,
    }
)
# Site classes: axial skeleton and girdles; only the free upper limb is neither axial nor weight-bearing.
AXIAL_SITES = frozenset(SPINE_SITES | {S.PELVIS, S.RIB, S.STERNUM, S.SCAPULA, S.CLAVICLE, S.SKULL, S.UNKNOWN})

# Groups of site classes that may describe the same bone at different precision.
_SAME_BONE: tuple[frozenset[SiteClass], ...] = (
    frozenset({S.FEMUR_PROXIMAL, S.FEMUR}),
    frozenset({S.HUMERUS_PROXIMAL, S.HUMERUS, S.UPPER_LIMB}),
)

LesionKey = tuple[str, int]


def lesion_key(lesion: BoneLesion) -> LesionKey:
    return (lesion.ref, lesion.index)


def lesion_label(lesion: BoneLesion) -> str:
    """How a lesion is named in card text: the record's own site text when it has one."""
    return site_label(lesion.site)


_LEVEL_TEXT = re.compile(r"^[CTLS]\d{1,2}\b")
# Made once: the labels and the attribution ask on every call, and on Python 3.11 each read of an enum
# member (Laterality.LEFT) takes the metaclass's slow attribute path.
_ONE_SIDED = (Laterality.LEFT, Laterality.RIGHT)


def site_label(site: BodySite) -> str:
    """ "T9 lesion", "left proximal femur lesion": the record's words, completed with side and qualifier."""
    if site.text:
        name = site.text if _LEVEL_TEXT.match(site.text) else site.text.lower()
        # SNOMED displays such as "Bone structure of tibia" read better as "tibia".
        for prefix in ("bone structure of ", "structure of "):
            name = name.removeprefix(prefix)
    elif site.site is S.UNKNOWN:
        name = "site not recorded"
    else:
        name = site.site.value.replace("-", " ")
    words = name.split()
    if "proximal" in site.qualifiers and "proximal" not in words and site.site is not S.UNKNOWN:
        name = f"proximal {name}" if "proximal" not in name else name
    if site.laterality in _ONE_SIDED and site.laterality.value not in words:
        name = f"{site.laterality.value} {name}"
    return f"{name} lesion"


def sites_compatible(a: SiteClass, b: SiteClass) -> bool:
    if S.UNKNOWN in (a, b) or a is b:
        return True
    if S.SPINE_UNSPECIFIED in (a, b):
        return a in SPINE_SITES and b in SPINE_SITES
    return any(a in group and b in group for group in _SAME_BONE)


def _sides_compatible(a: Laterality | None, b: Laterality | None) -> bool:
    return not (a in _ONE_SIDED and b in _ONE_SIDED and a is not b)


def _fits(lesion: BoneLesion, focus: tuple[str, ...], site: BodySite | None) -> bool:
    if focus and lesion.ref not in focus:
        return False
    if site is None or site.site is S.UNKNOWN:
        return True
    return sites_compatible(lesion.site.site, site.site) and _sides_compatible(
        lesion.site.laterality, site.laterality
    )


def attribute(
    lesions: Iterable[BoneLesion],
    focus: tuple[str, ...],
    site: BodySite | None,
    eligible: Callable[[BoneLesion], bool] = lambda _lesion: True,
) -> tuple[BoneLesion, ...]:
    """The eligible lesions a fact with this focus and body site may be about."""
    if not focus and (site is None or site.site is S.UNKNOWN):
        # Nothing narrows it down (the usual pain score): every eligible lesion, without a check each.
        return tuple(lesion for lesion in lesions if eligible(lesion))
    return tuple(lesion for lesion in lesions if eligible(lesion) and _fits(lesion, focus, site))


def treated_lesions(lesions: Iterable[BoneLesion], site: BodySite) -> tuple[tuple[BoneLesion, ...], bool]:
    """The lesions a local treatment at ``site`` (a radiotherapy field) may have treated, and whether it
    certainly treated them all.

    The same matching as every other fact (:func:`attribute`: bone at any precision, not the other side),
    narrowed by vertebral level when both name levels: radiotherapy to T4 did not treat a T9 lesion.  The
    treatment is certain for a lesion when it is the only one that fits, or when the levels of every
    fitting lesion lie inside the treated levels ("T8-T10" treated both a T9 and a T10 lesion).  A site
    that is not recorded treats nothing for certain."""
    if site.site is S.UNKNOWN:
        return (), False
    fits = tuple(
        lesion
        for lesion in attribute(lesions, (), site)
        if not (lesion.site.levels and site.levels) or set(lesion.site.levels) & set(site.levels)
    )
    within = all(lesion.site.levels and set(lesion.site.levels) <= set(site.levels) for lesion in fits)
    return fits, len(fits) == 1 or (bool(fits) and within)


def lesions_label(lesions: tuple[BoneLesion, ...]) -> str:
    """Where a finding about one or more lesions points: the lesion's name, or why there is none."""
    if len(lesions) == 1:
        return lesion_label(lesions[0])
    return "site not matched to one lesion" if lesions else "site not recorded"
