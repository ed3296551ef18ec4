"""R4 ``Dosage`` → :class:`~fhir_bonemet.core.model.facts.DoseInstruction`.

Where a dosage is ambiguous the cautious reading is taken, because dose arithmetic (daily dose, MME,
ceilings) feeds safety rules: a ``doseRange`` counts at its high end, ``frequencyMax`` over ``frequency``,
the shortest of a ``period``/``periodMax`` pair, the smallest interval of "every 4–6 hours".
Instructions that follow one another (``Dosage.sequence``) are kept apart for the dose arithmetic.
Structured fields win over ``Dosage.text``; the text is parsed only for what the structure leaves out.  A
``timing.repeat`` that states no frequency of its own is read with its ``timing.code`` (the larger rate).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from fhir_bonemet.core.model.facts import DoseInstruction
from fhir_bonemet.fhir.intake.values import as_dict, as_list, as_number, as_str, codeable_words

# Length of one period unit (UCUM, as Timing.repeat.periodUnit) in days.
_DAYS_PER_UNIT: Final[dict[str, float]] = {
    "s": 1 / 86400,
    "min": 1 / 1440,
    "h": 1 / 24,
    "d": 1.0,
    "wk": 7.0,
    "mo": 30.4375,
    "a": 365.25,
}
# Words some systems put in a Duration's ``unit`` without a UCUM ``code`` ("10 days").
_DURATION_WORDS: Final[dict[str, str]] = {
    "day": "d",
    "days": "d",
    "week": "wk",
    "weeks": "wk",
    "month": "mo",
    "months": "mo",
    "year": "a",
    "years": "a",
}


def duration_days(duration: object) -> float | None:
    """A FHIR Duration in days (``boundsDuration``, ``expectedSupplyDuration``): its UCUM code, else a
    plain word unit; None when the value is not a positive number or the unit is not a unit of time."""
    quantity = as_dict(duration)
    if quantity is None:
        return None
    value = as_number(quantity.get("value"))
    if value is None or value <= 0:
        return None
    code = as_str(quantity.get("code"))
    unit = as_str(quantity.get("unit"))
    if code is None and unit is not None:
        code = _DURATION_WORDS.get(unit.strip().lower(), unit.strip())
    days = _DAYS_PER_UNIT.get(code) if code is not None else None
    return value * days if days is not None else None


# Timing.code (HL7 TimingAbbreviation, a structural vocabulary) → administrations per day.
_TIMING_CODES: Final[dict[str, float]] = {
    "QD": 1.0,
    "AM": 1.0,
    "PM": 1.0,
    "BED": 1.0,
    "BID": 2.0,
    "TID": 3.0,
    "QID": 4.0,
    "QOD": 0.5,
    "Q1H": 24.0,
    "Q2H": 12.0,
    "Q3H": 8.0,
    "Q4H": 6.0,
    "Q6H": 4.0,
    "Q8H": 3.0,
    "Q12H": 2.0,
    "WK": 1 / 7,
    "MO": 1 / 30.4375,
}
# Route words (display/text/v3 codes) → the route names DoseInstruction uses.  First match wins, so
# specific routes come before the generic ones they contain ("transdermal" before "dermal").
_ROUTES: Final[tuple[tuple[str, re.Pattern[str]], ...]] = tuple(
    (name, re.compile(pattern))
    for name, pattern in (
        ("transdermal", r"transdermal|trnsderm|\btd\b|\bpatch"),
        ("intrathecal", r"intrathecal|epidural"),
        ("subcutaneous", r"subcutaneous|\bsubcut|\bsc\b|\bsq\b|\bsubq\b"),
        ("intramuscular", r"intramuscular|\bim\b"),
        ("intravenous", r"intravenous|\biv\b|\bivp\b|\bivpb\b|infusion"),
        ("sublingual", r"sublingual|\bsl\b|buccal|oromucosal|transmucosal"),
        ("nasal", r"nasal"),
        ("rectal", r"rectal|\bpr\b|\brect\b"),
        ("topical", r"topical|cutaneous|\bskin\b|\bdermal"),
        ("oral", r"\boral|\bpo\b|by mouth|swallow|\benteral|\bmouth\b"),
    )
)
_DOSE_UNITS: Final[dict[str, tuple[str, float]]] = {
    "mg": ("mg", 1.0),
    "g": ("mg", 1000.0),
    "ug": ("mcg", 1.0),
    "mcg": ("mcg", 1.0),
    "µg": ("mcg", 1.0),
    "microgram": ("mcg", 1.0),
    "ml": ("mL", 1.0),
    "l": ("mL", 1000.0),
    "mcg/h": ("mcg/h", 1.0),
    "ug/h": ("mcg/h", 1.0),
    "mcg/hr": ("mcg/h", 1.0),
    "ug/hr": ("mcg/h", 1.0),
    "mg/h": ("mg/h", 1.0),
    # Body-size-based doses stay in their own units: without a weight they cannot become milligrams.
    "mg/kg": ("mg/kg", 1.0),
    "mcg/kg": ("mcg/kg", 1.0),
    "ug/kg": ("mcg/kg", 1.0),
    "mg/m2": ("mg/m2", 1.0),
    "u": ("U", 1.0),
    "iu": ("U", 1.0),
    "[iu]": ("U", 1.0),
    "meq": ("meq", 1.0),
    "mmol": ("mmol", 1.0),
}
_PRODUCT_UNITS: Final[dict[str, str]] = {
    "tab": "{tablet}",
    "tablet": "{tablet}",
    "tbl": "{tablet}",
    "cap": "{capsule}",
    "capsule": "{capsule}",
    "patch": "{patch}",
    "puff": "{puff}",
    "drop": "{drop}",
    "spray": "{spray}",
    "suppository": "{suppository}",
    "supp": "{suppository}",
    "sachet": "{sachet}",
    "vial": "{vial}",
    # Infusion bags and prefilled syringes are packs too (zoledronic acid 4 mg/100 mL, denosumab 1.7 mL).
    "bag": "{bag}",
    "syringe": "{syringe}",
    "ampule": "{ampoule}",
    "ampoule": "{ampoule}",
    "lozenge": "{lozenge}",
    "ea": "{each}",
    "each": "{each}",
    "opdrop": "{drop}",
    "gtt": "{drop}",
    "vagtab": "{tablet}",
    "unit": "{unit}",
    # The CDS Hooks Sandbox and several EHRs write a solid oral dose as {pill}: one tablet or capsule,
    # counted with the product's strength per unit like {tablet}.
    "pill": "{pill}",
}
_EVERY_HOURS = re.compile(
    r"\b(?:q|every)\s*(\d+(?:\.\d+)?)\s*(?:(?:-|to)\s*(?:\d+(?:\.\d+)?|[a-z]+)\s*)?(?:h\b|hr|hour)"
)
_NUMBERS: Final = {
    word: str(value)
    for value, word in enumerate(
        ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"), 1
    )
}
_NUMBER_WORDS = re.compile(r"(?<=every )(?:" + "|".join(_NUMBERS) + r")\b")
_ONCE_TWICE: Final = {"once": 1.0, "twice": 2.0, "thrice": 3.0}
# "4 times a day", "four times daily", "4x daily", "6 times per day": any count, any spelling of the day.
# Looked for before the plain "daily" below, which "four times daily" also contains (it read as once a day).
_N_TIMES_A_DAY = re.compile(
    r"\b(\d{1,2}|" + "|".join(_NUMBERS) + r")\s*(?:times|x)\s*(?:a |per |each |every )?(?:day|daily)\b"
)
_ONCE_TWICE_A_DAY = re.compile(r"\b(once|twice|thrice)\s*(?:a |per |each |every )?(?:day|daily)\b")
_TIMES_A_DAY: Final[tuple[tuple[re.Pattern[str], float], ...]] = (
    (re.compile(r"\bq\.?i\.?d\b"), 4.0),
    (re.compile(r"\bt\.?i\.?d\b"), 3.0),
    (re.compile(r"\bb\.?i\.?d\b"), 2.0),
    (re.compile(r"\b(?:q\.?d|daily|every day|nightly|at bedtime)\b"), 1.0),
)
_PRN = re.compile(r"\b(?:prn|as needed|when needed|as required|if needed)\b")
_TEXT_DOSE = re.compile(
    r"\b(\d+(?:\.\d+)?)\s*(mg|mcg|micrograms?|ml|g|tablets?|tabs?|capsules?|caps?|patch(?:es)?)\b"
)


def route_name(route: Mapping[str, Any] | None) -> str | None:
    """The route named by a route CodeableConcept's text, displays or (v3) codes."""
    if route is None:
        return None
    words = codeable_words(route)
    for coding in as_list(route.get("coding")):
        code = coding.get("code") if isinstance(coding, dict) else None
        if isinstance(code, str) and not code.isdigit():
            words += " " + code.lower()
    return route_from_text(words)


