"""Integrator ConceptMaps: local EHR codes mapped onto codes of the project ValueSets.

An integrator fixes a gap ("our flowsheet row PAIN-NRS is the 0-10 pain score") by dropping an R4
ConceptMap into a configured directory instead of asking for a code change.  A target is a code of a
project ValueSet (what a record is: a question code, a condition, a site, a medication) or a project answer
code (:mod:`.answers`: what a coded value says, "lytic", "yes", ECOG 3), so a hospital's own answer codes
are mapped the same way as its question codes.  Each map is validated at start-up, and the service refuses
to start, naming the file and the element, when a file is not JSON or not a ConceptMap, when an accepted
target is neither a code of a project ValueSet nor a project answer code (saying so when the map looks
reversed), when a project code is mapped onto a meaning its ValueSets or answer tables do not give it, or
when one local code is mapped (in one map or across several) onto targets that mean different things: the
service would have to guess which one the hospital meant.

Only equivalences that make the local code at least as specific as the target are applied (``equivalent``,
``equal``, ``wider``, ``subsumes``): every record the local code carries is then a record of the target
concept.  A target narrower than the local code (``narrower``, ``specializes``) would put records into a
concept they may not belong to (a local "metastatic disease, any site" mapped narrower onto bone metastasis
would bring every metastatic patient into the population), and ``inexact`` / ``relatedto`` do not say which
records belong; those targets, and elements that map nothing (only ``disjoint`` targets, or none), are
not applied and are listed (:class:`Skipped`) for ``map-check`` and the start-up log; so is a target that
``dependsOn`` another element (a conditional map the service cannot check).

A map's ``status`` is read as R4 PublicationStatus: a ``retired`` map is withdrawn and none of it is applied
(each element is listed, and the map named once, :class:`Note`), and it is not checked against the maps in
use (a retired map is often the wrong one its replacement corrects); a ``draft`` map is applied (the
integrator may be testing it) but named, so that a draft does not go live unnoticed; ``active``,
``unknown`` or no status are applied as they are.  A file that holds no ConceptMap (a Bundle without one,
a file not named ``*.json``) loads nothing and is named too, so that a map put in the wrong form is not
taken for a map in use.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from fhir_bonemet.errors import TerminologyError
from fhir_bonemet.fhir.terminology.answers import ANSWER_MEANINGS
from fhir_bonemet.fhir.terminology.valuesets import CodeIndex, Key, read_json

# R4 ConceptMapEquivalence, read as "the target is ... the source".  Applied: the local code is at least as
# specific as the target.  Not applied: the target is narrower, or the relation is uncertain (listed).
# "unmatched" and "disjoint" say "no map"; an element whose targets are only "disjoint" (or that has none)
# maps nothing and is listed too, since "unmatched" is how R4 says that on purpose.
APPLIED: Final = frozenset({"equivalent", "equal", "wider", "subsumes"})
NOT_APPLIED: Final = frozenset({"narrower", "specializes", "inexact", "relatedto"})
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
    # The target's meaning as a project answer code (answers.ANSWER_MEANINGS), and that code as the intake
    # compares it (canonical system, normalised code); empty and None when the target is no answer code.
    answer: frozenset[str] = frozenset()
    answer_code: Key | None = None

    def meaning(self) -> list[str]:
        """Concepts and answers together, for messages."""
        return sorted(self.concepts) + [f"answer {a}" for a in sorted(self.answer)]


@dataclass(frozen=True, slots=True)
class Skipped:
    """A ConceptMap element, or one target of it, that the service does not apply, and why."""

    source_system: str  # canonical
    code: str  # as written in the ConceptMap
    where: str  # "<file>: ConceptMap.group[0].element[3]" (or "...target[0]")
    reason: str
    # Not applied because its whole map is retired: the start-up log names the map once (a Note) rather
    # than every row of it; map-check still lists each code, since each is now unknown.
    retired: bool = False


# Kinds of Note: a map applied though in draft; a retired map (none of it applied); a file that loads nothing.
DRAFT, RETIRED, NO_CONCEPTMAP = "draft", "retired", "no-conceptmap"


@dataclass(frozen=True, slots=True)
class Note:
    """Something about a whole ConceptMap or file that start-up logs and map-check lists (never fatal)."""

    kind: str  # DRAFT, RETIRED or NO_CONCEPTMAP
    where: str  # "<file>" or "<file>: Bundle.entry[2].resource"
    message: str


# R4 PublicationStatus.  A map without a status is read as before (applied): R4 requires one, but refusing
# to start over it would stop a service whose maps worked yesterday.
_STATUSES: Final = frozenset({"draft", "active", "retired", "unknown"})


def _conceptmaps(path: Path, notes: list[Note]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(location prefix, ConceptMap) for a ConceptMap file or a Bundle of ConceptMaps; a Bundle holding
    none is noted (it loads nothing, and the integrator meant it to load something)."""
    data = read_json(path)
    kind = data.get("resourceType") if isinstance(data, dict) else None
    if kind == "ConceptMap":
        yield "ConceptMap", data
    elif kind == "Bundle":
        entries = data.get("entry")
        entries = entries if isinstance(entries, list) else []
        found = 0
        for i, entry in enumerate(entries):
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(resource, dict) and resource.get("resourceType") == "ConceptMap":
                found += 1
                yield f"Bundle.entry[{i}].resource", resource
        if not found:
            held = f"{len(entries)} entries, none a ConceptMap" if entries else "no entry"
            notes.append(Note(NO_CONCEPTMAP, str(path), f"a Bundle with {held}: nothing loaded from it"))
    else:
        raise TerminologyError(f"{path}: not a ConceptMap (nor a Bundle of ConceptMaps)")


