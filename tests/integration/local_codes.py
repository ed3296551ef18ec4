"""Example charts rewritten in a hospital's own codes, by running the example ConceptMap backwards.

The example patients are coded with the project's codes (LOINC and the bonemet CodeSystem).  A hospital
sends its own: here every coding that ``examples/conceptmaps/ConceptMap-local-flowsheets.json`` maps onto is
replaced by the local code that maps to it, and lesion-type answers become a local value set whose displays
name the lesion type, as radiology flowsheets do.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

EXAMPLE_MAP = Path(__file__).parents[2] / "examples" / "conceptmaps" / "ConceptMap-local-flowsheets.json"
BONEMET = "http://fhir-bonemet.org/fhir/CodeSystem/bonemet"
LOCAL_VALUES = "http://hospital.example.org/flowsheet-values"
_LESION_VALUES = {
    "lytic": ("LYT", "Osteolytic"),
    "blastic": ("BLA", "Osteoblastic"),
    "mixed": ("MIX", "Mixed"),
}


def local_codes_by_target() -> dict[tuple[str, str], tuple[str, str]]:
    """(target system, target code) → (local system, local code) of every applied element of the map."""
    cmap = json.loads(EXAMPLE_MAP.read_text(encoding="utf-8"))
    found: dict[tuple[str, str], tuple[str, str]] = {}
    for group in cmap["group"]:
        for element in group["element"]:
            for target in element.get("target", []):
                if target.get("equivalence") == "equivalent":
                    found.setdefault((group["target"], target["code"]), (group["source"], element["code"]))
    return found


def _local_coding(coding: dict[str, Any], table: dict[tuple[str, str], tuple[str, str]]) -> dict[str, Any]:
    local = table.get((coding.get("system", ""), coding.get("code", "")))
    if local is None:
        return coding
    return {"system": local[0], "code": local[1], "display": coding.get("display", local[1])}


def in_local_codes(bundle: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """The bundle with Observation and Procedure codes in local codes; also how many codings changed."""
    table = local_codes_by_target()
    rewritten = copy.deepcopy(bundle)
    changed = 0
    for entry in rewritten["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] not in ("Observation", "Procedure"):
            continue
        codings = resource.get("code", {}).get("coding", [])
        local = [_local_coding(coding, table) for coding in codings]
        changed += sum(1 for old, new in zip(codings, local, strict=True) if old is not new)
        resource["code"]["coding"] = local
        value = resource.get("valueCodeableConcept")
        for coding in (value or {}).get("coding", []):
            if coding.get("system") == BONEMET and coding.get("code") in _LESION_VALUES:
                code, display = _LESION_VALUES[coding["code"]]
                coding.update(system=LOCAL_VALUES, code=code, display=display)
                changed += 1
    return rewritten, changed


def project_codes_left(bundle: dict[str, Any]) -> list[str]:
    """Observation and Procedure codings still in a code the map covers (must be none after rewriting)."""
    table = local_codes_by_target()
    return [
        f"{coding['system']}|{coding['code']}"
        for entry in bundle["entry"]
        if entry["resource"]["resourceType"] in ("Observation", "Procedure")
        for coding in entry["resource"].get("code", {}).get("coding", [])
        if (coding.get("system"), coding.get("code")) in table
    ]
