"""Would the prefetch templates ever fetch the records a code sits on?

An understood or mapped code is of no use when the record carrying it is never sent by the EHR's prefetch
nor fetched by the service: the Observation searches ask for a list of codes, so an Observation whose code
is not on any list is invisible.  A code in a panel's component is found by a ``component-code`` (or
``combo-code``) search, one at the Observation's own code by ``code`` (or ``combo-code``).  Search
templates are read exactly as discovery publishes them (the files in ``cds_hooks/`` plus the Observation
searches generated from the terminology and ConceptMaps).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import parse_qsl

from fhir_bonemet.fhir.terminology.lookup import Terminology

__all__ = ["FetchCoverage", "FetchVerdict"]

_SPLIT: Final = re.compile(r"(?<!\\),")
_CODE_PARAMETERS: Final = frozenset({"code", "component-code", "combo-code"})
_BAR: Final = re.compile(r"(?<!\\)\|")


@dataclass(frozen=True, slots=True)
class FetchVerdict:
    fetched: bool | None  # None: not decided by this code (the record is fetched for another element)
    keys: tuple[str, ...]  # the prefetch keys that request it
    why: str


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


@dataclass(slots=True)
class _Search:
    key: str
    resource_type: str
    codes: frozenset[tuple[str, str]] | None  # None: every record of the type (no code filter)
    component_codes: frozenset[tuple[str, str]] = frozenset()  # found in Observation.component.code


class FetchCoverage:
    """The searches of the service's prefetch templates, by resource type and code."""

    def __init__(self, templates: Mapping[str, str], terminology: Terminology) -> None:
        self._terminology = terminology
        self._searches: list[_Search] = []
        for key, template in templates.items():
            path, _, query = template.partition("?")
            if not query:
                # A read (Patient/{{context.patientId}}) fetches its one record whatever its codes.
                resource_type = path.split("/")[0]
                if not resource_type.startswith("{{"):
                    self._searches.append(_Search(key, resource_type, None))
                continue
            codes: set[tuple[str, str]] | None = None
            component_codes: set[tuple[str, str]] = set()
            for name, value in parse_qsl(query, keep_blank_values=True):
                if name not in _CODE_PARAMETERS:
                    continue
                named = {k for token in _SPLIT.split(value) if (k := self._token(token)) is not None}
                codes = set() if codes is None else codes
                if name in ("code", "combo-code"):
                    codes |= named
                if name in ("component-code", "combo-code"):
                    component_codes |= named
            self._searches.append(
                _Search(
                    key, path, frozenset(codes) if codes is not None else None, frozenset(component_codes)
                )
            )
        # Concepts the code-filtered searches are there for, per resource type.
        self._wanted: dict[str, frozenset[str]] = {}
        for search in self._searches:
            if search.codes is not None:
                found = frozenset().union(
                    *(terminology.concepts_for_coding(*k) for k in search.codes | search.component_codes)
                )
                self._wanted[search.resource_type] = (
                    self._wanted.get(search.resource_type, frozenset()) | found
                )

    def _token(self, token: str) -> tuple[str, str] | None:
        parts = _BAR.split(token, maxsplit=1)
        if len(parts) != 2:
            return None
        return self._terminology.search_key(_unescape(parts[0]), _unescape(parts[1]))

    def verdict(self, system: str, code: str, places: Iterable[str], concepts: Iterable[str]) -> FetchVerdict:
        """Whether some template requests the records on which (system, code) sits at ``places``."""
        key = self._terminology.search_key(system, code)
        wanted_concepts = frozenset(concepts)
        decided: list[FetchVerdict] = []
        for place in places:
            resource_type, _, element = place.partition(".")
            searches = [s for s in self._searches if s.resource_type == resource_type]
            if not searches:
                continue  # contained or referenced records (a Medication): they come with their owner
            unfiltered = [s.key for s in searches if s.codes is None]
            if unfiltered:
                decided.append(FetchVerdict(True, tuple(unfiltered), f"every {resource_type}"))
                continue
            if element == "code.coding":
                keys = tuple(s.key for s in searches if s.codes is not None and key in s.codes)
            elif element == "component.code.coding" and resource_type == "Observation":
                keys = tuple(s.key for s in searches if key in s.component_codes)
            else:
                continue  # the record is fetched (or not) for its own code, reported on that code
            if keys:
                decided.append(FetchVerdict(True, keys, "by code"))
            elif wanted_concepts & self._wanted.get(resource_type, frozenset()):
                decided.append(FetchVerdict(False, (), f"no {resource_type} search names this code"))
        if not decided:
            return FetchVerdict(None, (), "not a code records are searched by")
        fetched = [v for v in decided if v.fetched]
        if fetched:
            return FetchVerdict(
                True, tuple(dict.fromkeys(k for v in fetched for k in v.keys)), fetched[0].why
            )
        return decided[0]