def _map_url(path: Path, cmap: dict[str, Any]) -> str:
    url = cmap.get("url") if isinstance(cmap.get("url"), str) else None
    return url or f"{path.name}#{cmap.get('id', '')}"


def _status(path: Path, where: str, cmap: dict[str, Any]) -> str | None:
    status = cmap.get("status")
    if status is not None and not (isinstance(status, str) and status in _STATUSES):
        # A misspelt "retired" must not be applied as if active; an array or object (unhashable) is no
        # status either, and must name the file rather than stop start-up with a TypeError.
        raise TerminologyError(
            f"{path}: {where}.status {status!r} is not an R4 publication status (draft, active, retired, "
            "unknown)"
        )
    return status if isinstance(status, str) else None


def _retired_elements(path: Path, where: str, cmap: dict[str, Any], index: CodeIndex) -> list[Skipped]:
    """Every element of a retired map, listed as not applied.  Read leniently: a withdrawn map is neither
    validated nor checked against the maps in use, so an error in it never stops the service."""
    reason = (
        f"ConceptMap {_map_url(path, cmap)} has status 'retired': not applied (a retired map is withdrawn; "
        "set its status to 'active' to apply it)"
    )
    found: list[Skipped] = []
    groups = cmap.get("group")
    for g, group in enumerate(groups if isinstance(groups, list) else []):
        if not isinstance(group, dict):
            continue
        source = group.get("source")
        system = index.systems.canonical(source) if isinstance(source, str) and source.strip() else ""
        elements = group.get("element")
        for e, element in enumerate(elements if isinstance(elements, list) else []):
            code = element.get("code") if isinstance(element, dict) else None
            if isinstance(code, str) and code.strip():
                spot = f"{path}: {where}.group[{g}].element[{e}]"
                found.append(Skipped(system, code, spot, reason, retired=True))
    return found


