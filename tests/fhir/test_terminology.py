"""Code lookups of the shipped terminology: every concept family, aliases, code families, explain()."""

from __future__ import annotations

import pytest

from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.concepts import ALL_CONCEPTS
from fhir_bonemet.fhir.terminology.lookup import LOCAL_SYSTEM, Terminology

SCT = "http://snomed.info/sct"
LOINC = "http://loinc.org"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
RX = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC = "http://www.whocc.no/atc"


@pytest.fixture(scope="module")
def term() -> Terminology:
    return Terminology.load()


def test_local_system_is_the_project_canonical(term: Terminology) -> None:
    assert term.local_system == "http://fhir-bonemet.org/fhir/CodeSystem/bonemet" == LOCAL_SYSTEM


def test_every_concept_id_has_a_valueset(term: Terminology) -> None:
    assert term.concept_ids == ALL_CONCEPTS


@pytest.mark.parametrize(
    ("system", "code", "expected"),
    [
        # conditions
        (SCT, "94222008", {c.BONE_METASTASIS}),
        (ICD, "C79.51", {c.BONE_METASTASIS, c.SECONDARY_MALIGNANCY}),
        (ICD, "C7B.03", {c.BONE_METASTASIS, c.SECONDARY_MALIGNANCY}),
        (SCT, "128462008", {c.SECONDARY_MALIGNANCY}),
        (ICD, "C78.7", {c.SECONDARY_MALIGNANCY, c.LIVER_DISEASE}),
        (SCT, "268029009", {c.PATHOLOGICAL_FRACTURE}),
        (SCT, "71286001", {c.CORD_COMPRESSION}),
        (ICD, "G83.4", {c.CORD_COMPRESSION}),
        (SCT, "247398009", {c.NEUROPATHIC_PAIN}),
        (ICD, "G62.0", {c.PERIPHERAL_NEUROPATHY}),
        (SCT, "161898004", {c.FALLS_HISTORY}),
        (ICD, "E83.52", {c.HYPERCALCAEMIA}),
        (ICD, "M87.180", {c.ONJ}),
        (ICD, "C50.912", {c.PRIMARY_BREAST, c.PRIMARY_SOLID}),
        (ICD, "C61", {c.PRIMARY_PROSTATE, c.PRIMARY_SOLID}),
        (ICD, "C34.90", {c.PRIMARY_SOLID}),
        (ICD, "C90.00", {c.MYELOMA}),
        (ICD, "K74.60", {c.LIVER_DISEASE}),
        (ICD, "K25.4", {c.GI_BLEED_ULCER}),
        (ICD, "J44.9", {c.COPD}),
        # body sites
        (SCT, "122495006", {c.SITE_SPINE, c.SITE_SPINE_THORACIC}),
        (SCT, "297172009", {c.SITE_SPINE, c.SITE_SPINE_THORACIC, c.SITE_SPINE_LUMBAR}),
        (SCT, "54735007", {c.SITE_SACRUM}),
        (SCT, "12921003", {c.SITE_PELVIS}),
        (SCT, "24136001", {c.SITE_HIP}),
        (SCT, "71341001", {c.SITE_FEMUR}),
        (SCT, "85050009", {c.SITE_HUMERUS}),
        (SCT, "113197003", {c.SITE_RIB}),
        (SCT, "89546000", {c.SITE_SKULL}),
        (SCT, "7771000", {c.LATERALITY}),
        # observations
        (LOINC, "72514-3", {c.PAIN_SCORE}),
        (LOINC, "89247-1", {c.ECOG}),
        (LOINC, "89243-0", {c.KPS}),
        (LOINC, "17861-6", {c.LAB_CALCIUM}),
        (LOINC, "29265-6", {c.LAB_CALCIUM_CORRECTED}),
        (LOINC, "777-3", {c.LAB_PLATELETS}),
        (LOINC, "718-7", {c.LAB_HAEMOGLOBIN}),
        (LOINC, "98979-8", {c.LAB_EGFR}),
        (LOINC, "62292-8", {c.LAB_VITAMIN_D}),
        (LOCAL_SYSTEM, "sins-total", {c.SINS_TOTAL}),
        (LOCAL_SYSTEM, "rf-limb-weakness", {c.RF_LIMB_WEAKNESS}),
        (LOCAL_SYSTEM, "fatigue-score", {c.FATIGUE_SCORE}),
        # procedures
        (LOCAL_SYSTEM, "dental-exam-pre-bma", {c.DENTAL_EXAM}),
        (LOCAL_SYSTEM, "surgical-review-done", {c.SURGICAL_REVIEW}),
        # medications: ingredients, salts, products, ATC
        (RX, "7804", {c.OPIOID, c.STRONG_OPIOID}),
        (RX, "82063", {c.OPIOID, c.STRONG_OPIOID}),
        (RX, "7052", {c.OPIOID, c.STRONG_OPIOID, c.RENAL_RISK_OPIOID}),
        (RX, "10689", {c.OPIOID, c.TRAMADOL}),
        (RX, "1049221", {c.OPIOID, c.STRONG_OPIOID, c.ACETAMINOPHEN}),
        (RX, "77655", {c.ZOLEDRONIC_ACID, c.BONE_MODIFYING_AGENT}),
        (RX, "993449", {c.DENOSUMAB, c.BONE_MODIFYING_AGENT}),
        (RX, "1364430", {c.ANTICOAGULANT}),
        (ATC, "N02AA05", {c.OPIOID, c.STRONG_OPIOID}),
        (ATC, "M01AE01", {c.NSAID}),
        (ATC, "N05BA06", {c.BENZODIAZEPINE}),
        (ATC, "L01XE01", {c.CHEMOTHERAPY}),
        (ATC, "A06AB06", {c.LAXATIVE_STIMULANT}),
    ],
)
def test_code_maps_to_its_concepts(term: Terminology, system: str, code: str, expected: set[str]) -> None:
    assert term.concepts_for_coding(system, code) == expected


