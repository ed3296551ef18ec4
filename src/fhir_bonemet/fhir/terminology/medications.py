"""The offline medication knowledge in ``profiles/medications/``: ingredients, RxNorm products, lexicon.

``ingredients.json``      ingredient → RxNorm ingredient/salt RxCUIs, ATC codes, classes (concept ids)
``rxnorm-products.json``  RxNorm SCD/SBD RxCUI → ingredients with strength, dose form, route
``lexicon.json``          brand names, dose-form phrases and route words for text matching

There is no network at run time, so product codes are resolved from this table; anything it does not
know falls back to ingredient codes, ATC codes and the product text
(:mod:`~fhir_bonemet.fhir.terminology.medication_text`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fhir_bonemet.core.model.facts import Strength
from fhir_bonemet.errors import TerminologyError
from fhir_bonemet.fhir.terminology.medication_text import TextParser
from fhir_bonemet.fhir.terminology.valuesets import VERIFICATION, read_json


@dataclass(frozen=True, slots=True)
class Ingredient:
    name: str
    classes: frozenset[str]
    route_classes: Mapping[str, frozenset[str]]  # concept id -> routes it needs (topical lidocaine)
    rxcuis: tuple[str, ...]  # ingredient first, then salts
    atc: tuple[str, ...]
    names: tuple[str, ...] = ()  # lower-case spellings matched in text, the canonical name first

    def classes_for(self, route: str | None) -> frozenset[str]:
        routed = {c for c, routes in self.route_classes.items() if route in routes}
        return self.classes | routed


@dataclass(frozen=True, slots=True)
class Product:
    rxcui: str
    tty: str
    name: str
    strengths: tuple[Strength, ...]
    dose_form: str | None
    route: str | None
    verification: str


@dataclass(frozen=True, slots=True)
class MedicationTables:
    ingredients: dict[str, Ingredient]
    by_rxcui: dict[str, str]  # ingredient or salt RxCUI -> ingredient name
    by_atc: dict[str, str]  # substance-level ATC code -> ingredient name
    products: dict[str, Product]
    text: TextParser
    # ATC code of a fixed combination -> its ingredients (a code that names no single substance)
    by_atc_combination: dict[str, tuple[str, ...]] = field(default_factory=dict)


def _list(data: Any, key: str, path: Path) -> list[Any]:
    rows = data.get(key) if isinstance(data, dict) else None
    if not isinstance(rows, list):
        raise TerminologyError(f"{path}: expected an object with a {key!r} list")
    return rows


def _ingredient(row: Any, where: str, known: frozenset[str]) -> Ingredient:
    if not isinstance(row, dict) or not isinstance(row.get("name"), str) or not row["name"]:
        raise TerminologyError(f"{where}: needs a non-empty 'name'")
    classes = row.get("classes", [])
    route_classes = row.get("route_classes", {})
    if not isinstance(classes, list) or not isinstance(route_classes, dict):
        raise TerminologyError(f"{where}: 'classes' must be a list and 'route_classes' an object")
    unknown = sorted((set(classes) | set(route_classes)) - known)
    if unknown:
        raise TerminologyError(f"{where}: unknown concept ids {unknown}")
    names = row.get("names", [])
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise TerminologyError(f"{where}.names: must be a list of non-empty strings")
    rxcuis = [row["rxcui"]] if "rxcui" in row else []
    rxcuis += [salt.get("rxcui") for salt in row.get("salts", []) if isinstance(salt, dict)]
    if not all(isinstance(r, str) and r.isdigit() for r in rxcuis):
        raise TerminologyError(f"{where}: RxCUIs must be strings of digits")
    atc: list[str] = []
    for entry in row.get("atc", []):
        code = entry.get("c") if isinstance(entry, dict) else None
        if not isinstance(code, str) or not code:
            raise TerminologyError(f"{where}.atc: each entry needs a code 'c'")
        atc.append(code)
    return Ingredient(
        name=row["name"],
        classes=frozenset(classes),
        route_classes={k: frozenset(v) for k, v in route_classes.items()},
        rxcuis=tuple(rxcuis),
        atc=tuple(a.upper() for a in atc),
        names=tuple(n.lower() for n in [row["name"], *names]),
    )


def _product(row: Any, where: str, ingredients: Mapping[str, Ingredient]) -> Product:
    if (
        not isinstance(row, dict)
        or not isinstance(row.get("rxcui"), str)
        or not isinstance(row.get("name"), str)
    ):
        raise TerminologyError(f"{where}: needs string 'rxcui' and 'name'")
    if row.get("v") not in VERIFICATION:
        raise TerminologyError(f"{where}.v: must be one of {', '.join(VERIFICATION)}")
    strengths: list[Strength] = []
    for i, s in enumerate(row.get("strengths", [])):
        here = f"{where}.strengths[{i}]"
        if not isinstance(s, dict) or s.get("ingredient") not in ingredients:
            raise TerminologyError(f"{here}: ingredient must be one of ingredients.json")
        value, unit = s.get("value"), s.get("unit")
        if isinstance(value, bool) or not isinstance(value, int | float) or not isinstance(unit, str):
            raise TerminologyError(f"{here}: needs a numeric 'value' and a string 'unit'")
        strengths.append(Strength(s["ingredient"], float(value), unit))
    if not strengths:
        raise TerminologyError(f"{where}: a product needs at least one strength")
    return Product(
        row["rxcui"],
        str(row.get("tty", "")),
        row["name"],
        tuple(strengths),
        row.get("dose_form") or None,
        row.get("route") or None,
        row["v"],
    )


def load_medication_tables(directory: Path, known: frozenset[str]) -> MedicationTables:
    ing_path = directory / "ingredients.json"
    ingredients: dict[str, Ingredient] = {}
    by_rxcui: dict[str, str] = {}
    by_atc: dict[str, str] = {}
    for i, row in enumerate(_list(read_json(ing_path), "ingredients", ing_path)):
        ingredient = _ingredient(row, f"{ing_path}: ingredients[{i}]", known)
        if ingredient.name in ingredients:
            raise TerminologyError(f"{ing_path}: ingredients[{i}]: {ingredient.name!r} listed twice")
        ingredients[ingredient.name] = ingredient
        for rxcui in ingredient.rxcuis:
            if by_rxcui.setdefault(rxcui, ingredient.name) != ingredient.name:
                raise TerminologyError(
                    f"{ing_path}: ingredients[{i}]: RxCUI {rxcui} also names {by_rxcui[rxcui]!r}"
                )
        for code in ingredient.atc:
            by_atc.setdefault(code, ingredient.name)
    prod_path = directory / "rxnorm-products.json"
    products: dict[str, Product] = {}
    for i, row in enumerate(_list(read_json(prod_path), "products", prod_path)):
        product = _product(row, f"{prod_path}: products[{i}]", ingredients)
        if product.rxcui in products or product.rxcui in by_rxcui:
            raise TerminologyError(f"{prod_path}: products[{i}]: RxCUI {product.rxcui} is listed twice")
        products[product.rxcui] = product
    return MedicationTables(
        ingredients,
        by_rxcui,
        by_atc,
        products,
        _text_parser(directory, ingredients),
        _atc_combinations(directory, ingredients),
    )


def _atc_combinations(directory: Path, ingredients: Mapping[str, Ingredient]) -> dict[str, tuple[str, ...]]:
    lex_path = directory / "lexicon.json"
    lexicon = read_json(lex_path)
    rows = lexicon.get("atc_combinations", {}) if isinstance(lexicon, dict) else None
    if not isinstance(rows, dict):
        raise TerminologyError(f"{lex_path}: atc_combinations must be an object")
    found: dict[str, tuple[str, ...]] = {}
    for code, members in rows.items():
        # One ingredient is allowed: a combination code may name only one of its substances (N02BE51).
        if not isinstance(members, list) or not members or any(m not in ingredients for m in members):
            raise TerminologyError(
                f"{lex_path}: atc_combinations.{code}: needs one or more ingredients of ingredients.json"
            )
        found[code.upper()] = tuple(members)
    return found


def _text_parser(directory: Path, ingredients: Mapping[str, Ingredient]) -> TextParser:
    lex_path = directory / "lexicon.json"
    lexicon = read_json(lex_path)
    if not isinstance(lexicon, dict):
        raise TerminologyError(f"{lex_path}: expected an object with brands, dose_forms, route_words")
    names: dict[str, tuple[str, ...]] = {}
    for ingredient in ingredients.values():
        for spelling in ingredient.names:
            names[spelling] = (ingredient.name,)
    brands, forms, routes = lexicon.get("brands"), lexicon.get("dose_forms"), lexicon.get("route_words")
    if not isinstance(brands, dict) or not isinstance(forms, dict) or not isinstance(routes, dict):
        raise TerminologyError(f"{lex_path}: brands, dose_forms and route_words must be objects")
    for brand, members in brands.items():
        if not isinstance(members, list) or not members or any(m not in ingredients for m in members):
            raise TerminologyError(
                f"{lex_path}: brands.{brand}: every ingredient must be in ingredients.json"
            )
        names[brand.lower()] = tuple(members)
    for phrase, pair in forms.items():
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)):
            raise TerminologyError(f"{lex_path}: dose_forms.{phrase}: expected [dose form, route]")
    if not all(isinstance(r, str) and r for r in routes.values()):
        raise TerminologyError(f"{lex_path}: route_words values must be route names")
    return TextParser(names, {k: (v[0], v[1]) for k, v in forms.items()}, routes)
