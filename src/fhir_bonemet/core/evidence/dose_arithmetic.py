"""Dose arithmetic: daily oral morphine milligram equivalents (MME) and total daily acetaminophen.

Rules chosen here (each one errs on the side of counting more, never less):

* **Daily amount of an ingredient.**  A dose in mass units (mg, g, mcg) is the ingredient amount itself
  (single-ingredient products only: for a combination product a mass dose does not say which ingredient
  it means).  A dose in product units (``{tablet}``, ``{patch}``) or mL is multiplied by the ingredient's
  strength.  A dose in packs (``{vial}``, ``{bag}``, ``{syringe}``) of a product whose strength is per mL
  counts pack volume x concentration, only when the product states the volume of one pack
  (``MedicationFact.pack_volume_ml``); otherwise the dose is not read.  Scheduled doses count
  ``amount x per_day``.  As-needed (PRN) doses count at their *maximum*: ``max_per_day`` when recorded,
  else ``amount x per_day`` (the frequency-based maximum, e.g. every 4 h = 6 a day), and are labelled
  as such.  Several dosage instructions on one order are added together, except steps that follow one
  another (different ``Dosage.sequence``, a taper or step-down): the heaviest step counts, each with
  the unnumbered instructions taken beside it.
* **Request and statement of the same drug.**  When a MedicationRequest (or a draft order) and a
  MedicationStatement have the same ingredients, only the request counts: the statement usually records
  the same supply.  Two requests for one drug (long-acting plus breakthrough) both count.
* **MME.**  CDC 2022 factors from ``thresholds.toml`` (``pain.mme_factor_*``, source S30) for oral doses;
  transdermal fentanyl counts its rate in mcg/h x 2.4.  A dose that cannot be converted (unknown
  frequency, parenteral route, opioid without a CDC factor, ...) is listed with the reason, and the total
  is then a lower bound.

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.facts import DoseInstruction, MedicationFact
from fhir_bonemet.core.model.frozen_init import fast_init
from fhir_bonemet.core.model.thresholds import Thresholds

__all__ = [
    "METHADONE_CAVEAT",
    "MME_CAVEAT",
    "MME_FACTOR_KEYS",
    "DailyAmount",
    "IngredientTotal",
    "MedAmount",
    "MmeResult",
    "daily_acetaminophen",
    "daily_amount",
    "daily_mme",
    "deduplicate",
    "dose_mg",
    "has_ingredient",
]

# Ingredient name -> threshold key of its CDC factor.  Fentanyl's factor is per mcg/h (transdermal only).
MME_FACTOR_KEYS: dict[str, str] = {
    name: f"pain.mme_factor_{name}"
    for name in (
        "codeine",
        "hydrocodone",
        "hydromorphone",
        "methadone",
        "morphine",
        "oxycodone",
        "oxymorphone",
        "tapentadol",
        "tramadol",
    )
}
MME_FACTOR_KEYS["fentanyl"] = "pain.mme_factor_fentanyl_transdermal"
ACETAMINOPHEN_NAMES = ("acetaminophen", "paracetamol")

_MG_PER_MASS_UNIT = {"mg": 1.0, "g": 1000.0, "ug": 0.001, "mcg": 0.001}
_MCG_H_PER_RATE_UNIT = {"ug/h": 1.0, "mcg/h": 1.0, "mg/h": 1000.0}
_ORAL_ROUTES = frozenset({"oral", "enteral"})
_UNSPECIFIED_ROUTE_NOTE = "route not recorded: oral assumed"


def _matches(name: str, ingredient: str) -> bool:
    """'morphine' matches 'morphine' and 'morphine sulfate' (salt forms), case-insensitively."""
    name, ingredient = name.lower(), ingredient.lower()
    return ingredient == name or ingredient.startswith(name + " ")


@lru_cache(maxsize=1024)
def _lowered(words: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(w.lower() for w in words)


def has_ingredient(med: MedicationFact, *names: str) -> bool:
    """Any of ``names`` among ``med``'s ingredients, as :func:`_matches` decides.

    Asked dozens of times per assessment (each medication against several drug lists), so the lower-case
    spellings of the ingredient and name lists (drug names, a small set) are remembered.
    """
    if not med.ingredients:
        return False
    ingredients = _lowered(med.ingredients)
    for name in _lowered(names):
        salt = name + " "
        for ingredient in ingredients:
            if ingredient == name or ingredient.startswith(salt):
                return True
    return False


# Dose units that count whole packs: with a strength per mL, one of them holds the pack volume's worth.
# A tablet or a patch is never a volume, so a per-mL strength beside one stays unread.
_PACK_UNITS = frozenset({"{vial}", "{bag}", "{syringe}", "{ampoule}", "{each}"})


def _is_count_unit(unit: str) -> bool:
    return unit.startswith("{") or unit in ("1", "tablet", "capsule", "patch")


def _strength_unit(unit: str) -> str:
    """'mg/{tablet}' -> 'mg' (per one product unit); other units unchanged."""
    head, _, tail = unit.partition("/")
    return head if tail.startswith("{") else unit


@fast_init
@dataclass(frozen=True, slots=True)
class DailyAmount:
    value: float  # mg/d, or mcg/h for a transdermal rate
    unit: str  # "mg/d" | "ug/h"
    as_needed_max: bool  # an as-needed dose counted at its maximum
    basis: str  # how it was computed, shown to clinicians: "2 {tablet} x 4/d x 5 mg"


def _per_administration(
    med: MedicationFact, dose: DoseInstruction, ingredient: str, amount: float
) -> tuple[float, str] | str:
    """Ingredient quantity in one administration as (value, "mg" | "ug/h"), or why it cannot be known."""
    unit = dose.amount_unit
    if unit is None:
        return "dose unit not recorded"
    if unit in _MG_PER_MASS_UNIT or unit in _MCG_H_PER_RATE_UNIT:
        if len(med.ingredients) > 1:
            return f"dose given in {unit} for a combination product: the ingredient it refers to is unclear"
        if unit in _MG_PER_MASS_UNIT:
            return amount * _MG_PER_MASS_UNIT[unit], "mg"
        return amount * _MCG_H_PER_RATE_UNIT[unit], "ug/h"
    if unit != "mL" and not _is_count_unit(unit):
        return f"dose unit {unit} not understood"
    strengths = [s for s in med.strengths if _matches(ingredient, s.ingredient)]
    if not strengths:
        return f"strength of {ingredient} in the product not recorded"
    strength = strengths[0]
    s_unit = _strength_unit(strength.unit)
    if unit == "mL":
        if s_unit.endswith("/mL") and s_unit.removesuffix("/mL") in _MG_PER_MASS_UNIT:
            return amount * strength.value * _MG_PER_MASS_UNIT[s_unit.removesuffix("/mL")], "mg"
        return f"dose in mL but the strength of {ingredient} is not per mL ({strength.unit})"
    if s_unit in _MG_PER_MASS_UNIT:
        return amount * strength.value * _MG_PER_MASS_UNIT[s_unit], "mg"
    per_ml = s_unit.removesuffix("/mL") if s_unit.endswith("/mL") else None
    if per_ml in _MG_PER_MASS_UNIT and unit in _PACK_UNITS:
        if med.pack_volume_ml is None:
            return f"volume of one {unit.strip('{}')} not recorded"
        # Rounded as strengths are: 100 mL x 0.04 mg/mL is 4 mg, not 4.000000000000001.
        return round(amount * med.pack_volume_ml * strength.value * _MG_PER_MASS_UNIT[per_ml], 6), "mg"
    if s_unit in _MCG_H_PER_RATE_UNIT:
        return amount * strength.value * _MCG_H_PER_RATE_UNIT[s_unit], "ug/h"
    return f"strength unit {strength.unit} of {ingredient} not understood"


def _one_instruction(med: MedicationFact, dose: DoseInstruction, ingredient: str) -> DailyAmount | str:
    if dose.amount is None:
        if dose.unit_not_understood is not None:  # a dose was recorded: say what could not be read
            return f"dose unit {dose.unit_not_understood} not understood"
        return "dose amount not recorded"
    single = _per_administration(med, dose, ingredient, dose.amount)
    if isinstance(single, str):
        return single
    value, unit = single
    shown = f"{dose.amount:g} {dose.amount_unit}"
    if unit == "ug/h":  # a continuous rate (patch): the rate itself is the daily exposure
        return DailyAmount(value, "ug/h", False, f"{shown} = {value:g} mcg/h")
    if dose.as_needed:
        if dose.max_per_day is not None:
            ceiling = _per_administration(med, dose, ingredient, dose.max_per_day)
            if isinstance(ceiling, str):
                return ceiling
            basis = f"as needed, maximum {dose.max_per_day:g} {dose.amount_unit}/d = {ceiling[0]:g} mg/d"
            return DailyAmount(ceiling[0], "mg/d", True, basis)
        if dose.per_day is not None:
            basis = f"as needed, up to {shown} x {dose.per_day:g}/d = {value * dose.per_day:g} mg/d"
            return DailyAmount(value * dose.per_day, "mg/d", True, basis)
        return "as-needed dose without a frequency or a maximum daily dose"
    if dose.per_day is None:
        return "dose frequency not recorded"
    return DailyAmount(
        value * dose.per_day, "mg/d", False, f"{shown} x {dose.per_day:g}/d = {value * dose.per_day:g} mg/d"
    )


def daily_amount(med: MedicationFact, ingredient: str) -> DailyAmount | str:
    """Daily amount of ``ingredient`` over all dosage instructions of ``med``, or why not computable."""
    if not med.doses:
        return "no dosage instructions recorded"
    parts: list[tuple[int | None, DailyAmount]] = []
    for dose in med.doses:
        part = _one_instruction(med, dose, ingredient)
        if isinstance(part, str):
            return part
        parts.append((dose.sequence, part))
    units = {p.unit for _, p in parts}
    if len(units) > 1:
        return "dosage instructions mix a continuous rate with discrete doses"
    steps = sorted({s for s, _ in parts if s is not None})
    if len(steps) < 2:
        return _together([p for _, p in parts])
    # Steps follow one another: the patient is never on two at once, so the heaviest day is the heaviest
    # step (with the unnumbered instructions, read as taken beside every step), not the sum of them all.
    totals = [_together([p for s, p in parts if s in (step, None)]) for step in steps]
    heaviest = max(range(len(steps)), key=lambda i: totals[i].value)
    chosen = totals[heaviest]
    basis = f"{chosen.basis} (step {heaviest + 1} of {len(steps)}, the heaviest)"
    return DailyAmount(chosen.value, chosen.unit, chosen.as_needed_max, basis)


def _together(parts: Sequence[DailyAmount]) -> DailyAmount:
    """Instructions taken on the same days, added up."""
    return DailyAmount(
        sum(p.value for p in parts),
        parts[0].unit,
        any(p.as_needed_max for p in parts),
        "; ".join(p.basis for p in parts),
    )


def dose_mg(med: MedicationFact, ingredient: str) -> float | str:
    """Amount of ``ingredient`` in one administration (first instruction) in mg, e.g. a ZA dose."""
    if not med.doses or med.doses[0].amount is None:
        return "dose amount not recorded"
    single = _per_administration(med, med.doses[0], ingredient, med.doses[0].amount)
    if isinstance(single, str):
        return single
    return single[0] if single[1] == "mg" else f"dose is a rate ({single[1]}), not a mass"


def deduplicate(meds: Iterable[MedicationFact]) -> tuple[list[MedicationFact], list[tuple[str, str]]]:
    """Drop statements whose ingredients match a request; returns (kept, [(dropped, kept_ref)])."""
    meds = list(meds)
    requests: dict[frozenset[str], str] = {}
    for med in meds:
        if med.source != "MedicationStatement":
            requests.setdefault(frozenset(i.lower() for i in med.ingredients), med.ref)
    kept: list[MedicationFact] = []
    dropped: list[tuple[str, str]] = []
    for med in meds:
        key = frozenset(i.lower() for i in med.ingredients)
        if med.source == "MedicationStatement" and med.ingredients and key in requests:
            dropped.append((med.ref, requests[key]))
        else:
            kept.append(med)
    return kept, dropped


@fast_init
@dataclass(frozen=True, slots=True)
class MedAmount:
    """One medication's contribution to a daily total."""

    ref: str
    display: str
    ingredient: str
    daily: DailyAmount
    contribution: float  # MME/d, or mg/d of acetaminophen
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class IngredientTotal:
    """A daily total over several medications, with what could not be counted."""

    total: float
    per_med: tuple[MedAmount, ...]
    not_computable: tuple[tuple[str, str], ...]  # (medication ref, reason)
    duplicates: tuple[tuple[str, str], ...] = ()  # (statement not counted, request counted instead)

    @property
    def complete(self) -> bool:
        return not self.not_computable

    @property
    def as_needed_counted_at_max(self) -> bool:
        return any(m.daily.as_needed_max for m in self.per_med)


