"""Lesion tiers, attribution of facts to lesions and person modifiers (docs/clinical-model.md)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from builders import TODAY, condition, lesion, med, obs, patient, procedure, site

from fhir_bonemet.core.exercise.assess import assess_exercise
from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.facts import (
    BodySite,
    Laterality,
    ObservationFact,
    PatientFacts,
    SiteClass,
    UnreadableValue,
)
from fhir_bonemet.core.model.findings import ExercisePlan, Finding, LesionRisk, Tier
from fhir_bonemet.knowledge import load_thresholds

TH = load_thresholds()
S = SiteClass


def normal(*extra: ObservationFact, ecog: float = 0) -> list[ObservationFact]:
    """Normal labs and ECOG taken yesterday: nothing but the lesion should drive the tier."""
    return [
        obs(c.ECOG, ecog, days_ago=1),
        obs(c.LAB_PLATELETS, 250, "10*9/L", days_ago=1),
        obs(c.LAB_HAEMOGLOBIN, 13, "g/dL", days_ago=1),
        obs(c.LAB_CALCIUM, 9.4, "mg/dL", days_ago=1),
        obs(c.LAB_ALBUMIN, 4.0, "g/dL", days_ago=1),
        *extra,
    ]


def plan_of(facts: PatientFacts) -> tuple[ExercisePlan, tuple[Finding, ...]]:
    plan, findings = assess_exercise(facts, TODAY, TH)
    assert plan is not None
    return plan, findings


def one_lesion(cls: SiteClass, *extra: ObservationFact, bma: bool = True, **kw: object) -> LesionRisk:
    """Tier of a single lesion ``Condition/m1`` at ``cls`` with a fit, normal-lab patient."""
    where = site(cls)
    facts = patient(
        lesions=[lesion(cls, ref="Condition/m1")],
        observations=normal(*(o if o.site or o.focus else _at(o, where) for o in extra)),
        medications=[med(c.BONE_MODIFYING_AGENT)] if bma else [],
        **kw,  # type: ignore[arg-type]
    )
    plan, _ = plan_of(facts)
    return plan.lesions[0]


def _at(o: ObservationFact, where: BodySite) -> ObservationFact:
    return replace(o, site=where, focus=("Condition/m1",))


def score(concept: str, value: float, days_ago: float = 5) -> ObservationFact:
    return obs(concept, value, days_ago=days_ago)


def kind(code: str) -> ObservationFact:
    return obs(c.LESION_TYPE, code=code, days_ago=20)


# tier rows base rows, with a blastic lesion on a bone-modifying agent so that no upgrade applies.
@pytest.mark.parametrize(
    ("cls", "extra", "tier"),
    [
        (S.SPINE_THORACIC, [score(c.SINS_TOTAL, 13)], Tier.HIGH),
        (S.SPINE_THORACIC, [score(c.SINS_TOTAL, 18)], Tier.HIGH),
        (S.SPINE_LUMBAR, [score(c.SINS_TOTAL, 12)], Tier.HIGH),
        (S.SPINE_LUMBAR, [score(c.SINS_TOTAL, 7)], Tier.HIGH),
        (S.SPINE_LUMBAR, [score(c.SINS_TOTAL, 6)], Tier.LOW),
        (S.SPINE_CERVICAL, [score(c.SINS_TOTAL, 0)], Tier.LOW),
        (S.SACRUM, [score(c.SINS_TOTAL, 2)], Tier.LOW),
        (S.FEMUR_PROXIMAL, [score(c.MIRELS_TOTAL, 9)], Tier.HIGH),
        (S.FEMUR, [score(c.MIRELS_TOTAL, 8)], Tier.HIGH),
        (S.FEMUR, [score(c.MIRELS_TOTAL, 7)], Tier.LOW),
        (S.LOWER_LIMB, [score(c.MIRELS_TOTAL, 4)], Tier.LOW),
        (S.UPPER_LIMB, [score(c.MIRELS_TOTAL, 10)], Tier.HIGH),
        (S.HUMERUS_PROXIMAL, [score(c.MIRELS_TOTAL, 7)], Tier.LOW),
        (S.SPINE_THORACIC, [], Tier.MODERATE),
        (S.PELVIS, [], Tier.MODERATE),
        (S.FEMUR_PROXIMAL, [], Tier.MODERATE),
        (S.LOWER_LIMB, [], Tier.MODERATE),
        (S.UNKNOWN, [], Tier.MODERATE),
        (S.HUMERUS_PROXIMAL, [], Tier.LOW),
        (S.RIB, [], Tier.LOW),
        (S.SKULL, [], Tier.LOW),
        (S.STERNUM, [], Tier.LOW),
        (S.SCAPULA, [], Tier.LOW),
        (S.CLAVICLE, [], Tier.LOW),
    ],
)
def test_base_tier_rows(cls: SiteClass, extra: list[ObservationFact], tier: Tier) -> None:
    assert one_lesion(cls, *extra, kind("blastic")).tier is tier


@pytest.mark.parametrize("code", ["lytic", "mixed", None])
def test_unscored_non_weight_bearing_site_is_low_only_when_blastic(code: str | None) -> None:
    extra = [kind(code)] if code else []
    risk = one_lesion(S.RIB, *extra)
    assert risk.tier is Tier.MODERATE
    assert one_lesion(S.RIB, kind("blastic")).tier is Tier.LOW
    # What kept it from LOW is said: the type, and when it is unknown, that it is missing.
    assert (code or "lesion type unknown") in " ".join(risk.reasons)
    typed = [m for m in risk.missing if m.what.startswith("lesion type")]
    assert bool(typed) is (code is None)


@pytest.mark.parametrize("cls", [S.RIB, S.SKULL, S.STERNUM, S.SCAPULA, S.CLAVICLE, S.UPPER_LIMB])
def test_an_unknown_type_at_an_unscored_non_weight_bearing_site_is_named_missing(cls: SiteClass) -> None:
    # The unknown type is what makes such a lesion MODERATE; the card said only "no validated score for
    # this site" and named nothing missing.
    risk = one_lesion(cls)
    assert risk.tier is Tier.MODERATE
    assert any(m.what.startswith("lesion type") and "MODERATE" in m.consequence for m in risk.missing)


def test_pelvis_ignores_a_mirels_score_and_femur_ignores_a_sins() -> None:
    assert one_lesion(S.PELVIS, score(c.MIRELS_TOTAL, 4), kind("blastic")).tier is Tier.MODERATE
    risk = one_lesion(S.FEMUR, score(c.SINS_TOTAL, 2), kind("blastic"))
    assert risk.tier is Tier.MODERATE
    assert any(m.what.startswith("Mirels") for m in risk.missing)


def test_missing_sins_is_reported_and_never_lowers_a_spinal_lesion() -> None:
    risk = one_lesion(S.SPINE_LUMBAR, kind("blastic"))
    assert risk.tier is Tier.MODERATE
    assert any(m.what.startswith("SINS") and "MODERATE" in m.consequence for m in risk.missing)


def test_a_score_older_than_the_lookback_is_not_used() -> None:
    risk = one_lesion(S.SPINE_LUMBAR, score(c.SINS_TOTAL, 2, days_ago=120), kind("blastic"))
    assert risk.tier is Tier.MODERATE
    assert any("older result" in m.what for m in risk.missing)


def test_a_score_dated_to_the_year_only_is_read_cautiously_and_said_to_be_imprecise() -> None:
    # "SINS 2 in <some year>": read as 1 January of it, the earliest it could be, so it may be too old to
    # lower the tier; the card says the date was imprecise instead of calling the score simply "older".
    year_only = replace(score(c.SINS_TOTAL, 2, days_ago=120), date_precision="year")
    risk = one_lesion(S.SPINE_LUMBAR, year_only, kind("blastic"))
    assert risk.tier is Tier.MODERATE
    assert any("date imprecise" in m.what for m in risk.missing)
    assert not any("older result" in m.what for m in risk.missing)


# Upgrades: one tier each, capped at HIGH.
def test_lytic_or_unknown_type_upgrades_only_in_a_weight_bearing_bone() -> None:
    assert one_lesion(S.SPINE_LUMBAR, score(c.SINS_TOTAL, 3), kind("lytic")).tier is Tier.MODERATE
    assert one_lesion(S.SPINE_LUMBAR, score(c.SINS_TOTAL, 3)).tier is Tier.MODERATE
    assert one_lesion(S.SPINE_LUMBAR, score(c.SINS_TOTAL, 3), kind("mixed")).tier is Tier.LOW
    assert one_lesion(S.HUMERUS_PROXIMAL, score(c.MIRELS_TOTAL, 5), kind("lytic")).tier is Tier.LOW
    assert one_lesion(S.SPINE_CERVICAL, score(c.SINS_TOTAL, 3), kind("lytic")).tier is Tier.LOW


def test_mechanical_pain_or_severe_pain_upgrades_once() -> None:
    base = (score(c.MIRELS_TOTAL, 6), kind("blastic"))
    assert one_lesion(S.FEMUR, *base, obs(c.PAIN_MECHANICAL, flag=True, days_ago=1)).tier is Tier.MODERATE
    assert one_lesion(S.FEMUR, *base, obs(c.PAIN_SCORE, 7)).tier is Tier.MODERATE
    assert one_lesion(S.FEMUR, *base, obs(c.PAIN_SCORE, 6)).tier is Tier.LOW
    both = one_lesion(S.FEMUR, *base, obs(c.PAIN_SCORE, 6), obs(c.PAIN_MECHANICAL, flag=True, days_ago=1))
    assert both.tier is Tier.MODERATE  # mechanical pain and NRS are one upgrade, not two
    # Severe pain with mechanical pain is an escalation (R05): loading of the site is paused.
    severe = one_lesion(S.FEMUR, *base, obs(c.PAIN_SCORE, 9), obs(c.PAIN_MECHANICAL, flag=True, days_ago=1))
    assert severe.tier is Tier.HIGH
    assert any("R05" in reason for reason in severe.reasons)
    assert one_lesion(S.FEMUR, *base, obs(c.PAIN_MECHANICAL, flag=False, days_ago=1)).tier is Tier.LOW
    assert one_lesion(S.FEMUR, *base, obs(c.PAIN_MECHANICAL, flag=True, days_ago=10)).tier is Tier.LOW


def test_upgrades_add_up_and_stop_at_high() -> None:
    risk = one_lesion(
        S.FEMUR,
        score(c.MIRELS_TOTAL, 5),
        kind("lytic"),
        obs(c.PAIN_MECHANICAL, flag=True, days_ago=1),
        procedures=[procedure(c.RADIOTHERAPY, days_ago=10, where=site(S.FEMUR))],
    )
    assert risk.tier is Tier.HIGH
    assert len(risk.reasons) >= 4


def test_radiotherapy_within_the_lookback_upgrades_and_undated_counts_as_recent() -> None:
    base = (score(c.SINS_TOTAL, 3), kind("blastic"))
    where = site(S.SPINE_LUMBAR)
    recent = one_lesion(
        S.SPINE_LUMBAR, *base, procedures=[procedure(c.RADIOTHERAPY, days_ago=89, where=where)]
    )
    old = one_lesion(S.SPINE_LUMBAR, *base, procedures=[procedure(c.RADIOTHERAPY, days_ago=91, where=where)])
    planned = one_lesion(
        S.SPINE_LUMBAR,
        *base,
        procedures=[procedure(c.RADIOTHERAPY, days_ago=1, where=where, status="preparation")],
    )
    undated = one_lesion(
        S.SPINE_LUMBAR, *base, procedures=[procedure(c.RADIOTHERAPY, days_ago=None, where=where)]
    )
    elsewhere = one_lesion(
        S.SPINE_LUMBAR,
        *base,
        procedures=[procedure(c.RADIOTHERAPY, days_ago=5, where=site(S.HUMERUS_PROXIMAL))],
    )
    assert (recent.tier, old.tier, planned.tier, undated.tier, elsewhere.tier) == (
        Tier.MODERATE,
        Tier.LOW,
        Tier.LOW,
        Tier.MODERATE,
        Tier.LOW,
    )
    assert any("date of the radiotherapy" in m.what for m in undated.missing)


def test_no_bone_modifying_agent_is_a_weak_modifier_only_alone() -> None:
    assert one_lesion(S.FEMUR, score(c.MIRELS_TOTAL, 6), kind("blastic"), bma=False).tier is Tier.MODERATE
    # With another upgrade present the weak modifier does not add a second tier.
    assert one_lesion(S.FEMUR, score(c.MIRELS_TOTAL, 6), kind("lytic"), bma=False).tier is Tier.MODERATE
    # Non-weight-bearing sites are not affected.
    assert one_lesion(S.SKULL, kind("blastic"), bma=False).tier is Tier.LOW


# Surgical review settles borderline scores only.
def review_at(cls: SiteClass, days_ago: float | None) -> list[object]:
    return [procedure(c.SURGICAL_REVIEW, days_ago=days_ago, where=site(cls))]


def test_a_recorded_review_downgrades_borderline_scores_to_moderate() -> None:
    for cls, concept, value in ((S.SPINE_LUMBAR, c.SINS_TOTAL, 10), (S.FEMUR, c.MIRELS_TOTAL, 8)):
        risk = one_lesion(
            cls, score(concept, value, days_ago=20), kind("blastic"), procedures=review_at(cls, 10)
        )
        assert risk.tier is Tier.MODERATE, cls


def test_a_surgical_stabilisation_of_the_lesion_counts_as_its_review() -> None:
    # A stabilised lesion has been assessed by a surgeon: a borderline score taken before the operation
    # is settled as a recorded review settles it, never "without a recorded surgical review".
    for cls, concept, value in ((S.SPINE_LUMBAR, c.SINS_TOTAL, 10), (S.FEMUR, c.MIRELS_TOTAL, 8)):
        fixed = [procedure(c.SURGICAL_FIXATION, days_ago=10, where=site(cls))]
        risk = one_lesion(cls, score(concept, value, days_ago=20), kind("blastic"), procedures=fixed)
        assert risk.tier is Tier.MODERATE, cls
        assert not any("surgical review" in m.what for m in risk.missing), cls
    # Stabilisation elsewhere, one not done, or one before the score, settles nothing.
    for fixed in (
        [procedure(c.SURGICAL_FIXATION, days_ago=10, where=site(S.FEMUR))],
        [procedure(c.SURGICAL_FIXATION, days_ago=10, where=site(S.SPINE_LUMBAR), status="not-done")],
        [procedure(c.SURGICAL_FIXATION, days_ago=30, where=site(S.SPINE_LUMBAR))],
    ):
        risk = one_lesion(S.SPINE_LUMBAR, score(c.SINS_TOTAL, 10, 20), kind("blastic"), procedures=fixed)
        assert risk.tier is Tier.HIGH


def test_a_review_never_downgrades_an_unstable_or_fixation_score() -> None:
    assert (
        one_lesion(
            S.SPINE_LUMBAR,
            score(c.SINS_TOTAL, 13, 20),
            kind("blastic"),
            procedures=review_at(S.SPINE_LUMBAR, 10),
        ).tier
        is Tier.HIGH
    )
    assert (
        one_lesion(
            S.FEMUR, score(c.MIRELS_TOTAL, 9, 20), kind("blastic"), procedures=review_at(S.FEMUR, 10)
        ).tier
        is Tier.HIGH
    )


@pytest.mark.parametrize(
    ("review", "why"),
    [
        (review_at(S.SPINE_LUMBAR, 30), "older than the score"),
        (review_at(S.SPINE_LUMBAR, None), "undated"),
        (review_at(S.FEMUR, 5), "another bone"),
        (
            [procedure(c.SURGICAL_REVIEW, days_ago=5, where=site(S.SPINE_LUMBAR), status="in-progress")],
            "not done",
        ),
    ],
)
def test_a_review_that_may_not_cover_the_score_does_not_downgrade(review: list[object], why: str) -> None:
    risk = one_lesion(S.SPINE_LUMBAR, score(c.SINS_TOTAL, 9, 20), kind("blastic"), procedures=review)
    assert risk.tier is Tier.HIGH, why


# Fractures.
def test_a_pathological_fracture_at_the_lesion_makes_it_high_at_any_time() -> None:
    fx = replace(
        condition(c.PATHOLOGICAL_FRACTURE, status="resolved", onset_days_ago=800), site=site(S.FEMUR)
    )
    risk = one_lesion(S.FEMUR, score(c.MIRELS_TOTAL, 5), kind("blastic"), conditions=[fx])
    assert risk.tier is Tier.HIGH


def test_a_fracture_elsewhere_does_not_raise_the_lesion() -> None:
    fx = replace(condition(c.PATHOLOGICAL_FRACTURE, onset_days_ago=10), site=site(S.HUMERUS_PROXIMAL))
    risk = one_lesion(S.FEMUR, score(c.MIRELS_TOTAL, 5), kind("blastic"), conditions=[fx])
    assert risk.tier is Tier.LOW


# Attribution between lesions.
def two_thoracic(*extra: ObservationFact, **kw: object) -> ExercisePlan:
    lesions = [
        lesion(S.SPINE_THORACIC, ref="Condition/a", text="T4"),
        lesion(S.SPINE_THORACIC, ref="Condition/b", text="T10"),
    ]
    facts = patient(
        lesions=lesions, observations=normal(*extra), medications=[med(c.BONE_MODIFYING_AGENT)], **kw
    )  # type: ignore[arg-type]
    return plan_of(facts)[0]


def test_a_shared_lesion_type_is_treated_as_unknown() -> None:
    plan = two_thoracic(
        obs(c.SINS_TOTAL, 2, days_ago=3, where=site(S.SPINE_THORACIC)),
        obs(c.LESION_TYPE, code="blastic", days_ago=9),
    )
    # Unscored-or-shared SINS gives MODERATE; a blastic type that may belong to the other lesion does not
    # spare the weight-bearing upgrade.
    assert [r.tier for r in plan.lesions] == [Tier.HIGH, Tier.HIGH]


def test_a_low_score_that_fits_two_lesions_reassures_neither() -> None:
    shared = obs(c.SINS_TOTAL, 2, days_ago=3, where=site(S.SPINE_THORACIC))
    types = [
        replace(obs(c.LESION_TYPE, code="blastic", days_ago=9), focus=(ref,))
        for ref in ("Condition/a", "Condition/b")
    ]
    plan = two_thoracic(shared, *types)
    assert [r.tier for r in plan.lesions] == [Tier.MODERATE, Tier.MODERATE]
    assert all(any("which lesion" in m.what for m in r.missing) for r in plan.lesions)


def test_a_high_score_that_fits_two_lesions_raises_both() -> None:
    plan = two_thoracic(obs(c.SINS_TOTAL, 15, days_ago=3, where=site(S.SPINE_THORACIC)))
    assert [r.tier for r in plan.lesions] == [Tier.HIGH, Tier.HIGH]


def test_focus_attributes_a_score_to_one_lesion() -> None:
    low = replace(obs(c.SINS_TOTAL, 2, days_ago=3), focus=("Condition/a",))
    blastic = replace(obs(c.LESION_TYPE, code="blastic", days_ago=9), focus=("Condition/a",))
    plan = two_thoracic(low, blastic)
    assert [r.tier for r in plan.lesions] == [Tier.LOW, Tier.HIGH]  # T10: no SINS, type unknown


def test_laterality_keeps_a_score_on_its_own_side() -> None:
    left = BodySite(S.FEMUR, laterality=Laterality.LEFT)
    right = BodySite(S.FEMUR, laterality=Laterality.RIGHT)
    facts = patient(
        lesions=[
            replace(lesion(ref="Condition/l"), site=left),
            replace(lesion(ref="Condition/r"), site=right),
        ],
        observations=normal(obs(c.MIRELS_TOTAL, 10, where=right), obs(c.LESION_TYPE, code="blastic")),
        medications=[med(c.BONE_MODIFYING_AGENT)],
    )
    plan, _ = plan_of(facts)
    assert [r.tier for r in plan.lesions] == [
        Tier.HIGH,
        Tier.HIGH,
    ]  # left: unscored + type shared; right: Mirels
    assert [r.reasons[0] for r in plan.lesions] == ["no recent Mirels", "Mirels 10"]


# STEP 3: person modifiers set a patient minimum; STEP 4: patient tier.
def low_patient(*extra_obs: ObservationFact, ecog: float = 0, **kw: object) -> ExercisePlan:
    facts = patient(
        lesions=[lesion(S.SKULL, ref="Condition/m1")],
        observations=[*normal(ecog=ecog), obs(c.LESION_TYPE, code="blastic", days_ago=9), *extra_obs],
        **kw,  # type: ignore[arg-type]
    )
    return plan_of(facts)[0]


def test_a_fit_patient_with_a_low_lesion_is_low() -> None:
    plan = low_patient()
    assert plan.tier is Tier.LOW
    assert plan.person_factors == ()


@pytest.mark.parametrize(
    ("kw", "factor"),
    [
        ({"ecog": 2}, "ECOG 2"),
        ({"conditions": [condition(c.FALLS_HISTORY, status="resolved")]}, "falls history"),
        ({"conditions": [condition(c.FALL_RISK)]}, "at risk of falls"),
        ({"conditions": [condition(c.PERIPHERAL_NEUROPATHY)]}, "peripheral neuropathy"),
        ({"conditions": [condition(c.OSTEOPOROSIS)]}, "osteoporosis"),
        ({"age": 75}, "age 75"),
        ({"age": None}, "age unknown"),
        ({"medications": [med(c.GABAPENTINOID)]}, "sedating or fall-risk medicine"),
        ({"medications": [med(c.SNRI_TCA)]}, "sedating or fall-risk medicine"),
        ({"medications": [med(c.BENZODIAZEPINE)]}, "sedating or fall-risk medicine"),
        ({"medications": [med(c.OPIOID)]}, "sedating or fall-risk medicine"),
        ({"unavailable": ["MedicationRequest"]}, "medications could not be read"),
        ({"unavailable": ["medication-statements"]}, "medications could not be read"),
        ({"unavailable": ["procedures"]}, "procedures could not be read"),
    ],
)
def test_person_modifiers_raise_the_patient_to_moderate(kw: dict[str, object], factor: str) -> None:
    plan = low_patient(**kw)
    assert plan.tier is Tier.MODERATE
    assert factor in plan.person_factors
    assert plan.lesions[0].tier is Tier.LOW  # person factors never change the lesion's own tier


def test_morse_and_kps_cut_offs() -> None:
    assert low_patient(obs(c.MORSE_FALL_SCALE, 45, days_ago=2)).tier is Tier.MODERATE
    assert low_patient(obs(c.MORSE_FALL_SCALE, 40, days_ago=2)).tier is Tier.LOW
    assert low_patient(obs(c.KPS, 60, days_ago=2)).tier is Tier.MODERATE
    assert low_patient(obs(c.KPS, 70, days_ago=2)).tier is Tier.LOW
    assert low_patient(obs(c.KPS, 40, days_ago=2)).tier is Tier.ADL_ONLY
    assert low_patient(ecog=3).tier is Tier.ADL_ONLY
    assert low_patient(ecog=4).tier is Tier.ADL_ONLY


def test_no_recent_performance_status_is_not_assumed_fit() -> None:
    facts = patient(
        lesions=[lesion(S.SKULL)],
        observations=[o for o in normal() if o.concept != c.ECOG] + [obs(c.ECOG, 0, days_ago=120)],
    )
    plan, findings = plan_of(facts)
    assert plan.tier is Tier.MODERATE
    assert "performance status unknown" in plan.person_factors
    ex03 = next(f for f in findings if f.rule_id == "EX03")
    assert any("ECOG" in r for r in ex03.recommendations)


def test_an_older_cord_compression_keeps_the_patient_high() -> None:
    plan = low_patient(conditions=[condition(c.CORD_COMPRESSION, onset_days_ago=60)])
    assert plan.tier is Tier.HIGH
    assert "spinal cord compression on record" in plan.person_factors


def test_patient_tier_is_the_highest_lesion_tier() -> None:
    facts = patient(
        lesions=[lesion(S.SKULL, ref="Condition/a"), lesion(S.PELVIS, ref="Condition/b")],
        observations=[
            *normal(),
            *(
                replace(obs(c.LESION_TYPE, code="blastic"), focus=(ref,))
                for ref in ("Condition/a", "Condition/b")
            ),
        ],
        medications=[med(c.BONE_MODIFYING_AGENT)],
    )
    plan, _ = plan_of(facts)
    assert [r.tier for r in plan.lesions] == [Tier.LOW, Tier.MODERATE]
    assert plan.tier is Tier.MODERATE


def test_a_sins_received_but_unreadable_is_not_reported_as_absent() -> None:
    spine = lesion(SiteClass.SPINE_THORACIC, ref="Condition/t9")
    unread = UnreadableValue(
        ref="Observation/sins-1",
        concept=c.SINS_TOTAL,
        effective=None,
        value_text="fourteen",
        unit_text=None,
        reason="text, not a number",
    )
    plan, _ = assess_exercise(replace(patient(lesions=[spine]), unreadable=(unread,)), TODAY, TH)
    assert plan is not None
    [risk] = plan.lesions
    assert "SINS received but not readable" in risk.reasons
    assert "no recent SINS" not in risk.reasons
    assert risk.tier.rank >= Tier.MODERATE.rank  # never less cautious than with no score at all
    assert any("received but could not be read" in m.what for m in risk.missing)

    [without] = assess_exercise(patient(lesions=[spine]), TODAY, TH)[0].lesions  # type: ignore[union-attr]
    assert "no recent SINS" in without.reasons
    assert without.tier == risk.tier
