"""Medication text → ingredients, strengths, dose form and route.

EHRs often send a medication as a product code the offline table does not know, or as text only
("Oxycodone/APAP 5/325 mg tab", "Fentanyl 25 mcg/hr transdermal patch", "Percocet").  This parser reads
RxNorm-style names and common free-text spellings with regular expressions compiled once from the lexicon
in ``profiles/medications/``: ingredient names, brand names, dose-form phrases and route words.

An RxNorm clinical drug of a pack puts the volume of one pack first ("100 ML zoledronic acid 0.04 MG/ML
Injection", "1.7 ML denosumab 70 MG/ML Injection"): that volume is read as the pack volume, so an order for
"1 vial" of it can be counted in mg.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from fhir_bonemet.core.model.facts import Strength
from fhir_bonemet.core.model.frozen_init import fast_init

_NUMBER = r"(\d+(?:\.\d+)?)"
# "5 MG", "0.025 MG/HR", "25 mcg/hr", "2 MG/ML", "4 mg/5 mL", "5%": the unit must end a word, so that
# "5 mg / hydrocodone" does not read "h" of hydrocodone as hours.
_STRENGTH = re.compile(
    _NUMBER + r"\s*(mg|mcg|µg|ug|micrograms?|g|grams?|%)(?![a-z])"
    r"(?:\s*(?:/|per)\s*" + _NUMBER + r"?\s*(ml|hr|h|hours?|actuat)(?![a-z]))?"
)
# "5/325 mg", "5-325 mg", "10/325": one unit after a list of numbers, assigned in ingredient order.
_RATIO = re.compile(
    _NUMBER + r"\s*(?:mg\s*)?[/-]\s*" + _NUMBER + r"(?:\s*[/-]\s*" + _NUMBER + r")?\s*(mg|mcg)?(?![a-z0-9])"
)
# The RxNorm quantity factor: a volume opening the name, before the first word ("100 ML zoledronic acid").
_PACK_VOLUME = re.compile(r"\s*" + _NUMBER + r"\s*ml\s+(?=[a-z])")
_MICRO = {"mcg", "µg", "ug", "microgram", "micrograms"}
_GRAM = {"g", "gram", "grams"}


@fast_init  # two per medication on every hook call (its text and its coding's display)
@dataclass(frozen=True, slots=True)
class TextReading:
    ingredients: tuple[str, ...]
    strengths: tuple[Strength, ...]
    dose_form: str | None
    route: str | None
    pack_volume_ml: float | None = None  # volume of one pack, when the name states it unambiguously


def _alternation(phrases: Sequence[str]) -> re.Pattern[str]:
    # Longest first, so "polyethylene glycol 3350" wins over "polyethylene glycol"; whole words only.
    # (An empty phrase, which the lexicon's checks let through for forms and routes, names nothing.)
    ordered = sorted({p.lower() for p in phrases if p}, key=lambda p: (-len(p), p))
    # Grouped by first letter ("a(?:cetaminophen|lendronate…)|b(?:…)"): at each word the engine tries the
    # one group that can match rather than every phrase (the name list has some 200), and the phrases of a
    # group keep their order, so the same phrase wins as in a flat alternation.
    rests: dict[str, list[str]] = {}
    for phrase in ordered:
        rests.setdefault(phrase[0], []).append(re.escape(phrase[1:]))
    body = "|".join(f"{re.escape(first)}(?:{'|'.join(tails)})" for first, tails in rests.items())
    return re.compile(rf"(?<![a-z0-9])(?:{body})(?![a-z0-9])")


def _strength(ingredient: str, value: float, unit: str, per: str | None, denominator: str | None) -> Strength:
    """Normalise to the units dose arithmetic uses: mg, mcg, mcg/h, mg/mL, mcg/mL, %."""
    base = "mcg" if unit in _MICRO else "g" if unit in _GRAM else unit
    if base == "g":
        value, base = value * 1000.0, "mg"
    if per in {"hr", "h", "hour", "hours"}:
        if base == "mg":  # RxNorm writes fentanyl patches as 0.025 MG/HR
            value, base = value * 1000.0, "mcg"
        return Strength(ingredient, round(value, 6), f"{base}/h")
    if per == "ml":
        amount = float(denominator) if denominator else 1.0
        return Strength(ingredient, round(value / amount, 6), f"{base}/mL")
    if per == "actuat":
        return Strength(ingredient, value, f"{base}/actuat")
    return Strength(ingredient, value, base)


def _pack_volume(text: str, ingredients: list[str], strengths: tuple[Strength, ...]) -> float | None:
    """The volume opening an RxNorm-style name, only where it can mean nothing but the pack: the name also
    gives every ingredient a strength per mL, so pack volume x concentration is the amount in the pack.
    A leading volume beside a strength per unit ("5 ML ... 4 MG") or an ingredient without a strength is
    not read: which of the two is the content of the pack is then unclear."""
    opening = _PACK_VOLUME.match(text)
    if opening is None or not strengths or len(strengths) != len(ingredients):
        return None
    if not all(s.unit.endswith("/mL") for s in strengths):
        return None
    volume = float(opening.group(1))
    return volume if volume > 0 else None


class TextParser:
    """Compiled once per terminology load; :meth:`read` is pure."""

    def __init__(
        self,
        names: Mapping[str, tuple[str, ...]],  # lower-case phrase -> ingredient(s) (brands map to several)
        dose_forms: Mapping[str, tuple[str, str]],  # phrase -> (dose form, route or "")
        route_words: Mapping[str, str],
    ) -> None:
        self._names = {k.lower(): v for k, v in names.items()}
        self._dose_forms = {k.lower(): v for k, v in dose_forms.items()}
        self._routes = {k.lower(): v for k, v in route_words.items()}
        self._name_re = _alternation(list(self._names))
        self._form_re = _alternation(list(self._dose_forms))
        self._route_re = _alternation(list(self._routes))

    def read(self, text: str | None) -> TextReading:
        if not text:
            return TextReading((), (), None, None)
        lowered = text.lower()
        matches = list(self._name_re.finditer(lowered))
        ingredients: list[str] = []
        for match in matches:
            for ingredient in self._names[match.group(0)]:
                if ingredient not in ingredients:
                    ingredients.append(ingredient)
        strengths = self._strengths(lowered, matches, ingredients)
        dose_form, route = self._form(lowered)
        pack = _pack_volume(lowered, ingredients, strengths)
        return TextReading(tuple(ingredients), strengths, dose_form, route, pack)

    def _strengths(
        self, text: str, matches: list[re.Match[str]], ingredients: list[str]
    ) -> tuple[Strength, ...]:
        if not ingredients:
            return ()
        # A ratio ("5/325 mg") shares out strengths among several ingredients: with one it is not read, and
        # searching the text for it would be wasted.
        ratio = _RATIO.search(text) if len(ingredients) > 1 else None
        if ratio:
            numbers = [float(n) for n in ratio.groups()[:3] if n is not None]
            if len(numbers) == len(ingredients):
                unit = ratio.group(4) or "mg"
                return tuple(
                    _strength(i, v, unit, None, None) for i, v in zip(ingredients, numbers, strict=True)
                )
        found: list[Strength] = []
        for position, match in enumerate(matches):
            owners = self._names[match.group(0)]
            end = matches[position + 1].start() if position + 1 < len(matches) else len(text)
            strength = _STRENGTH.search(text, match.end(), end)
            if strength is None or len(owners) != 1 or any(s.ingredient == owners[0] for s in found):
                continue
            value, unit, denominator, per = strength.groups()
            found.append(_strength(owners[0], float(value), unit, per, denominator))
        return tuple(found)

    def _form(self, text: str) -> tuple[str | None, str | None]:
        forms = [m.group(0) for m in self._form_re.finditer(text)]
        dose_form: str | None = None
        route: str | None = None
        if forms:
            dose_form, implied = self._dose_forms[max(forms, key=len)]
            route = implied or None
        if route is None:
            word = self._route_re.search(text)
            route = self._routes[word.group(0)] if word else None
        return dose_form, route
