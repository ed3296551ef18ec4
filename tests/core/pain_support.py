"""Shared helpers for the pain-rule tests: run the pain assessment and look findings up by rule id."""

from __future__ import annotations

from builders import TODAY, dose, med, obs, strength

from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.facts import MedicationFact, ObservationFact, PatientFacts
from fhir_bonemet.core.model.findings import ExercisePlan, Finding, Tier
from fhir_bonemet.core.pain.assess import assess_pain
from fhir_bonemet.knowledge import load_thresholds

TH = load_thresholds()


def plan(tier: Tier = Tier.MODERATE) -> ExercisePlan:
    """A minimal exercise plan: only its tier matters to the pain rules."""
    return ExercisePlan(tier=tier, lesions=(), domains=(), supervision="", progression="", stop_and_call=())


def run(
    facts: PatientFacts, hook: str = "patient-view", exercise: ExercisePlan | None = None
) -> dict[str, Finding]:
    findings = assess_pain(facts, TODAY, TH, hook=hook, exercise=exercise)
    by_id = {f.rule_id: f for f in findings}
    assert len(by_id) == len(findings), "one finding per rule"
    return by_id


def fired(facts: PatientFacts, hook: str = "patient-view", exercise: ExercisePlan | None = None) -> set[str]:
    return set(run(facts, hook, exercise))


def refs(finding: Finding) -> set[str]:
    return {u.ref for u in finding.used if u.ref}


def pain(value: float, days_ago: float = 0, **kw) -> ObservationFact:  # type: ignore[no-untyped-def]
    return obs(c.PAIN_SCORE, value, days_ago=days_ago, **kw)


def renal_labs(creatinine: float, weight: float = 70) -> list[ObservationFact]:
    """Creatinine and weight; with the default 60-year-old man, CrCl = 80 x weight / (72 x creatinine)."""
    return [
        obs(c.LAB_CREATININE, creatinine, "mg/dL", days_ago=1),
        obs(c.BODY_WEIGHT, weight, "kg", days_ago=1),
    ]


def crcl_labs(target: float) -> list[ObservationFact]:
    """Labs giving exactly ``target`` mL/min Cockcroft-Gault CrCl for the default 60-year-old man (72 kg)."""
    return renal_labs(80 / target, weight=72)


def oxycodone(**kw) -> MedicationFact:  # type: ignore[no-untyped-def]
    return med(c.OPIOID, c.STRONG_OPIOID, ingredients=["oxycodone"], doses=[dose(10, "mg", per_day=2)], **kw)


def morphine(**kw) -> MedicationFact:  # type: ignore[no-untyped-def]
    return med(
        c.OPIOID,
        c.STRONG_OPIOID,
        c.RENAL_RISK_OPIOID,
        ingredients=["morphine"],
        doses=[dose(10, "mg", per_day=4)],
        **kw,
    )


def ibuprofen(**kw) -> MedicationFact:  # type: ignore[no-untyped-def]
    return med(c.NSAID, ingredients=["ibuprofen"], doses=[dose(400, "mg", per_day=3)], **kw)


def acetaminophen(tabs: float = 2, per_day: float = 3, mg: float = 500, **kw) -> MedicationFact:  # type: ignore[no-untyped-def]
    return med(
        c.ACETAMINOPHEN,
        ingredients=["acetaminophen"],
        doses=[dose(tabs, "{tablet}", per_day=per_day)],
        strengths=[strength("acetaminophen", mg)],
        **kw,
    )


def senna() -> MedicationFact:
    return med(c.LAXATIVE_STIMULANT, ingredients=["sennosides"])


def docusate() -> MedicationFact:
    return med(c.LAXATIVE_SOFTENER, ingredients=["docusate"])


def zoledronic(mg: float = 4.0, **kw) -> MedicationFact:  # type: ignore[no-untyped-def]
    return med(
        c.ZOLEDRONIC_ACID,
        c.BONE_MODIFYING_AGENT,
        ingredients=["zoledronic acid"],
        doses=[dose(mg, "mg", route="intravenous")],
        **kw,
    )


def denosumab(**kw) -> MedicationFact:  # type: ignore[no-untyped-def]
    return med(
        c.DENOSUMAB,
        c.BONE_MODIFYING_AGENT,
        ingredients=["denosumab"],
        doses=[dose(120, "mg", route="subcutaneous")],
        **kw,
    )


def ca_vit_d() -> MedicationFact:
    return med(c.CALCIUM_VITAMIN_D, ingredients=["calcium carbonate", "cholecalciferol"])
