"""Medication classification: product codes, ingredient codes, ATC codes, text and brand names."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.facts import Strength
from fhir_bonemet.fhir.terminology.lookup import (
    MedicationCodes,
    Terminology,
)
from fhir_bonemet.project_dirs import PROFILES

RX = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC = "http://www.whocc.no/atc"


@pytest.fixture(scope="module")
def term() -> Terminology:
    return Terminology.load()


def _rx(code: str, display: str | None = None) -> dict[str, Any]:
    coding = {"system": RX, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


def test_scd_combination_product(term: Terminology) -> None:
    med = term.classify_medication(_rx("1049221"))
    assert med.ingredients == ("acetaminophen", "oxycodone")
    assert med.strengths == (Strength("acetaminophen", 325.0, "mg"), Strength("oxycodone", 5.0, "mg"))
    assert med.classes == {c.OPIOID, c.STRONG_OPIOID, c.ACETAMINOPHEN}
    assert (med.dose_form, med.route) == ("oral tablet", "oral")


def test_sbd_from_the_official_r4_example(term: Terminology) -> None:
    # MedicationRequest medrx0308 of the FHIR R4 examples: Vicodin 5/500, RxNorm 856907.
    med = term.classify_medication(_rx("856907", "Vicodin 5/500 Oral Tablet"))
    assert set(med.ingredients) == {"hydrocodone", "acetaminophen"}
    assert Strength("acetaminophen", 500.0, "mg") in med.strengths
    assert Strength("hydrocodone", 5.0, "mg") in med.strengths
    assert med.classes == {c.OPIOID, c.ACETAMINOPHEN}


@pytest.mark.parametrize(
    ("code", "ingredients", "classes"),
    [
        ("N02AJ06", ("codeine", "acetaminophen"), {c.OPIOID, c.RENAL_RISK_OPIOID, c.ACETAMINOPHEN}),
        ("N02AJ13", ("tramadol", "acetaminophen"), {c.OPIOID, c.TRAMADOL, c.ACETAMINOPHEN}),
        ("n02aj17", ("oxycodone", "acetaminophen"), {c.OPIOID, c.STRONG_OPIOID, c.ACETAMINOPHEN}),
        # Paracetamol combinations whose code names no partner: the acetaminophen still counts.
        ("N02BE51", ("acetaminophen",), {c.ACETAMINOPHEN}),
        ("N02BE71", ("acetaminophen",), {c.ACETAMINOPHEN}),
    ],
)
def test_atc_code_of_a_fixed_combination_names_its_ingredients(
    term: Terminology, code: str, ingredients: tuple[str, ...], classes: set[str]
) -> None:
    # An order coded only with the combination's ATC code: the acetaminophen in it is counted (P20) and
    # codeine (P23) or tramadol (P24) recognised; it was an opioid of unknown ingredient.
    med = term.classify_medication({"coding": [{"system": ATC, "code": code}]})
    assert med.ingredients == ingredients
    assert med.classes == classes
    assert not term.explain(ATC, code.upper()).unknown


def test_fentanyl_patch_product_strength_in_mcg_per_hour(term: Terminology) -> None:
    med = term.classify_medication(_rx("245134"))
    assert med.strengths == (Strength("fentanyl", 25.0, "mcg/h"),)
    assert med.route == "transdermal"


def test_ingredient_and_salt_codes(term: Terminology) -> None:
    morphine = term.classify_medication(_rx("7052"))
    assert morphine.ingredients == ("morphine",)
    assert morphine.classes == {c.OPIOID, c.STRONG_OPIOID, c.RENAL_RISK_OPIOID}
    assert morphine.strengths == ()
    # Oxycodone HCl as a precise ingredient (R4 example Medication med0308).
    assert term.classify_medication(_rx("82063")).ingredients == ("oxycodone",)


@pytest.mark.parametrize(
    ("code", "ingredient", "classes"),
    [
        ("N02AB03", "fentanyl", {c.OPIOID, c.STRONG_OPIOID}),
        ("m05ba08", "zoledronic acid", {c.ZOLEDRONIC_ACID, c.BONE_MODIFYING_AGENT}),
        ("M05BX04", "denosumab", {c.DENOSUMAB, c.BONE_MODIFYING_AGENT}),
        ("N03AX16", "pregabalin", {c.GABAPENTINOID}),
        ("B01AF01", "rivaroxaban", {c.ANTICOAGULANT}),
        # The catalogue's class fallbacks (M01A NSAIDs, B01A antithrombotics) beyond the listed groups.
        ("M01AX01", "nabumetone", {c.NSAID}),
        ("B01AX05", "fondaparinux", {c.ANTICOAGULANT}),
    ],
)
def test_atc_substance_codes(term: Terminology, code: str, ingredient: str, classes: set[str]) -> None:
    med = term.classify_medication({"coding": [{"system": ATC, "code": code}]})
    assert med.ingredients == (ingredient,)
    assert med.classes == classes


@pytest.mark.parametrize("text", ["Nabumetone 500 mg tablet", "fondaparinux 2.5 mg/0.5 mL injection"])
def test_ingredients_without_a_known_rxcui_are_read_from_their_name(term: Terminology, text: str) -> None:
    assert term.classify_medication({"text": text}).classes in ({c.NSAID}, {c.ANTICOAGULANT})


def test_other_m01ax_substances_are_not_nsaids(term: Terminology) -> None:
    """M01AX mixes NSAIDs with glucosamine and diacerein: only its NSAIDs are listed."""
    for code in ("M01AX05", "M01AX21"):
        assert c.NSAID not in term.classify_medication({"coding": [{"system": ATC, "code": code}]}).classes


def test_atc_class_code_without_known_substance_still_classifies(term: Terminology) -> None:
    med = term.classify_medication(
        {"coding": [{"system": "urn:oid:2.16.840.1.113883.6.73", "code": "N05BA99"}]}
    )
    assert med.ingredients == ()
    assert med.classes == {c.BENZODIAZEPINE}


@pytest.mark.parametrize(
    ("text", "ingredients", "strengths", "route"),
    [
        ("Oxycodone Hydrochloride 5 MG Oral Tablet", ("oxycodone",), [("oxycodone", 5.0, "mg")], "oral"),
        (
            "Acetaminophen 325 MG / Oxycodone Hydrochloride 5 MG Oral Tablet",
            ("acetaminophen", "oxycodone"),
            [("acetaminophen", 325.0, "mg"), ("oxycodone", 5.0, "mg")],
            "oral",
        ),
        ("Fentanyl 25 mcg/hr transdermal patch", ("fentanyl",), [("fentanyl", 25.0, "mcg/h")], "transdermal"),
        (
            "oxycodone/acetaminophen 10/325 mg tab",
            ("oxycodone", "acetaminophen"),
            [("oxycodone", 10.0, "mg"), ("acetaminophen", 325.0, "mg")],
            "oral",
        ),
        (
            "HYDROcodone-acetaminophen 5-325 MG tablet",
            ("hydrocodone", "acetaminophen"),
            [("hydrocodone", 5.0, "mg"), ("acetaminophen", 325.0, "mg")],
            "oral",
        ),
        ("Morphine sulfate 10 mg/5 mL oral solution", ("morphine",), [("morphine", 2.0, "mg/mL")], "oral"),
        ("Paracetamol 1 g tablets", ("acetaminophen",), [("acetaminophen", 1000.0, "mg")], "oral"),
        ("Gabapentin 300 MG Oral Capsule", ("gabapentin",), [("gabapentin", 300.0, "mg")], "oral"),
        (
            "Zoledronic acid 4 mg/5 mL IV infusion",
            ("zoledronic acid",),
            [("zoledronic acid", 0.8, "mg/mL")],
            "intravenous",
        ),
    ],
)
def test_text_names_and_strengths(
    term: Terminology,
    text: str,
    ingredients: tuple[str, ...],
    strengths: list[tuple[str, float, str]],
    route: str,
) -> None:
    med = term.classify_medication({"text": text})
    assert med.ingredients == ingredients
    assert med.strengths == tuple(Strength(*s) for s in strengths)
    assert med.route == route


@pytest.mark.parametrize(
    ("text", "ingredients", "classes"),
    [
        ("Percocet 5/325", ("oxycodone", "acetaminophen"), {c.OPIOID, c.STRONG_OPIOID, c.ACETAMINOPHEN}),
        ("NORCO 10/325", ("hydrocodone", "acetaminophen"), {c.OPIOID, c.ACETAMINOPHEN}),
        ("OxyContin 20 mg ER tablet", ("oxycodone",), {c.OPIOID, c.STRONG_OPIOID}),
        ("MS Contin 30 mg", ("morphine",), {c.OPIOID, c.STRONG_OPIOID, c.RENAL_RISK_OPIOID}),
        ("Duragesic 50", ("fentanyl",), {c.OPIOID, c.STRONG_OPIOID}),
        ("Neurontin", ("gabapentin",), {c.GABAPENTINOID}),
        ("Lyrica 75 mg", ("pregabalin",), {c.GABAPENTINOID}),
        ("Xgeva", ("denosumab",), {c.DENOSUMAB, c.BONE_MODIFYING_AGENT}),
        ("Zometa", ("zoledronic acid",), {c.ZOLEDRONIC_ACID, c.BONE_MODIFYING_AGENT}),
        ("Tylenol Extra Strength", ("acetaminophen",), {c.ACETAMINOPHEN}),
        ("Senna-S", ("senna", "docusate"), {c.LAXATIVE_STIMULANT, c.LAXATIVE_SOFTENER}),
        ("Miralax powder", ("polyethylene glycol 3350",), {c.LAXATIVE_OSMOTIC}),
    ],
)
def test_brand_names(term: Terminology, text: str, ingredients: tuple[str, ...], classes: set[str]) -> None:
    med = term.classify_medication({"text": text})
    assert med.ingredients == ingredients
    assert med.classes == classes


def test_brand_ratio_assigns_strengths_in_brand_order(term: Terminology) -> None:
    med = term.classify_medication({"text": "Percocet 7.5/325"})
    assert med.strengths == (Strength("oxycodone", 7.5, "mg"), Strength("acetaminophen", 325.0, "mg"))


def test_display_is_read_when_the_code_is_unknown(term: Terminology) -> None:
    med = term.classify_medication(_rx("99999999", "tapentadol 50 MG Oral Tablet"))
    assert med.ingredients == ("tapentadol",)
    assert c.STRONG_OPIOID in med.classes


def test_text_adds_ingredients_the_code_did_not_explain(term: Terminology) -> None:
    # An ingredient code for oxycodone but text naming a combination: missing the acetaminophen would let
    # the daily acetaminophen total (P20) be undercounted, so both are kept.
    med = term.classify_medication({"coding": [{"system": RX, "code": "7804"}], "text": "Percocet 5/325"})
    assert set(med.ingredients) == {"oxycodone", "acetaminophen"}


def test_lidocaine_is_topical_only_with_a_topical_route(term: Terminology) -> None:
    patch = term.classify_medication({"text": "Lidocaine 5% medicated patch"})
    assert patch.classes == {c.TOPICAL_LIDOCAINE}
    assert patch.route == "topical"
    injection = term.classify_medication({"text": "lidocaine 1% injection"})
    assert injection.classes == frozenset()


@pytest.mark.parametrize(
    ("code", "ingredient"),
    [("1897", "calcium carbonate"), ("2418", "cholecalciferol"), ("4450", "ergocalciferol")],
)
def test_calcium_and_vitamin_d_supplements_by_ingredient_code(
    term: Terminology, code: str, ingredient: str
) -> None:
    # P09 asks whether a patient on a bone-modifying agent takes calcium and vitamin D.
    found = term.classify_medication(_rx(code))
    assert found.ingredients == (ingredient,)
    assert found.classes == {c.CALCIUM_VITAMIN_D}


def test_calcium_salts_of_other_products_are_not_supplements(term: Terminology) -> None:
    # A TPN additive (R4 example med0318) must not count as the calcium supplement P09 asks for.
    med = term.classify_medication({"text": "TPN Electrolytes SODIUM CHLORIDE, CALCIUM CHLORIDE injection"})
    assert c.CALCIUM_VITAMIN_D not in med.classes
    supplement = term.classify_medication({"text": "Calcium carbonate 600 mg + vitamin D3 400 IU"})
    assert supplement.classes == {c.CALCIUM_VITAMIN_D}


def test_unknown_or_empty_medication(term: Terminology) -> None:
    empty = MedicationCodes((), frozenset(), (), None, None)
    assert term.classify_medication(None) == empty
    assert term.classify_medication({}) == empty
    assert term.classify_medication({"text": "Vancomycin 1 g IV"}).classes == frozenset()


def test_every_product_name_parses_to_the_table(term: Terminology) -> None:
    """The offline table and the text parser agree on every product: each checks the other."""
    table = json.loads((PROFILES.default / "medications" / "rxnorm-products.json").read_text("utf-8"))
    for product in table["products"]:
        by_code = term.classify_medication(_rx(product["rxcui"]))
        by_text = term.classify_medication({"text": product["name"]})
        expected = tuple(
            Strength(s["ingredient"], float(s["value"]), s["unit"]) for s in product["strengths"]
        )
        assert by_code.strengths == expected, product["rxcui"]
        assert set(by_text.strengths) == set(expected), product["name"]
        assert by_text.classes == by_code.classes, product["name"]