def route_from_text(words: str) -> str | None:
    for name, pattern in _ROUTES:
        if pattern.search(words):
            return name
    return None


def dose_unit(quantity: Mapping[str, Any]) -> tuple[str, float] | None:
    """(unit, factor) for a dose Quantity: mass and volume normalised, products as ``{tablet}``-style."""
    for key in ("code", "unit"):
        raw = quantity.get(key)
        if not isinstance(raw, str) or not raw:
            continue
        text = raw.strip().lower().strip("{}").replace("μ", "µ")
        known = _DOSE_UNITS.get(text) or _DOSE_UNITS.get(text.rstrip("s"))
        if known is not None:
            return known
        product = _PRODUCT_UNITS.get(text.rstrip("s")) or _PRODUCT_UNITS.get(text.removesuffix("es"))
        if product is not None:
            return product, 1.0
    return None


_UNIT_SHOWN_MAX = 24  # a unit string of any length is named on a card, shortened


def unit_received(quantity: Mapping[str, Any]) -> str | None:
    """The unit of a dose Quantity as received (code, else unit), shortened for a card; None if absent."""
    for key in ("code", "unit"):
        raw = quantity.get(key)
        if isinstance(raw, str) and raw.strip():
            text = " ".join(raw.split())
            return text if len(text) <= _UNIT_SHOWN_MAX else text[: _UNIT_SHOWN_MAX - 1] + "…"
    return None


