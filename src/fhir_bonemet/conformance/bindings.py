"""Exact check of required terminology bindings against enumerated ValueSets.

The profile validator checks structure, cardinality, patterns, slicing and invariants but not terminology.
This walks a resource along the snapshot of its StructureDefinition (into data types, contained resources
and Bundle entries through their own definitions) and, for every element with a *required* binding, looks
its code up in the ValueSet: ``code`` by code, ``Coding`` by system and code, ``CodeableConcept`` needs one
coding in the ValueSet.  Codes marked ``match-prefix`` in the project's ValueSets stand for a code family,
compared as the service compares them (ICD-10 dots and case ignored).  A ValueSet that cannot be
enumerated offline (SNOMED CT filters, MIME types) is not checked rather than guessed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fhir_bonemet.conformance.definitions import Definitions
from fhir_bonemet.conformance.issues import Issue

__all__ = ["check_bindings"]

Json = dict[str, Any]
_SKIPPED = frozenset({"resourceType", "extension", "modifierExtension", "id"})
_FIXED = ("fixed", "pattern")


@dataclass(frozen=True, slots=True)
class _Slice:
    element: Json
    match: dict[str, Any]  # child name -> fixed/pattern value that selects the slice's items


@dataclass(slots=True)
class _Index:
    elements: dict[str, Json]  # path -> element, slices left out
    slices: dict[str, list[_Slice]]
    parents: set[str]  # paths that have child elements in this snapshot


def _index(sd: Json) -> _Index:
    elements: dict[str, Json] = {}
    slice_roots: dict[str, Json] = {}
    slice_children: dict[str, dict[str, Any]] = {}
    for element in sd["snapshot"]["element"]:
        eid: str = element["id"]
        if ":" not in eid:
            elements[element["path"]] = element
            continue
        head, _, tail = eid.rpartition(":")
        if "." not in tail:  # a slice root such as ServiceRequest.code.coding:bonemet
            slice_roots[eid] = element
            continue
        root, child = eid.rsplit(".", 1)
        for key, value in element.items():
            if key.startswith(_FIXED) and "." not in child:
                slice_children.setdefault(root, {})[child] = value
        del head
    slices: dict[str, list[_Slice]] = {}
    for eid, element in slice_roots.items():
        slices.setdefault(element["path"], []).append(_Slice(element, slice_children.get(eid, {})))
    parents = {path.rsplit(".", 1)[0] for path in elements if "." in path}
    return _Index(elements, slices, parents)


def _choice(elements: dict[str, Json], path: str, key: str) -> tuple[Json, str, str] | None:
    """The choice element ``value[x]`` a JSON key such as ``valueCodeableConcept`` belongs to."""
    for element_path, element in elements.items():
        if not element_path.endswith("[x]") or element_path.rsplit(".", 1)[0] != path:
            continue
        base = element_path.rsplit(".", 1)[1][:-3]
        if key.startswith(base) and key[len(base) : len(base) + 1].isupper():
            suffix = key[len(base) :]
            type_code = (
                suffix if suffix[0].isupper() and suffix not in _PRIMITIVE_CASE else _PRIMITIVE_CASE[suffix]
            )
            return element, type_code, f"{base}.ofType({type_code})"
    return None


# Choice-type suffixes of primitive types: valueInteger -> integer, valueDateTime -> dateTime, ...
_PRIMITIVE_TYPES = (
    "base64Binary boolean canonical code date dateTime decimal id instant integer markdown oid positiveInt "
    "string time unsignedInt uri url uuid"
)
_PRIMITIVE_CASE = {p[0].upper() + p[1:]: p for p in _PRIMITIVE_TYPES.split(" ")}


class _Walker:
    def __init__(self, definitions: Definitions, profile: str | None) -> None:
        self.defs = definitions
        self.profile = profile
        self.issues: list[Issue] = []
        self._indexes: dict[str, _Index] = {}

    def _idx(self, sd: Json) -> _Index:
        url = sd["url"]
        if url not in self._indexes:
            self._indexes[url] = _index(sd)
        return self._indexes[url]

    def resource(self, resource: Json, sd: Json, location: str) -> None:
        self._object(resource, sd, sd["type"], location)

    def _object(self, node: Json, sd: Json, path: str, location: str) -> None:
        index = self._idx(sd)
        for key, value in node.items():
            if key in _SKIPPED or key.startswith("_"):
                continue
            element = index.elements.get(f"{path}.{key}")
            if element is not None:
                types = [t["code"] for t in element.get("type", [])]
                type_code = types[0] if len(types) == 1 else ""
                self._values(value, element, sd, f"{path}.{key}", type_code, f"{location}.{key}")
                continue
            choice = _choice(index.elements, path, key)
            if choice is not None:
                element, type_code, shown = choice
                self._values(value, element, sd, element["path"], type_code, f"{location}.{shown}")

    def _values(self, value: Any, element: Json, sd: Json, path: str, type_code: str, location: str) -> None:
        items: Iterator[tuple[Any, str]]
        if isinstance(value, list):
            items = ((v, f"{location}[{i}]") for i, v in enumerate(value))
        else:
            items = iter([(value, location)])
        slices = self._idx(sd).slices.get(path, [])
        for item, where in items:
            self._binding(item, element, type_code, where)
            for piece in slices:
                if isinstance(item, dict) and all(item.get(k) == v for k, v in piece.match.items()):
                    self._binding(item, piece.element, type_code, where)
            if isinstance(item, dict):
                self._descend(item, element, sd, path, type_code, where)

    def _descend(self, item: Json, element: Json, sd: Json, path: str, type_code: str, where: str) -> None:
        reference = element.get("contentReference")
        if isinstance(reference, str):
            self._object(item, sd, reference.split("#", 1)[1], where)
        elif type_code == "Resource" or "resourceType" in item:
            base = self.defs.types.get(str(item.get("resourceType")))
            if base is not None:
                self._object(item, base, base["type"], where)
        elif path in self._idx(sd).parents:
            self._object(item, sd, path, where)
        elif type_code and type_code[0].isupper() and type_code != "Extension":
            datatype = self.defs.types.get(type_code)
            if datatype is not None:
                self._object(item, datatype, datatype["type"], where)

    def _binding(self, value: Any, element: Json, type_code: str, where: str) -> None:
        binding = element.get("binding") or {}
        url = binding.get("valueSet")
        if binding.get("strength") != "required" or not isinstance(url, str):
            return
        codes = self.defs.valueset(url)
        if codes is None:
            return
        found: list[tuple[str | None, str]] = []
        if isinstance(value, str):
            found = [(None, value)]
        elif (isinstance(value, dict) and "coding" in value) or type_code == "CodeableConcept":
            codings = value.get("coding") if isinstance(value, dict) else None
            found = [
                (c.get("system"), c["code"])
                for c in codings or []
                if isinstance(c, dict) and isinstance(c.get("code"), str)
            ]
            if not found:
                self._error(where, f"no coding from the required ValueSet {url}")
                return
        elif isinstance(value, dict) and isinstance(value.get("code"), str):
            found = [(value.get("system"), value["code"])]
        else:
            return
        if any(codes.contains(system, code) for system, code in found):
            return
        if not codes.complete:
            return  # part of the ValueSet cannot be enumerated offline: the code may be in it
        shown = ", ".join(f"{s}|{c}" if s else repr(c) for s, c in found)
        self._error(where, f"{shown} is not in the required ValueSet {url}")

    def _error(self, where: str, message: str) -> None:
        self.issues.append(Issue("error", where, message, "binding", self.profile))


def check_bindings(resource: Json, definitions: Definitions, profile: str | None = None) -> list[Issue]:
    """Required-binding errors of ``resource`` against ``profile`` (a canonical URL known to
    ``definitions``) or, when None, the base definition of its type.  Locations start at the type name."""
    sd = (
        definitions.structures.get(profile)
        if profile
        else definitions.types.get(resource.get("resourceType", ""))
    )
    if sd is None:
        return []
    walker = _Walker(definitions, profile)
    walker.resource(resource, sd, sd["type"])
    return walker.issues
