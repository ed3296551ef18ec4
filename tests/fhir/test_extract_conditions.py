"""Conditions → bone lesions (mCODE SecondaryCancerCondition style) and condition facts."""

from __future__ import annotations

from datetime import date

import pytest
from reader_fixtures import BONE_MET_CODE, ICD10CM, LATERALITY_URL, SCT, coding, condition, facts_of, site

from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.facts import Laterality, SiteClass

FEMUR, HUMERUS, RIB, PELVIS, SPINE, THORACIC = (
    "71341001",
    "85050009",
    "113197003",
    "816092008",
    "421060004",
    "122495006",
)
SECONDARY_ANY = {"coding": [coding(SCT, "128462008", "Secondary malignant neoplastic disease")]}
BRAIN_METS = {"coding": [coding(ICD10CM, "C79.31", "Secondary malignant neoplasm of brain")]}


def test_secondary_cancer_condition_with_laterality_and_proximal_qualifier() -> None:
    met = condition(
        "met-femur", BONE_MET_CODE, sites=[site(FEMUR, "Femur", side="left", qualifier="proximal")]
    )
    facts = facts_of(met)
    assert len(facts.lesions) == 1
    lesion = facts.lesions[0]
    assert lesion.ref == "Condition/met-femur"
    assert lesion.site.site is SiteClass.FEMUR_PROXIMAL
    assert lesion.site.laterality is Laterality.LEFT
    assert lesion.site.qualifiers == ("proximal",)
    assert facts.conditions == ()


@pytest.mark.parametrize(
    ("system", "code", "side"),
    [
        (SCT, "7771000", Laterality.LEFT),
        (SCT, "24028007", Laterality.RIGHT),
        ("urn:oid:2.16.840.1.113883.6.96", "24028007", Laterality.RIGHT),
        (SCT, "51440002", Laterality.BILATERAL),
        (SCT, "399488007", Laterality.MIDLINE),
        ("http://example.org/local", "24028007", None),
    ],
)
def test_laterality_qualifier_sent_as_a_bare_code(system: str, code: str, side: Laterality | None) -> None:
    # mCODE requires the code of the laterality qualifier, not its display: a right femur sent as
    # {"system": SNOMED, "code": "24028007"} was read as a femur of no side, and a Mirels score or a
    # radiotherapy field of the left femur was then taken for this lesion's.
    femur = site(FEMUR)
    femur["extension"] = [{"url": LATERALITY_URL, "valueCodeableConcept": {"coding": [coding(system, code)]}}]
    lesion = facts_of(condition("met-side", BONE_MET_CODE, sites=[femur])).lesions[0]
    assert lesion.site.laterality is side


def test_one_condition_with_several_body_sites_yields_one_lesion_per_site() -> None:
    met = condition(
        "met-multi",
        BONE_MET_CODE,
        sites=[site(SPINE, "Spine", text="T9"), site(RIB, "Rib", side="right", text="rib 5"), site(PELVIS)],
    )
    lesions = facts_of(met).lesions
    assert [(lesion.index, lesion.site.site) for lesion in lesions] == [
        (0, SiteClass.SPINE_THORACIC),  # a coded "spine" is refined by the level in the text
        (1, SiteClass.RIB),
        (2, SiteClass.PELVIS),
    ]
    assert lesions[0].site.text == "T9"
    assert lesions[1].site.laterality is Laterality.RIGHT
    assert {lesion.ref for lesion in lesions} == {"Condition/met-multi"}


def test_one_condition_per_site() -> None:
    facts = facts_of(
        condition(
            "met-a", BONE_MET_CODE, sites=[site(HUMERUS, "Humerus", side="right", qualifier="proximal")]
        ),
        condition("met-b", BONE_MET_CODE, sites=[site(THORACIC, "Thoracic spine")]),
    )
    assert [(lesion.ref, lesion.site.site) for lesion in facts.lesions] == [
        ("Condition/met-a", SiteClass.HUMERUS_PROXIMAL),
        ("Condition/met-b", SiteClass.SPINE_THORACIC),
    ]


def test_a_coded_humerus_with_no_part_named_is_a_humerus_lesion() -> None:
    lesions = facts_of(condition("met-h", BONE_MET_CODE, sites=[site(HUMERUS, "Humerus")])).lesions
    assert [lesion.site.site for lesion in lesions] == [SiteClass.HUMERUS]


def test_no_body_site_is_a_lesion_of_unknown_site() -> None:
    lesions = facts_of(condition("met-x", BONE_MET_CODE)).lesions
    assert [(lesion.ref, lesion.site.site) for lesion in lesions] == [("Condition/met-x", SiteClass.UNKNOWN)]


