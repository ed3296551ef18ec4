"""Units in text as a clinician reads them: UCUM codes ("245 10*9/L", "38.4 Cel", "7 d") become
"245 ×10⁹/L", "38.4 °C", "7 days".

The one rendering of units for every text the service shows or writes: card text, the plan page and the
FHIR resources it proposes (a referral's reason, a CarePlan), so that a count reads the same everywhere.  In
the core, the lowest layer, so that each of those may import it.

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["readable_units"]


def _then(suffix: str) -> Callable[[re.Match[str]], str]:
    """A replacement: the match's first group (the number), then ``suffix``."""
    return lambda match: match[1] + suffix


# UCUM codes as a clinician reads them.  A replacement naming a group is a function of the match rather than
# a template ("\\1 days"): ``sub`` hands a template to a Python-level helper on every call, matched or not,
# and expands it in Python for each match.
_UNITS: tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = (
    (re.compile(r"\s?10\*9/L\b"), " ×10⁹/L"),
    (re.compile(r"\s?10\*12/L\b"), " ×10¹²/L"),
    (re.compile(r"\s?\{score\}"), ""),
    (re.compile(r"\s?/\{1\.73_m2\}"), "/1.73 m²"),
    (re.compile(r"(\d)\s?Cel\b"), _then(" °C")),
    (re.compile(r"(\d)\s?a\b"), _then(" years")),
    (re.compile(r"(\d)\s?mo\b"), _then(" months")),
    (re.compile(r"(\d)\s?wk\b"), _then(" weeks")),
    (re.compile(r"(\d)\s?(mg|mL|IU|\[iU\])/d\b"), lambda m: f"{m[1]} {m[2]}/day"),
    (re.compile(r"(\d)/d\b"), _then("/day")),
    (re.compile(r"(\d)\s?d\b"), _then(" days")),
    (re.compile(r"\{([a-z][a-z ]*)\}"), lambda m: m[1]),  # UCUM annotations: "2 {tablet}" is 2 tablets
    (re.compile(r"\[iU\]"), "IU"),
)
# For each of _UNITS, a piece of text every match of its pattern holds, found with ``in`` (a plain scan)
# before the pattern is searched.  Most of the patterns start with ``\s?`` or a digit, so the engine tries
# them at every position of the text, and a text holding a unit (a dose "1000 mg x 4/d", a count
# "245 10*9/L") was searched by all thirteen.  A text without the needle is one the pattern cannot match,
# so skipping the search leaves it as it was.
_UNIT_NEEDLES = (
    "10*9/L",
    "10*12/L",
    "{score}",
    "/{1.73_m2}",
    "Cel",
    "a",
    "mo",
    "wk",
    "/d",
    "/d",
    "d",
    "{",
    "[iU]",
)


# Whether any of _UNITS may match: most texts hold no UCUM code.  Every match of _UNITS holds a digit followed
# by a unit word (a, mo, wk, d, Cel), or "10*", "{", "[iU]" or "/d" (then the end of a word); a text with
# neither comes out of the passes unchanged (each pass changes only what it matches), so skipping them then
# gives the same text.
#
# The marks are plain substrings, found with ``in``: a scan of the bytes, where a pattern that starts with
# one of several characters (``10\*|\{|...``) has the engine test each character of the text against the
# set, some 50 instructions a character.  Only "/d" needs the pattern, for the end of its word, and its
# literal start lets the engine skip to it.  The number gate starts with a digit: tried only on a text that
# holds one.  In an ASCII text (every text the rules write, and nearly every value) the digits are 0-9 and
# the gate and the passes use ``[0-9]``: ``\d`` is any Unicode decimal digit, told by a table look-up for
# each character tried.  No replacement brings in a decimal digit (" ×10⁹/L", "°C": superscripts are digits
# but not decimal ones), so both sets of passes give an ASCII text the same result.
_UNIT_NUMBER = re.compile(r"\d\s?(?:Cel|a|mo|wk|d)\b")
_SLASH_D = re.compile(r"/d\b")


def _ascii_digits(pattern: re.Pattern[str]) -> re.Pattern[str]:
    return re.compile(pattern.pattern.replace(r"\d", "[0-9]"))


_ASCII_UNITS = tuple((_ascii_digits(pattern), replacement) for pattern, replacement in _UNITS)
_ASCII_UNIT_NUMBER = _ascii_digits(_UNIT_NUMBER)


def readable_units(text: str) -> str:
    """``text`` with its UCUM codes as a clinician reads them; a text without one comes back as is."""
    ascii_only = text.isascii()  # a flag of the string: no scan
    # The gates written out here rather than as helpers: a call costs more than most of the tests.
    marked = "{" in text or "10*" in text or "[iU]" in text or ("/d" in text and _SLASH_D.search(text))
    if not marked:
        if ascii_only:
            has_digit = (
                "0" in text or "1" in text or "2" in text or "3" in text or "4" in text
                or "5" in text or "6" in text or "7" in text or "8" in text or "9" in text
            )  # fmt: skip
            if not has_digit or _ASCII_UNIT_NUMBER.search(text) is None:
                return text
        elif _UNIT_NUMBER.search(text) is None:
            return text
    units = _ASCII_UNITS if ascii_only else _UNITS
    for (pattern, replacement), needle in zip(units, _UNIT_NEEDLES, strict=True):
        # A search is cheaper than a substitution that finds nothing, and a missing needle cheaper still.
        if needle in text and pattern.search(text):
            text = pattern.sub(replacement, text)
    return text
