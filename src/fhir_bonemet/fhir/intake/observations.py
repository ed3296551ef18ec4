"""Observation → :class:`~fhir_bonemet.core.model.facts.ObservationFact` (labs, scores, lesion type, red
flags).

Each concept has one kind of value:

- *measured* (labs, weight, scores; :data:`~fhir_bonemet.fhir.intake.units.UNIT_RULES`): a number
  normalised to the concept's canonical unit.  An unknown unit, a comparator (``<20``) or an out-of-range
  score makes the value unusable: it is reported, never guessed.  Renal function is the exception twice
  over: its bounds are read (``_BOUND_READ``), and the codes of eGFR and clearance imply the unit a
  laboratory often leaves out (:func:`~fhir_bonemet.fhir.intake.units.implied`).
- *coded* (lesion type, pain mechanism): a project code, from the local CodeSystem or from the words of
  the answer ("osteolytic" → ``lytic``).
- *yes/no* (red-flag symptoms, mechanical pain): ``valueBoolean``, a yes/no answer, or a finding recorded
  without a value, which asserts the finding.

A coded or yes/no answer received but not understood is kept as an unreadable value; one recorded with a
``dataAbsentReason`` instead of a value is kept as one too, marked as having no answer (:func:`_no_answer`).
A measured value with a ``dataAbsentReason`` and no value is no result, as a result never sent is; a value[x]
sent as ``null`` or of a type no number is read from is an unreadable value, for a score as for a lab.

A result under a code not understood is reported as a read issue; when its words name a concept the rules
read ("Calcium, serum": :mod:`~fhir_bonemet.fhir.intake.result_names`) it is kept by that name as well, its
value never read, so the cards say it was received where they would say that result is missing.

Components are read like the Observation itself (a panel can carry SINS items or several labs).
``status`` registered, cancelled and entered-in-error results are not results and are skipped.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from datetime import datetime
from typing import Any, Final, Literal, NamedTuple

from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.facts import (
    BodySite,
    NamedUnread,
    ObservationFact,
    Quantity,
    UnreadableValue,
)
from fhir_bonemet.fhir.intake.context import Extraction
from fhir_bonemet.fhir.intake.read import Item
from fhir_bonemet.fhir.intake.units import SCORE, UNIT_RULES, implied, is_known_unit, normalise
from fhir_bonemet.fhir.intake.values import (
    JsonDict,
    as_list,
    as_number,
    clean_codeable,
    codeable_display,
    codeable_words,
    parse_datetime,
)
from fhir_bonemet.fhir.terminology.answers import (
    ANSWER_CODES,
    ANSWER_SYSTEMS,
    LOINC,
    SCORE_ANSWERS,
    YES_NO_CODES,
)

_NOT_RESULTS: Final = frozenset({"registered", "cancelled", "entered-in-error"})
_FLAGS: Final = frozenset(
    {name for name in c.ALL_CONCEPTS if name.startswith("rf-")}
    | {c.PAIN_MECHANICAL, c.SYMPTOMATIC_HYPERCALCAEMIA, c.FEVER, c.PREGNANCY, c.LACTATION}
    # A fall, or a fall-risk assessment, is a finding as often as a Condition: "history of fall" asserted.
    | {c.FALLS_HISTORY, c.FALL_RISK}
    # So is an impending fracture (a radiology or orthopaedic finding at a lesion); the prefetch asks for it.
    | {c.IMPENDING_FRACTURE}
)
# Coded answers: the project's codes, and the words that name them in other vocabularies' displays.
_CODED: Final[dict[str, tuple[tuple[str, re.Pattern[str]], ...]]] = {
    c.LESION_TYPE: (
        ("mixed", re.compile(r"\bmixed\b")),
        ("lytic", re.compile(r"\b(?:osteo)?lytic\b|\blysis\b")),
        ("blastic", re.compile(r"\b(?:osteo)?blastic\b|\bsclerotic\b")),
    ),
    c.PAIN_MECHANISM: (
        ("pain-mixed", re.compile(r"\bmixed\b")),
        ("pain-neuropathic", re.compile(r"\bneuropathic\b")),
        ("pain-nociceptive", re.compile(r"\bnociceptive\b|\bsomatic\b|\bvisceral\b")),
    ),
    # "Not pregnant" before "pregnant": the negation must win over the word it contains.
    c.PREGNANCY_STATUS: (
        ("not-pregnant", re.compile(r"\bnot\s+pregnant\b|\bnon-?pregnant\b")),
        ("unknown", re.compile(r"\bunknown\b|\bunsure\b|\bpossibl[ey]\b|\buncertain\b")),
        ("pregnant", re.compile(r"\bpregnant\b|\bpregnancy confirmed\b")),
    ),
}
# Answers in the project's own system under the bare words the rule catalogue gives for them
# (clinical-rules.md 5.4: pain-mechanism "nociceptive / neuropathic / mixed"): a sender following the
# catalogue writes those, and reading them as an unknown answer dropped the neuropathic component (P11).
_LOCAL_ANSWER_ALIASES: Final[dict[str, dict[str, str]]] = {
    c.PAIN_MECHANISM: {
        "nociceptive": "pain-nociceptive",
        "neuropathic": "pain-neuropathic",
        "mixed": "pain-mixed",
    },
}
# Performance status: a higher ECOG and a lower Karnofsky score are the worse, more cautious readings.
_WORSE_IS_HIGHER: Final = {c.ECOG: True, c.KPS: False}
_YES: Final = frozenset({"y", "yes", "true", "present", "positive", "pos", "1"})
_NO: Final = frozenset({"n", "no", "false", "absent", "negative", "neg", "0"})
# Coded concepts whose question EHRs also answer yes or no ("Pregnant?" → Yes, true, Positive): what yes
# and no mean.  A yes read as nothing left a pregnancy unknown, and the pregnancy cards silent.
_YES_NO_MEANS: Final = {c.PREGNANCY_STATUS: ("pregnant", "not-pregnant")}
_QUALIFIER = re.compile(r"\s*\((?:qualifier value|finding)\)$")
_LEADING_NUMBER = re.compile(r"\s*(\d{1,3})(?:\s*$|\s*[-:=(,])")
_EFFECTIVE_KEYS: Final = ("effectiveDateTime", "effectiveInstant")
# The value[x] types a measured value is read from as a number (a Quantity and a coded score apart).
_NUMBER_KEYS: Final = ("valueInteger", "valueDecimal", "valueString")
Precision = Literal["day", "month", "year"]
VALUE_CONCEPTS: Final = frozenset(UNIT_RULES) | _FLAGS | frozenset(_CODED)
"""Concepts an Observation can carry a value for."""


def _unreadable_dates(data: JsonDict) -> list[str]:
    """The date elements of ``data`` that were received but are not dates ("yesterday", 20240101)."""
    found = [path for path in (*_EFFECTIVE_KEYS, "issued") if _not_a_date(data.get(path))]
    period = data.get("effectivePeriod")
    if period is not None and not isinstance(period, dict):
        found.append("effectivePeriod")
    elif isinstance(period, dict):
        found += [f"effectivePeriod.{end}" for end in ("start", "end") if _not_a_date(period.get(end))]
    return found


def _not_a_date(value: object) -> bool:
    return value is not None and parse_datetime(value) is None


def _effective(data: JsonDict) -> tuple[datetime | None, str, Precision]:
    """When the result was taken, the element it was read from, and how precise that element is."""
    # Nearly every result carries a full date or dateTime in effectiveDateTime: read at once, to the day.
    # Anything else (a partial date, text that is not a date, another element) takes the way below.
    value = data.get("effectiveDateTime")
    if type(value) is str and len(value) >= 10:
        found = parse_datetime(value)
        if found is not None:
            return found, "effectiveDateTime", "day"
    for path in _EFFECTIVE_KEYS:
        value = data.get(path)
        if value is not None:
            found = parse_datetime(value)
            if found is not None:
                return found, path, _precision(value)
    period = data.get("effectivePeriod")
    if isinstance(period, dict):
        for end in ("start", "end"):
            value = period.get(end)
            found = parse_datetime(value)
            if found is not None:
                return found, f"effectivePeriod.{end}", _precision(value)
    value = data.get("issued")
    found = parse_datetime(value)
    if found is not None:
        return found, "issued", _precision(value)
    return None, "", "day"


def _precision(value: object) -> Precision:
    # A partial date ("2025", "2025-03") is read as its first day: the earliest it could be.
    length = len(str(value))
    return "year" if length == 4 else "month" if length == 7 else "day"


def _measured(
    extraction: Extraction, item: Item, path: str, concept: str, data: JsonDict, effective: datetime | None
) -> Quantity | None:
    """The value in the concept's canonical unit; a value that cannot be used is reported twice: as a read
    issue (location, no patient data) and as an :class:`UnreadableValue` the rules show on their cards."""
    reading = _reading(extraction, concept, data)
    if not isinstance(reading, _Unusable):
        if reading is not None and reading.unit_from_code:
            extraction.note(
                item, f"{path}value", f"no unit received: read in {reading.unit}, the unit of every {concept}"
            )
        return reading
    extraction.issue(item, f"{path}{reading.where}", reading.reason)
    extraction.unreadable.append(
        UnreadableValue(
            ref=item.ref,
            concept=concept,
            effective=effective,
            value_text=_shown(reading.shown),
            unit_text=_unit_shown(reading.unit),
            reason=reading.reason,
            number=as_number(reading.shown),
            bound=reading.bound,
        )
    )
    return None


class _Unusable(NamedTuple):
    """Why a received value cannot be used: the element, the reason, and what was received."""

    where: str
    reason: str
    shown: object
    unit: object = None
    bound: float | None = None  # a comparator's bound in the canonical unit


# Renal function is reported as a lower bound above the range the laboratory's equation is valid for (an
# eGFR ">60", a clearance ">90"): the usual report of normal function, not an unreadable value.  Read as the
# lowest value it can have (just above the bound), which is the cautious reading of every renal band.  An
# upper bound ("<15", below the equation's range too) is read as the highest value it can have, carrying its
# comparator: the renal function uses it only when every value below the bound lies in the lowest band, and
# says otherwise that the band is not known.  Any other concept's bound is reported as not read (rule R10
# still weighs it).
_BOUND_READ: Final = frozenset({c.LAB_EGFR, c.LAB_CRCL})
_BOUND_STEPS: Final = {">": math.inf, ">=": None, "<": -math.inf, "<=": None}  # toward the values allowed

# A number written as text, with a comparator or a unit: "<5", ">60", "13.2 mg/dL".
_VALUE_TEXT = re.compile(r"\s*(<=|>=|<|>)?\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+))\s*(\S.*?)?\s*$")
_RANGE_TAIL = re.compile(r"(?:[-–—]|to\b|or\b)\s*\d", re.IGNORECASE)


def _plain_quantity(quantity: object) -> tuple[float, str] | None:
    """The number and unit of the usual Quantity, as laboratories send it: a plain number (no comparator),
    its unit in ``code`` and ``unit`` alike (or in ``code`` alone); None for any other shape, which only the
    careful reading of :func:`_reading` may use or report."""
    if type(quantity) is not dict or "comparator" in quantity:
        return None
    number, code = quantity.get("value"), quantity.get("code")
    if (type(number) is not float and type(number) is not int) or type(code) is not str or not code:
        return None
    if quantity.get("unit", code) != code:
        return None
    value = as_number(number)
    return None if value is None else (value, code)


def _reading(extraction: Extraction, concept: str, data: JsonDict) -> Quantity | _Unusable | None:
    """The value of ``concept`` in ``data`` in its canonical unit, why it cannot be used, or None (none)."""
    quantity = data.get("valueQuantity")
    if quantity is not None:
        # The usual Quantity, in a unit known for the concept and a value in its range, is read at once;
        # anything else (no code, another ``unit``, a bound, a value not usable) goes the way below.
        plain = _plain_quantity(quantity)
        if plain is not None:
            found = normalise(concept, *plain)
            if type(found) is Quantity:
                return found
        if not isinstance(quantity, dict):
            return _Unusable("valueQuantity", "not a Quantity; value not used", None)
        unit = _quantity_unit(concept, quantity)
        comparator = quantity.get("comparator")
        if comparator is not None:
            return _compared(concept, comparator, quantity.get("value"), unit, "valueQuantity")
        value = as_number(quantity.get("value"))
        if value is None:
            return _Unusable("valueQuantity.value", "not a number; value not used", quantity.get("value"))
        reported = unit if isinstance(unit, str) else None
        result = _in_unit(concept, value, reported)
        return (
            _Unusable("value", result, quantity.get("value"), reported) if isinstance(result, str) else result
        )
    raw: Any = None
    for key in _NUMBER_KEYS:  # a plain loop: a generator costs more than the lookups, for every score
        raw = data.get(key)
        if raw is not None:
            break
    if raw is None and data.get("valueCodeableConcept") is not None:
        raw = _score_in_answer(extraction, concept, data.get("valueCodeableConcept"))
        if raw is None:
            return _Unusable("valueCodeableConcept", f"coded value for {concept} not used", "(coded answer)")
    if raw is None and not any(key.startswith("value") for key in data):
        # mCODE requires the performance-status interpretation: with no value it still gives the score.
        scores = [_coded_score(extraction, concept, a) for a in as_list(data.get("interpretation"))]
        raw = next((score for score in scores if score is not None), None)
    if raw is None:
        return _not_a_value(concept, data)
    value = as_number(raw)
    if value is None:
        written = _VALUE_TEXT.fullmatch(raw) if isinstance(raw, str) else None
        if written is not None:
            return _written(concept, raw, *written.groups())
        return _Unusable("value", f"value for {concept} is not a number; not used", raw)
    result = _in_unit(concept, value, None)
    if isinstance(result, str):
        return _Unusable("value", result, raw)
    return result


def _not_a_value(concept: str, data: JsonDict) -> _Unusable | None:
    """None when no value was sent; else why the value[x] received (``null``, a boolean, a Range, ...) is
    not used.  Sent but unreadable is reported as such, as a Quantity whose number is null is: read as "no
    result" it would let a rule pass over a value it has no grounds to think normal.  A null beside a
    ``dataAbsentReason`` is no value, the reason says why (FHIR forbids a value with one)."""
    received = next((key for key in data if key.startswith("value")), None)
    if received is None:
        return None
    value = data[received]
    if value is None:
        if data.get("dataAbsentReason") is not None:
            return None
        return _Unusable(received, f"value for {concept} is null; not used", None)
    return _Unusable(received, f"value for {concept} is not a number; not used", value)


def _in_unit(concept: str, value: float, unit: str | None) -> Quantity | str:
    """:func:`normalise`; a number received without a unit is read in the unit the concept's code implies
    where it implies one unambiguously (an eGFR: :func:`~fhir_bonemet.fhir.intake.units.implied`)."""
    result = normalise(concept, value, unit)
    if isinstance(result, str) and not (unit or "").strip():
        return implied(concept, value) or result
    return result


def _written(
    concept: str, raw: str, comparator: str | None, number: str, unit: str | None
) -> Quantity | _Unusable:
    """A value written as text ("13.2 mg/dL", ">60"): read as the Quantity it spells.  A range ("3-4",
    "2 to 5") is not a value: its first number would be the less cautious one."""
    if unit is not None and _RANGE_TAIL.match(unit):
        return _Unusable("value", f"value for {concept} is a range, not a number; not used", raw)
    if comparator is not None:
        return _compared(concept, comparator, number, unit, "value")
    result = _in_unit(concept, float(number), unit)
    return _Unusable("value", result, raw, unit) if isinstance(result, str) else result


def _quantity_unit(concept: str, quantity: JsonDict) -> object:
    """The unit of a Quantity as read: its ``code``, or its human-readable ``unit`` when the code is not a
    spelling understood for the concept (a laboratory's own code, "PLT-K", with unit "10*9/L") but the unit
    is.  Reading only the code left such a value unreadable though its unit said what it was."""
    code, unit = quantity.get("code"), quantity.get("unit")
    if (
        isinstance(code, str)
        and code
        and isinstance(unit, str)
        and unit != code  # the usual Quantity, code and unit alike: nothing to choose
        and not is_known_unit(concept, code)
        and is_known_unit(concept, unit)
    ):
        return unit
    return code or unit


def _compared(
    concept: str, comparator: object, value: object, unit: object, where: str
) -> Quantity | _Unusable:
    """A value given as a bound ("<10", ">60"): read for renal function (see ``_BOUND_READ``), else not
    used, carrying the bound for rule R10."""
    bound = _bound(concept, value, unit)
    if (
        bound is not None
        and concept in _BOUND_READ
        and isinstance(comparator, str)
        and comparator in _BOUND_STEPS
        and (bound.value > 0 or comparator.startswith(">"))  # "<0" is no renal function
    ):
        step = _BOUND_STEPS[comparator]
        number = bound.value if step is None else math.nextafter(bound.value, step)
        return replace(bound, value=number, comparator=comparator)
    shown = f"{comparator if isinstance(comparator, str) else '?'}{_shown(value)}"
    return _Unusable(
        where,
        "value has a comparator (< or >); value not used",
        shown,
        unit,
        bound.value if bound is not None else None,
    )


def _bound(concept: str, value: object, unit: object) -> Quantity | None:
    """A comparator's bound in the concept's canonical unit, if its number and unit can be read."""
    number = as_number(value)
    if number is None:
        return None
    bound = _in_unit(concept, number, unit if isinstance(unit, str) else None)
    return bound if isinstance(bound, Quantity) else None


_SHOWN_MAX = 24  # what a card repeats of a received value or unit: enough to recognise it, never a page


def _shown(value: object) -> str:
    """A received value as a card may repeat it: a number as written, short text cut, anything else named."""
    if isinstance(value, bool) or value is None:
        return "(no value)" if value is None else "(not a number)"
    if isinstance(value, int | float):
        number = as_number(value)
        return f"{number:g}" if number is not None else "(not a number)"
    if isinstance(value, str):
        text = " ".join(value.split())
        return text if len(text) <= _SHOWN_MAX else text[: _SHOWN_MAX - 1] + "…"
    return "(not a number)"


def _unit_shown(unit: object) -> str | None:
    if not isinstance(unit, str) or not unit.strip():
        return None
    return _shown(unit)


def _score_in_answer(extraction: Extraction, concept: str, answer: object) -> str | None:
    """The score a coded answer stands for, for scores only: a LOINC answer code of the score's answer
    list (ECOG LA9625-0 = 3), or the number that opens the answer's text ("100 - Normal; no complaints").
    When the two disagree the worse score is used: a wrong display must not make the advice less cautious.
    """
    if UNIT_RULES[concept].canonical != SCORE:
        return None
    cleaned = clean_codeable(answer) or {}
    # The text and each display on their own: "7" twice is "7", not "7 7", which no pattern reads.
    pieces = [cleaned.get("text")]
    pieces += [coding.get("display") for coding in as_list(cleaned.get("coding")) if isinstance(coding, dict)]
    numbers = [int(m.group(1)) for p in pieces if isinstance(p, str) and (m := _LEADING_NUMBER.match(p))]
    worst = max if _WORSE_IS_HIGHER.get(concept, True) else min
    from_text = worst(numbers) if numbers else None
    from_code = _coded_score(extraction, concept, answer)
    if from_code is None or from_text is None:
        chosen = from_code if from_code is not None else from_text
    else:
        chosen = worst(from_code, from_text)
    return None if chosen is None else str(chosen)


def _coded_score(extraction: Extraction, concept: str, answer: object) -> int | None:
    """The score of a LOINC answer code from the concept's answer list, if any coding carries one."""
    table = SCORE_ANSWERS.get(concept)
    cleaned = clean_codeable(answer)
    if table is None or cleaned is None:
        return None
    for coding in as_list(cleaned.get("coding")):
        if not isinstance(coding, dict):
            continue
        system, code = coding.get("system"), coding.get("code")
        if (
            isinstance(system, str)
            and isinstance(code, str)
            and extraction.terminology.canonical_system(system) == LOINC
            and code.strip() in table
        ):
            return table[code.strip()]
    return None


def _coded(extraction: Extraction, concept: str, data: JsonDict) -> str | None:
    meaning = _YES_NO_MEANS.get(concept)
    flag = data.get("valueBoolean")
    if meaning is not None and isinstance(flag, bool):
        return meaning[0] if flag else meaning[1]
    answer = clean_codeable(data.get("valueCodeableConcept"))
    words = ""
    if answer is not None:
        wanted = {code for code, _ in _CODED[concept]}
        answers = ANSWER_CODES.get(concept, {})
        aliases = _LOCAL_ANSWER_ALIASES.get(concept, {})
        for coding in as_list(answer.get("coding")):
            code = coding.get("code") if isinstance(coding, dict) else None
            if not isinstance(code, str):
                continue
            if coding.get("system") == extraction.terminology.local_system:
                if code in wanted:
                    return str(code)
                if code in aliases:
                    return aliases[code]
            system = coding.get("system")
            if (
                code.strip() in answers
                and isinstance(system, str)
                and extraction.terminology.canonical_system(system) in ANSWER_SYSTEMS
            ):
                return answers[code.strip()]
        words = codeable_words(answer)
    else:
        text = data.get("valueString")
        words = text.lower() if isinstance(text, str) else ""
    for code, pattern in _CODED[concept]:
        if pattern.search(words):
            return code
    if meaning is not None:
        said = _answer_words(extraction, answer) if answer is not None else {words.strip()}
        if said & _YES:
            return meaning[0]
        if said & _NO:
            return meaning[1]
    return None


def _answer_words(extraction: Extraction, answer: JsonDict) -> set[str]:
    """What a coded answer says, piece by piece: its text and each coding's display (without a trailing
    "(qualifier value)"), its codes, and "yes"/"no" for the yes/no answer codes of SNOMED CT and LOINC."""
    said: set[str] = set()
    text = answer.get("text")
    if isinstance(text, str):
        said.add(_QUALIFIER.sub("", text.strip().lower()))
    for coding in as_list(answer.get("coding")):
        if not isinstance(coding, dict):
            continue
        display, code, system = coding.get("display"), coding.get("code"), coding.get("system")
        if isinstance(display, str):
            said.add(_QUALIFIER.sub("", display.strip().lower()))
        if isinstance(code, str):
            said.add(code.strip().lower())
            if isinstance(system, str):
                meaning = YES_NO_CODES.get((extraction.terminology.canonical_system(system), code.strip()))
                if meaning is not None:
                    said.add(meaning)
    return said


def _flag(extraction: Extraction, data: JsonDict) -> bool | None:
    value = data.get("valueBoolean")
    if isinstance(value, bool):
        return value
    answer = clean_codeable(data.get("valueCodeableConcept"))
    if answer is not None:
        said = _answer_words(extraction, answer)
        if said & _YES:  # a yes beside a no is still a yes: the cautious reading of a red-flag symptom
            return True
        if said & _NO:
            return False
        return None
    text = data.get("valueString")
    if isinstance(text, str):
        lowered = text.strip().lower()
        return True if lowered in _YES else False if lowered in _NO else None
    if data.get("dataAbsentReason") is not None or any(key.startswith("value") for key in data):
        return None
    return True  # a finding recorded without a value asserts the finding


class _Taken(NamedTuple):
    """What every fact of one Observation shares, its components' included."""

    ref: str
    effective: datetime | None
    precision: Precision
    site: BodySite | None
    focus: tuple[str, ...]
    # A date was received but none could be read: a measured value is then reported as unreadable (it may
    # be recent), never kept as an undated result that no rule counts as recent.
    date_unreadable: bool = False


# The concepts of a code are one of a few frozensets the terminology hands out again and again (a long
# record repeats the same lab codes): the value concepts among them, in order, are worked out once per set.
_VALUE_CONCEPTS_OF: dict[frozenset[str], tuple[str, ...]] = {}


def _value_concepts(concepts: frozenset[str]) -> tuple[str, ...]:
    """The concepts of ``concepts`` an Observation can carry a value for, sorted (its facts, in order)."""
    found = _VALUE_CONCEPTS_OF.get(concepts)
    if found is None:
        found = tuple(sorted(concepts & VALUE_CONCEPTS))
        if len(_VALUE_CONCEPTS_OF) < 1024:  # codes form a small vocabulary; the bound stops abuse
            _VALUE_CONCEPTS_OF[concepts] = found
    return found


def _facts_for(
    extraction: Extraction,
    item: Item,
    path: str,
    data: JsonDict,
    coded: tuple[JsonDict | None, frozenset[str], str | None],
    taken: _Taken,
) -> list[ObservationFact]:
    """The facts of one Observation or component whose ``code`` was read as ``coded`` (code, concepts,
    display)."""
    code, concepts, display = coded
    if code is None:
        if data.get("code") is not None:
            extraction.issue(item, f"{path}code", "not a CodeableConcept; ignored")
        return []
    if code is not data.get("code"):
        extraction.issue(item, f"{path}code.coding", "a coding is not a JSON object; that coding ignored")
    read = _value_concepts(concepts)
    if not read:
        return []
    data = _with_mapped_answers(extraction, data)
    facts: list[ObservationFact] = []
    for concept in read:
        quantity: Quantity | None = None
        answer: str | None = None
        flag: bool | None = None
        # A yes/no concept that may also be measured (fever: a temperature) is measured when it has a number.
        if concept in UNIT_RULES and (concept not in _FLAGS or "valueQuantity" in data):
            quantity = _measured(extraction, item, path, concept, data, taken.effective)
            if quantity is None:
                continue
            if taken.date_unreadable:
                extraction.unreadable.append(_undated(item, concept, quantity, data))
                continue
        elif concept in _CODED:
            answer = _coded(extraction, concept, data)
            if answer is None:
                if any(key.startswith("value") for key in data):
                    extraction.issue(item, f"{path}value", f"answer for {concept} not recognised; not used")
                    # Received, so not "missing": the cards of the rules that read it say what came.
                    extraction.unreadable.append(_unrecognised(item, concept, data, taken))
                elif (unanswered := _no_answer(item, concept, data, taken)) is not None:
                    extraction.unreadable.append(unanswered)
                continue
        else:
            flag = _flag(extraction, data)
            if flag is None:
                if any(key.startswith("value") for key in data):
                    extraction.issue(item, f"{path}value", f"answer for {concept} is not yes/no; not used")
                    # Received, so not "no": the rules that read the finding name it and read it
                    # cautiously (R01 asks for the symptom to be checked; a fever answer holds exercise).
                    extraction.unreadable.append(_unrecognised(item, concept, data, taken))
                elif (unanswered := _no_answer(item, concept, data, taken)) is not None:
                    extraction.unreadable.append(unanswered)
                continue
        # By position, in the fields' order (ref, concept, effective, quantity, code, flag, site, focus,
        # display, date precision): ten keywords cost half as much again as the build itself, for every
        # result at a lesion of a long record.
        facts.append(
            ObservationFact(
                taken.ref,
                concept,
                taken.effective,
                quantity,
                answer,
                flag,
                taken.site,
                taken.focus,
                display,
                taken.precision,
            )
        )
    return facts


def _with_mapped_answers(extraction: Extraction, data: JsonDict) -> JsonDict:
    """``data`` with the hospital's answer codes that a ConceptMap maps translated (the project answer
    code added beside the received one) in its coded value and interpretation; ``data`` itself when there
    is none.  A coded value neither in the project's codes nor mapped is left as received: it is then
    reported as not recognised, never read as "no value"."""
    if not extraction.terminology.maps_answers:
        return data
    translate = extraction.terminology.with_mapped_answers
    value = data.get("valueCodeableConcept")
    mapped_value = translate(value) if value is not None else None
    interpretation = data.get("interpretation")
    mapped_interpretation = (
        [translate(i) for i in as_list(interpretation)] if interpretation is not None else None
    )
    changed = mapped_value is not value or (
        mapped_interpretation is not None
        and any(m is not i for m, i in zip(mapped_interpretation, as_list(interpretation), strict=True))
    )
    if not changed:
        return data
    translated = dict(data)
    if value is not None:
        translated["valueCodeableConcept"] = mapped_value
    if mapped_interpretation is not None:
        translated["interpretation"] = mapped_interpretation
    return translated


ANSWER_NOT_RECOGNISED: Final = "answer not recognised; not used"


def _unrecognised(item: Item, concept: str, data: JsonDict, taken: _Taken) -> UnreadableValue:
    """A coded answer (lesion type, pain mechanism, pregnancy status) or a yes/no finding's answer (a
    red-flag symptom, fever, a fall, an impending fracture) received but not understood."""
    answer = data.get("valueCodeableConcept")
    words = codeable_display(clean_codeable(answer)) if isinstance(answer, dict) else None
    if words is None and isinstance(answer, dict):
        # A bare local code ("J") is what the record says: shown, so the reader can recognise it.
        words = next(
            (
                f"code {code}"
                for coding in as_list(answer.get("coding"))
                if isinstance(coding, dict)
                if isinstance(code := coding.get("code"), str) and code.strip()
            ),
            None,
        )
    if words is None:
        value = next((v for k, v in data.items() if k.startswith("value")), None)
        if isinstance(value, dict) and "value" in value:  # a Quantity: its number and unit as received
            unit = value.get("unit") or value.get("code")
            value = f"{value.get('value')} {unit}" if isinstance(unit, str) else value.get("value")
        words = _shown(value) if not isinstance(value, dict | list) else None
    words = _shown(words) if words is not None else None
    return UnreadableValue(
        ref=item.ref,
        concept=concept,
        effective=taken.effective,
        value_text=words or "(coded answer)",
        unit_text=None,
        reason=ANSWER_NOT_RECOGNISED,
        date_unreadable=taken.date_unreadable,
        # Where it was recorded: an unreadable finding at a lesion (impending fracture, mechanical pain)
        # is read at that lesion, not at every one.
        site=taken.site,
        focus=taken.focus,
    )


# The data-absent-reason CodeSystem, and its URI before FHIR R4 (senders migrated from STU3 still use it).
_DATA_ABSENT_REASON: Final = frozenset(
    {"http://terminology.hl7.org/CodeSystem/data-absent-reason", "http://hl7.org/fhir/data-absent-reason"}
)
ANSWER_ABSENT: Final = "recorded with no answer; not used"


def _no_answer(item: Item, concept: str, data: JsonDict, taken: _Taken) -> UnreadableValue | None:
    """A coded or yes/no finding recorded with no answer but a ``dataAbsentReason`` (asked-unknown,
    asked-declined, error, ...), kept as an :class:`UnreadableValue` naming that reason: the question was
    put and whatever the answer is, it is not known, so it is read as cautiously as an answer that could
    not be read (R01 asks for the symptom to be checked; a fever holds exercise), never as "no".

    ``not-asked`` is the one reason left out (None): the question was never put, so the record says no
    more than its absence would, and it is read as absent.  Its absence is handled as every missing
    finding is (an older answer still counts; a rule missing it says so), and it does not raise a warning
    for every form left blank.  Any other reason, one in no known code system or one not readable at all,
    is kept: when in doubt, the cautious reading."""
    received = data.get("dataAbsentReason")
    if received is None:  # neither a value nor a reason: nothing said (a coded finding with no answer)
        return None
    absent = clean_codeable(received)
    codings = [x for x in as_list(absent.get("coding")) if isinstance(x, dict)] if absent is not None else []
    standard = [
        x.get("code")
        for x in codings
        if isinstance(system := x.get("system"), str) and system in _DATA_ABSENT_REASON
    ]
    if "not-asked" in standard:
        return None
    # The standard code names the reason most briefly ("asked-declined"); else the sender's words.
    named = next((code for code in standard if isinstance(code, str) and code.strip()), None)
    if named is None:
        named = codeable_display(absent) or next(
            (code for x in codings if isinstance(code := x.get("code"), str) and code.strip()), None
        )
    return UnreadableValue(
        ref=item.ref,
        concept=concept,
        effective=taken.effective,
        value_text="(no answer)",
        unit_text=None,
        reason=ANSWER_ABSENT,
        date_unreadable=taken.date_unreadable,
        site=taken.site,
        focus=taken.focus,
        no_answer=_shown(named) if named is not None else "reason not given",
    )


def _undated(item: Item, concept: str, quantity: Quantity, data: JsonDict) -> UnreadableValue:
    """A value read but dated unreadably.  No ``number``: the value itself was readable, and the
    plausible-unit readings (rule R10) are about values whose unit could not be read."""
    received = data.get("valueQuantity")
    if isinstance(received, dict):
        shown, unit = _shown(received.get("value")), _unit_shown(received.get("code") or received.get("unit"))
    else:
        shown, unit = f"{quantity.value:g}", None
    return UnreadableValue(
        ref=item.ref,
        concept=concept,
        effective=None,
        value_text=shown,
        unit_text=unit,
        reason="date not readable; value not used",
        date_unreadable=True,
    )


def _site(extraction: Extraction, item: Item) -> BodySite | None:
    body_site = extraction.codeable(item, "bodySite")
    return extraction.body_site(body_site)[0] if body_site is not None else None


def _plain_measured(extraction: Extraction, item: Item, data: JsonDict) -> list[ObservationFact] | None:
    """The facts of an Observation of the shape nearly every result of a long record has, read the short
    way: measured concepts only, a full ``effectiveDateTime``, a usable code, a plain number in a unit known
    for each concept and in its range (a valueQuantity with its unit in ``code``, or a bare number), and
    nothing said about it (no read issue, no unreadable value).  None for any other: the caller then reads
    it the careful way, which gives these same facts for this shape, and says what is wrong with the rest.
    """
    # A site, the lesions it is about or components change how a result is read: the careful way reads them.
    if "bodySite" in data or "focus" in data or "component" in data:
        return None
    when = data.get("effectiveDateTime")
    if type(when) is not str or len(when) < 10:
        return None
    effective = parse_datetime(when)
    if effective is None:
        return None
    code, concepts, display = extraction.observation_code_display(item)
    if code is None or code is not data.get("code"):
        return None
    read = _value_concepts(concepts)
    if not read:
        return None
    quantity = data.get("valueQuantity")
    unit: str | None = None
    if quantity is not None:
        plain = _plain_quantity(quantity)
        if plain is None:
            return None
        value, unit = plain
    else:
        for key in _NUMBER_KEYS:
            number = data.get(key)
            if number is not None:
                break
        if type(number) is not float and type(number) is not int:
            return None
        found_number = as_number(number)
        if found_number is None:
            return None
        value = found_number
    facts: list[ObservationFact] = []
    for concept in read:
        if concept not in UNIT_RULES or concept in _FLAGS:
            return None
        found = normalise(concept, value, unit)
        if type(found) is not Quantity:
            return None
        facts.append(
            ObservationFact(item.ref, concept, effective, found, None, None, None, (), display, "day")
        )
    return facts


def observation_facts(extraction: Extraction, items: list[Item]) -> list[ObservationFact]:
    facts: list[ObservationFact] = []
    for item in items:
        data = item.data
        status = data.get("status")
        if (isinstance(status, str) and status in _NOT_RESULTS) or not extraction.belongs_to_patient(item):
            continue
        plain = _plain_measured(extraction, item, data)
        if plain is not None:
            facts += plain
            continue
        effective, effective_path, precision = _effective(data)
        # Looked for only when the first choice was not read (a date parsed once per result is enough).
        unreadable_dates = _unreadable_dates(data) if effective_path != "effectiveDateTime" else []
        consequence = (
            "ignored" if effective is not None else "read as undated, a measured value as unreadable"
        )
        for path in unreadable_dates:
            extraction.issue(item, path, f"not a date; {consequence}")
        if precision != "day":
            extraction.issue(
                item,
                effective_path,
                f"date imprecise (to the {precision} only): read as its earliest day, so the result counts "
                "as recent only if that day is",
            )
        taken = _Taken(
            item.ref,
            effective,
            precision,
            _site(extraction, item) if "bodySite" in data else None,
            extraction.focus(data) if "focus" in data else (),
            effective is None and bool(unreadable_dates),
        )
        own = extraction.observation_code_display(item)
        facts.extend(_facts_for(extraction, item, "", data, own, taken))
        understood = bool(own[1])
        components = data.get("component")
        for position, component in enumerate(as_list(components) if components is not None else ()):
            if isinstance(component, dict):
                code = clean_codeable(component.get("code"))
                coded = code, extraction.concepts_for(code), codeable_display(code)
                understood = understood or bool(coded[1])
                where = f"component[{position}]."
                facts.extend(_facts_for(extraction, item, where, component, coded, taken))
            else:
                extraction.issue(item, f"component[{position}]", "not a JSON object; ignored")
        if not understood and own[0] is not None:
            # Received, so never "missing" without a word: a hospital's calcium under its own unmapped code
            # would otherwise pass for no calcium on record.  The code itself stays out of the message
            # (messages are logged); the location names the resource, map-check names the code.
            extraction.issue(item, "code", _CODE_NOT_UNDERSTOOD)
            # Its name may say what it is ("Calcium, serum"): then the cards name it where they would say
            # that concept is missing.  Named only: its value is never read under a guessed code.
            concepts, name = extraction.concepts_named(own[0])
            if concepts and name is not None:
                extraction.named_unread.append(
                    NamedUnread(
                        item.ref, concepts, name, effective, effective is None and bool(unreadable_dates)
                    )
                )
    return facts


_CODE_NOT_UNDERSTOOD: Final = (
    "code not understood (in no project ValueSet, mapped by no ConceptMap): received but not read; "
    "map it with a ConceptMap (docs/integration.md section 3, fhir-bonemet map-check)"
)
