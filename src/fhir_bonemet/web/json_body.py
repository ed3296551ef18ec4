"""Read a request body as one JSON object, refusing what could hurt the code behind it.

First its headers (:func:`check_body_headers`): a body sent with a content coding (gzip, deflate, …) or
declared in a character set other than UTF-8 is refused with 415 rather than parsed as if it were plain
JSON text (a gzip body was answered "not valid JSON (line 1, column 1)", which hid the real cause from the
integrator).  The media type itself is not checked: ``curl -d`` sends JSON as
``application/x-www-form-urlencoded`` and a browser's ``fetch`` as ``text/plain``, and a body that parses as
a JSON object is a request whatever it was labelled.

Parsed with orjson (a megabyte-sized prefetch is parsed several times faster than by ``json``): strict
JSON only (no ``NaN``/``Infinity``, valid UTF-8, no lone surrogates), nesting limited; a leading UTF-8 byte
order mark is ignored, as RFC 8259 §8.1 allows.  Every refusal is an
:class:`~fhir_bonemet.errors.InvalidRequestError` naming the problem, never the offending text.
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson

from fhir_bonemet.client.json_nesting import MAX_JSON_DEPTH, nesting_exceeds
from fhir_bonemet.errors import InvalidRequestError, Problem, UnsupportedMediaTypeError

__all__ = ["check_body_headers", "json_object"]

# RFC 8259 §8.1: JSON exchanged between systems is UTF-8 (ASCII is a subset of it).
_JSON_CHARSETS = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})
# RFC 8259 §8.1 lets a parser ignore a leading byte order mark; orjson refuses it.
_UTF8_BOM = b"\xef\xbb\xbf"


def _unsupported(location: str, message: str) -> UnsupportedMediaTypeError:
    return UnsupportedMediaTypeError(message, (Problem(location, message, "not-supported"),))


def _declared_charset(content_type: str) -> str | None:
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"').lower()
    return None


def check_body_headers(content_type: str | None, content_encodings: list[str]) -> None:
    """Refuse (415) a body encoded with a content coding, or declared in a charset other than UTF-8.

    ``content_encodings`` are the values of every ``Content-Encoding`` header; only ``identity`` (the
    body as it is) is accepted."""
    codings = [c.strip().lower() for value in content_encodings for c in value.split(",") if c.strip()]
    if any(coding != "identity" for coding in codings):
        raise _unsupported(
            "header.Content-Encoding",
            "The body must not be content-encoded (gzip, deflate, …); send it as plain JSON.",
        )
    charset = _declared_charset(content_type) if content_type else None
    if charset is not None and charset not in _JSON_CHARSETS:
        raise _unsupported(
            "header.Content-Type",
            "The body must be JSON in UTF-8: send it with Content-Type application/json.",
        )


def _nesting_error() -> InvalidRequestError:
    message = f"The body nests arrays and objects deeper than {MAX_JSON_DEPTH} levels."
    return InvalidRequestError(message, (Problem("$this", message, "too-long"),))


def _not_json(detail: str) -> InvalidRequestError:
    return InvalidRequestError(
        "The body is not valid JSON.",
        (Problem("$this", f"The body is not valid JSON ({detail}).", "structure"),),
    )


def _number_out_of_range(detail: str) -> InvalidRequestError:
    message = (
        f"The body holds a number out of range ({detail}): "
        "a JSON number must fit a double, at most about 1.8e308 in magnitude."
    )
    return InvalidRequestError(message, (Problem("$this", message, "value"),))


def _finite_or_text(text: str) -> float | str:
    number = float(text)
    return number if math.isfinite(number) else text


# An integer with more digits than this is beyond any double (whose largest is about 1.8e308); testing the
# length first also keeps such text away from int(), which refuses more than 4300 digits.
_MAX_DOUBLE_DIGITS = 309


def _int_as_orjson_or_text(text: str) -> int | float | str:
    """An integer as orjson reads one (beyond 64 bits, a double), or its text when no double holds it.

    Without this, an integer beyond a double (1 followed by 400 zeros, as some encoders write 1e400) sank
    the request whole, and so did any integer beyond 64 bits in a body also holding 1e400: the strict
    encoder below refuses integers it cannot write."""
    if len(text.lstrip("-")) > _MAX_DOUBLE_DIGITS:
        return text
    number = int(text)
    if -(2**63) <= number < 2**64:
        return number
    try:
        return float(number)
    except OverflowError:
        return text


def _no_constant(name: str) -> object:
    raise ValueError(name)  # NaN, Infinity: not JSON


def _with_huge_numbers_as_text(raw: bytes, where: str) -> Any:
    """``raw`` parsed by the standard library, numbers beyond a double (however written) kept as their
    text, other numbers read as orjson reads them; every other refusal of the strict parse still applies
    (invalid UTF-8, NaN, lone surrogates: checked by encoding the result again with the strict encoder)."""
    try:
        body = json.loads(
            raw.decode("utf-8"),
            parse_float=_finite_or_text,
            parse_int=_int_as_orjson_or_text,
            parse_constant=_no_constant,
        )
        orjson.dumps(body)  # refuses lone surrogates, as the strict parse would have
    except (ValueError, orjson.JSONEncodeError, RecursionError):
        raise _number_out_of_range(where) from None
    return body


def json_object(raw: bytes) -> dict[str, Any]:
    """The body parsed, if it is a JSON object nesting at most :data:`MAX_JSON_DEPTH` levels.

    One leading UTF-8 byte order mark is ignored (Windows tools write one)."""
    if raw.startswith(_UTF8_BOM):
        raw = raw[len(_UTF8_BOM) :]
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if str(exc).startswith("depth limit exceeded"):  # orjson's own limit, far above ours
            raise _nesting_error() from None
        # Line and column only: orjson's messages never quote the body, but are not promised not to.
        where = f"line {exc.lineno}, column {exc.colno}"
        if not str(exc).startswith("number is infinity"):
            raise _not_json(where) from exc
        # 1e400: valid JSON that no double holds, maybe in one resource of a prefetch.  One odd value must
        # not sink the whole answer: parsed again with such numbers kept as their text, which the reader
        # reports as a value that is not a number (and which fails validation where the request needs one).
        body = _with_huge_numbers_as_text(raw, where)
    if not isinstance(body, dict):
        raise InvalidRequestError(
            "The body must be a JSON object.",
            (Problem("$this", "The body must be a JSON object.", "structure"),),
        )
    if nesting_exceeds(raw, MAX_JSON_DEPTH):
        raise _nesting_error()
    return body
