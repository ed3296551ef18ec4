"""How deep a JSON text nests, read on its bytes: the limit every JSON body the service reads is held to.

Request bodies (``web/json_body.py``) and FHIR server responses (``client/transport.py``) are both refused
beyond :data:`MAX_JSON_DEPTH`: the code behind them (validators, encoders, the reader of nested Bundles)
recurses, and a text nested thousands deep would exhaust the interpreter's recursion limit there.
"""

from __future__ import annotations

__all__ = ["MAX_JSON_DEPTH", "nesting_exceeds"]

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
