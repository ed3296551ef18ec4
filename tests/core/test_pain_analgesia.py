"""Pain assessment, analgesic ladder, review, radiotherapy and adjuvant rules: P01-P06, P11, P25."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from builders import condition, dose, lesion, med, obs, patient, procedure, site
from pain_support import (
    acetaminophen,
    crcl_labs,
    fired,
    ibuprofen,
    oxycodone,
    pain,
    plan,
    refs,
    run,
)

from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.facts import BodySite, BoneLesion, Laterality, ProcedureFact, SiteClass
from fhir_bonemet.core.model.findings import ExercisePlan, Finding, Indicator, Referral, Tier

# --- P01 --------------------------------------------------------------------------------------------


def test_p01_fires_without_a_recent_pain_score() -> None:
    met = lesion()
    found = run(patient(lesions=[met], observations=[pain(4, days_ago=9)]))["P01"]
    assert found.indicator is Indicator.INFO
    assert met.ref in refs(found)
    assert found.missing
    assert "pain score" in found.missing[0].what
    assert "lookback.pain_score_days" in found.defaults_used


def test_p01_silent_with_a_score_in_the_last_week() -> None:
    assert "P01" not in fired(patient(observations=[pain(0, days_ago=6)]))


def test_p01_says_when_observations_could_not_be_read() -> None:
    found = run(patient(unavailable=["observations"]))["P01"]
    assert any("could not be read" in m.what for m in found.missing)


# --- P02 --------------------------------------------------------------------------------------------


def test_p02_mild_pain_without_regular_analgesic() -> None:
    score = pain(2)
    found = run(patient(observations=[score]))["P02"]
    assert score.ref in refs(found)
    # renal function and platelets unknown: the card says to check them before an NSAID
    text = " ".join(found.recommendations)
    assert "Renal function unknown" in text
    assert "platelet" in text
    assert {m.what.split(":")[0] for m in found.missing} >= {"renal function", "platelet count"}


def test_p02_prn_only_analgesic_is_not_regular() -> None:
    prn = med(
        c.ACETAMINOPHEN, ingredients=["acetaminophen"], doses=[dose(1000, "mg", max_per_day=3000, prn=True)]
    )
    assert "P02" in fired(patient(observations=[pain(3)], medications=[prn]))


def test_p02_silent_with_regular_paracetamol_or_moderate_pain() -> None:
    assert "P02" not in fired(patient(observations=[pain(3)], medications=[acetaminophen()]))
    assert "P02" not in fired(patient(observations=[pain(4)]))
    assert "P02" not in fired(patient(observations=[pain(0)]))


def test_p02_warns_against_nsaid_with_low_clearance_and_anticoagulant() -> None:
    facts = patient(
        observations=[pain(2), *crcl_labs(25)], medications=[med(c.ANTICOAGULANT, ingredients=["apixaban"])]
    )
    text = " ".join(run(facts)["P02"].recommendations)
    assert "Avoid NSAIDs: CrCl 25 mL/min" in text
    assert "anticoagulant" in text


# --- P03 --------------------------------------------------------------------------------------------


def test_p03_moderate_pain_without_opioid() -> None:
    found = run(patient(observations=[pain(5), *crcl_labs(80)], medications=[acetaminophen()]))["P03"]
    assert found.indicator is Indicator.WARNING
    assert "weak opioid" in found.recommendations[0]


def test_p03_silent_on_an_opioid_and_for_severe_pain() -> None:
    tramadol = med(c.OPIOID, c.TRAMADOL, ingredients=["tramadol"])
    assert "P03" not in fired(patient(observations=[pain(5)], medications=[tramadol]))
    assert "P03" not in fired(patient(observations=[pain(7)]))


def test_p03_mentions_renal_and_serotonergic_cautions() -> None:
    ssri = med(c.SSRI, ingredients=["sertraline"])
    found = run(patient(observations=[pain(6), *crcl_labs(25)], medications=[ssri]))["P03"]
    text = " ".join(found.recommendations)
    assert "avoid morphine and codeine" in text
    assert "tramadol" in text.lower()
    assert "P24" in text


# --- P04 --------------------------------------------------------------------------------------------


def test_p04_severe_pain_without_strong_opioid_starts_one() -> None:
    found = run(patient(observations=[pain(8)]))["P04"]
    assert found.indicator is Indicator.WARNING
    assert found.summary.endswith("start a titrated strong opioid")
    assert {"pain.severe_reassess_min_hours", "pain.severe_reassess_max_hours"} <= set(found.defaults_used)


def test_p04_on_strong_opioid_titrates_and_reports_mme() -> None:
    found = run(patient(observations=[pain(7)], medications=[oxycodone()]))["P04"]
    assert "titrate" in found.summary
    mme = next(u.value for u in found.used if u.label == "Daily oral morphine equivalents")
    assert mme == "30 MME/day; a risk estimate, not for dose conversion or opioid rotation"
    assert "methadone" not in mme


def test_p04_silent_at_6() -> None:
    assert "P04" not in fired(patient(observations=[pain(6)]))


# --- P05 --------------------------------------------------------------------------------------------


def test_p05_persistent_pain_on_strong_opioid() -> None:
    first, second = pain(6, days_ago=3), pain(5)
    found = run(patient(observations=[first, second], medications=[oxycodone(start_days_ago=20)]))["P05"]
    assert {first.ref, second.ref} <= refs(found)
    assert set(found.referrals) == {
        Referral.PALLIATIVE_CARE,
        Referral.PAIN_SPECIALIST,
        Referral.RADIATION_ONCOLOGY,
    }


def test_p05_silent_when_scores_less_than_48_h_apart() -> None:
    facts = patient(observations=[pain(6, days_ago=1.5), pain(5)], medications=[oxycodone(start_days_ago=20)])
    assert "P05" not in fired(facts)


def test_p05_silent_when_a_lower_score_interrupts() -> None:
    facts = patient(
        observations=[pain(6, days_ago=3), pain(2, days_ago=1.5), pain(5)],
        medications=[oxycodone(start_days_ago=20)],
    )
    assert "P05" not in fired(facts)


def test_p05_silent_when_opioid_started_after_the_first_score_or_is_weak() -> None:
    scores = [pain(6, days_ago=3), pain(5)]
    assert "P05" not in fired(patient(observations=scores, medications=[oxycodone(start_days_ago=1)]))
    tramadol = med(c.OPIOID, c.TRAMADOL, ingredients=["tramadol"], start_days_ago=20)
    assert "P05" not in fired(patient(observations=scores, medications=[tramadol]))


def test_p05_suggests_an_adjuvant_for_a_neuropathic_component() -> None:
    facts = patient(
        observations=[pain(6, days_ago=3), pain(6)],
        medications=[oxycodone(start_days_ago=20)],
        conditions=[condition(c.NEUROPATHIC_PAIN)],
    )
    assert any("P11" in r for r in run(facts)["P05"].recommendations)


# --- P06 --------------------------------------------------------------------------------------------


def test_p06_focal_bone_pain_refers_to_radiation_oncology() -> None:
    femur = lesion(SiteClass.FEMUR, text="left femur")
    score = pain(5, where=site(SiteClass.FEMUR_PROXIMAL))
    found = run(patient(lesions=[femur], observations=[score]))["P06"]
    assert found.referrals == (Referral.RADIATION_ONCOLOGY,)
    assert "left femur" in found.summary
    assert {femur.ref, score.ref} <= refs(found)


def test_p06_silent_after_recent_radiotherapy_to_that_site() -> None:
    femur = lesion(SiteClass.FEMUR)
    rt = procedure(c.RADIOTHERAPY, days_ago=10, where=site(SiteClass.FEMUR))
    assert "P06" not in fired(patient(lesions=[femur], observations=[pain(5)], procedures=[rt]))


def test_p06_fires_when_radiotherapy_is_older_than_the_window() -> None:
    femur = lesion(SiteClass.FEMUR)
    rt = procedure(c.RADIOTHERAPY, days_ago=45, where=site(SiteClass.FEMUR))
    assert "P06" in fired(patient(lesions=[femur], observations=[pain(5)], procedures=[rt]))


def test_p06_silent_for_pain_away_from_any_lesion_or_below_moderate() -> None:
    femur = lesion(SiteClass.FEMUR)
    assert "P06" not in fired(
        patient(lesions=[femur], observations=[pain(6, where=site(SiteClass.HUMERUS_PROXIMAL))])
    )
    assert "P06" not in fired(patient(lesions=[femur], observations=[pain(3)]))


def test_p06_spinal_lesion_asks_for_sins_and_unsited_radiotherapy_is_not_assumed() -> None:
    spine = lesion(SiteClass.SPINE_THORACIC, text="T9")
    rt = procedure(c.RADIOTHERAPY, days_ago=5, where=None)
    found = run(patient(lesions=[spine], observations=[pain(6)], procedures=[rt]))["P06"]
    assert any("SINS" in r for r in found.recommendations)
    assert any("site of recent radiotherapy" in m.what for m in found.missing)


def test_p06_radiotherapy_to_a_femur_without_a_side_covers_neither_of_two_femurs() -> None:
    left = BoneLesion("Condition/met-1", BodySite(SiteClass.FEMUR, "left femur", Laterality.LEFT))
    right = BoneLesion("Condition/met-1", BodySite(SiteClass.FEMUR, "right femur", Laterality.RIGHT), index=1)
    rt = procedure(c.RADIOTHERAPY, days_ago=10, where=site(SiteClass.FEMUR, "femur"))
    score = pain(6, where=BodySite(SiteClass.FEMUR, "left femur", Laterality.LEFT))
    found = run(patient(lesions=[left, right], observations=[score], procedures=[rt]))["P06"]
    assert "left femur" in found.summary
    assert "right femur" not in found.summary  # the pain is on the left
    assert any("which lesion the radiotherapy to femur treated" in m.what for m in found.missing)


def test_p06_radiotherapy_to_the_other_side_is_shown_as_another_site() -> None:
    left = BoneLesion("Condition/met-1", BodySite(SiteClass.FEMUR, "left femur", Laterality.LEFT))
    right = BoneLesion("Condition/met-1", BodySite(SiteClass.FEMUR, "right femur", Laterality.RIGHT), index=1)
    rt = procedure(
        c.RADIOTHERAPY, days_ago=10, where=BodySite(SiteClass.FEMUR, "right femur", Laterality.RIGHT)
    )
    score = pain(6, where=BodySite(SiteClass.FEMUR, "left femur", Laterality.LEFT))
    found = run(patient(lesions=[left, right], observations=[score], procedures=[rt]))["P06"]
    assert any(u.ref == rt.ref and "another site" in u.label for u in found.used)
    assert not found.missing


# --- P06: post-operative radiotherapy after a fixation (S14 [III,B]) ---------------------------------

T9 = BodySite(SiteClass.SPINE_THORACIC, "T9", levels=("T9",))


def fixed_t9(fix_days_ago: float | None, *procedures: ProcedureFact, **kw: object) -> dict[str, Finding]:
    """A T9 lesion with a completed surgical fixation (``Procedure/fix``) and no pain score."""
    met = BoneLesion("Condition/t9", T9)
    fix = procedure(c.SURGICAL_FIXATION, days_ago=fix_days_ago, where=T9, ref="Procedure/fix")
    return run(patient(lesions=[met], procedures=[fix, *procedures], **kw))  # type: ignore[arg-type]


def test_p06_a_lesion_fixed_30_days_ago_without_radiotherapy_since_is_referred_for_postoperative_rt() -> None:
    # R04 no longer speaks for a fixed lesion: this referral is where post-operative radiotherapy is asked.
    found = fixed_t9(30)["P06"]
    assert found.indicator is Indicator.INFO
    assert found.referrals == (Referral.RADIATION_ONCOLOGY,)
    assert found.summary == (
        "T9 lesion fixed 2025-05-02, no radiotherapy since: consider post-operative radiotherapy referral"
    )
    assert any("post-operative radiotherapy" in r for r in found.recommendations)
    assert {"Condition/t9", "Procedure/fix"} <= refs(found)
    assert found.evidence == ("S14",)  # the post-operative advice alone rests on S14
    assert "lookback.postop_rt_days" in found.defaults_used
    assert "90 d (service default)" in found.rationale
    assert not found.missing


@pytest.mark.parametrize(
    ("rt_days_ago", "status"),
    [(10, "completed"), (30, "completed"), (None, "in-progress"), (None, "preparation")],
)
def test_p06_radiotherapy_to_the_lesion_on_or_after_the_fixation_asks_for_nothing(
    rt_days_ago: float | None, status: str
) -> None:
    rt = procedure(c.RADIOTHERAPY, days_ago=rt_days_ago, where=T9, status=status)
    assert "P06" not in fixed_t9(30, rt)


def test_p06_radiotherapy_before_the_fixation_or_elsewhere_is_not_postoperative() -> None:
    before = procedure(c.RADIOTHERAPY, days_ago=40, where=T9, ref="Procedure/rt-before")
    assert "P06" in fixed_t9(30, before)
    not_done = procedure(c.RADIOTHERAPY, days_ago=10, where=T9, status="not-done")
    assert "P06" in fixed_t9(30, not_done)
    t4 = procedure(
        c.RADIOTHERAPY, days_ago=10, where=BodySite(SiteClass.SPINE_THORACIC, "T4", levels=("T4",))
    )
    assert "P06" in fixed_t9(30, t4)


def test_p06_radiotherapy_dated_to_the_month_of_the_fixation_keeps_the_suggestion() -> None:
    # A course recorded as "May 2025" is read as 31 May, but it may have been given on 1 May, before the
    # fixation of 2 May: not taken for its post-operative radiotherapy, and the card says why.
    month = replace(
        procedure(c.RADIOTHERAPY, days_ago=1, where=T9, ref="Procedure/rt-may"),
        performed_from=date(2025, 5, 1),
    )
    found = fixed_t9(30, month)["P06"]
    assert "Procedure/rt-may" in refs(found)
    assert [m.what for m in found.missing] == [
        "whether the radiotherapy to the T9 lesion (2025-05-31) followed the fixation"
    ]
    # From the day of the operation on, the month's course certainly followed it.
    assert "P06" not in fixed_t9(30, replace(month, performed_from=date(2025, 5, 2)))


def test_p06_a_fixation_dated_to_the_current_month_is_within_the_window() -> None:
    # "June 2025" on 1 June 2025 is read at its latest day, 30 June, still to come: no window counted it,
    # and a lesion fixed this month (R04 silent for it) lost its post-operative radiotherapy suggestion.
    met = BoneLesion("Condition/t9", T9)
    fix = replace(
        procedure(c.SURGICAL_FIXATION, days_ago=-29, where=T9, ref="Procedure/fix"),
        performed_from=date(2025, 6, 1),
    )
    assert fix.performed == date(2025, 6, 30)
    found = run(patient(lesions=[met], procedures=[fix]))["P06"]
    assert found.summary.startswith("T9 lesion fixed 2025-06, no radiotherapy since")


def test_p06_a_fixation_older_than_the_window_asks_for_nothing() -> None:
    assert "P06" not in fixed_t9(120)
    assert "P06" in fixed_t9(89)


def test_p06_an_undated_fixation_is_suggested_and_says_its_date_is_missing() -> None:
    found = fixed_t9(None)["P06"]
    assert "T9 lesion fixed on an unrecorded date" in found.summary
    (gap,) = found.missing
    assert gap.what == "date of the surgical fixation of the T9 lesion"
    assert "suggested" in gap.consequence


def test_p06_radiotherapy_that_may_be_of_another_site_or_undated_keeps_the_suggestion() -> None:
    unsited = procedure(c.RADIOTHERAPY, days_ago=10, where=None, ref="Procedure/rt-unsited")
    found = fixed_t9(30, unsited)["P06"]
    assert "Procedure/rt-unsited" in refs(found)
    assert [m.what for m in found.missing] == [
        "whether the radiotherapy (site not recorded, 2025-05-22) treated the T9 lesion"
    ]
    undated = procedure(c.RADIOTHERAPY, days_ago=None, where=T9, ref="Procedure/rt-undated")
    found = fixed_t9(30, undated)["P06"]
    assert [m.what for m in found.missing] == ["date of the radiotherapy to the T9 lesion"]


def test_p06_only_a_completed_fixation_of_the_lesion_counts() -> None:
    met = BoneLesion("Condition/t9", T9)
    for fix in (
        procedure(c.SURGICAL_FIXATION, days_ago=30, where=T9, status="in-progress"),
        procedure(c.SURGICAL_FIXATION, days_ago=30, where=site(SiteClass.FEMUR)),  # another bone
        procedure(c.SURGICAL_FIXATION, days_ago=30),  # names no site and no lesion
    ):
        assert "P06" not in fired(patient(lesions=[met], procedures=[fix])), fix


def test_p06_focal_pain_and_a_recent_fixation_make_one_finding_with_one_referral() -> None:
    found = fixed_t9(30, observations=[pain(6, where=T9)])["P06"]
    assert found.summary.startswith("Focal bone pain (NRS 6): consider radiotherapy referral")
    assert found.referrals == (Referral.RADIATION_ONCOLOGY,)
    assert any(
        "post-operative radiotherapy to the fixed site (T9 lesion fixed 2025-05-02" in r
        for r in found.recommendations
    )
    assert "Procedure/fix" in refs(found)
    assert set(found.evidence) == {"S15a", "S15b", "S14"}


def test_p06_focal_pain_alone_does_not_cite_the_postoperative_window() -> None:
    found = run(patient(lesions=[lesion(SiteClass.FEMUR)], observations=[pain(5)]))["P06"]
    assert "lookback.postop_rt_days" not in found.defaults_used
    assert "fixed" not in found.rationale


# --- P11 --------------------------------------------------------------------------------------------


def test_p11_neuropathic_component_without_adjuvant() -> None:
    cond = condition(c.NEUROPATHIC_PAIN, display="Neuropathic pain")
    found = run(patient(observations=[pain(5), *crcl_labs(45)], conditions=[cond]))["P11"]
    assert found.unverified
    assert found.summary.startswith("Mixed pain")
    assert cond.ref in refs(found)
    assert any("CrCl 45" in r for r in found.recommendations)


def test_p11_silent_with_gabapentinoid_or_mild_pain_or_no_neuropathic_feature() -> None:
    cond = condition(c.PERIPHERAL_NEUROPATHY)
    gaba = med(c.GABAPENTINOID, ingredients=["gabapentin"])
    assert "P11" not in fired(patient(observations=[pain(6)], conditions=[cond], medications=[gaba]))
    assert "P11" not in fired(patient(observations=[pain(3)], conditions=[cond]))
    assert "P11" not in fired(patient(observations=[pain(6)]))


def test_p11_radicular_pain_observation_counts() -> None:
    facts = patient(observations=[pain(6), obs(c.RF_RADICULAR_PAIN, flag=True, days_ago=1)])
    assert "P11" in fired(facts)


# --- P25 --------------------------------------------------------------------------------------------


def test_p25_pain_concern_with_exercise_programme() -> None:
    found = run(patient(observations=[pain(8)]), exercise=plan())["P25"]
    assert "P04" in found.rationale
    assert found.indicator is Indicator.INFO


@pytest.mark.parametrize("exercise", [None, plan(Tier.HOLD)])
def test_p25_silent_without_an_active_exercise_programme(exercise: ExercisePlan | None) -> None:
    assert "P25" not in fired(patient(observations=[pain(8)]), exercise=exercise)


def test_p25_silent_when_no_pain_rule_fired() -> None:
    assert fired(patient(observations=[pain(0)], medications=[]), exercise=plan()) <= {"P07"}


def test_nsaid_with_mild_pain_patient_gets_no_p02_but_nsaid_checks() -> None:
    facts = patient(observations=[pain(2), *crcl_labs(80)], medications=[ibuprofen()])
    result = fired(facts)
    assert "P02" not in result
    assert "P18" in result  # no platelet count on an NSAID