@pytest.mark.parametrize(
    ("text", "expected", "side"),
    [
        ("T9", SiteClass.SPINE_THORACIC, None),
        ("L3 vertebra", SiteClass.SPINE_LUMBAR, None),
        ("C5", SiteClass.SPINE_CERVICAL, None),
        ("left proximal femur", SiteClass.FEMUR_PROXIMAL, Laterality.LEFT),
        ("right femoral shaft", SiteClass.FEMUR, Laterality.RIGHT),
        ("rib 5", SiteClass.RIB, None),
        ("Left iliac bone", SiteClass.PELVIS, Laterality.LEFT),
        ("sacrum", SiteClass.SACRUM, None),
        ("skull vault", SiteClass.SKULL, None),
        ("proximal humerus", SiteClass.HUMERUS_PROXIMAL, None),
        ("left humerus", SiteClass.HUMERUS, Laterality.LEFT),
        ("humeral shaft", SiteClass.HUMERUS, None),
        ("right radius", SiteClass.UPPER_LIMB, Laterality.RIGHT),
        ("right tibia", SiteClass.LOWER_LIMB, Laterality.RIGHT),
    ],
)
def test_body_site_text_only(text: str, expected: SiteClass, side: Laterality | None) -> None:
    lesion = facts_of(condition("met-t", BONE_MET_CODE, sites=[site(text=text)])).lesions[0]
    assert lesion.site.site is expected
    assert lesion.site.laterality is side
    assert lesion.site.text == text


def test_generic_secondary_malignancy_with_bone_site_is_a_lesion_only_at_bone_sites() -> None:
    liver = {"coding": [coding(SCT, "10200004", "Liver structure")], "text": "liver"}
    met = condition("met-g", SECONDARY_ANY, sites=[liver, site(FEMUR, "Femur", side="right")])
    facts = facts_of(met)
    assert [(lesion.index, lesion.site.site) for lesion in facts.lesions] == [(1, SiteClass.FEMUR)]


ICDO3 = "http://terminology.hl7.org/CodeSystem/icd-o-3"


@pytest.mark.parametrize(
    ("topography", "expected"),
    [
        ("C41.2", SiteClass.SPINE_UNSPECIFIED),
        ("C41.4", SiteClass.PELVIS),
        ("C40.2", SiteClass.FEMUR),
        ("C41.3", SiteClass.RIB),
        ("C41.0", SiteClass.SKULL),
    ],
)
def test_icd_o_3_topography_body_sites_as_mcode_allows(topography: str, expected: SiteClass) -> None:
    body_site = {"coding": [coding(ICDO3, topography)]}
    facts = facts_of(condition("met-o", SECONDARY_ANY, sites=[body_site]))
    assert [lesion.site.site for lesion in facts.lesions] == [expected]


def test_icd_unspecified_secondary_with_bone_body_site_text() -> None:
    c799 = {"coding": [coding(ICD10CM, "C79.9", "Secondary malignant neoplasm of unspecified site")]}
    facts = facts_of(condition("met-u", c799, sites=[{"text": "bone"}]))
    assert [lesion.site.site for lesion in facts.lesions] == [SiteClass.UNKNOWN]


def test_brain_metastasis_is_not_a_bone_lesion_but_is_recorded() -> None:
    facts = facts_of(condition("brain", BRAIN_METS, sites=[{"coding": [coding(SCT, "12738006", "Brain")]}]))
    assert facts.lesions == ()
    assert [(f.ref, c.SECONDARY_MALIGNANCY in f.concepts) for f in facts.conditions] == [
        ("Condition/brain", True)
    ]


def test_lymph_node_station_words_do_not_make_a_bone_site() -> None:
    node = {"text": "cervical lymph nodes"}
    facts = facts_of(condition("nodes", SECONDARY_ANY, sites=[node]))
    assert facts.lesions == ()


@pytest.mark.parametrize("verification", ["entered-in-error", "refuted"])
def test_entered_in_error_and_refuted_are_ignored(verification: str) -> None:
    facts = facts_of(condition("gone", BONE_MET_CODE, sites=[site(FEMUR)], verification=verification))
    assert facts.lesions == ()
    assert facts.conditions == ()


@pytest.mark.parametrize("status", ["resolved", "inactive", "remission"])
def test_inactive_bone_metastasis_is_kept_as_condition_with_its_status(status: str) -> None:
    facts = facts_of(condition("old", BONE_MET_CODE, sites=[site(FEMUR)], clinical=status))
    assert facts.lesions == ()
    [fact] = facts.conditions
    assert fact.clinical_status == status
    assert c.BONE_METASTASIS in fact.concepts


