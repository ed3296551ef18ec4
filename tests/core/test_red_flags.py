"""Red flags R01, R02, R04, R05 and R08 (docs/clinical-model.md) and their effect on exercise."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

import pytest
from builders import TODAY, condition, dose, lesion, med, obs, order, patient, procedure, site

from fhir_bonemet.core.engine import assess
from fhir_bonemet.core.evidence.lesions import Attributed, FixationOrder, LesionEvidence, fixation_order
from fhir_bonemet.core.exercise.assess import assess_exercise
from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.facts import ConditionFact, MedicationFact, PatientFacts, SiteClass
from fhir_bonemet.core.model.findings import Finding, Indicator, Referral, Tier
from fhir_bonemet.core.red_flags.spinal import assess_red_flags
from fhir_bonemet.knowledge import load_thresholds

TH = load_thresholds()
S = SiteClass


def flags(facts: PatientFacts) -> dict[str, list[Finding]]:
    out: dict[str, list[Finding]] = {}
    for finding in assess_red_flags(facts, TODAY, TH):
        out.setdefault(finding.rule_id, []).append(finding)
    return out


def spine(*observations: object, conditions: tuple[ConditionFact, ...] = (), **kw: object) -> PatientFacts:
    return patient(
        lesions=[lesion(S.SPINE_THORACIC, ref="Condition/m", text="T9")],
        observations=list(observations),  # type: ignore[arg-type]
        conditions=conditions,
        **kw,  # type: ignore[arg-type]
    )


def at(cond: ConditionFact, cls: SiteClass) -> ConditionFact:
    return replace(cond, site=site(cls))


# R01 suspected MSCC.
@pytest.mark.parametrize("symptom", c.MSCC_NEURO_SYMPTOMS)
def test_any_neurological_symptom_is_critical(symptom: str) -> None:
    found = flags(spine(obs(symptom, flag=True, days_ago=1)))
    (r01,) = found["R01"]
    assert r01.indicator is Indicator.CRITICAL
    assert r01.referrals == (Referral.MSCC_PATHWAY, Referral.ACUTE_ONCOLOGY)
    assert r01.used[0].ref is not None
    assert any("dexamethasone 16 mg" in r for r in r01.recommendations)
    assert r01.unverified  # MRI timing awaits review
    assert "R02" not in found


def _dexamethasone(*, draft: bool = False) -> MedicationFact:
    return med(
        c.CORTICOSTEROID, ingredients=["dexamethasone"], doses=[dose(16, "mg")], draft=draft, selected=draft
    )


def _r01(hook: str, *meds: MedicationFact) -> Finding:
    facts = spine(obs(c.RF_LIMB_WEAKNESS, flag=True, days_ago=1), medications=list(meds))
    (r01,) = [f for f in assess(facts, TODAY, TH, hook=hook).findings if f.rule_id == "R01"]
    return r01


@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_r01_acknowledges_a_dexamethasone_draft_instead_of_suggesting_it(hook: str) -> None:
    r01 = _r01(hook, _dexamethasone(draft=True))
    assert (
        "Dexamethasone is ordered: if neurological symptoms or signs, confirm 16 mg oral (or equivalent) is "
        "given as soon as possible." in r01.recommendations
    )
    assert not any("consider dexamethasone" in r for r in r01.recommendations)


def test_r01_acknowledges_active_dexamethasone_and_another_systemic_corticosteroid() -> None:
    r01 = _r01("patient-view", _dexamethasone())
    assert (
        "Dexamethasone is active: if neurological symptoms or signs, confirm 16 mg oral (or equivalent) is "
        "given as soon as possible." in r01.recommendations
    )
    prednisolone = med(c.CORTICOSTEROID, ingredients=["prednisolone"], doses=[dose(50, "mg")])
    r01 = _r01("patient-view", prednisolone)
    assert (
        "Prednisolone is active: if neurological symptoms or signs, confirm the equivalent of dexamethasone "
        "16 mg is given as soon as possible." in r01.recommendations
    )


def test_r01_still_suggests_dexamethasone_beside_an_inhaled_corticosteroid() -> None:
    inhaler = med(c.CORTICOSTEROID, ingredients=["budesonide"], doses=[dose(0.2, "mg", route="inhalation")])
    r01 = _r01("patient-view", inhaler)
    assert (
        "If neurological symptoms or signs: consider dexamethasone 16 mg oral (or equivalent) as soon as "
        "possible, unless contraindicated." in r01.recommendations
    )


def test_a_later_no_clears_a_symptom_and_old_answers_are_ignored() -> None:
    assert "R01" not in flags(
        spine(obs(c.RF_LIMB_WEAKNESS, flag=True, days_ago=3), obs(c.RF_LIMB_WEAKNESS, flag=False, days_ago=1))
    )
    assert "R01" not in flags(spine(obs(c.RF_LIMB_WEAKNESS, flag=True, days_ago=20)))
    assert "R01" not in flags(spine(obs(c.RF_LIMB_WEAKNESS, flag=False, days_ago=1)))


@pytest.mark.parametrize(
    ("onset", "status", "fires"),
    [
        (3, "active", True),
        (14, "active", True),
        (30, "active", False),
        (3, "resolved", False),
        (None, "active", True),
    ],
)
def test_cord_compression_condition(onset: float | None, status: str, fires: bool) -> None:
    found = flags(spine(conditions=(condition(c.CORD_COMPRESSION, onset_days_ago=onset, status=status),)))
    assert ("R01" in found) is fires
    if fires and onset is None:
        assert found["R01"][0].missing[0].consequence == "treated as new"


def test_spinal_symptoms_with_neurological_ones_are_one_r01() -> None:
    found = flags(spine(obs(c.RF_SENSORY_LOSS, flag=True), obs(c.RF_SPINAL_TENDERNESS, flag=True)))
    assert list(found) == ["R01"]
    assert found["R01"][0].related_rules == ("R02",)
    assert len(found["R01"][0].used) == 2


# R02 suspected spinal metastasis.
@pytest.mark.parametrize("symptom", c.SPINAL_MET_SYMPTOMS)
def test_spinal_symptoms_alone_are_a_warning(symptom: str) -> None:
    (r02,) = flags(spine(obs(symptom, flag=True)))["R02"]
    assert r02.indicator is Indicator.WARNING
    assert r02.referrals == (Referral.MSCC_PATHWAY,)
    assert "24 h" in r02.summary
    assert "7 days" in r02.summary


def test_r01_holds_exercise_and_r02_restricts_the_spine() -> None:
    plan, _ = assess_exercise(spine(obs(c.RF_BLADDER_BOWEL, flag=True)), TODAY, TH)
    assert plan is not None
    assert plan.tier is Tier.HOLD
    assert plan.on_hold_reason is not None
    assert "R01" in plan.on_hold_reason
    femur = patient(lesions=[lesion(S.FEMUR)], observations=[obs(c.RF_NOCTURNAL_SPINAL_PAIN, flag=True)])
    plan, _ = assess_exercise(femur, TODAY, TH)
    assert plan is not None
    assert plan.tier is Tier.HIGH
    trunk = next(d for d in plan.domains if d.domain == "ex-resist-trunk")
    assert any("suspected spinal metastasis" in e for e in trunk.exclusions)


# R04 pathological or impending fracture.
def femur(*observations: object, conditions: tuple[ConditionFact, ...] = (), **kw: object) -> PatientFacts:
    return patient(
        lesions=[lesion(S.FEMUR_PROXIMAL, ref="Condition/f")],
        observations=list(observations),  # type: ignore[arg-type]
        conditions=conditions,
        **kw,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("onset", "status", "indicator"),
    [
        (10, "active", Indicator.CRITICAL),
        (90, "active", Indicator.CRITICAL),
        (91, "active", None),
        # Recent by its onset whatever its status says (clinical-rules R04): a fracture of 10 days ago
        # closed as resolved gave no red flag.  Undated, a closed record is history.
        (10, "resolved", Indicator.CRITICAL),
        (10, "inactive", Indicator.CRITICAL),
        (91, "resolved", None),
        (None, "active", Indicator.CRITICAL),
        (None, "resolved", None),
    ],
)
def test_fracture_recency_and_status(onset: float | None, status: str, indicator: Indicator | None) -> None:
    fx = at(condition(c.PATHOLOGICAL_FRACTURE, onset_days_ago=onset, status=status), S.FEMUR)
    found = flags(femur(conditions=(fx,)))
    assert (found["R04"][0].indicator if "R04" in found else None) is indicator
    if indicator is not None:
        assert found["R04"][0].referrals == (Referral.ORTHOPAEDIC_SURGERY,)
        assert found["R04"][0].used[0].ref == fx.ref


def test_a_fracture_without_a_site_still_fires_and_raises_every_lesion() -> None:
    fx = condition(c.PATHOLOGICAL_FRACTURE, onset_days_ago=5)
    facts = patient(
        lesions=[lesion(S.SKULL, ref="Condition/a"), lesion(S.SPINE_LUMBAR, ref="Condition/b")],
        conditions=[fx],
    )
    (r04,) = flags(facts)["R04"]
    assert set(r04.referrals) == {Referral.SPINE_SURGERY, Referral.ORTHOPAEDIC_SURGERY}
    plan, _ = assess_exercise(facts, TODAY, TH)
    assert plan is not None
    assert [r.tier for r in plan.lesions] == [Tier.HIGH, Tier.HIGH]


def test_impending_fracture_is_critical_while_active() -> None:
    assert flags(femur(conditions=(condition(c.IMPENDING_FRACTURE, onset_days_ago=200),)))["R04"][
        0
    ].indicator is (Indicator.CRITICAL)
    assert "R04" not in flags(femur(conditions=(condition(c.IMPENDING_FRACTURE, status="resolved"),)))


def test_impending_fracture_recorded_as_a_finding_is_critical_and_tiers_the_lesion_high() -> None:
    # The "either way" form of the finding: an Observation answered yes at the lesion, within the score
    # lookback.  It was prefetched and read by no rule (no R04, the femur tiered LOW on its Mirels 5).
    here = site(S.FEMUR_PROXIMAL)
    mirels = obs(c.MIRELS_TOTAL, 5, days_ago=10, where=here)
    said = obs(c.IMPENDING_FRACTURE, flag=True, days_ago=3, where=here, ref="Observation/imp")
    (r04,) = flags(femur(mirels, said))["R04"]
    assert r04.indicator is Indicator.CRITICAL
    assert r04.referrals == (Referral.ORTHOPAEDIC_SURGERY,)
    plan, _ = assess_exercise(femur(mirels, said), TODAY, TH)
    assert plan is not None
    assert (plan.tier, plan.lesions[0].tier) == (Tier.HOLD, Tier.HIGH)
    assert r04.rationale == "Impending fracture recorded on 2025-05-29."
    # A later "no" or a finding at the other side does not count (an old one does: see below).
    cleared = obs(c.IMPENDING_FRACTURE, flag=False, days_ago=1, where=here)
    other = obs(c.IMPENDING_FRACTURE, flag=True, days_ago=3, where=site(S.HUMERUS_PROXIMAL))
    for facts in (femur(mirels, said, cleared), femur(mirels, other)):
        assert "R04" not in flags(facts)


def old_impending(*procedures: object, days_ago: float = 120) -> PatientFacts:
    here = site(S.FEMUR_PROXIMAL)
    said = obs(c.IMPENDING_FRACTURE, flag=True, days_ago=days_ago, where=here, ref="Observation/imp")
    return femur(obs(c.MIRELS_TOTAL, 5, days_ago=days_ago, where=here), said, procedures=list(procedures))


def rt(days_ago: float | None, cls: SiteClass = S.FEMUR, **kw: object) -> object:
    return procedure(c.RADIOTHERAPY, days_ago=days_ago, where=site(cls), ref="Procedure/rt", **kw)  # type: ignore[arg-type]


def test_an_impending_fracture_finding_older_than_the_score_lookback_still_counts() -> None:
    # It was read only within the 90-day score lookback, while the Condition form counts while active: a
    # femur recorded "impending fracture" 120 days ago, never treated, became a stable femur (Mirels 5 too
    # old to count, no R04, exercise not held).  An impending fracture does not heal by itself.
    facts = old_impending()
    (r04,) = flags(facts)["R04"]
    assert r04.indicator is Indicator.CRITICAL
    assert r04.referrals == (Referral.ORTHOPAEDIC_SURGERY,)
    # The card says when it was recorded, and why that old record still applies.
    assert r04.rationale.startswith("Impending fracture recorded on 2025-02-01.")
    assert "does not heal by itself" in r04.rationale
    assert [(u.ref, u.when) for u in r04.used] == [("Observation/imp", "2025-02-01")]
    plan, _ = assess_exercise(facts, TODAY, TH)
    assert plan is not None
    assert (plan.tier, plan.lesions[0].tier) == (Tier.HOLD, Tier.HIGH)
    assert any(u.ref == "Observation/imp" for u in plan.lesions[0].used)
    # A later "no" still clears it, at any age.
    cleared = replace(
        facts,
        observations=(
            *facts.observations,
            obs(c.IMPENDING_FRACTURE, flag=False, days_ago=100, where=site(S.FEMUR_PROXIMAL)),
        ),
    )
    assert "R04" not in flags(cleared)


def test_an_old_impending_fracture_fixed_since_asks_for_no_fixation_and_the_lesion_stays_high() -> None:
    facts = old_impending(*fixation(100, S.FEMUR))
    assert "R04" not in flags(facts)
    plan, _ = assess_exercise(facts, TODAY, TH)
    assert plan is not None
    # No critical flag: no hold; the impending fracture still sets the lesion HIGH (the bone stays weakened).
    assert (plan.tier, plan.lesions[0].tier) == (Tier.HIGH, Tier.HIGH)
    # Fixed before the record: as if untreated.
    assert flags(old_impending(*fixation(130, S.FEMUR)))["R04"][0].indicator is Indicator.CRITICAL


def test_an_old_impending_fracture_irradiated_since_is_a_warning_to_reassess_it() -> None:
    # Radiotherapy treats the tumour, not the stability: the record still applies, but no longer as the
    # critical "fix it now" it was 120 days ago; a surgeon is asked to reassess, and exercise is not held.
    facts = old_impending(rt(60))
    (r04,) = flags(facts)["R04"]
    assert r04.indicator is Indicator.WARNING
    assert r04.summary.startswith(
        "Impending fracture (femur proximal lesion) of 2025-02-01, irradiated since"
    )
    assert r04.referrals == (Referral.ORTHOPAEDIC_SURGERY,)
    assert [u.ref for u in r04.used] == ["Observation/imp", "Procedure/rt"]
    assert "recorded on 2025-02-01" in r04.rationale
    (gap,) = r04.missing
    assert "exercise tier HIGH" in gap.consequence
    plan, _ = assess_exercise(facts, TODAY, TH)
    assert plan is not None
    assert (plan.tier, plan.lesions[0].tier) == (Tier.HIGH, Tier.HIGH)


@pytest.mark.parametrize(
    ("procedures", "missing"),
    [
        ([rt(130)], False),  # before the record
        ([rt(60, status="stopped")], False),  # a stopped course is not counted
        ([rt(60, status="preparation")], False),  # planned, not given
        ([rt(60, S.HUMERUS)], False),  # another bone
        ([rt(None)], True),  # undated: not placed after the record, and said so
    ],
)
def test_an_old_impending_fracture_stays_critical_unless_radiotherapy_certainly_followed_it(
    procedures: list[object], missing: bool
) -> None:
    (r04,) = flags(old_impending(*procedures))["R04"]
    assert r04.indicator is Indicator.CRITICAL
    assert any("radiotherapy" in m.what for m in r04.missing) is missing


def test_an_impending_fracture_dated_to_a_month_is_old_only_when_its_last_day_is() -> None:
    # "December 2024" may be 31 December: on 15 March 2025 that is within the 90-day score lookback, where
    # radiotherapy since never lowered the card.  Read at its first day (1 December) it was "old", and the
    # January course made it a warning.
    here = site(S.FEMUR_PROXIMAL)
    december = replace(
        obs(c.IMPENDING_FRACTURE, flag=True, days_ago=182, where=here, ref="Observation/imp"),
        date_precision="month",
    )
    assert december.effective is not None
    assert december.effective.date() == date(2024, 12, 1)
    facts = femur(december, procedures=[rt(137)])  # 2025-01-15
    (r04,) = [f for f in assess_red_flags(facts, date(2025, 3, 15), TH) if f.rule_id == "R04"]
    assert r04.indicator is Indicator.CRITICAL
    # From April its last day is old as well: the course of January followed it, a warning.
    (r04,) = [f for f in assess_red_flags(facts, date(2025, 4, 15), TH) if f.rule_id == "R04"]
    assert r04.indicator is Indicator.WARNING


def test_a_finding_dated_to_the_last_month_a_date_can_have_raises_nothing() -> None:
    # "9999-12" is a date the reader accepts; the month after it is not: finding its last day must not
    # step past it (that was a 500 for the whole answer).
    def far(fact: object) -> object:
        return replace(fact, effective=datetime(9999, 12, 1), date_precision="month")  # type: ignore[type-var]

    facts = femur(
        far(obs(c.LESION_TYPE, code="lytic")),
        far(obs(c.MIRELS_TOTAL, 10)),
        far(obs(c.PAIN_MECHANICAL, flag=True)),
        obs(c.MIRELS_TOTAL, 10, days_ago=1),
    )
    assert flags(facts)["R04"]


def test_a_recent_impending_fracture_irradiated_since_stays_critical() -> None:
    # Within the score lookback nothing changes: radiotherapy never made it less than critical.
    (r04,) = flags(old_impending(rt(5), days_ago=20))["R04"]
    assert r04.indicator is Indicator.CRITICAL
    assert r04.rationale == "Impending fracture recorded on 2025-05-12."


def test_an_undated_impending_fracture_finding_counts_and_says_its_date_is_missing() -> None:
    said = obs(c.IMPENDING_FRACTURE, flag=True, undated=True, where=site(S.FEMUR_PROXIMAL))
    (r04,) = flags(femur(said))["R04"]
    assert r04.indicator is Indicator.CRITICAL
    assert [m.what for m in r04.missing] == ["date of the impending-fracture finding"]


@pytest.mark.parametrize(
    ("concept", "value", "indicator"),
    [
        (c.MIRELS_TOTAL, 12, Indicator.CRITICAL),
        (c.MIRELS_TOTAL, 9, Indicator.CRITICAL),
        (c.MIRELS_TOTAL, 8, Indicator.WARNING),
        (c.MIRELS_TOTAL, 7, None),
    ],
)
def test_mirels_bands(concept: str, value: float, indicator: Indicator | None) -> None:
    found = flags(femur(obs(concept, value, days_ago=2)))
    assert (found["R04"][0].indicator if "R04" in found else None) is indicator


@pytest.mark.parametrize(
    ("value", "indicator"),
    [
        (18, Indicator.CRITICAL),
        (13, Indicator.CRITICAL),
        (12, Indicator.WARNING),
        (7, Indicator.WARNING),
        (6, None),
    ],
)
def test_sins_bands(value: float, indicator: Indicator | None) -> None:
    found = flags(spine(obs(c.SINS_TOTAL, value, days_ago=2)))
    assert (found["R04"][0].indicator if "R04" in found else None) is indicator
    if indicator is not None:
        assert found["R04"][0].referrals == (Referral.SPINE_SURGERY,)
        assert "T9" in found["R04"][0].summary


def test_a_recorded_review_silences_the_borderline_warning_only() -> None:
    review = [procedure(c.SURGICAL_REVIEW, days_ago=1, where=site(S.SPINE_THORACIC))]
    assert "R04" not in flags(spine(obs(c.SINS_TOTAL, 10, days_ago=5), procedures=review))
    assert "R04" in flags(spine(obs(c.SINS_TOTAL, 14, days_ago=5), procedures=review))
    # A review older than the score does not cover it.
    old = [procedure(c.SURGICAL_REVIEW, days_ago=30, where=site(S.SPINE_THORACIC))]
    assert "R04" in flags(spine(obs(c.SINS_TOTAL, 10, days_ago=5), procedures=old))


def test_a_surgical_stabilisation_silences_the_borderline_warning() -> None:
    fixed = [procedure(c.SURGICAL_FIXATION, days_ago=1, where=site(S.SPINE_THORACIC))]
    assert "R04" not in flags(spine(obs(c.SINS_TOTAL, 10, days_ago=5), procedures=fixed))


def fixation(days_ago: float | None, cls: SiteClass = S.SPINE_THORACIC, **kw: object) -> list[object]:
    return [procedure(c.SURGICAL_FIXATION, days_ago=days_ago, where=site(cls), ref="Procedure/fix", **kw)]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("make", "score", "cls"),
    [
        (spine, obs(c.SINS_TOTAL, 15, days_ago=10), S.SPINE_THORACIC),
        (femur, obs(c.MIRELS_TOTAL, 10, days_ago=10), S.FEMUR),
    ],
)
def test_a_score_taken_before_the_lesions_fixation_asks_for_no_fixation(
    make: object, score: object, cls: SiteClass
) -> None:
    # The unstable SINS / fixation-range Mirels describes the lesion before its operation: R04 asked for
    # the prophylactic fixation that had been done, and held exercise for it.
    for days_ago in (3, 10):  # after the score, and on the day of it
        facts = make(score, procedures=fixation(days_ago, cls))  # type: ignore[operator]
        assert "R04" not in flags(facts), days_ago
        plan, _ = assess_exercise(facts, TODAY, TH)
        assert plan is not None
        # The exercise tier still reads the score: HIGH (not HOLD, no critical flag), naming the fixation
        # and asking for a score of the fixed lesion.
        assert (plan.tier, plan.lesions[0].tier) == (Tier.HIGH, Tier.HIGH)
        assert any(u.ref == "Procedure/fix" for u in plan.lesions[0].used)
        assert any("after its fixation" in m.what for m in plan.lesions[0].missing)
        (ex03,) = [f for f in assess(facts, TODAY, TH).findings if f.rule_id == "EX03"]
        label = "SINS for the T9 lesion" if make is spine else "Mirels for the femur"
        assert label in ex03.summary


def test_a_score_taken_after_the_fixation_still_fires() -> None:
    (r04,) = flags(spine(obs(c.SINS_TOTAL, 15, days_ago=5), procedures=fixation(40)))["R04"]
    assert r04.indicator is Indicator.CRITICAL
    assert not r04.missing


def test_an_undated_fixation_keeps_r04_and_says_so() -> None:
    (r04,) = flags(spine(obs(c.SINS_TOTAL, 15, days_ago=5), procedures=fixation(None)))["R04"]
    assert r04.indicator is Indicator.CRITICAL
    assert any(u.ref == "Procedure/fix" for u in r04.used)
    (gap,) = r04.missing
    assert gap.what == "date of the surgical fixation of the T9 lesion"
    assert "card kept" in gap.consequence


def test_a_score_dated_to_the_month_of_the_fixation_is_not_known_to_predate_it() -> None:
    # "May 2025" may be after a fixation on 29 May: read as describing the lesion now, and said so.
    score = replace(obs(c.SINS_TOTAL, 15, days_ago=10), date_precision="month")
    (r04,) = flags(spine(score, procedures=fixation(3)))["R04"]
    assert r04.indicator is Indicator.CRITICAL
    assert [m.what for m in r04.missing] == [
        "whether the surgical fixation of the T9 lesion (2025-05-29) followed the SINS"
    ]
    # A fixation dated after the score's day, the score dated to the day: no card.
    assert "R04" not in flags(spine(obs(c.SINS_TOTAL, 15, days_ago=10), procedures=fixation(3)))


def test_a_fixation_dated_to_the_month_of_the_score_is_not_known_to_follow_it() -> None:
    # A fixation recorded as "May 2025" is read at its latest day (31 May) for "how recent", but it may
    # have been on 2 May, before the unstable SINS of 22 May: that SINS may describe the fixed lesion, so
    # the card stays, naming the fixation it could not place.
    month = [replace(fixation(1)[0], performed_from=date(2025, 5, 1))]  # type: ignore[type-var]
    assert month[0].performed == date(2025, 5, 31)  # type: ignore[attr-defined]
    (r04,) = flags(spine(obs(c.SINS_TOTAL, 15, days_ago=10), procedures=month))["R04"]
    assert r04.indicator is Indicator.CRITICAL
    assert [m.what for m in r04.missing] == [
        "whether the surgical fixation of the T9 lesion (2025-05) followed the SINS"
    ]
    # The same for radiotherapy dated "February 2025" (read as 28 February) beside an old impending
    # fracture of 11 February: not known to have followed it, so still critical rather than a warning.
    (course,) = [
        replace(rt(TODAY.toordinal() - date(2025, 2, 28).toordinal()), performed_from=date(2025, 2, 1))
    ]
    (r04,) = flags(old_impending(course, days_ago=110))["R04"]
    assert r04.indicator is Indicator.CRITICAL
    assert any("radiotherapy" in m.what for m in r04.missing)
    # A fixation of the femur dated "February 2025" leaves the old impending fracture critical too.
    (fixed,) = [
        replace(fixation(120, S.FEMUR)[0], performed=date(2025, 2, 28), performed_from=date(2025, 2, 1))
    ]  # type: ignore[type-var]
    assert flags(old_impending(fixed, days_ago=110))["R04"][0].indicator is Indicator.CRITICAL


def test_fixation_order_places_a_fixation_against_a_record() -> None:
    ev = LesionEvidence(
        lesion=lesion(S.FEMUR),
        fixations=(
            Attributed("Procedure/new", date(2025, 1, 5), False),
            Attributed("Procedure/u", None, False),
        ),
    )
    month = Attributed("Observation/s", date(2024, 12, 1), False, date_imprecise=True)
    # "December 2024" certainly precedes a fixation in January 2025; the undated one is then not needed.
    assert fixation_order(ev, month) == FixationOrder(after=ev.fixations[0])
    same_year = replace(month, when=date(2025, 1, 1))
    assert fixation_order(ev, same_year) == FixationOrder(unordered=ev.fixations[0])
    later = Attributed("Observation/s", date(2025, 2, 1), False)
    assert fixation_order(ev, later) == FixationOrder(unordered=ev.fixations[1])
    assert fixation_order(ev, None, None) == FixationOrder(unordered=ev.fixations[0])


def test_only_a_completed_fixation_certainly_of_the_lesion_silences_r04() -> None:
    score = obs(c.SINS_TOTAL, 15, days_ago=10)
    t9 = replace(
        lesion(S.SPINE_THORACIC, ref="Condition/m"),
        site=replace(site(S.SPINE_THORACIC, "T9"), levels=("T9",)),
    )
    t4_t6 = replace(site(S.SPINE_THORACIC, "T4-T6"), levels=("T4", "T5", "T6"))
    for procedures in (
        fixation(3, status="in-progress"),
        fixation(3, S.FEMUR),  # another bone
        [procedure(c.SURGICAL_FIXATION, days_ago=3)],  # names no site and no lesion
        [procedure(c.SURGICAL_FIXATION, days_ago=3, where=t4_t6)],  # other levels: T9 was not fixed
    ):
        facts = patient(lesions=[t9], observations=[score], procedures=procedures)  # type: ignore[arg-type]
        assert flags(facts)["R04"][0].indicator is Indicator.CRITICAL, procedures
    t8_t10 = replace(site(S.SPINE_THORACIC, "T8-T10"), levels=("T8", "T9", "T10"))
    facts = patient(
        lesions=[t9],
        observations=[score],
        procedures=[procedure(c.SURGICAL_FIXATION, days_ago=3, where=t8_t10)],
    )
    assert "R04" not in flags(facts)
    # A fixation that fits two lesions is not assumed to be of either: the score keeps its card.
    shared = patient(
        lesions=[lesion(S.SPINE_THORACIC, ref="Condition/a"), lesion(S.SPINE_THORACIC, ref="Condition/b")],
        observations=[obs(c.SINS_TOTAL, 15, days_ago=10, where=site(S.SPINE_THORACIC))],
        procedures=fixation(3),  # type: ignore[arg-type]
    )
    assert "R04" in flags(shared)


def test_a_shared_score_keeps_its_card_for_the_lesion_not_fixed() -> None:
    facts = patient(
        lesions=[
            lesion(S.SPINE_THORACIC, ref="Condition/a", text="T9"),
            lesion(S.SPINE_LUMBAR, ref="Condition/b", text="L2"),
        ],
        observations=[obs(c.SINS_TOTAL, 15, days_ago=10, where=site(S.SPINE_UNSPECIFIED))],
        procedures=[replace(procedure(c.SURGICAL_FIXATION, days_ago=3), focus=("Condition/a",))],
    )
    (r04,) = flags(facts)["R04"]
    assert "L2" in r04.summary
    assert "T9" not in r04.summary


def test_an_impending_fracture_fixed_since_asks_for_no_fixation() -> None:
    impending = at(condition(c.IMPENDING_FRACTURE, onset_days_ago=20), S.FEMUR)
    assert "R04" not in flags(femur(conditions=(impending,), procedures=fixation(5, S.FEMUR)))
    assert "R04" in flags(femur(conditions=(impending,), procedures=fixation(30, S.FEMUR)))
    (r04,) = flags(femur(conditions=(impending,), procedures=fixation(None, S.FEMUR)))["R04"]
    assert any("date of the surgical fixation" in m.what for m in r04.missing)
    here = site(S.FEMUR_PROXIMAL)
    said = obs(c.IMPENDING_FRACTURE, flag=True, days_ago=10, where=here, ref="Observation/imp")
    assert "R04" not in flags(femur(said, procedures=fixation(5, S.FEMUR)))
    assert "R04" in flags(femur(said, procedures=fixation(20, S.FEMUR)))


def test_a_fixed_pathological_fracture_stays_critical_without_asking_for_prophylactic_fixation() -> None:
    fx = at(condition(c.PATHOLOGICAL_FRACTURE, onset_days_ago=20), S.FEMUR)
    (r04,) = flags(femur(conditions=(fx,), procedures=fixation(15, S.FEMUR)))["R04"]
    assert r04.indicator is Indicator.CRITICAL
    assert not any("prophylactic" in r for r in r04.recommendations)
    assert any("post-operative radiotherapy" in r for r in r04.recommendations)
    assert "fixed 2025-05-17" in r04.summary
    assert [u.ref for u in r04.used] == [fx.ref, "Procedure/fix"]
    # Fixed before this fracture, or at an unknown date: the fracture is treated as not fixed.
    for procedures, gap in ((fixation(40, S.FEMUR), False), (fixation(None, S.FEMUR), True)):
        (r04,) = flags(femur(conditions=(fx,), procedures=procedures))["R04"]
        assert any("prophylactic" in r for r in r04.recommendations)
        assert any("surgical fixation" in m.what for m in r04.missing) is gap


def test_a_critical_fracture_flag_puts_exercise_on_hold() -> None:
    plan, findings = assess_exercise(femur(obs(c.MIRELS_TOTAL, 10, days_ago=2)), TODAY, TH)
    assert plan is not None
    assert plan.tier is Tier.HOLD
    assert plan.lesions[0].tier is Tier.HIGH
    assert "hold" in findings[0].summary.lower()


def test_one_finding_per_score_even_when_it_fits_several_lesions() -> None:
    facts = patient(
        lesions=[lesion(S.SPINE_THORACIC, ref="Condition/a"), lesion(S.SPINE_THORACIC, ref="Condition/b")],
        observations=[obs(c.SINS_TOTAL, 15, days_ago=2, where=site(S.SPINE_THORACIC))],
    )
    (r04,) = flags(facts)["R04"]
    assert any("which lesion" in m.what for m in r04.missing)


# R05 sudden pain escalation.
def pain(value: float, days_ago: float, where: SiteClass | None = S.FEMUR_PROXIMAL) -> object:
    return obs(c.PAIN_SCORE, value, days_ago=days_ago, where=site(where) if where else None)


def test_a_rise_of_three_within_seven_days_fires() -> None:
    (r05,) = flags(femur(pain(2, 6), pain(5, 0)))["R05"]
    assert r05.indicator is Indicator.WARNING
    assert [u.label for u in r05.used] == ["Pain NRS", "Earlier pain NRS"]
    assert "from 2 to 5" in r05.summary


@pytest.mark.parametrize(
    ("series", "fires"),
    [
        ([(2, 6), (4, 0)], False),  # rise of 2
        ([(2, 8), (6, 0)], False),  # earlier score outside the 7-day window
        ([(2, 5), (6, 3), (4, 0)], True),  # a rise inside the lookback is not hidden by a later score
        ([(7, 3), (9, 0)], False),  # severe but no rise of 3 and no mechanical pain
    ],
)
def test_rise_window(series: list[tuple[float, float]], fires: bool) -> None:
    assert ("R05" in flags(femur(*(pain(v, d) for v, d in series)))) is fires


def test_severe_pain_with_mechanical_pain_fires_and_pauses_loading() -> None:
    facts = femur(pain(7, 0), obs(c.PAIN_MECHANICAL, flag=True, days_ago=1, where=site(S.FEMUR_PROXIMAL)))
    assert "R05" in flags(facts)
    plan, _ = assess_exercise(facts, TODAY, TH)
    assert plan is not None
    assert plan.lesions[0].tier is Tier.HIGH


def test_pain_at_another_site_does_not_fire() -> None:
    assert "R05" not in flags(femur(pain(1, 5, S.HUMERUS_PROXIMAL), pain(8, 0, S.HUMERUS_PROXIMAL)))


def test_unsited_pain_is_assumed_to_involve_every_lesion() -> None:
    (r05,) = flags(femur(pain(1, 5, None), pain(8, 0, None)))["R05"]
    assert r05.missing[0].what == "site of the pain"


# R08 critical cytopenia.
@pytest.mark.parametrize(
    ("lab", "fires"),
    [
        (obs(c.LAB_PLATELETS, 19, "10*9/L"), True),
        (obs(c.LAB_PLATELETS, 19000, "/uL"), False),  # unit not understood: not used, never guessed
        (obs(c.LAB_PLATELETS, 20, "10*9/L"), False),
        (obs(c.LAB_PLATELETS, 19, "10*3/uL"), True),
        (obs(c.LAB_HAEMOGLOBIN, 6.9, "g/dL"), True),
        (obs(c.LAB_HAEMOGLOBIN, 7.0, "g/dL"), False),
        (obs(c.LAB_HAEMOGLOBIN, 60, "g/L"), True),
        (obs(c.LAB_PLATELETS, 5, "10*9/L", days_ago=45), False),
    ],
)
def test_critical_cytopenia(lab: object, fires: bool) -> None:
    found = flags(femur(lab))
    assert ("R08" in found) is fires
    if fires:
        assert found["R08"][0].indicator is Indicator.CRITICAL  # it fires only at critical values
        assert "hold exercise" in found["R08"][0].summary
        assert found["R08"][0].referrals == (Referral.ACUTE_ONCOLOGY,)


def test_red_flags_come_out_in_rule_order() -> None:
    facts = femur(
        obs(c.RF_LIMB_WEAKNESS, flag=True),
        obs(c.LAB_CALCIUM, 14.2, "mg/dL"),
        obs(c.MIRELS_TOTAL, 10),
        pain(1, 4),
        pain(9, 0),
        obs(c.LAB_PLATELETS, 10, "10*9/L"),
    )
    ids = [f.rule_id for f in assess_red_flags(facts, TODAY, TH)]
    assert ids == ["R01", "R03", "R04", "R05", "R08"]
    assert assess_red_flags(facts, TODAY, TH) == assess_red_flags(facts, TODAY, TH)


def test_an_undated_symptom_is_treated_as_current_and_says_so() -> None:
    """A red-flag answer without any date may be today's: it is not ignored (missing data, more caution)."""
    (r01,) = flags(spine(obs(c.RF_LIMB_WEAKNESS, flag=True, undated=True)))["R01"]
    assert r01.indicator is Indicator.CRITICAL
    assert any("treated as current" in m.consequence for m in r01.missing)
    (r02,) = flags(spine(obs(c.RF_PAIN_ON_STRAINING, flag=True, undated=True)))["R02"]
    assert r02.missing
    assert r02.missing[0].consequence == "treated as current"
    # A dated answer within the lookback still decides.
    assert "R01" not in flags(
        spine(
            obs(c.RF_LIMB_WEAKNESS, flag=True, undated=True), obs(c.RF_LIMB_WEAKNESS, flag=False, days_ago=1)
        )
    )


