"""Which profiles a resource is checked against.

A resource is checked against every profile it claims in ``meta.profile`` that is available offline, and,
by its content, against the project profile that describes it: a Condition coded as a bone metastasis, a
SINS, Mirels or lesion-type Observation, a CarePlan or referral ServiceRequest with the service's
identifier, a draft MedicationRequest the service proposed or changed (told apart by the note that names
its rules), the project's concept ValueSets and
CodeSystem, and any ConceptMap (ConceptMaps given to the validator are meant for the service's ConceptMap
directory).
Anything else is checked against the base R4 definition of its type.
"""

from __future__ import annotations

from typing import Any

from fhir_bonemet.conformance.definitions import Definitions

__all__ = ["BASE", "profiles_for"]

Json = dict[str, Any]
BASE = None  # the base definition of the resource type
_SD = "http://fhir-bonemet.org/fhir/StructureDefinition/"
_LOCAL = "http://fhir-bonemet.org/fhir/CodeSystem/bonemet"
_OBSERVATIONS = {
    "sins-total": "bonemet-sins",
    "mirels-total": "bonemet-mirels",
    "lesion-type": "bonemet-lesion-type",
}
# The note every MedicationRequest in a card's suggestion carries (cards/orders.py), by what the card does.
_MEDICATION_NOTES = {
    "Proposed by fhir-bonemet (rules ": "bonemet-suggested-medicationrequest",
    "Changed by fhir-bonemet (rules ": "bonemet-annotated-draft-medicationrequest",
}
_IDENTIFIED = {
    "CarePlan": ("http://fhir-bonemet.org/fhir/NamingSystem/careplan", "bonemet-exercise-careplan"),
    "ServiceRequest": (
        "http://fhir-bonemet.org/fhir/NamingSystem/referral",
        "bonemet-referral-servicerequest",
    ),
}


def _codings(concept: Any) -> list[Json]:
    codings = concept.get("coding") if isinstance(concept, dict) else None
    return [c for c in codings if isinstance(c, dict)] if isinstance(codings, list) else []


def _by_content(resource: Json, definitions: Definitions) -> str | None:
    kind = resource.get("resourceType")
    if kind == "Condition":
        bone = definitions.valueset("http://fhir-bonemet.org/fhir/ValueSet/bone-metastasis")
        codes = [(c.get("system"), c.get("code")) for c in _codings(resource.get("code"))]
        if bone is not None and any(isinstance(c, str) and bone.contains(s, c) for s, c in codes):
            return "bonemet-bone-metastasis-condition"
    elif kind == "Observation":
        for coding in _codings(resource.get("code")):
            if coding.get("system") == _LOCAL and coding.get("code") in _OBSERVATIONS:
                return _OBSERVATIONS[coding["code"]]
    elif kind in _IDENTIFIED:
        system, profile = _IDENTIFIED[kind]
        identifiers = resource.get("identifier")
        if isinstance(identifiers, list) and any(
            isinstance(i, dict) and i.get("system") == system for i in identifiers
        ):
            return profile
    elif kind == "MedicationRequest":
        notes = resource.get("note")
        for note in notes if isinstance(notes, list) else []:
            text = note.get("text") if isinstance(note, dict) else None
            for start, profile in _MEDICATION_NOTES.items():
                if isinstance(text, str) and text.startswith(start):
                    return profile
    elif kind == "ValueSet" and resource.get("url") in definitions.concept_valuesets:
        return "bonemet-valueset"
    elif kind == "CodeSystem" and resource.get("url") == _LOCAL:
        return "bonemet-codesystem"
    elif kind == "ConceptMap":
        return "bonemet-local-code-conceptmap"
    return None


def profiles_for(resource: Json, definitions: Definitions) -> list[str | None]:
    """Canonical URLs to check ``resource`` against, in a stable order; [BASE] when none applies."""
    chosen: list[str | None] = []
    meta = resource.get("meta")
    claimed = meta.get("profile") if isinstance(meta, dict) else None
    for url in claimed if isinstance(claimed, list) else []:
        if isinstance(url, str) and url.split("|")[0] not in chosen:
            chosen.append(url.split("|")[0])
    own = _by_content(resource, definitions)
    if own is not None and _SD + own not in chosen:
        chosen.append(_SD + own)
    return chosen or [BASE]