def _amount(
    dosage: Mapping[str, Any], issues: list[str], unread: list[str] | None = None
) -> tuple[float | None, str | None]:
    for dose_and_rate in as_list(dosage.get("doseAndRate")):
        if not isinstance(dose_and_rate, dict):
            continue
        quantity = as_dict(dose_and_rate.get("doseQuantity"))
        if quantity is None:
            dose_range = as_dict(dose_and_rate.get("doseRange"))
            if dose_range is not None:
                quantity = as_dict(dose_range.get("high")) or as_dict(dose_range.get("low"))
        if quantity is None:
            continue
        value = as_number(quantity.get("value"))
        unit = dose_unit(quantity)
        if value is None:
            issues.append("doseQuantity has no numeric value")
            continue
        if value <= 0:  # an error, never a dose: read as one, it made the daily total smaller
            issues.append("dose is not a positive number; dose amount not used")
            continue
        if unit is None:
            issues.append("dose unit not recognised; dose amount not used")
            received = unit_received(quantity)
            if unread is not None and received is not None:
                unread.append(received)
            continue
        return value * unit[1], unit[0]
    return None, None


def _positive(repeat: Mapping[str, Any], key: str, issues: list[str]) -> float | None:
    """``repeat[key]`` if it is a positive number; a value that is not one is reported, never guessed."""
    raw = repeat.get(key)
    if raw is None:
        return None
    number = as_number(raw)
    if number is None or number <= 0:
        issues.append(f"timing.repeat.{key} is not a positive number; doses per day not read from it")
        return None
    return number


def _per_day_from_timing(timing: Mapping[str, Any] | None, issues: list[str]) -> float | None:
    if timing is None:
        return None
    coded = _per_day_from_code(as_dict(timing.get("code")))
    repeat = as_dict(timing.get("repeat"))
    if repeat is not None:
        frequency = _positive(repeat, "frequencyMax", issues) or _positive(repeat, "frequency", issues)
        period = _positive(repeat, "period", issues)
        if frequency is None and any(repeat.get(k) is not None for k in ("frequency", "frequencyMax")):
            # "four" times a day must not be read as once a day: the rate is unknown (the text may say it).
            return None
        unit = repeat.get("periodUnit")
        days = _DAYS_PER_UNIT.get(unit) if isinstance(unit, str) else None
        moments = len(as_list(repeat.get("timeOfDay"))) or len(as_list(repeat.get("when")))
        if period is not None and period > 0 and days is not None:
            if frequency is not None:
                return frequency / (period * days)
            # No frequency: once per period unless the times of day listed, or the timing code (a complete
            # statement of the timing in R4), say more often ("period 1 d" beside QID read as once a day).
            implied = max(moments, 1) / (period * days)
            return max(implied, coded) if coded is not None else implied
        if frequency is not None and days is None and period is None:
            return coded  # "3 times" with no period is a count, not a rate: only the code can give the rate
        if moments:
            return max(float(moments), coded) if coded is not None else float(moments)
    return coded


def _per_day_from_code(code: Mapping[str, Any] | None) -> float | None:
    """Administrations per day of a ``Timing.code``: an HL7 timing abbreviation, else its words."""
    if code is None:
        return None
    for coding in as_list(code.get("coding")):
        value = coding.get("code") if isinstance(coding, dict) else None
        if isinstance(value, str) and value.upper() in _TIMING_CODES:
            return _TIMING_CODES[value.upper()]
    return per_day_from_text(codeable_words(code))


def per_day_from_text(text: str) -> float | None:
    """Administrations per day from free text: "q6h", "every 4-6 hours" (→ 6), "BID", "once daily"."""
    text = _NUMBER_WORDS.sub(lambda match: _NUMBERS[match.group(0)], text)
    every = _EVERY_HOURS.search(text)
    if every is not None:
        hours = float(every.group(1))
        return 24.0 / hours if hours > 0 else None
    counted = _N_TIMES_A_DAY.search(text)
    if counted is not None:
        count = float(_NUMBERS.get(counted.group(1), counted.group(1)))
        return count if count > 0 else None
    spelled = _ONCE_TWICE_A_DAY.search(text)
    if spelled is not None:
        return _ONCE_TWICE[spelled.group(1)]
    for pattern, per_day in _TIMES_A_DAY:
        if pattern.search(text):
            return per_day
    return None


