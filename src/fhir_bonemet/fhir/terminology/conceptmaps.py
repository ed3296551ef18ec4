"""Integrator ConceptMaps: local EHR codes mapped onto codes of the project ValueSets.

An integrator fixes a gap ("our flowsheet row PAIN-NRS is the 0-10 pain score") by dropping an R4
ConceptMap into a configured directory instead of asking for a code change.  Each map is validated at
start-up, and the service refuses to start, naming the file and the element, when a file is not JSON or
not a ConceptMap, when an accepted target is a code of no project ValueSet, or when one local code is
mapped (in one map or across several) onto targets that mean different concepts: the service would have
to guess which one the hospital meant.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from fhir_bonemet.errors import TerminologyError
from fhir_bonemet.fhir.terminology.valuesets import CodeIndex, Key, read_json

# R4 ConceptMapEquivalence: every positive relation is applied; "unmatched" and "disjoint" say "no map".
APPLIED: Final = frozenset(
    {"relatedto", "equivalent", "equal", "wider", "subsumes", "narrower", "specializes", "inexact"}
)
IGNORED: Final = frozenset({"unmatched", "disjoint"})


@dataclass(frozen=True, slots=True)
class Mapping:
    """One accepted source → target of one ConceptMap."""

    map_url: str
    target_system: str  # canonical
    target_code: str  # as written in the ConceptMap
    concepts: frozenset[str]
    equivalence: str
    where: str = ""  # "<file>: ConceptMap.group[0].element[3].target[0]", for start-up messages


def _conceptmaps(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(location prefix, ConceptMap) for a ConceptMap file or a Bundle of ConceptMaps."""
    data = read_json(path)
    kind = data.get("resourceType") if isinstance(data, dict) else None
    if kind == "ConceptMap":
        yield "ConceptMap", data
    elif kind == "Bundle":
        for i, entry in enumerate(data.get("entry") or []):
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(resource, dict) and resource.get("resourceType") == "ConceptMap":
                yield f"Bundle.entry[{i}].resource", resource
    else:
        raise TerminologyError(f"{path}: not a ConceptMap (nor a Bundle of ConceptMaps)")


def _mappings_of(
    path: Path, where: str, cmap: dict[str, Any], index: CodeIndex
) -> Iterator[tuple[Key, Mapping]]:
    url = cmap.get("url") if isinstance(cmap.get("url"), str) else None
    map_url = url or f"{path.name}#{cmap.get('id', '')}"
    groups = cmap.get("group")
    if not isinstance(groups, list) or not groups:
        raise TerminologyError(f"{path}: {where}.group is missing or empty")
    systems = index.systems
    for g, group in enumerate(groups):
        here = f"{path}: {where}.group[{g}]"
        source, target = (group.get(k) if isinstance(group, dict) else None for k in ("source", "target"))
        if not isinstance(source, str) or not source.strip():
            raise TerminologyError(f"{here}.source: the source code system is required")
        if not isinstance(target, str) or not target.strip():
            raise TerminologyError(f"{here}.target: the target code system is required")
        source_system, target_system = systems.canonical(source), systems.canonical(target)
        elements = group.get("element")
        if not isinstance(elements, list) or not elements:
            raise TerminologyError(f"{here}.element is missing or empty")
        for e, element in enumerate(elements):
            spot = f"{here}.element[{e}]"
            code = element.get("code") if isinstance(element, dict) else None
            if not isinstance(code, str) or not code.strip():
                raise TerminologyError(f"{spot}.code is missing")
            targets = element.get("target", [])
            if not isinstance(targets, list):
                raise TerminologyError(f"{spot}.target must be a list")
            for t, tgt in enumerate(targets):
                mapping = _target(tgt, f"{spot}.target[{t}]", map_url, target_system, index)
                if mapping is not None:
                    yield (source_system, systems.normalise(source_system, code)), mapping


def _target(tgt: Any, spot: str, map_url: str, target_system: str, index: CodeIndex) -> Mapping | None:
    equivalence = tgt.get("equivalence") if isinstance(tgt, dict) else None
    if equivalence in IGNORED:
        return None
    if equivalence not in APPLIED:
        raise TerminologyError(f"{spot}.equivalence {equivalence!r} is not an R4 ConceptMap equivalence")
    code = tgt.get("code")
    if not isinstance(code, str) or not code.strip():
        raise TerminologyError(f"{spot}.code is missing")
    members = index.members(target_system, index.systems.normalise(target_system, code))
    concepts = frozenset(m.concept for m in members)
    if not concepts:
        raise TerminologyError(
            f"{spot}: target {target_system}|{code} is in no project ValueSet; "
            "map to a code listed in profiles/valuesets"
        )
    return Mapping(map_url, target_system, code, concepts, equivalence, spot)


def load_conceptmaps(directories: Sequence[Path], index: CodeIndex) -> dict[Key, tuple[Mapping, ...]]:
    """Every ConceptMap JSON file of the directories (sorted, so the result is deterministic)."""
    found: dict[Key, list[Mapping]] = {}
    for directory in directories:
        if not directory.is_dir():
            raise TerminologyError(f"{directory}: ConceptMap directory does not exist")
        for path in sorted(directory.glob("*.json")):
            for where, cmap in _conceptmaps(path):
                for key, mapping in _mappings_of(path, where, cmap, index):
                    _check_one_meaning(key, found.get(key, ()), mapping)
                    found.setdefault(key, []).append(mapping)
    return {key: tuple(mappings) for key, mappings in found.items()}


def _check_one_meaning(key: Key, earlier: Sequence[Mapping], mapping: Mapping) -> None:
    """One local code means one thing: a second target must name the same concepts as the first.

    (A single target code may belong to several ValueSets, e.g. a femur site is also a lower-limb site;
    that is one meaning, so it passes.)
    """
    for other in earlier:
        if other.concepts != mapping.concepts:
            raise TerminologyError(
                f"{mapping.where}: {key[0]}|{key[1]} is mapped to {sorted(mapping.concepts)} here but to "
                f"{sorted(other.concepts)} at {other.where}; map each local code to one concept"
            )
