"""Typed, tolerant access to FHIR JSON values: dates, references, CodeableConcepts, Quantities.

Every function here takes whatever was in the JSON (``object``) and returns either a well-typed value or
``None``; none raises on malformed input.  The callers decide whether a ``None`` deserves a
:class:`~fhir_bonemet.core.model.facts.ReadIssue`.

Dates.  FHIR allows partial dates (``"2024"``, ``"2024-05"``).  Which end of the interval is the cautious
reading depends on the use: a fracture or radiotherapy counts as *recent* (more caution) when it is dated
late, so those take the last possible day (``upper=True``); a lab result counts as *usable* (less
caution) when it is dated late, so results take the first possible moment.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

JsonDict = Mapping[str, Any]


def as_dict(value: object) -> JsonDict | None:
    return value if isinstance(value, dict) else None


def as_list(value: object) -> list[Any]:
    """A JSON array as a list; a single object where an array belongs is tolerated as a list of one."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return [value]
    return []


def as_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


_HUGE_INT = 10**308  # beyond a double: float() would raise OverflowError


def as_number(value: object) -> float | None:
    """A finite JSON number (not a boolean, which Python counts as an int); also a purely numeric string.

    NaN and infinities are not numbers: a FHIR server's response is parsed leniently and may hold them, and
    NaN compares false with every threshold, so it would pass for a normal value."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, int):
        return float(value) if abs(value) < _HUGE_INT else None
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def parse_date(value: object, *, upper: bool = False) -> date | None:
    """A FHIR date, dateTime or instant as a calendar date; a partial date gives its first (or last) day."""
    if not isinstance(value, str) or len(value) < 4:
        return None
    try:
        if len(value) == 4:
            year = int(value)
            return date(year, 12, 31) if upper else date(year, 1, 1)
        if len(value) == 7:
            year, month = int(value[:4]), int(value[5:7])
            day = calendar.monthrange(year, month)[1] if upper else 1
            return date(year, month, day)
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def parse_datetime(value: object) -> datetime | None:
    """A FHIR date/dateTime/instant as a naive datetime in the clock time it was recorded in.

    The offset is dropped rather than converted: the rules reason on calendar days and on intervals of
    hours between results from the same organisation, and the recorded local day is the one clinicians
    see.  Keeping every value naive also keeps them mutually comparable.
    """
    if not isinstance(value, str):
        return None
    length = len(value)
    # A partial or compact date ("2024", "2024-05", "20240501"): the calendar day's first moment.  A full
    # date "YYYY-MM-DD" is read straight as that midnight (the same day date.fromisoformat would give).
    if length < 10 or (length == 10 and (value[4] != "-" or value[7] != "-")):
        day = parse_date(value)
        return datetime(day.year, day.month, day.day) if day is not None else None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed
    # The same as ``parsed.replace(tzinfo=None)`` at a quarter of the cost (keyword replace is slow), which
    # counts when a long record has thousands of results.
    return datetime.combine(parsed.date(), parsed.time())


def period_date(period: object, *, upper: bool = False) -> date | None:
    """The cautious end of a Period: its end (else start) when ``upper``, its start (else end) otherwise."""
    if not isinstance(period, dict):
        return None
    first, second = ("end", "start") if upper else ("start", "end")
    found = parse_date(period.get(first), upper=upper)
    return found if found is not None else parse_date(period.get(second), upper=upper)


def relative_ref(reference: object) -> str | None:
    """``"Type/id"`` from a relative or absolute literal reference (``_history`` stripped).

    ``urn:uuid:`` / ``urn:oid:`` references and contained (``#id``) references are returned unchanged,
    since they only make sense inside the payload that carries them.
    """
    if not isinstance(reference, str) or not reference:
        return None
    if reference.startswith(("#", "urn:")):
        return reference
    parts = reference.split("?", 1)[0].rstrip("/").split("/")
    if len(parts) >= 4 and parts[-2] == "_history":
        parts = parts[:-2]
    if len(parts) < 2 or not parts[-1] or not parts[-2][:1].isupper():
        return None
    return f"{parts[-2]}/{parts[-1]}"


def reference_of(value: object) -> str | None:
    """The relative reference held by a FHIR Reference object, if it has a literal one."""
    return relative_ref(value.get("reference")) if isinstance(value, dict) else None


def clean_codeable(value: object) -> JsonDict | None:
    """The CodeableConcept if its shape is usable (``coding`` a list of objects), else ``None``.

    A CodeableConcept whose ``coding`` holds a non-object is rebuilt without the bad elements, so one
    malformed coding does not hide the good ones.
    """
    if not isinstance(value, dict):
        return None
    coding = value.get("coding")
    if coding is None:
        return value
    if isinstance(coding, list):
        # A plain loop: read for every code of every resource, where a generator passed to all() costs
        # more than the check itself.
        for element in coding:
            if not isinstance(element, dict):
                break
        else:
            return value
    kept = [c for c in coding if isinstance(c, dict)] if isinstance(coding, list) else []
    rebuilt = {k: v for k, v in value.items() if k != "coding"}
    rebuilt["coding"] = kept
    return rebuilt


def codeable_words(value: JsonDict | None) -> str:
    """Lower-cased text and coding displays of a CodeableConcept, for the text fallbacks."""
    if value is None:
        return ""
    words: list[str] = []
    text = value.get("text")
    if isinstance(text, str):
        words.append(text)
    for coding in as_list(value.get("coding")):
        if isinstance(coding, dict):
            display = coding.get("display")
            if isinstance(display, str):
                words.append(display)
    return " ".join(words).lower()


def codeable_display(value: JsonDict | None) -> str | None:
    """What a clinician would read: ``text``, else the first coding display."""
    if value is None:
        return None
    text = value.get("text")
    if isinstance(text, str) and text:
        return text
    codings = value.get("coding")
    for coding in codings if isinstance(codings, list) else as_list(codings):
        if isinstance(coding, dict):
            display = coding.get("display")
            if isinstance(display, str) and display:
                return display
    return None


# The code systems an order may be coded in, named as a clinician knows them; any other is "local code".
_SYSTEM_NAMES = {
    "http://snomed.info/sct": "SNOMED CT",
    "http://loinc.org": "LOINC",
    "http://www.ama-assn.org/go/cpt": "CPT",
}


def code_label(value: object) -> str | None:
    """ "SNOMED CT 229065009": the first coding's code with its system's name, to name an order that carries
    a code but no text or display (the clinician can still tell which draft it is)."""
    if not isinstance(value, dict):
        return None
    for coding in as_list(value.get("coding")):
        if isinstance(coding, dict):
            code = coding.get("code")
            if isinstance(code, str) and code.strip():
                system = coding.get("system")
                name = _SYSTEM_NAMES.get(system, "local code") if isinstance(system, str) else "code"
                return f"{name} {code.strip()}"
    return None


def first_code(value: object) -> str | None:
    """The first ``coding.code`` of a CodeableConcept (used for status-like elements)."""
    if not isinstance(value, dict):
        return None
    for coding in as_list(value.get("coding")):
        if isinstance(coding, dict):
            code = coding.get("code")
            if isinstance(code, str) and code:
                return code
    return None