@pytest.mark.parametrize("status", ["active", "recurrence", "relapse"])
def test_active_like_statuses_are_lesions(status: str) -> None:
    assert len(facts_of(condition("m", BONE_MET_CODE, clinical=status)).lesions) == 1


def test_missing_clinical_status_is_active_unless_abated() -> None:
    assert len(facts_of(condition("m1", BONE_MET_CODE, clinical=None)).lesions) == 1
    abated = facts_of(condition("m2", BONE_MET_CODE, clinical=None, abatementDateTime="2024-01-10"))
    assert abated.lesions == ()
    assert abated.conditions[0].clinical_status == "inactive"


def test_unrecognised_clinical_status_is_read_cautiously_and_reported() -> None:
    facts = facts_of(condition("m", BONE_MET_CODE, clinical="bogus"))
    assert len(facts.lesions) == 1
    assert [issue.location for issue in facts.issues] == ["Condition/m.clinicalStatus"]


def test_primary_cancer_from_related_condition_extension() -> None:
    breast = condition("primary-b", {"coding": [coding(ICD10CM, "C50.911")]}, sites=None)
    prostate = condition("primary-p", {"coding": [coding(SCT, "399068003", "Prostate cancer")]})
    met = condition("met-r", BONE_MET_CODE, related="primary-p")
    facts = facts_of(breast, prostate, met)
    assert facts.lesions[0].primary_cancer == c.PRIMARY_PROSTATE


def test_primary_cancer_falls_back_to_any_primary_in_the_record() -> None:
    breast = condition("primary-b", {"coding": [coding(ICD10CM, "C50.911")]})
    facts = facts_of(breast, condition("met", BONE_MET_CODE))
    assert facts.lesions[0].primary_cancer == c.PRIMARY_BREAST
    assert any(c.PRIMARY_BREAST in f.concepts for f in facts.conditions)


def test_other_conditions_keep_concepts_dates_and_site() -> None:
    fracture = condition(
        "fx",
        {"coding": [coding(ICD10CM, "M84.552A")]},
        sites=[site(FEMUR, "Femur", side="left")],
        onsetDateTime="2025-02",
        recordedDate="2025-02-20T10:00:00+01:00",
    )
    falls = condition("falls", {"coding": [coding(SCT, "161898004", "Falls")]}, clinical="resolved")
    facts = facts_of(fracture, falls)
    by_ref = {f.ref: f for f in facts.conditions}
    fx = by_ref["Condition/fx"]
    assert c.PATHOLOGICAL_FRACTURE in fx.concepts
    assert fx.onset == date(2025, 2, 28)  # a partial onset is read at its latest day
    assert fx.recorded == date(2025, 2, 20)
    assert fx.site is not None
    assert fx.site.site is SiteClass.FEMUR
    assert by_ref["Condition/falls"].clinical_status == "resolved"


def test_conditions_of_unknown_meaning_are_not_facts() -> None:
    facts = facts_of(condition("flu", {"coding": [coding(SCT, "6142004", "Influenza")]}))
    assert facts.conditions == ()
    assert facts.issues == ()


def test_condition_of_another_patient_is_ignored_and_reported() -> None:
    other = condition("m", BONE_MET_CODE)
    other["subject"] = {"reference": "Patient/someone-else"}
    facts = facts_of(other)
    assert facts.lesions == ()
    assert [issue.location for issue in facts.issues] == ["Condition/m.subject"]


def test_malformed_fields_skip_only_that_field() -> None:
    met = condition("m", BONE_MET_CODE, sites=[site(FEMUR), "not a site", site(RIB)])  # type: ignore[list-item]
    met["clinicalStatus"] = "active"  # wrong type: read as missing, which counts as active
    facts = facts_of(met, condition("bad-code", "C79.51"))  # type: ignore[arg-type]
    assert [lesion.site.site for lesion in facts.lesions] == [SiteClass.FEMUR, SiteClass.RIB]
    locations = {issue.location for issue in facts.issues}
    assert locations == {"Condition/m.bodySite[1]", "Condition/bad-code.code"}


@pytest.mark.parametrize(
    ("system", "code"),
    [(SCT, "71286001"), (ICD10CM, "G95.20"), (ICD10CM, "G83.4"), (SCT, "192970008")],
)
def test_cord_and_cauda_equina_compression_in_either_vocabulary(system: str, code: str) -> None:
    """Cauda equina syndrome coded in SNOMED CT is as much an MSCC record (R01) as its ICD-10-CM code."""
    mscc = condition("mscc", {"coding": [coding(system, code)]}, onsetDateTime="2025-02-27")
    [fact] = facts_of(mscc).conditions
    assert c.CORD_COMPRESSION in fact.concepts
