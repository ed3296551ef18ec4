"""The clinical concepts the rules reason on, by id.

Each id names one enumerated ValueSet in ``profiles/valuesets/`` (``ValueSet.name`` equals the id); the
terminology layer maps incoming codes (SNOMED CT, ICD-10-CM, LOINC, RxNorm, ATC, local codes through
ConceptMaps) onto these ids.  Reasoning code compares ids, never clinical codes.  At start-up the service
checks that every id below has a ValueSet and every ValueSet is known here, and refuses to start otherwise.

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

from typing import Final

# --- Conditions -------------------------------------------------------------------------------------
BONE_METASTASIS: Final = "bone-metastasis"  # 94222008, C79.51, C79.52, C7B.03
SECONDARY_MALIGNANCY: Final = "secondary-malignancy"  # 128462008 and other C77-C79: bone only via bodySite
PATHOLOGICAL_FRACTURE: Final = "pathological-fracture"
IMPENDING_FRACTURE: Final = "impending-fracture"
CORD_COMPRESSION: Final = "cord-compression"
PERIPHERAL_NEUROPATHY: Final = "peripheral-neuropathy"
NEUROPATHIC_PAIN: Final = "neuropathic-pain"
NEOPLASM_PAIN: Final = "neoplasm-pain"
FALLS_HISTORY: Final = "falls-history"
FALL_RISK: Final = "fall-risk"
OSTEOPOROSIS: Final = "osteoporosis"
HYPERCALCAEMIA: Final = "hypercalcaemia"
HYPOCALCAEMIA: Final = "hypocalcaemia"
ONJ: Final = "osteonecrosis-jaw"
THROMBOCYTOPENIA: Final = "thrombocytopenia"
ANAEMIA: Final = "anaemia"
GI_BLEED_ULCER: Final = "gi-bleed-ulcer"
LIVER_DISEASE: Final = "liver-disease"
MYELOMA: Final = "myeloma"
PRIMARY_BREAST: Final = "primary-breast"
PRIMARY_PROSTATE: Final = "primary-prostate"
PRIMARY_SOLID: Final = "primary-solid-tumour"
COPD: Final = "copd"
# Pregnancy and lactation (P07, P40-P42): a Condition, or an Observation of pregnancy status.
PREGNANCY: Final = "pregnancy"  # 77386006, Z33.1, Z3A.* (weeks of gestation: read as a gestational age)
LACTATION: Final = "lactation"  # breast-feeding: a Condition, or a finding recorded as an Observation

# --- Body sites: SNOMED CT body structures → site classes (docs/clinical-model.md#skeletal-site-classes) ---
SITE_SPINE: Final = "site-spine"
SITE_SPINE_CERVICAL: Final = "site-spine-cervical"
SITE_SPINE_THORACIC: Final = "site-spine-thoracic"
SITE_SPINE_LUMBAR: Final = "site-spine-lumbar"
SITE_SACRUM: Final = "site-sacrum"
SITE_PELVIS: Final = "site-pelvis"
SITE_FEMUR: Final = "site-femur"
SITE_HIP: Final = "site-hip"
SITE_LOWER_LIMB: Final = "site-lower-limb"
SITE_HUMERUS: Final = "site-humerus"
SITE_UPPER_LIMB: Final = "site-upper-limb"
SITE_RIB: Final = "site-rib"
SITE_STERNUM: Final = "site-sternum"
SITE_SCAPULA: Final = "site-scapula"
SITE_CLAVICLE: Final = "site-clavicle"
SITE_SKULL: Final = "site-skull"
LATERALITY: Final = "laterality"
QUALIFIER_PROXIMAL: Final = "qualifier-proximal"

# --- Observations -----------------------------------------------------------------------------------
PAIN_SCORE: Final = "pain-score"  # 0-10 NRS
ECOG: Final = "ecog"
KPS: Final = "kps"
FATIGUE_SCORE: Final = "fatigue-score"
MORSE_FALL_SCALE: Final = "morse-fall-scale"
BODY_WEIGHT: Final = "body-weight"
LAB_CALCIUM: Final = "lab-calcium"
LAB_CALCIUM_CORRECTED: Final = "lab-calcium-corrected"
LAB_CALCIUM_IONISED: Final = "lab-calcium-ionised"
LAB_ALBUMIN: Final = "lab-albumin"
LAB_PLATELETS: Final = "lab-platelets"
LAB_HAEMOGLOBIN: Final = "lab-haemoglobin"
LAB_NEUTROPHILS: Final = "lab-neutrophils"
LAB_CREATININE: Final = "lab-creatinine"
LAB_EGFR: Final = "lab-egfr"
LAB_CRCL: Final = "lab-creatinine-clearance"
LAB_VITAMIN_D: Final = "lab-vitamin-d"
LAB_ALT: Final = "lab-alt"
LAB_AST: Final = "lab-ast"
LAB_BILIRUBIN: Final = "lab-bilirubin"
LAB_INR: Final = "lab-inr"
SINS_TOTAL: Final = "sins-total"
MIRELS_TOTAL: Final = "mirels-total"
LESION_TYPE: Final = "lesion-type"
PAIN_MECHANICAL: Final = "pain-mechanical"
PAIN_MECHANISM: Final = "pain-mechanism"
SYMPTOMATIC_HYPERCALCAEMIA: Final = "symptomatic-hypercalcaemia"
FEVER: Final = "fever"
PREGNANCY_STATUS: Final = "pregnancy-status"  # coded: "pregnant" | "not-pregnant" | "unknown"
GESTATIONAL_AGE: Final = "gestational-age"  # weeks ("wk")

# Red-flag symptoms of R01 and R02 (the NICE list, S12); yes/no Observations.
RF_RADICULAR_PAIN: Final = "rf-radicular-pain"
RF_LIMB_WEAKNESS: Final = "rf-limb-weakness"
RF_WALKING_DIFFICULTY: Final = "rf-walking-difficulty"
RF_SENSORY_LOSS: Final = "rf-sensory-loss"
RF_BLADDER_BOWEL: Final = "rf-bladder-bowel"
RF_THORACIC_CERVICAL_PAIN: Final = "rf-thoracic-cervical-pain"
RF_PROGRESSIVE_LUMBAR_PAIN: Final = "rf-progressive-lumbar-pain"
RF_PAIN_ON_STRAINING: Final = "rf-pain-on-straining"
RF_SPINAL_TENDERNESS: Final = "rf-spinal-tenderness"
RF_NOCTURNAL_SPINAL_PAIN: Final = "rf-nocturnal-spinal-pain"
RF_ONJ_SYMPTOM: Final = "rf-jaw-symptom"

MSCC_NEURO_SYMPTOMS: Final = (
    RF_RADICULAR_PAIN,
    RF_LIMB_WEAKNESS,
    RF_WALKING_DIFFICULTY,
    RF_SENSORY_LOSS,
    RF_BLADDER_BOWEL,
)
SPINAL_MET_SYMPTOMS: Final = (
    RF_THORACIC_CERVICAL_PAIN,
    RF_PROGRESSIVE_LUMBAR_PAIN,
    RF_PAIN_ON_STRAINING,
    RF_SPINAL_TENDERNESS,
    RF_NOCTURNAL_SPINAL_PAIN,
)

# --- Medication classes -----------------------------------------------------------------------------
OPIOID: Final = "opioid"
STRONG_OPIOID: Final = "strong-opioid"
RENAL_RISK_OPIOID: Final = "renal-risk-opioid"  # morphine, codeine
TRAMADOL: Final = "tramadol"
NSAID: Final = "nsaid"
ACETAMINOPHEN: Final = "acetaminophen"
GABAPENTINOID: Final = "gabapentinoid"
SNRI_TCA: Final = "snri-tca"
SSRI: Final = "ssri"
BENZODIAZEPINE: Final = "benzodiazepine"
CORTICOSTEROID: Final = "corticosteroid"
ZOLEDRONIC_ACID: Final = "zoledronic-acid"
PAMIDRONATE: Final = "pamidronate"
DENOSUMAB: Final = "denosumab"
BONE_MODIFYING_AGENT: Final = "bone-modifying-agent"
ANTICOAGULANT: Final = "anticoagulant"
LAXATIVE_STIMULANT: Final = "laxative-stimulant"
LAXATIVE_OSMOTIC: Final = "laxative-osmotic"
LAXATIVE_SOFTENER: Final = "laxative-softener"
NALOXONE: Final = "naloxone"
CALCIUM_VITAMIN_D: Final = "calcium-vitamin-d"
TOPICAL_LIDOCAINE: Final = "topical-lidocaine"
CHEMOTHERAPY: Final = "chemotherapy"

# Every medication class above: a rule declaring one of them reads the medication list, so its card says so
# when that list could not be read (a new medication class joins this set).
MEDICATION_CLASSES: Final[frozenset[str]] = frozenset(
    {
        OPIOID, STRONG_OPIOID, RENAL_RISK_OPIOID, TRAMADOL, NSAID, ACETAMINOPHEN, GABAPENTINOID, SNRI_TCA,
        SSRI, BENZODIAZEPINE, CORTICOSTEROID, ZOLEDRONIC_ACID, PAMIDRONATE, DENOSUMAB,
        BONE_MODIFYING_AGENT, ANTICOAGULANT, LAXATIVE_STIMULANT, LAXATIVE_OSMOTIC, LAXATIVE_SOFTENER,
        NALOXONE, CALCIUM_VITAMIN_D, TOPICAL_LIDOCAINE, CHEMOTHERAPY,
    }
)  # fmt: skip

# --- Procedures -------------------------------------------------------------------------------------
RADIOTHERAPY: Final = "radiotherapy"
SURGICAL_FIXATION: Final = "surgical-fixation"
VERTEBROPLASTY: Final = "vertebral-augmentation"
DENTAL_EXAM: Final = "dental-exam"
SURGICAL_REVIEW: Final = "surgical-review"

# --- Orders -----------------------------------------------------------------------------------------
# A draft order that may load the bone (core/evidence/loading_orders.py): integrators map their order
# catalogue codes onto it, since a local name ("PT-AMB") says nothing the service can read.
BONE_LOADING_ORDER: Final = "bone-loading-order"

ALL_CONCEPTS: Final[frozenset[str]] = frozenset(
    value for name, value in dict(globals()).items() if name.isupper() and isinstance(value, str)
)
