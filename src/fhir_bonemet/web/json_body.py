"""Read a request body as one JSON object, refusing what could hurt the code behind it.

Parsed with orjson (a megabyte-sized prefetch is parsed several times faster than by ``json``): strict
JSON only (no ``NaN``/``Infinity``, valid UTF-8, no lone surrogates), nesting limited.  Every refusal is an
:class:`~fhir_bonemet.errors.InvalidRequestError` naming the problem, never the offending text.
"""

from __future__ import annotations

from typing import Any

import orjson

from fhir_bonemet.errors import InvalidRequestError, Problem

__all__ = ["MAX_JSON_DEPTH", "json_object", "nesting_exceeds"]

# Deeper than any CDS Hooks request or FHIR resource nests (a Bundle entry's resource with contained
# resources and extensions stays under 20 levels); deeper bodies would only exhaust the recursion limit of
# the validators and encoders behind this one.
MAX_JSON_DEPTH = 100

# What nesting_exceeds keeps of a body: string delimiters and brackets.
_DELETE_ALL_BUT_STRUCTURE = bytes(b for b in range(256) if b not in b'"[]{}')
_ONE_BRACKET_KIND = bytes.maketrans(b"{}", b"[]")


def nesting_exceeds(raw: bytes, limit: int) -> bool:
    """True when the arrays and objects of ``raw``, a valid JSON text, nest deeper than ``limit``.

    Works on the bytes with C-speed string operations rather than walking the parsed tree (which cost a
    sixth of a heavy chart's call): escaped backslashes and quotes are dropped, so every ``"`` left
    delimits a string; everything but delimiters and brackets is deleted; the strings go (``""`` pairs
    first: an empty string or the seam of two adjacent ones, removing either leaves every other byte on
    its side of the quotes); ``{}`` become ``[]``.  What is left is the body's bracket skeleton, and each
    pass of ``replace("[]", "")`` removes its innermost level: a skeleton still there after ``limit``
    passes nests deeper than ``limit``.
    """
    skeleton = raw
    if b"\\" in skeleton:
        skeleton = skeleton.replace(b"\\\\", b"").replace(b'\\"', b"")
    skeleton = skeleton.translate(None, _DELETE_ALL_BUT_STRUCTURE).replace(b'""', b"")
    if b'"' in skeleton:  # strings with brackets in them
        skeleton = b"".join(skeleton.split(b'"')[::2])
    skeleton = skeleton.translate(_ONE_BRACKET_KIND)
    for _ in range(limit):
        if not skeleton:
            return False
        skeleton = skeleton.replace(b"[]", b"")
    return bool(skeleton)


def _nesting_error() -> InvalidRequestError:
    message = f"The body nests arrays and objects deeper than {MAX_JSON_DEPTH} levels."
    return InvalidRequestError(message, (Problem("$this", message, "too-long"),))


def _not_json(detail: str) -> InvalidRequestError:
    return InvalidRequestError(
        "The body is not valid JSON.",
        (Problem("$this", f"The body is not valid JSON ({detail}).", "structure"),),
    )


def json_object(raw: bytes) -> dict[str, Any]:
    """The body parsed, if it is a JSON object nesting at most :data:`MAX_JSON_DEPTH` levels."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if str(exc).startswith("depth limit exceeded"):  # orjson's own limit, far above ours
            raise _nesting_error() from None
        # Line and column only: orjson's messages never quote the body, but are not promised not to.
        raise _not_json(f"line {exc.lineno}, column {exc.colno}") from exc
    if not isinstance(body, dict):
        raise InvalidRequestError(
            "The body must be a JSON object.",
            (Problem("$this", "The body must be a JSON object.", "structure"),),
        )
    if nesting_exceeds(raw, MAX_JSON_DEPTH):
        raise _nesting_error()
    return body