# A ceiling numerator with no unit (or the unit 1) counts administrations: "at most 4 per day", as the
# FHIR R4 examples write it.
_COUNT_UNITS: Final = frozenset({"", "1", "{dose}", "{doses}", "dose", "doses", "{administration}"})


def _counts_administrations(numerator: Mapping[str, Any]) -> bool:
    spelled = [numerator.get(key) for key in ("code", "unit")]
    return all(s is None or (isinstance(s, str) and s.strip().lower() in _COUNT_UNITS) for s in spelled)


def _max_per_day(
    dosage: Mapping[str, Any], dose: float | None, amount_unit: str | None, issues: list[str]
) -> float | None:
    ratio = as_dict(dosage.get("maxDosePerPeriod"))
    if ratio is None:
        return None
    numerator, denominator = as_dict(ratio.get("numerator")), as_dict(ratio.get("denominator"))
    amount = as_number(numerator.get("value")) if numerator else None
    span = as_number(denominator.get("value")) if denominator else None
    span_unit = denominator.get("code") or denominator.get("unit") if denominator else None
    days = _DAYS_PER_UNIT.get(span_unit) if isinstance(span_unit, str) else None
    unit = dose_unit(numerator) if numerator else None
    counted = numerator is not None and _counts_administrations(numerator)
    if unit is None and counted and dose is not None and amount_unit is not None:
        # That many doses: "1 g every 4 h as needed, at most 4 a day" is 4 g a day.  Left unread, the
        # every-4-hours maximum (6 g) stood in for it and P20 called a 4 g day an overdose.
        unit = (amount_unit, dose)
    if amount is None or not span or days is None or unit is None:
        issues.append("maxDosePerPeriod not understood; ceiling not used")
        return None
    if amount_unit is not None and unit[0] != amount_unit:
        issues.append("maxDosePerPeriod unit differs from the dose unit; ceiling not used")
        return None
    return amount * unit[1] / (span * days)


def _ceiling_unit(dosage: Mapping[str, Any]) -> str | None:
    ratio = as_dict(dosage.get("maxDosePerPeriod"))
    numerator = as_dict(ratio.get("numerator")) if ratio else None
    unit = dose_unit(numerator) if numerator else None
    return unit[0] if unit else None


def parse_dosage(
    dosage: Mapping[str, Any], default_route: str | None = None
) -> tuple[DoseInstruction, list[str]]:
    """One Dosage as a DoseInstruction, plus messages about parts that could not be used."""
    issues: list[str] = []
    text = as_str(dosage.get("text")) or as_str(dosage.get("patientInstruction"))
    lowered = text.lower() if text else ""
    unread: list[str] = []
    amount, amount_unit = _amount(dosage, issues, unread)
    if amount is None and lowered:
        found = _TEXT_DOSE.search(lowered)
        if found is not None:
            unit = dose_unit({"unit": found.group(2)})
            if unit is not None:
                amount, amount_unit = float(found.group(1)) * unit[1], unit[0]
    timing = as_dict(dosage.get("timing"))
    per_day = _per_day_from_timing(timing, issues)
    if per_day is None and lowered:
        per_day = per_day_from_text(lowered)
    as_needed_flag = dosage.get("asNeededBoolean")
    as_needed = (
        as_needed_flag is True
        or isinstance(dosage.get("asNeededCodeableConcept"), dict)
        or (as_needed_flag is None and bool(_PRN.search(lowered)))
    )
    # The coded route first, then the route the product's dose form implies, then words in the text.
    route = route_name(as_dict(dosage.get("route"))) or default_route
    if route is None and lowered:
        route = route_from_text(lowered)
    max_per_day = _max_per_day(dosage, amount, amount_unit, issues)
    if amount_unit is None and max_per_day is not None:
        amount_unit = _ceiling_unit(dosage)  # lets the ceiling be read even when the dose is unknown
    sequence = as_number(dosage.get("sequence"))
    if dosage.get("sequence") is not None and (sequence is None or sequence != int(sequence)):
        # Unread, the line is taken beside every step: counted more, never less.
        issues.append("sequence is not an integer; read as taken together with the other instructions")
        sequence = None
    instruction = DoseInstruction(
        amount=amount,
        amount_unit=amount_unit,
        per_day=round(per_day, 6) if per_day is not None else None,
        max_per_day=max_per_day,
        as_needed=as_needed,
        unit_not_understood=unread[0] if unread and amount is None else None,
        route=route,
        text=text,
        sequence=int(sequence) if sequence is not None else None,
    )
    return instruction, issues
