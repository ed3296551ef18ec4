"""Reads and validates the project terminology in ``profiles/``: code systems, the local CodeSystem and the
enumerated ValueSets, into :class:`CodeIndex`, the lookup tables behind
:class:`~fhir_bonemet.fhir.terminology.lookup.Terminology`.

Every problem raises :class:`~fhir_bonemet.errors.TerminologyError` naming the file and the element, so a
malformed profile stops start-up instead of silently dropping a code.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from fhir_bonemet.errors import TerminologyError

BASE: Final = "http://fhir-bonemet.org/fhir"
LOCAL_SYSTEM: Final = f"{BASE}/CodeSystem/bonemet"
EXT_VERIFICATION: Final = f"{BASE}/StructureDefinition/verification-status"
EXT_PREFIX: Final = f"{BASE}/StructureDefinition/match-prefix"
EXT_ROUTE: Final = f"{BASE}/StructureDefinition/requires-route"
VERIFICATION: Final = ("verified", "corroborated", "unverified")
NORMALISERS: Final = ("exact", "upper", "icd")

Key = tuple[str, str]  # (canonical system, normalised code)


def read_json(path: Path) -> Any:
    """The parsed file; unreadable or malformed JSON is a TerminologyError naming the file and position."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TerminologyError(f"{path}: cannot be read: {exc}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise TerminologyError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}"
        ) from exc


@dataclass(frozen=True, slots=True)
class Systems:
    """Canonical system URIs, their aliases, and how each compares codes."""

    by_alias: dict[str, str]  # every spelling (canonical included) -> canonical
    normaliser: dict[str, str]  # canonical -> "exact" | "upper" | "icd"
    by_key: dict[str, str]  # short key used in the source tables ("sct") -> canonical

    def canonical(self, system: str) -> str:
        cleaned = system.strip()
        return self.by_alias.get(cleaned, cleaned)

    def normalise(self, canonical: str, code: str) -> str:
        kind = self.normaliser.get(canonical, "exact")
        cleaned = code.strip()
        if kind == "exact":
            return cleaned
        if kind == "upper":
            return cleaned.upper()
        return cleaned.upper().replace(".", "").replace(" ", "")


def load_systems(path: Path) -> Systems:
    data = read_json(path)
    rows = data.get("systems") if isinstance(data, dict) else None
    if not isinstance(rows, list) or not rows:
        raise TerminologyError(f"{path}: expected {{'systems': [...]}} with at least one system")
    by_alias: dict[str, str] = {}
    normaliser: dict[str, str] = {}
    by_key: dict[str, str] = {}
    for i, row in enumerate(rows):
        where = f"{path}: systems[{i}]"
        if not isinstance(row, dict):
            raise TerminologyError(f"{where}: must be an object")
        key, canonical, kind = row.get("key"), row.get("canonical"), row.get("normalise")
        aliases = row.get("aliases", [])
        if not isinstance(key, str) or not isinstance(canonical, str) or not canonical:
            raise TerminologyError(f"{where}: needs string 'key' and 'canonical'")
        if kind not in NORMALISERS:
            raise TerminologyError(
                f"{where}.normalise: must be one of {', '.join(NORMALISERS)}, got {kind!r}"
            )
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            raise TerminologyError(f"{where}.aliases: must be a list of strings")
        for spelling in [canonical, *aliases]:
            if by_alias.get(spelling, canonical) != canonical:
                raise TerminologyError(f"{where}: {spelling!r} is already an alias of {by_alias[spelling]!r}")
            by_alias[spelling] = canonical
        normaliser[canonical] = kind
        by_key[key] = canonical
    return Systems(by_alias, normaliser, by_key)


def load_local_codes(path: Path, url: str = LOCAL_SYSTEM) -> frozenset[str]:
    """Every code (nested concepts included) of the project CodeSystem."""
    data = read_json(path)
    if not isinstance(data, dict) or data.get("resourceType") != "CodeSystem":
        raise TerminologyError(f"{path}: not a CodeSystem resource")
    if data.get("url") != url:
        raise TerminologyError(f"{path}: CodeSystem.url must be {url!r}, got {data.get('url')!r}")
    codes: set[str] = set()

    def walk(concepts: Any, where: str) -> None:
        if not isinstance(concepts, list):
            raise TerminologyError(f"{path}: {where} must be a list")
        for i, concept in enumerate(concepts):
            here = f"{where}[{i}]"
            code = concept.get("code") if isinstance(concept, dict) else None
            if not isinstance(code, str) or not code:
                raise TerminologyError(f"{path}: {here}.code is missing")
            if code in codes:
                raise TerminologyError(f"{path}: {here}: code {code!r} defined twice")
            codes.add(code)
            if "concept" in concept:
                walk(concept["concept"], f"{here}.concept")

    walk(data.get("concept"), "CodeSystem.concept")
    return frozenset(codes)


@dataclass(frozen=True, slots=True)
class Member:
    """One enumerated concept of one ValueSet."""

    concept: str  # the ValueSet name = concept id
    system: str  # canonical
    code: str  # as written in the ValueSet
    display: str
    verification: str
    prefix: bool = False
    routes: frozenset[str] = frozenset()  # non-empty: applies only to products given by these routes


