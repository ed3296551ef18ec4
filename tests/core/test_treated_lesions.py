"""Which lesion a radiotherapy field treated: bone, side and vertebral level, read from real bodySites."""

from __future__ import annotations

from fhir_bonemet.core.evidence.lesion_sites import treated_lesions
from fhir_bonemet.core.model.facts import BodySite, BoneLesion, SiteClass
from fhir_bonemet.fhir.intake.sites import read_body_site
from fhir_bonemet.fhir.terminology.lookup import Terminology

TERMINOLOGY = Terminology.load()
SCT = "http://snomed.info/sct"
FEMUR = {"system": SCT, "code": "71341001", "display": "Femur"}
THORACIC = {"system": SCT, "code": "122495006", "display": "Thoracic spine"}
LUMBAR = {"system": SCT, "code": "122496007", "display": "Lumbar spine"}


def _site(coding: dict[str, str], text: str) -> BodySite:
    site, _ = read_body_site({"coding": [coding], "text": text}, TERMINOLOGY)
    return site


def _lesions(*sites: tuple[dict[str, str], str]) -> tuple[BoneLesion, ...]:
    return tuple(BoneLesion("Condition/met-1", _site(c, t), index=i) for i, (c, t) in enumerate(sites))


def _texts(lesions: tuple[BoneLesion, ...]) -> list[str | None]:
    return [lesion.site.text for lesion in lesions]


def test_levels_are_read_and_ranges_spelled_out() -> None:
    assert _site(THORACIC, "T8-T10").levels == ("T8", "T9", "T10")
    assert _site(THORACIC, "T12-L1").levels == ("T12", "L1")
    assert _site(LUMBAR, "L3 to 5").levels == ("L3", "L4", "L5")
    assert _site(LUMBAR, "lumbar spine").levels == ()
    assert _site(LUMBAR, "L99").levels == ()


def test_the_other_side_is_not_treated() -> None:
    lesions = _lesions((FEMUR, "left femur"), (FEMUR, "right femur"))
    treated, certain = treated_lesions(lesions, _site(FEMUR, "right femur"))
    assert _texts(treated) == ["right femur"]
    assert certain


def test_a_field_without_a_side_is_not_certain_between_two_femurs() -> None:
    lesions = _lesions((FEMUR, "left femur"), (FEMUR, "right femur"))
    treated, certain = treated_lesions(lesions, _site(FEMUR, "femur"))
    assert len(treated) == 2
    assert not certain


def test_another_vertebral_level_of_the_same_region_is_not_treated() -> None:
    lesions = _lesions((THORACIC, "T4"), (THORACIC, "T9"))
    treated, certain = treated_lesions(lesions, _site(THORACIC, "T4"))
    assert _texts(treated) == ["T4"]
    assert certain


def test_a_field_over_several_levels_treats_every_lesion_inside_it() -> None:
    lesions = _lesions((THORACIC, "T9"), (THORACIC, "T10"), (LUMBAR, "L4"))
    treated, certain = treated_lesions(lesions, _site(THORACIC, "T8-T10"))
    assert _texts(treated) == ["T9", "T10"]
    assert certain


def test_a_spinal_field_without_levels_is_not_certain_between_two_vertebrae() -> None:
    lesions = _lesions((THORACIC, "T4"), (THORACIC, "T9"))
    treated, certain = treated_lesions(lesions, _site(THORACIC, "thoracic spine"))
    assert len(treated) == 2
    assert not certain


def test_a_site_not_recorded_treats_nothing() -> None:
    lesions = _lesions((FEMUR, "left femur"))
    assert treated_lesions(lesions, BodySite(site=SiteClass.UNKNOWN)) == ((), False)
