"""Assessments of realistic bone-metastasis patients, built directly, for the card and CarePlan tests."""

from __future__ import annotations

from datetime import date
from functools import partial
from typing import Any

from fhir_bonemet.cards.build import build_cards
from fhir_bonemet.core.model.facts import BodySite, Laterality, SiteClass
from fhir_bonemet.core.model.findings import (
    Assessment,
    Category,
    DomainAdvice,
    DomainStatus,
    ExercisePlan,
    Finding,
    Indicator,
    LesionRisk,
    MissingFact,
    OrderAction,
    Referral,
    Tier,
    UsedFact,
)
from fhir_bonemet.fhir.outbound.careplan import build_careplan
from fhir_bonemet.fhir.outbound.codes import load_outbound_codes
from fhir_bonemet.knowledge import load_sources, load_thresholds

TODAY = date(2025, 6, 2)
PATIENT = "Patient/bm-1"

T9 = BodySite(SiteClass.SPINE_THORACIC, "T9")
FEMUR = BodySite(SiteClass.FEMUR_PROXIMAL, "proximal femur", Laterality.LEFT, ("proximal",))

SINS_USED = UsedFact("SINS (T9)", "14", "Observation/sins-1", "2025-05-23")
MIRELS_USED = UsedFact("Mirels (left proximal femur)", "9", "Observation/mirels-1", "2025-05-28")
PAIN_USED = UsedFact("Worst pain, last 24 h", "7/10", "Observation/pain-1", "2025-06-01")


def exercise_plan(tier: Tier = Tier.HIGH, *, on_hold_reason: str | None = None) -> ExercisePlan:
    spine = LesionRisk(
        lesion_ref="Condition/met-1",
        site=T9,
        tier=Tier.HIGH,
        reasons=("SINS 14 (unstable)",),
        avoided_domains=("ex-resist-trunk", "ex-impact"),
        restricted_domains=("ex-resist-upper", "ex-flex"),
        used=(SINS_USED,),
        missing=(MissingFact("lesion type of the T9 lesion", "treated as lytic"),),
    )
    femur = LesionRisk(
        lesion_ref="Condition/met-2",
        site=FEMUR,
        tier=Tier.HIGH,
        reasons=("Mirels 9",),
        avoided_domains=("ex-aerobic-wb", "ex-impact"),
        restricted_domains=("ex-resist-lower",),
        used=(MIRELS_USED,),
    )
    domains = (
        DomainAdvice(
            "ex-aerobic-wb", DomainStatus.AVOID, ("No weight-bearing aerobic (left proximal femur)",)
        ),
        DomainAdvice(
            "ex-aerobic-nwb", DomainStatus.PERMITTED, (), "Seated or non-weight-bearing; short bouts"
        ),
        DomainAdvice(
            "ex-resist-upper", DomainStatus.RESTRICTED, ("Elbow only, no shoulder movement (T9)",), "Light"
        ),
        DomainAdvice(
            "ex-resist-trunk", DomainStatus.AVOID, ("No spinal flexion, extension or rotation (T9)",)
        ),
        DomainAdvice(
            "ex-resist-lower", DomainStatus.RESTRICTED, ("Knee only; no hip loading (left femur)",), "Light"
        ),
        DomainAdvice("ex-flex", DomainStatus.RESTRICTED, ("No spinal flexion, extension or rotation",)),
        DomainAdvice("ex-balance", DomainStatus.PERMITTED, (), "Seated or supported only"),
        DomainAdvice("ex-impact", DomainStatus.AVOID, ("Weight-bearing and axial lesions",)),
    )
    return ExercisePlan(
        tier=tier,
        lesions=(spine, femur),
        domains=domains,
        supervision="Only after surgical review; supervised one to one by a physiotherapist",
        progression="None until re-tiered",
        stop_and_call=(
            "New or worse pain at a lesion",
            "New weakness, numbness or bladder/bowel change",
            "A fall",
        ),
        person_factors=("active opioid",),
        on_hold_reason=on_hold_reason,
    )


def r04() -> Finding:
    return Finding(
        rule_id="R04",
        title="Pathological or impending fracture",
        category=Category.RED_FLAG,
        indicator=Indicator.CRITICAL,
        summary="Refer to spine surgery today: the T9 lesion is unstable (SINS 14); no loading of the spine",
        rationale="SINS 14 is in the unstable band (13-18)",
        recommendations=("Urgent spine surgery opinion", "No loading of the spine until reviewed"),
        evidence=("S10", "S14"),
        used=(SINS_USED,),
        referrals=(Referral.SPINE_SURGERY, Referral.RADIATION_ONCOLOGY),
        defaults_used=("lookback.score_days",),
    )