@pytest.mark.parametrize(
    ("system", "code", "concept"),
    [
        ("urn:oid:2.16.840.1.113883.6.96", "94222008", c.BONE_METASTASIS),
        ("urn:oid:2.16.840.1.113883.6.1", "72514-3", c.PAIN_SCORE),
        ("urn:oid:2.16.840.1.113883.6.88", "7804", c.OPIOID),
        ("urn:oid:2.16.840.1.113883.6.90", "C79.51", c.BONE_METASTASIS),
        ("urn:oid:2.16.840.1.113883.6.73", "N02AA05", c.OPIOID),
        (" http://snomed.info/sct ", " 94222008 ", c.BONE_METASTASIS),
    ],
)
def test_system_aliases_are_the_same_system(term: Terminology, system: str, code: str, concept: str) -> None:
    assert concept in term.concepts_for_coding(system, code)


@pytest.mark.parametrize("code", ["M84.551A", "M84551A", "m84.551a", "M84.58XA", "M84.5"])
def test_icd_family_matches_children_with_or_without_dots(term: Terminology, code: str) -> None:
    assert term.concepts_for_coding(ICD, code) == {c.PATHOLOGICAL_FRACTURE}


def test_family_does_not_match_a_sibling_family(term: Terminology) -> None:
    # M84.6 (pathological fracture in other disease) is not in the M84.5 / M84.4 families.
    assert term.concepts_for_coding(ICD, "M84.68XA") == frozenset()
    assert term.concepts_for_coding(ICD, "C7") == frozenset()


def test_rib_code_misused_in_public_fixtures_is_not_a_rib(term: Terminology) -> None:
    assert term.concepts_for_coding(SCT, "73438004") == frozenset()


@pytest.mark.parametrize(
    ("system", "code"),
    [
        (None, "94222008"),
        (SCT, None),
        ("", "94222008"),
        (SCT, ""),
        (SCT, "999999"),
        ("http://x.org", "94222008"),
    ],
)
def test_missing_or_unknown_codes_give_no_concept(
    term: Terminology, system: str | None, code: str | None
) -> None:
    assert term.concepts_for_coding(system, code) == frozenset()


def test_concepts_for_unions_codings_and_tolerates_junk(term: Terminology) -> None:
    codeable = {
        "coding": [
            {"system": SCT, "code": "128462008"},
            "not a coding",
            {"system": SCT, "code": 94222008},
            {"system": ICD, "code": "C79.51"},
        ],
        "text": "bone metastasis",
    }
    assert term.concepts_for(codeable) == {c.SECONDARY_MALIGNANCY, c.BONE_METASTASIS}
    assert term.concepts_for(None) == frozenset()
    assert term.concepts_for({"coding": "oops"}) == frozenset()
    assert term.concepts_for({"text": "bone metastasis"}) == frozenset()


def test_explain_reports_family_and_verification(term: Terminology) -> None:
    verdict = term.explain(ICD, "M84.551A")
    assert verdict.understood == {c.PATHOLOGICAL_FRACTURE}
    assert verdict.family == "M84.5"
    assert verdict.unverified
    assert not verdict.unknown
    assert verdict.mapped_via is None
    assert verdict.system == ICD

    verified = term.explain("urn:oid:2.16.840.1.113883.6.96", "94222008")
    assert verified.system == SCT
    assert not verified.unverified
    assert verified.family is None


def test_explain_unknown_code(term: Terminology) -> None:
    verdict = term.explain("http://hospital.example.org/flowsheet", "PAIN-NRS")
    assert verdict.unknown
    assert verdict.understood == frozenset()


def test_route_dependent_class_is_conditional_not_unknown(term: Terminology) -> None:
    # Lidocaine is topical-lidocaine only as a plaster or cream: a bare code lookup must not say so.
    assert term.concepts_for_coding(RX, "6387") == frozenset()
    verdict = term.explain(RX, "6387")
    assert verdict.conditional == {c.TOPICAL_LIDOCAINE}
    assert not verdict.unknown


def test_local_value_codes_are_recognised(term: Terminology) -> None:
    assert term.is_local_code(LOCAL_SYSTEM, "lytic")
    assert not term.is_local_code(SCT, "lytic")
    assert not term.is_local_code(LOCAL_SYSTEM, "not-a-code")


def test_public_api_is_pinned() -> None:
    import fhir_bonemet.fhir.terminology.lookup as module

    assert set(module.__all__) == {
        "LOCAL_SYSTEM",
        "CodingVerdict",
        "MedicationCodes",
        "Terminology",
    }
