"""The request body reader: its byte-level nesting check agrees with a walk of the parsed tree on any JSON,
strings full of brackets, quotes and backslashes included; bad bodies are refused with a located reason."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fhir_bonemet.client.json_nesting import MAX_JSON_DEPTH, nesting_exceeds
from fhir_bonemet.errors import InvalidRequestError
from fhir_bonemet.web.json_body import json_object

# Strings made of the characters that could fool a byte-level reader.
_TRICKY_TEXT = st.text(alphabet='[]{}"\\:,ab é\n\u2028', max_size=8)
_LEAVES = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _TRICKY_TEXT
_VALUES = st.recursive(
    _LEAVES,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_TRICKY_TEXT, children, max_size=3),
    max_leaves=40,
)


def depth(value: Any) -> int:
    """Levels of arrays and objects, the obvious way (a scalar has none)."""
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    return 0


def chain(levels: int, leaf: Any) -> Any:
    value = leaf
    for level in range(levels):
        value = [value] if level % 2 else {"k[": value}
    return value


@settings(max_examples=400, deadline=None)
@given(_VALUES, st.integers(min_value=0, max_value=12), st.booleans())
def test_the_byte_level_check_agrees_with_the_tree(value: Any, limit: int, ascii_only: bool) -> None:
    raw = json.dumps(value, ensure_ascii=ascii_only).encode()
    assert nesting_exceeds(raw, limit) is (depth(value) > limit)


@pytest.mark.parametrize("levels", [MAX_JSON_DEPTH - 1, MAX_JSON_DEPTH, MAX_JSON_DEPTH + 1])
@pytest.mark.parametrize("leaf", ["]]]}}}", '\\"[[[', "plain", 7])
def test_the_limit_holds_exactly_whatever_the_strings_hold(levels: int, leaf: Any) -> None:
    raw = json.dumps({"hook": chain(levels - 1, leaf)}).encode()
    assert nesting_exceeds(raw, MAX_JSON_DEPTH) is (levels > MAX_JSON_DEPTH)


@pytest.mark.parametrize(
    ("raw", "diagnostic"),
    [
        (b'{"a": NaN}', "not valid JSON (line 1, column"),
        (b'{"a": "\xff"}', "not valid JSON (line 1, column"),
        (b'{"a": "\\ud800"}', "not valid JSON (line 1, column"),
        (b"[1, 2]", "must be a JSON object"),
        # A number beyond a double's range is valid JSON: where the body cannot be read without it, it is
        # refused for the number, not its syntax.
        (b'{"a": 1e400, "b": NaN}', "number out of range (line 1, column 7)"),
        (b'{"a":\n [1, -1e400, "\\ud800"]}', "number out of range (line 2, column 6)"),
        (b'{"a":' + b"[" * 5000 + b"]" * 5000 + b"}", f"deeper than {MAX_JSON_DEPTH} levels"),
        (json.dumps(chain(MAX_JSON_DEPTH + 1, 1)).encode(), f"deeper than {MAX_JSON_DEPTH} levels"),
    ],
)
def test_bad_bodies_are_refused_with_the_reason(raw: bytes, diagnostic: str) -> None:
    with pytest.raises(InvalidRequestError) as refused:
        json_object(raw)
    [problem] = refused.value.problems
    assert problem.location == "$this"
    assert diagnostic in problem.message


def test_a_number_beyond_a_double_is_kept_as_its_text_and_the_rest_read() -> None:
    """One value no double holds (in one resource of a prefetch) must not sink the whole request: the
    reader reports it as not a number, as it does any other unusable value."""
    raw = b'{"hook": "patient-view", "prefetch": {"labs": {"value": 1e400, "low": -2E+999, "ok": 1.5}}}'
    body = json_object(raw)
    assert body["prefetch"]["labs"] == {"value": "1e400", "low": "-2E+999", "ok": 1.5}


def test_a_leading_utf8_byte_order_mark_is_ignored() -> None:
    assert json_object(b'\xef\xbb\xbf{"hook": "patient-view"}') == {"hook": "patient-view"}
    for raw in (b'\xef\xbb\xbf\xef\xbb\xbf{"a": 1}', b'{"a": 1}\xef\xbb\xbf', b'{"a": "\xef\xbb"}'):
        with pytest.raises(InvalidRequestError, match="not valid JSON"):
            json_object(raw)  # one leading BOM only


def test_a_body_at_the_limit_is_read() -> None:
    body = {"hook": "patient-view", "context": chain(MAX_JSON_DEPTH - 1, '"]}')}
    assert json_object(json.dumps(body).encode()) == body


@pytest.mark.parametrize(
    ("raw", "read"),
    [
        # An integer beyond a double, written out in full, is kept as its text like 1e400...
        (b'{"v": 1' + b"0" * 400 + b"}", {"v": "1" + "0" * 400}),
        (b'{"v": -' + b"9" * 5000 + b"}", {"v": "-" + "9" * 5000}),  # beyond int()'s 4300 digits too
        (b'{"v": 2' + b"0" * 308 + b"}", {"v": "2" + "0" * 308}),  # 309 digits, still beyond a double
        # ...and beside one, integers beyond 64 bits are read as orjson reads them (a double).
        (b'{"v": 1e400, "w": 99999999999999999999}', {"v": "1e400", "w": 1e20}),
        (
            b'{"v": 1e400, "w": -9223372036854775809, "x": 7}',
            {"v": "1e400", "w": -9223372036854775809.0, "x": 7},
        ),
    ],
)
def test_an_integer_beyond_a_double_or_64_bits_does_not_sink_the_request(raw: bytes, read: Any) -> None:
    """They were refused whole as "a number out of range", every card lost for one odd value."""
    assert json_object(raw) == read