def exercise_finding() -> Finding:
    return Finding(
        rule_id="EX-TIER",
        title="Skeletal-risk tier and exercise prescription",
        category=Category.EXERCISE,
        indicator=Indicator.WARNING,
        summary="High skeletal risk: exercise only after surgical review, 1:1 with a physiotherapist",
        rationale="Highest lesion tier is high (SINS 14 at T9; Mirels 9 at the left femur)",
        evidence=("S03", "S05"),
        used=(SINS_USED, MIRELS_USED),
        missing=(MissingFact("lesion type of the T9 lesion", "treated as lytic"),),
        referrals=(Referral.PHYSIOTHERAPY, Referral.RADIATION_ONCOLOGY),
    )


def p14(order_ref: str = "MedicationRequest/draft-lorazepam") -> Finding:
    return Finding(
        rule_id="P14",
        title="Opioid with benzodiazepine",
        category=Category.MEDICATION_SAFETY,
        indicator=Indicator.WARNING,
        summary="Avoid adding lorazepam to oxycodone: risk of sedation and respiratory depression",
        rationale="An opioid and a benzodiazepine would both be active",
        evidence=("S21", "S23"),
        used=(UsedFact("Oxycodone 10 mg", "active", "MedicationRequest/oxy-1", "2025-05-01"),),
        order_actions=(OrderAction(order_ref, "delete", "Remove the lorazepam draft order"),),
    )


def r09() -> Finding:
    return Finding(
        rule_id="R09",
        title="Opioid, benzodiazepine and gabapentinoid together",
        category=Category.RED_FLAG,
        indicator=Indicator.CRITICAL,
        summary="Three CNS depressants together: stop one (lorazepam draft) and monitor breathing",
        rationale="Opioid, benzodiazepine and gabapentinoid all active",
        evidence=("S21", "S22"),
        related_rules=("P14",),
        unverified=True,
        order_actions=(
            OrderAction("MedicationRequest/draft-lorazepam", "delete", "Remove the lorazepam draft"),
        ),
        referrals=(Referral.SEDATING_REGIMEN_REVIEW,),
        one_change_only=True,
    )


def p04() -> Finding:
    return Finding(
        rule_id="P04",
        title="Severe pain",
        category=Category.PAIN,
        indicator=Indicator.WARNING,
        summary="Severe pain 7/10: titrate a strong opioid around the clock with rescue doses",
        rationale="Latest pain score 7/10 is in the severe band",
        evidence=("S18", "S19"),
        used=(PAIN_USED,),
        referrals=(Referral.PALLIATIVE_CARE,),
        defaults_used=("lookback.pain_score_days",),
    )


def p07() -> Finding:
    return Finding(
        rule_id="P07",
        title="Bone-modifying agent",
        category=Category.BONE_HEALTH,
        indicator=Indicator.INFO,
        summary="Consider zoledronic acid or denosumab to prevent skeletal events; dental check first",
        rationale="Breast cancer with bone metastases and no bone-modifying agent",
        evidence=("S14", "S16"),
        referrals=(Referral.DENTAL,),
        order_actions=(
            OrderAction("MedicationRequest/draft-za", "update", "Check creatinine before dosing"),
        ),
    )


def full_assessment() -> Assessment:
    return Assessment(
        in_population=True,
        population_reason="active bone metastasis",
        findings=(p07(), exercise_finding(), p04(), p14(), r04(), r09()),
        exercise=exercise_plan(),
    )


def draft_orders() -> dict[str, dict[str, Any]]:
    return {
        "MedicationRequest/draft-lorazepam": {
            "resourceType": "MedicationRequest",
            "id": "draft-lorazepam",
            "status": "draft",
            "intent": "order",
            "medicationCodeableConcept": {"text": "Lorazepam 1 mg"},
            "subject": {"reference": PATIENT},
        },
        "MedicationRequest/draft-za": {
            "resourceType": "MedicationRequest",
            "id": "draft-za",
            "status": "draft",
            "intent": "order",
            "medicationCodeableConcept": {"text": "Zoledronic acid 4 mg IV"},
            "subject": {"reference": PATIENT},
            "note": [{"text": "existing note"}],
        },
    }


# The shipped knowledge, loaded once: the builders take it as arguments and never read files themselves.
CODES = load_outbound_codes()
SOURCES = load_sources()
THRESHOLDS = load_thresholds()
make_cards = partial(build_cards, codes=CODES, sources=SOURCES, thresholds=THRESHOLDS)
make_careplan = partial(build_careplan, codes=CODES)