@pytest.mark.parametrize(
    ("rule", "extra"),
    [
        ("R09", {"medications": [med(c.OPIOID), med(c.BENZODIAZEPINE), med(c.GABAPENTINOID)]}),
        (
            "R06",
            {
                "medications": [med(c.BONE_MODIFYING_AGENT, c.DENOSUMAB), med(c.CALCIUM_VITAMIN_D)],
                "observations": [
                    obs(c.LAB_CALCIUM, 7.4, "mg/dL", days_ago=1),
                    obs(c.LAB_ALBUMIN, 4.0, "g/dL", days_ago=1),
                ],
            },
        ),
    ],
)
def test_a_critical_red_flag_from_the_medication_rules_also_holds_exercise(
    rule: str, extra: dict[str, object]
) -> None:
    """The pre-gate: *any* critical red flag (R06 and R09 included) puts the exercise plan on hold."""
    facts = patient(lesions=[lesion(S.HUMERUS_PROXIMAL, ref="Condition/m")], **extra)  # type: ignore[arg-type]
    result = assess(facts, TODAY, TH)
    assert any(f.rule_id == rule and f.indicator is Indicator.CRITICAL for f in result.findings)
    assert result.exercise is not None
    assert result.exercise.tier is Tier.HOLD
    assert result.exercise.on_hold_reason is not None
    # Named for the bedside, with the rule id for the trace: "hypocalcaemia on a bone-modifying agent (R06)".
    assert result.exercise.on_hold_reason.endswith(f" ({rule})")
    assert "red flag" not in result.exercise.on_hold_reason
    assert all(f.rule_id != "P25" for f in result.findings)  # no advice to time a programme on hold


