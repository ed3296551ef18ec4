"""Drug classes and concepts shared by the pain and bone-health rules.

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.facts import MedicationFact

__all__ = ["CNS_ACTIVE", "LOCAL_ROUTES", "RENAL_CONCEPTS", "is_systemic"]

# Concepts behind the context's renal function; rules that use it declare these (and RENAL_KEYS).
RENAL_CONCEPTS = (c.LAB_CREATININE, c.BODY_WEIGHT, c.LAB_CRCL, c.LAB_EGFR)

# Drugs counted as CNS-active by the Beers criteria (S23) that this service can recognise.
CNS_ACTIVE = (c.OPIOID, c.BENZODIAZEPINE, c.GABAPENTINOID, c.SNRI_TCA, c.SSRI)
# Routes that are not systemic (a steroid cream or inhaler is not a systemic corticosteroid).
LOCAL_ROUTES = frozenset(
    {"topical", "cutaneous", "inhalation", "nasal", "ophthalmic", "otic", "intra-articular"}
)


def is_systemic(med: MedicationFact) -> bool:
    routes = {d.route for d in med.doses if d.route is not None}
    return not routes or bool(routes - LOCAL_ROUTES)
