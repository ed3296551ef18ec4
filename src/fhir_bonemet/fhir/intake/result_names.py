"""The concepts a result's name says it is, for a result whose code is not understood.

A hospital's serum calcium under its own code, mapped by no ConceptMap, is received and not read: its
value must never be used (a mapping guessed from words could be wrong), but the cards must not say "no
calcium" either.  The words it was sent with ("Calcium, serum") are matched against the names the service
already gives each concept: the label the cards use (:data:`~fhir_bonemet.core.evidence.unreadable.LABELS`),
the title of its ValueSet and the displays of its codes.  The match is conservative:

* whole words, case-insensitive, a name's words in order and next to each other ("Calcium, serum" names
  calcium; "Ca serum" names nothing, "ca" being no name of calcium; "Calciums" names nothing);
* the longest name wins where names overlap: "Ionised calcium" names ionised calcium, not calcium as well;
  "Calcium corrected for albumin" names corrected calcium, not albumin;
* the only liberty taken is spelling ("ionized" is "ionised", "hemoglobin" is "haemoglobin").

A name that names no concept leaves the result where it was: in the read issues only.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from contextlib import suppress
from typing import Any, Final

from fhir_bonemet.core.evidence.unreadable import LABELS
from fhir_bonemet.core.model.findings import shorten
from fhir_bonemet.fhir.intake.values import as_list
from fhir_bonemet.fhir.terminology.lookup import Terminology

__all__ = ["NAME_SHOWN_MAX", "ResultNames"]

NAME_SHOWN_MAX: Final = 40  # a name as received is quoted on a card, shortened to this
_WORD: Final = re.compile(r"[a-z0-9]+")
# American spellings of the words in the names, read as the names spell them.
_SPELLINGS: Final = {"ionized": "ionised", "hemoglobin": "haemoglobin", "localized": "localised"}


def _words(text: str) -> tuple[str, ...]:
    return tuple(_SPELLINGS.get(word, word) for word in _WORD.findall(text.lower()))


@functools.lru_cache(maxsize=4)
def _names_by_first_word(terminology: Terminology) -> Mapping[str, tuple[tuple[tuple[str, ...], str], ...]]:
    """Every name of every concept, as words, indexed by its first word: built once per terminology (the
    service has one), not per request, and matched by looking up each received word rather than by trying
    every name at every position."""
    index: dict[str, list[tuple[tuple[str, ...], str]]] = {}
    for concept, label in LABELS.items():
        texts = [label, *terminology.displays(concept)]
        with suppress(KeyError):  # a concept without a ValueSet of its own: its label names it
            texts.append(terminology.title(concept))
        for words in dict.fromkeys(map(_words, texts)):
            if words:
                index.setdefault(words[0], []).append((words, concept))
    return {first: tuple(names) for first, names in index.items()}


class ResultNames:
    """The names of the concepts (shared, built once per terminology), and the names matched so far in one
    request (a record repeats its unmapped codes; the memo dies with the request, holding nobody's words
    for longer)."""

    def __init__(self, terminology: Terminology) -> None:
        self._names = _names_by_first_word(terminology)
        self._seen: dict[tuple[object, ...], tuple[frozenset[str], str | None]] = {}

    def named(self, code: Mapping[str, Any]) -> tuple[frozenset[str], str | None]:
        """The concepts the words of ``code`` (its text, then each coding's display) name, and the first of
        those words that named one, shortened to :data:`NAME_SHOWN_MAX`; no concepts and None when none
        does.  Each distinct set of words is matched once."""
        texts = tuple(
            [code.get("text")]
            + [c.get("display") for c in as_list(code.get("coding")) if isinstance(c, dict)]
        )
        try:
            return self._seen[texts]
        except KeyError:
            found = self._seen[texts] = self._match(texts)
            return found
        except TypeError:  # a malformed (unhashable) text or display: matched, not remembered
            return self._match(texts)

    def _match(self, texts: tuple[object, ...]) -> tuple[frozenset[str], str | None]:
        concepts: frozenset[str] = frozenset()
        shown: str | None = None
        for text in texts:
            if not isinstance(text, str):
                continue
            found = self._named_in(_words(text))
            if found and shown is None:
                shown = shorten(" ".join(text.split()), NAME_SHOWN_MAX)
            concepts |= found
        return concepts, shown

    def _named_in(self, words: tuple[str, ...]) -> frozenset[str]:
        found = [
            ((start, start + len(name)), concept)
            for start, word in enumerate(words)
            for name, concept in self._names.get(word, ())
            if words[start : start + len(name)] == name
        ]
        # A name inside a longer name's words is a part of that name, not a name of its own.
        return frozenset(
            concept
            for (start, end), concept in found
            if not any(s <= start and end <= e and (s, e) != (start, end) for (s, e), _ in found)
        )