def _mappings_of(
    path: Path, where: str, cmap: dict[str, Any], index: CodeIndex, skipped: list[Skipped]
) -> Iterator[tuple[Key, Mapping]]:
    map_url = _map_url(path, cmap)
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
            key = (source_system, systems.normalise(source_system, code))
            equivalences: list[object] = []
            for t, tgt in enumerate(targets):
                here_t = f"{spot}.target[{t}]"
                equivalence = tgt.get("equivalence") if isinstance(tgt, dict) else None
                equivalences.append(equivalence)
                if equivalence in NOT_APPLIED:
                    shown = tgt.get("code") if isinstance(tgt.get("code"), str) else "(no code)"
                    skipped.append(
                        Skipped(
                            source_system,
                            code,
                            here_t,
                            _NOT_APPLIED_WHY[str(equivalence)].format(target=f"{target_system}|{shown}"),
                        )
                    )
                    continue
                if isinstance(tgt, dict) and tgt.get("dependsOn") and equivalence in APPLIED:
                    # A conditional target holds only when another element has a given value; the service
                    # cannot check that, and applying it to every record of the local code misreads the rest.
                    shown = tgt.get("code") if isinstance(tgt.get("code"), str) else "(no code)"
                    skipped.append(
                        Skipped(
                            source_system,
                            code,
                            here_t,
                            _DEPENDS_ON_WHY.format(target=f"{target_system}|{shown}"),
                        )
                    )
                    continue
                mapping = _target(tgt, here_t, map_url, target_system, source_system, key, index)
                if mapping is not None:
                    _check_own_meaning(key, mapping, index)
                    yield key, mapping
            if not equivalences:
                skipped.append(Skipped(source_system, code, spot, "has no target: it maps nothing"))
            elif all(e == "disjoint" for e in equivalences):
                skipped.append(
                    Skipped(
                        source_system,
                        code,
                        spot,
                        "has only 'disjoint' targets: it maps nothing (say 'unmatched' when that is meant)",
                    )
                )


_NOT_APPLIED_WHY: Final = {
    "narrower": "target {target} is 'narrower' than the local code: not applied, because records of the "
    "local code need not be records of the target (map it 'equivalent' only if every one is)",
    "specializes": "target {target} 'specializes' the local code: not applied, because records of the "
    "local code need not be records of the target (map it 'equivalent' only if every one is)",
    "inexact": "target {target} is an 'inexact' match: not applied, because it does not say which records "
    "of the local code belong to the target",
    "relatedto": "target {target} is only 'relatedto' the local code: not applied, because it does not say "
    "which records of the local code belong to the target",
}


_DEPENDS_ON_WHY: Final = (
    "target {target} depends on another element (dependsOn): not applied, because the service cannot check "
    "that condition and would read every record of the local code as the target (map the codes that hold "
    "unconditionally)"
)


def _target(
    tgt: Any, spot: str, map_url: str, target_system: str, source_system: str, source: Key, index: CodeIndex
) -> Mapping | None:
    equivalence = tgt.get("equivalence") if isinstance(tgt, dict) else None
    if equivalence in IGNORED:
        return None
    if equivalence not in APPLIED:
        if equivalence is None and isinstance(tgt, dict) and "relationship" in tgt:
            # An R5 ConceptMap (tools increasingly export R5) says the same thing under another name and
            # other codes: name the cause, or the integrator hunts for a missing field that is there.
            raise TerminologyError(
                f"{spot}: has the R5 'relationship' ({tgt['relationship']!r}) but no R4 'equivalence'; "
                "the service reads R4 ConceptMaps (e.g. R5 'equivalent' is R4 'equivalent', "
                "'source-is-narrower-than-target' is R4 'wider')"
            )
        raise TerminologyError(f"{spot}.equivalence {equivalence!r} is not an R4 ConceptMap equivalence")
    code = tgt.get("code")
    if not isinstance(code, str) or not code.strip():
        raise TerminologyError(f"{spot}.code is missing")
    target = (target_system, index.systems.normalise(target_system, code))
    concepts = frozenset(m.concept for m in index.members(*target))
    answer = ANSWER_MEANINGS.get(target, frozenset())
    if not concepts and not answer:
        # A map written the wrong way round (a project code as the source, the hospital's as the target)
        # fails here: say so, or the integrator looks for a typo in the target code.
        reversed_hint = (
            f"; the map looks reversed: the source {source_system}|{source[1]} is a project code "
            "(group.source and element.code name the hospital's code, group.target and target.code the "
            "project's)"
            if index.members(*source) or source in ANSWER_MEANINGS
            else ""
        )
        raise TerminologyError(
            f"{spot}: target {target_system}|{code} is in no project ValueSet; map to a code listed in "
            "profiles/valuesets (for a coded value, to a project answer code: docs/integration.md §3)"
            f"{reversed_hint}"
        )
    return Mapping(
        map_url, target_system, code, concepts, equivalence, spot, answer, target if answer else None
    )