class MmeResult(IngredientTotal):
    """Daily oral morphine milligram equivalents: ``total`` is a lower bound when not ``complete``."""

    __slots__ = ()

    @property
    def includes_methadone(self) -> bool:
        return any(m.ingredient == "methadone" for m in self.per_med)

    def describe(self) -> str:
        """The figure with its limits: every MME figure says what it is for (S30), and methadone, whose
        conversion is non-linear (the ratio grows with the dose), gets its own caveat."""
        text = f"{self.total:.0f} MME/day"
        if self.as_needed_counted_at_max:
            text += " (as-needed doses counted at their maximum)"
        if not self.complete:
            text = f"at least {text}; {len(self.not_computable)} opioid dose(s) could not be converted"
        text += f"; {MME_CAVEAT}"
        if self.includes_methadone:
            text += f"; {METHADONE_CAVEAT}"
        return text


# CDC 2022 (S30): MME conversion factors estimate overdose risk; they are not equianalgesic doses.
MME_CAVEAT = "a risk estimate, not for dose conversion or opioid rotation"
METHADONE_CAVEAT = (
    "methadone converts non-linearly (ratio rises with dose): rotate only with specialist advice"
)


def _label(med: MedicationFact) -> str:
    return med.display or " / ".join(med.ingredients) or med.ref