@dataclass(slots=True)
class CodeIndex:
    """O(1) lookup tables built from the ValueSets."""

    systems: Systems
    exact: dict[Key, list[Member]] = field(default_factory=dict)
    prefixes: dict[str, dict[str, list[Member]]] = field(default_factory=dict)  # system -> prefix -> members
    prefix_lengths: dict[str, tuple[int, ...]] = field(default_factory=dict)
    routed: dict[Key, list[Member]] = field(default_factory=dict)
    valuesets: dict[str, str] = field(default_factory=dict)  # concept id -> file it came from
    titles: dict[str, str] = field(default_factory=dict)  # concept id -> ValueSet.title

    def members(self, system: str, code: str) -> list[Member]:
        """Members matching a canonical system and normalised code, exact first, then code families."""
        found = list(self.exact.get((system, code), ()))
        families = self.prefixes.get(system)
        if families:
            for length in self.prefix_lengths[system]:
                if length <= len(code):
                    found += families.get(code[:length], ())
        return found

    def add(self, member: Member) -> None:
        key = (member.system, self.systems.normalise(member.system, member.code))
        if member.routes:
            self.routed.setdefault(key, []).append(member)
        elif member.prefix:
            self.prefixes.setdefault(key[0], {}).setdefault(key[1], []).append(member)
        else:
            self.exact.setdefault(key, []).append(member)

    def freeze(self) -> None:
        self.prefix_lengths = {
            system: tuple(sorted({len(p) for p in families}, reverse=True))
            for system, families in self.prefixes.items()
        }


def _extensions(concept: dict[str, Any], where: str) -> tuple[str, bool, frozenset[str]]:
    verification, prefix, routes = "unverified", False, frozenset[str]()
    raw = concept.get("extension", [])
    if not isinstance(raw, list):
        raise TerminologyError(f"{where}.extension must be a list")
    for ext in raw:
        url = ext.get("url") if isinstance(ext, dict) else None
        if url == EXT_VERIFICATION:
            verification = ext.get("valueCode")
            if verification not in VERIFICATION:
                raise TerminologyError(
                    f"{where}: verification-status must be one of {', '.join(VERIFICATION)}"
                )
        elif url == EXT_PREFIX:
            if not isinstance(ext.get("valueBoolean"), bool):
                raise TerminologyError(f"{where}: match-prefix needs valueBoolean")
            prefix = ext["valueBoolean"]
        elif url == EXT_ROUTE:
            value = ext.get("valueCode")
            if not isinstance(value, str) or not value:
                raise TerminologyError(f"{where}: requires-route needs valueCode 'route|route'")
            routes = frozenset(value.split("|"))
    return verification, prefix, routes


def load_valueset(path: Path, index: CodeIndex, known: frozenset[str], local_codes: frozenset[str]) -> str:
    """Add one ValueSet file to ``index``; returns its concept id."""
    data = read_json(path)
    if not isinstance(data, dict) or data.get("resourceType") != "ValueSet":
        raise TerminologyError(f"{path}: not a ValueSet resource")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise TerminologyError(f"{path}: ValueSet.name is missing (it must be a concept id)")
    if name not in known:
        close = difflib.get_close_matches(name, sorted(known), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise TerminologyError(
            f"{path}: ValueSet.name {name!r} is not a concept id of core/model/concepts.py{hint}"
        )
    if name in index.valuesets:
        raise TerminologyError(f"{path}: ValueSet.name {name!r} is also defined in {index.valuesets[name]}")
    includes = data.get("compose", {}).get("include") if isinstance(data.get("compose"), dict) else None
    if not isinstance(includes, list) or not includes:
        raise TerminologyError(f"{path}: ValueSet.compose.include is missing or empty")
    for i, include in enumerate(includes):
        where = f"{path}: ValueSet.compose.include[{i}]"
        system = include.get("system") if isinstance(include, dict) else None
        if not isinstance(system, str) or system not in index.systems.by_alias:
            raise TerminologyError(f"{where}.system {system!r} is not a known system (profiles/systems.json)")
        concepts = include.get("concept")
        if not isinstance(concepts, list) or not concepts or "filter" in include or "valueSet" in include:
            raise TerminologyError(f"{where}: must enumerate its codes in concept[] (no filter, no valueSet)")
        canonical = index.systems.canonical(system)
        for j, concept in enumerate(concepts):
            here = f"{where}.concept[{j}]"
            code = concept.get("code") if isinstance(concept, dict) else None
            if not isinstance(code, str) or not code.strip():
                raise TerminologyError(f"{here}.code is missing")
            if canonical == LOCAL_SYSTEM and code not in local_codes:
                raise TerminologyError(f"{here}: code {code!r} does not exist in the local CodeSystem")
            verification, prefix, routes = _extensions(concept, here)
            display = concept.get("display")
            index.add(
                Member(
                    name,
                    canonical,
                    code,
                    display if isinstance(display, str) else code,
                    verification,
                    prefix,
                    routes,
                )
            )
    index.valuesets[name] = str(path)
    title = data.get("title")
    index.titles[name] = title if isinstance(title, str) and title else name
    return name


def load_valuesets(
    directory: Path, systems: Systems, known: Iterable[str], local_codes: frozenset[str]
) -> CodeIndex:
    """Every ``ValueSet-*.json`` of ``directory``; each concept id must have exactly one."""
    known_ids = frozenset(known)
    index = CodeIndex(systems)
    files = sorted(directory.glob("*.json")) if directory.is_dir() else []
    if not files:
        raise TerminologyError(f"{directory}: no ValueSet files found")
    for path in files:
        load_valueset(path, index, known_ids, local_codes)
    missing = sorted(known_ids - set(index.valuesets))
    if missing:
        raise TerminologyError(f"{directory}: no ValueSet for concept ids {', '.join(missing)}")
    index.freeze()
    return index
