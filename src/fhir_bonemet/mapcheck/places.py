"""Where in a resource the rules look for codes, and which concepts each place can carry.

``map-check`` uses this to say, for a code the service does not understand, which rules would have used
it: an unknown ``Observation.code`` could have been a pain score or a lab, so the rules reading those
concepts lose it; an unknown ``Condition.bodySite`` loses the site of a lesion, which every lesion rule
needs.  Paths are written without list indices (``Condition.bodySite.coding``).
"""

from __future__ import annotations

from typing import Final

from fhir_bonemet.core.model import concepts as c

SITES: Final = frozenset(
    {
        c.SITE_SPINE, c.SITE_SPINE_CERVICAL, c.SITE_SPINE_THORACIC, c.SITE_SPINE_LUMBAR, c.SITE_SACRUM,
        c.SITE_PELVIS, c.SITE_FEMUR, c.SITE_HIP, c.SITE_LOWER_LIMB, c.SITE_HUMERUS, c.SITE_UPPER_LIMB,
        c.SITE_RIB, c.SITE_STERNUM, c.SITE_SCAPULA, c.SITE_CLAVICLE, c.SITE_SKULL, c.LATERALITY,
        c.QUALIFIER_PROXIMAL,
    }
)  # fmt: skip
CONDITIONS: Final = frozenset(
    {
        c.BONE_METASTASIS, c.SECONDARY_MALIGNANCY, c.PATHOLOGICAL_FRACTURE, c.IMPENDING_FRACTURE,
        c.CORD_COMPRESSION, c.PERIPHERAL_NEUROPATHY, c.NEUROPATHIC_PAIN, c.NEOPLASM_PAIN, c.FALLS_HISTORY,
        c.FALL_RISK, c.OSTEOPOROSIS, c.HYPERCALCAEMIA, c.HYPOCALCAEMIA, c.ONJ, c.THROMBOCYTOPENIA, c.ANAEMIA,
        c.GI_BLEED_ULCER, c.LIVER_DISEASE, c.MYELOMA, c.PRIMARY_BREAST, c.PRIMARY_PROSTATE, c.PRIMARY_SOLID,
        c.COPD, c.FEVER, c.SYMPTOMATIC_HYPERCALCAEMIA,
    }
)  # fmt: skip
PROCEDURES: Final = frozenset(
    {c.RADIOTHERAPY, c.SURGICAL_FIXATION, c.VERTEBROPLASTY, c.DENTAL_EXAM, c.SURGICAL_REVIEW}
)
# What a draft order's code can say: a procedure above, or that it may load the bone.
ORDERS: Final = PROCEDURES | {c.BONE_LOADING_ORDER}
# Facts that carry a body site: a lost site matters to the rules that read these.
SITE_CARRIERS: Final = frozenset(
    {
        c.BONE_METASTASIS, c.PATHOLOGICAL_FRACTURE, c.IMPENDING_FRACTURE, c.RADIOTHERAPY, c.SINS_TOTAL,
        c.MIRELS_TOTAL, c.PAIN_MECHANICAL,
    }
)  # fmt: skip

# Place kinds; "medication" is resolved against the loaded terminology (its medication concepts).
SITE, CONDITION, OBSERVATION, MEDICATION, PROCEDURE, ORDER = (
    "site",
    "condition",
    "observation",
    "medication",
    "procedure",
    "order",
)

PLACES: Final[dict[str, str]] = {
    "Condition.code.coding": CONDITION,
    "Condition.bodySite.coding": SITE,
    "Condition.bodySite.extension.valueCodeableConcept.coding": SITE,
    "Observation.code.coding": OBSERVATION,
    "Observation.component.code.coding": OBSERVATION,
    "Observation.bodySite.coding": SITE,
    "Observation.bodySite.extension.valueCodeableConcept.coding": SITE,
    "MedicationRequest.medicationCodeableConcept.coding": MEDICATION,
    "MedicationStatement.medicationCodeableConcept.coding": MEDICATION,
    "MedicationAdministration.medicationCodeableConcept.coding": MEDICATION,
    "MedicationDispense.medicationCodeableConcept.coding": MEDICATION,
    "Medication.code.coding": MEDICATION,
    "Medication.ingredient.itemCodeableConcept.coding": MEDICATION,
    "MedicationRequest.reasonCode.coding": CONDITION,
    "MedicationStatement.reasonCode.coding": CONDITION,
    "Procedure.code.coding": PROCEDURE,
    "Procedure.bodySite.coding": SITE,
    "ServiceRequest.code.coding": ORDER,
    "DeviceRequest.codeCodeableConcept.coding": ORDER,
}

# Records that are not real data (the reader drops them too): they never count as "usable data".
NOT_REAL_STATUS: Final[dict[str, frozenset[str]]] = {
    "Observation": frozenset({"registered", "cancelled", "entered-in-error"}),
    "MedicationRequest": frozenset({"entered-in-error"}),
    "MedicationStatement": frozenset({"entered-in-error", "not-taken"}),
    "Procedure": frozenset({"not-done", "entered-in-error"}),
}
NOT_REAL_VERIFICATION: Final = frozenset({"entered-in-error", "refuted"})

# Concepts without which the service cannot speak at all: map-check exits with status 2 when one of these
# groups has no usable data in the files.  Without a bone-metastasis Condition (or a secondary-malignancy
# Condition with a bone bodySite) every patient is outside the population and gets no card.
REQUIRED: Final[tuple[tuple[str, ...], ...]] = ((c.BONE_METASTASIS,),)
# Concepts most rules need; reported (never fatal) when absent: cards then say the data was missing.
RECOMMENDED: Final[tuple[tuple[str, ...], ...]] = (
    (c.PAIN_SCORE,),
    (c.ECOG, c.KPS),
    (c.LAB_PLATELETS,),
    (c.LAB_HAEMOGLOBIN,),
    (c.LAB_CALCIUM, c.LAB_CALCIUM_CORRECTED, c.LAB_CALCIUM_IONISED),
    (c.LAB_CREATININE, c.LAB_EGFR, c.LAB_CRCL),
)


def candidates(kind: str, all_concepts: frozenset[str], medication: frozenset[str]) -> frozenset[str]:
    """Concepts a code at a place of this kind could stand for."""
    if kind == SITE:
        return SITES
    if kind == CONDITION:
        return CONDITIONS
    if kind == PROCEDURE:
        return PROCEDURES
    if kind == ORDER:
        return ORDERS
    if kind == MEDICATION:
        return medication
    # Observations: everything else, plus the findings a site records either way (fever as a Condition or
    # an Observation, a dental examination as a Procedure or an Observation).
    either_way = {
        c.FEVER,
        c.SYMPTOMATIC_HYPERCALCAEMIA,
        c.IMPENDING_FRACTURE,
        c.DENTAL_EXAM,
        c.SURGICAL_REVIEW,
    }
    return (all_concepts - SITES - medication - CONDITIONS - ORDERS) | either_way