def test_a_procedure_dated_to_a_month_or_a_year_is_shown_as_recorded_not_as_its_latest_day() -> None:
    # The latest day of this month may be a day still to come: a card would show a date in the future.
    from fhir_bonemet.core.evidence.lesions import Attributed, recorded_date

    def fix(when: date | None, earliest: date | None = None) -> Attributed:
        return Attributed("Procedure/f", when, False, earliest=earliest)

    assert recorded_date(fix(date(2025, 6, 30), date(2025, 6, 1))) == "2025-06"
    assert recorded_date(fix(date(2025, 12, 31), date(2025, 1, 1))) == "2025"
    assert recorded_date(fix(date(2025, 6, 2))) == "2025-06-02"
    assert recorded_date(fix(date(2025, 6, 9), date(2025, 6, 2))) == "between 2025-06-02 and 2025-06-09"
    assert recorded_date(fix(None)) == "undated"


# Order entry (docs/clinical-model.md#hooks): the exercise plan is not shown while ordering, so the red flags
# that restrict loading say it themselves before an order that may load the bone; a medicine loads none.
@pytest.mark.parametrize(
    ("rule", "facts"),
    [
        ("R02", spine(obs(c.RF_THORACIC_CERVICAL_PAIN, flag=True, days_ago=1))),  # hold axial loading
        ("R05", femur(pain(2, 6), pain(5, 0))),  # pause loading of the region
        ("R04", femur(obs(c.MIRELS_TOTAL, 8, days_ago=2, where=site(S.FEMUR_PROXIMAL)))),  # borderline
    ],
)
@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_a_loading_warning_speaks_before_an_order_that_may_load_the_bone(
    rule: str, facts: PatientFacts, hook: str
) -> None:
    def shown(f: PatientFacts, on: str) -> list[Indicator]:
        return [x.indicator for x in assess(f, TODAY, TH, hook=on).findings if x.rule_id == rule]

    assert shown(facts, "patient-view") == [Indicator.WARNING]
    assert shown(facts, hook) == []  # medicines only (none here): red flags interrupt only when critical
    physio = replace(facts, orders=(order(ref="physio"),))
    assert shown(physio, hook) == [Indicator.WARNING]
    # An order the service recognises as something else (a dental examination) loads no bone.
    dental = replace(facts, orders=(order(c.DENTAL_EXAM, ref="dental"),))
    assert shown(dental, hook) == []