def _check_own_meaning(key: Key, mapping: Mapping, index: CodeIndex) -> None:
    """A project code keeps the meaning its ValueSets and answer tables give it: a map may not add another.

    (Mapping LOINC 17861-6, total calcium, onto albumin would make every calcium result an albumin too;
    mapping LOINC LA32-8, No, onto |Yes| would turn every "no" into a red flag.)
    """
    own = frozenset(m.concept for m in index.members(*key))
    own_answer = ANSWER_MEANINGS.get(key, frozenset())
    if not own and not own_answer:
        return
    if not mapping.concepts <= own or (mapping.answer and mapping.answer != own_answer):
        shown = sorted(own) + [f"answer {a}" for a in sorted(own_answer)]
        raise TerminologyError(
            f"{mapping.where}: the source {key[0]}|{key[1]} is a project code meaning {shown}; "
            f"mapping it to {mapping.meaning()} would give it a second meaning. Map only the "
            "hospital's own codes"
        )


def load_conceptmaps(
    directories: Sequence[Path],
    index: CodeIndex,
    skipped: list[Skipped] | None = None,
    notes: list[Note] | None = None,
) -> dict[Key, tuple[Mapping, ...]]:
    """Every ConceptMap JSON file of the directories (sorted, so the result is deterministic); what is
    not applied is appended to ``skipped``, what start-up and map-check should name to ``notes``."""
    found: dict[Key, list[Mapping]] = {}
    skipped = [] if skipped is None else skipped
    notes = [] if notes is None else notes
    for directory in directories:
        if not directory.is_dir():
            raise TerminologyError(f"{directory}: ConceptMap directory does not exist")
        for path in sorted(p for p in directory.iterdir() if p.is_file() and not p.name.startswith(".")):
            if path.suffix != ".json":
                # Only *.json files are read: a map saved as .JSON or .xml would otherwise be lost unseen.
                notes.append(Note(NO_CONCEPTMAP, str(path), "not a .json file: not read"))
                continue
            for where, cmap in _conceptmaps(path, notes):
                status = _status(path, where, cmap)
                if status == "retired":
                    elements = _retired_elements(path, where, cmap, index)
                    skipped.extend(elements)
                    notes.append(
                        Note(
                            RETIRED,
                            f"{path}: {where}",
                            f"ConceptMap {_map_url(path, cmap)} is retired: none of its {len(elements)} "
                            "element(s) is applied",
                        )
                    )
                    continue
                if status == "draft":
                    notes.append(
                        Note(
                            DRAFT,
                            f"{path}: {where}",
                            f"ConceptMap {_map_url(path, cmap)} is a draft: applied (set its status to "
                            "'active' once it is checked)",
                        )
                    )
                for key, mapping in _mappings_of(path, where, cmap, index, skipped):
                    _check_one_meaning(key, found.get(key, ()), mapping)
                    found.setdefault(key, []).append(mapping)
    return {key: tuple(mappings) for key, mappings in found.items()}


def _check_one_meaning(key: Key, earlier: Sequence[Mapping], mapping: Mapping) -> None:
    """One local code means one thing: a second target must name the same concepts as the first.

    (A single target code may belong to several ValueSets, e.g. a femur site is also a lower-limb site;
    that is one meaning, so it passes.)
    """
    for other in earlier:
        if other.concepts != mapping.concepts or other.answer != mapping.answer:
            raise TerminologyError(
                f"{mapping.where}: {key[0]}|{key[1]} is mapped to {mapping.meaning()} here but to "
                f"{other.meaning()} at {other.where}; map each local code to one concept"
            )
