"""Pain management, pharmacovigilance and bone-modifying agents: P01-P25, P40-P48 and the medication red flags
R06, R07 and R09.  Importing this package declares every rule in it.
"""

from fhir_bonemet.core.pain import (
    analgesia,
    bone_health,
    bone_health_safety,
    cns_safety,
    dosing,
    exercise_timing,
    nsaid,
    opioid_tolerance,
    pregnancy,
    review,
    unidentified,
)

__all__ = [
    "analgesia",
    "bone_health",
    "bone_health_safety",
    "cns_safety",
    "dosing",
    "exercise_timing",
    "nsaid",
    "opioid_tolerance",
    "pregnancy",
    "review",
    "unidentified",
]
