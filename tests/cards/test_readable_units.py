"""UCUM codes as a clinician reads them, and the shortcut for texts without any: a text that none of the
unit patterns matches is given back as it is, exactly as running every substitution would give it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fhir_bonemet.core.model.unit_text import _UNITS, readable_units

# Texts made of the pieces the patterns look for, so that near-misses ("10*9/", "{scor", "5 mo.") come up.
_PIECES = st.sampled_from(
    [
        "10*9/L", "10*12/L", "{score}", "/{1.73_m2}", "Cel", " a", " mo", " wk", "mg/d", "mL/d", "[iU]/d",
        "/d", " d", "{tablet}", "[iU]", "{", "}", "10*", "/", " ", "7", "0.5", "mg", "L", "day", "a", "d",
        "(service default)", "T9", "x",
    ]
)  # fmt: skip


def _every_substitution(text: str) -> str:
    for pattern, replacement in _UNITS:
        text = pattern.sub(replacement, text)
    return text


@given(st.lists(_PIECES, max_size=8).map("".join) | st.text(max_size=40))
def test_the_shortcut_gives_what_every_substitution_gives(text: str) -> None:
    assert readable_units(text) == _every_substitution(text)


def test_units_read_as_words() -> None:
    assert readable_units("245 10*9/L") == "245 ×10⁹/L"
    assert readable_units("38 Cel") == "38 °C"
    assert readable_units("75 a") == "75 years"
    assert readable_units("30 mg/d") == "30 mg/day"
    assert readable_units("3 {score}") == "3"
    assert readable_units("72.7 mL/min") == "72.7 mL/min"  # nothing to change


def test_a_decimal_digit_of_another_script_reads_as_one() -> None:
    # ASCII texts take patterns written with [0-9]; any other text keeps the Unicode \d.
    assert readable_units("٣ d") == _every_substitution("٣ d") == "٣ days"
    assert readable_units("7 d …") == "7 days …"