def _opioid_amount(med: MedicationFact, name: str, th: Thresholds) -> MedAmount | str:
    daily = daily_amount(med, name)
    if isinstance(daily, str):
        return daily
    notes: list[str] = []
    routes = {d.route for d in med.doses}
    if name == "fentanyl":
        if daily.unit != "ug/h":
            return "fentanyl other than a transdermal rate (mcg/h): no CDC conversion factor"
    else:
        if daily.unit != "mg/d":
            return f"{name} given as a rate: no CDC conversion factor"
        if routes - _ORAL_ROUTES - {None}:
            shown = ", ".join(sorted(r for r in routes if r is not None))
            return f"{name} by {shown} route: CDC factors apply to oral doses only"
        if None in routes:
            notes.append(_UNSPECIFIED_ROUTE_NOTE)
    factor = th.v(MME_FACTOR_KEYS[name])
    return MedAmount(med.ref, _label(med), name, daily, daily.value * factor, tuple(notes))


def daily_mme(meds: Sequence[MedicationFact], th: Thresholds) -> MmeResult:
    """Total daily MME over the active opioid ``meds`` (already filtered to active/draft by the caller)."""
    opioids = [m for m in meds if c.OPIOID in m.classes or any(has_ingredient(m, n) for n in MME_FACTOR_KEYS)]
    kept, duplicates = deduplicate(opioids)
    per_med: list[MedAmount] = []
    failed: list[tuple[str, str]] = []
    for med in kept:
        names = [n for n in MME_FACTOR_KEYS if has_ingredient(med, n)]
        if not names:
            shown = ", ".join(med.ingredients) or "ingredient not identified"
            failed.append((med.ref, f"no CDC conversion factor for {shown}"))
            continue
        for name in names:
            result = _opioid_amount(med, name, th)
            if isinstance(result, str):
                failed.append((med.ref, result))
            else:
                per_med.append(result)
    total = sum(m.contribution for m in per_med)
    return MmeResult(total, tuple(per_med), tuple(failed), tuple(duplicates))


def daily_acetaminophen(meds: Sequence[MedicationFact]) -> IngredientTotal:
    """Total daily acetaminophen (mg/d) over every active product, combination products included."""
    products = [m for m in meds if c.ACETAMINOPHEN in m.classes or has_ingredient(m, *ACETAMINOPHEN_NAMES)]
    kept, duplicates = deduplicate(products)
    per_med: list[MedAmount] = []
    failed: list[tuple[str, str]] = []
    for med in kept:
        names = [i for i in med.ingredients if any(_matches(n, i) for n in ACETAMINOPHEN_NAMES)]
        if not names:
            failed.append((med.ref, "acetaminophen ingredient not identified in the product"))
            continue
        daily = daily_amount(med, names[0])
        if isinstance(daily, str):
            failed.append((med.ref, daily))
        elif daily.unit != "mg/d":
            failed.append((med.ref, "acetaminophen given as a rate"))
        else:
            per_med.append(MedAmount(med.ref, _label(med), names[0], daily, daily.value))
    total = sum(m.contribution for m in per_med)
    return IngredientTotal(total, tuple(per_med), tuple(failed), tuple(duplicates))
