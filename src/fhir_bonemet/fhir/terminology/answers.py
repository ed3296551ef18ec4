"""Answer codes: the codes an Observation's coded value (``valueCodeableConcept``, or the ``interpretation``
of a performance status) is read in, and what each one answers.

The intake (:mod:`fhir_bonemet.fhir.intake.observations`) reads these tables; the ConceptMap loader
(:mod:`.conceptmaps`) accepts them as targets, so a hospital's own answer code ("LYT" for a lytic lesion, "Y"
for yes) is mapped onto one of them as its question codes are mapped onto the ValueSets.

A *meaning* is the set of readings an answer code gives, written ``"<concept>: <answer>"`` (``"lesion-type:
lytic"``, ``"ecog: 3"``) or ``"yes"`` / ``"no"``: two answer codes with the same meaning are one answer
(SNOMED CT |Yes| and LOINC LA33-6), which is how a local code mapped onto both is told apart from one mapped
onto two different answers.
"""

from __future__ import annotations

from typing import Final

from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.fhir.terminology.valuesets import LOCAL_SYSTEM, Key

__all__ = [
    "ANSWER_CODES",
    "ANSWER_MEANINGS",
    "ANSWER_SYSTEMS",
    "LOCAL_ANSWERS",
    "LOINC",
    "SCORE_ANSWERS",
    "SNOMED",
    "YES_NO_CODES",
]

LOINC: Final = "http://loinc.org"
SNOMED: Final = "http://snomed.info/sct"
ANSWER_SYSTEMS: Final = frozenset({LOINC, SNOMED})

# The answers of the coded concepts in the project CodeSystem (children of lesion-type and pain-mechanism).
LOCAL_ANSWERS: Final[dict[str, tuple[str, ...]]] = {
    c.LESION_TYPE: ("lytic", "blastic", "mixed"),
    c.PAIN_MECHANISM: ("pain-nociceptive", "pain-neuropathic", "pain-mixed"),
}
# LOINC answer codes of the coded concepts (pregnancy status 82810-3: LL4129-4) and SNOMED findings EHRs
# send as the answer instead.
ANSWER_CODES: Final[dict[str, dict[str, str]]] = {
    c.PREGNANCY_STATUS: {
        "LA15173-0": "pregnant",
        "LA26683-5": "not-pregnant",
        "LA4489-6": "unknown",
        "77386006": "pregnant",
        "60001007": "not-pregnant",
    },
}
# LOINC answer lists of the mCODE performance-status profiles: ECOG LL529-9 and Karnofsky LL4986-7.  EHRs
# send the answer code as valueCodeableConcept, or only as the profile's required `interpretation`.
SCORE_ANSWERS: Final[dict[str, dict[str, int]]] = {
    c.ECOG: {
        "LA9622-7": 0, "LA9623-5": 1, "LA9624-3": 2, "LA9625-0": 3, "LA9626-8": 4, "LA9627-6": 5,
    },
    c.KPS: {
        "LA29175-9": 100, "LA29176-7": 90, "LA29177-5": 80, "LA29178-3": 70, "LA29179-1": 60,
        "LA29180-9": 50, "LA29181-7": 40, "LA29182-5": 30, "LA29183-3": 20, "LA29184-1": 10, "LA9627-6": 0,
    },
}  # fmt: skip
# The yes/no answers of SNOMED CT (373066001 |Yes|, 373067005 |No|) and LOINC (LA33-6 Yes, LA32-8 No).
YES_NO_CODES: Final[dict[Key, str]] = {
    (SNOMED, "373066001"): "yes",
    (SNOMED, "373067005"): "no",
    (LOINC, "LA33-6"): "yes",
    (LOINC, "LA32-8"): "no",
    (SNOMED, "10828004"): "yes",  # |Positive|
    (SNOMED, "260385009"): "no",  # |Negative|
}


def _meanings() -> dict[Key, frozenset[str]]:
    found: dict[Key, set[str]] = {}
    for concept, codes in LOCAL_ANSWERS.items():
        for code in codes:
            found.setdefault((LOCAL_SYSTEM, code), set()).add(f"{concept}: {code}")
    for concept, table in ANSWER_CODES.items():
        for code, answer in table.items():
            system = LOINC if code.startswith("LA") else SNOMED
            found.setdefault((system, code), set()).add(f"{concept}: {answer}")
    for concept, scores in SCORE_ANSWERS.items():
        for code, score in scores.items():
            found.setdefault((LOINC, code), set()).add(f"{concept}: {score}")
    for key, said in YES_NO_CODES.items():
        found.setdefault(key, set()).add(said)
    return {key: frozenset(said) for key, said in found.items()}


ANSWER_MEANINGS: Final[dict[Key, frozenset[str]]] = _meanings()
"""Every project answer code, as ``(canonical system, code)`` (the codes are written as the systems
normalise them), with its meaning."""
