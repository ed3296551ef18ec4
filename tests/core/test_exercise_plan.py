"""Global gates, the site-by-domain matrix, tier → prescription and the EX findings (clinical model)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from builders import TODAY, condition, lesion, med, obs, patient

from fhir_bonemet.core.exercise.assess import assess_exercise
from fhir_bonemet.core.exercise.domains import site_row
from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.facts import ConditionFact, ObservationFact, PatientFacts, SiteClass
from fhir_bonemet.core.model.findings import DomainStatus, ExercisePlan, Finding, Indicator, Referral, Tier
from fhir_bonemet.knowledge import load_thresholds

TH = load_thresholds()
S = SiteClass
A, R, P = DomainStatus.AVOID, DomainStatus.RESTRICTED, DomainStatus.PERMITTED
WB, NWB, UP, TRUNK, LOW_, FLEX, BAL, IMPACT = (
    "ex-aerobic-wb",
    "ex-aerobic-nwb",
    "ex-resist-upper",
    "ex-resist-trunk",
    "ex-resist-lower",
    "ex-flex",
    "ex-balance",
    "ex-impact",
)
STRUCTURED = (WB, NWB, UP, TRUNK, LOW_, FLEX, BAL, IMPACT)


# site-by-domain matrix: the transcribed rows and the service-default rows.
@pytest.mark.parametrize(
    ("site", "cells"),
    [
        (S.PELVIS, {UP: P, TRUNK: P, LOW_: R, WB: A, NWB: P, FLEX: P, IMPACT: A}),
        (S.FEMUR_PROXIMAL, {UP: P, TRUNK: P, LOW_: R, WB: A, NWB: P, FLEX: P, IMPACT: A}),
        (S.SPINE_LUMBAR, {UP: P, TRUNK: A, LOW_: P, WB: A, NWB: P, FLEX: R, IMPACT: A}),
        (S.SPINE_THORACIC, {UP: R, TRUNK: A, LOW_: P, WB: P, NWB: P, FLEX: R, IMPACT: A}),
        (S.RIB, {UP: R, TRUNK: A, LOW_: P, WB: P, NWB: P, FLEX: R, IMPACT: A}),
        (S.SPINE_CERVICAL, {UP: R, TRUNK: A, LOW_: P, WB: P, NWB: P, FLEX: R, IMPACT: A}),
        (S.HUMERUS_PROXIMAL, {UP: R, TRUNK: P, LOW_: P, WB: P, NWB: P, FLEX: R, IMPACT: R}),
        (S.UNKNOWN, {UP: R, TRUNK: A, LOW_: R, WB: A, NWB: P, FLEX: R, IMPACT: A}),
        (S.SKULL, {UP: P, TRUNK: P, LOW_: P, WB: P, NWB: P, FLEX: P, IMPACT: A}),
        (S.STERNUM, {UP: P, TRUNK: P, LOW_: P, WB: P, NWB: P, FLEX: P, IMPACT: A}),
        (S.SCAPULA, {UP: R, TRUNK: P, LOW_: P, WB: P, NWB: P, FLEX: P, IMPACT: A}),
        (S.SACRUM, {UP: P, TRUNK: A, LOW_: R, WB: A, NWB: P, FLEX: R, IMPACT: A}),
        (S.SPINE_UNSPECIFIED, {UP: R, TRUNK: A, LOW_: P, WB: A, NWB: P, FLEX: R, IMPACT: A}),
        (S.LOWER_LIMB, {UP: P, TRUNK: P, LOW_: R, WB: A, NWB: P, FLEX: P, IMPACT: A}),
        (S.UPPER_LIMB, {UP: R, TRUNK: P, LOW_: P, WB: P, NWB: P, FLEX: P, IMPACT: R}),
        # A humerus with no part named may be proximal: the shoulder is spared as well as the arm.
        (S.HUMERUS, {UP: R, TRUNK: P, LOW_: P, WB: P, NWB: P, FLEX: R, IMPACT: R}),
    ],
)
def test_site_matrix(site: SiteClass, cells: dict[str, DomainStatus]) -> None:
    row = site_row(site)
    assert {d: row[d].status for d in cells} == cells
    assert row[BAL].status is P
    for cell in row.values():
        assert (cell.status is R) == bool(cell.exclusion)


def test_union_rows_keep_each_exclusion_once() -> None:
    flex = site_row(S.SPINE_UNSPECIFIED)[FLEX].exclusion or ""
    assert flex.lower().count("no spinal flexion") == 1
    assert "shoulder" in flex


def test_a_humerus_with_no_part_named_spares_the_shoulder_and_the_arm() -> None:
    row = site_row(S.HUMERUS)
    assert "shoulder" in (row[FLEX].exclusion or "")
    upper = row[UP].exclusion or ""
    assert "shoulder" in upper
    assert "affected arm" in upper


def fit(*extra: ObservationFact, labs: bool = True) -> list[ObservationFact]:
    base = [obs(c.ECOG, 0, days_ago=1), obs(c.LESION_TYPE, code="blastic", days_ago=9)]
    if labs:
        base += [
            obs(c.LAB_PLATELETS, 250, "10*9/L", days_ago=1),
            obs(c.LAB_HAEMOGLOBIN, 13, "g/dL", days_ago=1),
            obs(c.LAB_CALCIUM, 9.4, "mg/dL", days_ago=1),
            obs(c.LAB_ALBUMIN, 4.0, "g/dL", days_ago=1),
        ]
    replaced = {o.concept for o in extra}
    return [o for o in base if o.concept not in replaced] + list(extra)


def assess(facts: PatientFacts) -> tuple[ExercisePlan, dict[str, Finding]]:
    plan, findings = assess_exercise(facts, TODAY, TH)
    assert plan is not None
    return plan, {f.rule_id: f for f in findings}


def skull(
    *extra: ObservationFact, labs: bool = True, **kw: object
) -> tuple[ExercisePlan, dict[str, Finding]]:
    return assess(patient(lesions=[lesion(S.SKULL)], observations=fit(*extra, labs=labs), **kw))  # type: ignore[arg-type]


def statuses(plan: ExercisePlan) -> dict[str, DomainStatus]:
    return {d.domain: d.status for d in plan.domains}


def test_site_restrictions_apply_at_every_tier() -> None:
    """A LOW lumbar lesion still avoids trunk resistance and weight-bearing aerobic (the site matrix)."""
    facts = patient(
        lesions=[lesion(S.SPINE_LUMBAR, ref="Condition/m")],
        observations=fit(replace(obs(c.SINS_TOTAL, 2, days_ago=3), focus=("Condition/m",))),
        medications=[med(c.BONE_MODIFYING_AGENT)],
    )
    plan, _ = assess(facts)
    assert plan.tier is Tier.LOW
    assert statuses(plan)[TRUNK] is A
    assert statuses(plan)[WB] is A
    assert plan.lesions[0].avoided_domains == (WB, TRUNK, IMPACT)
    flex = next(d for d in plan.domains if d.domain == FLEX)
    assert flex.status is R
    assert any("spinal flexion" in e and "lesion" in e for e in flex.exclusions)


def test_impact_is_restricted_not_avoided_for_a_low_arm_lesion_only() -> None:
    facts = patient(
        lesions=[lesion(S.HUMERUS_PROXIMAL, ref="Condition/m")],
        observations=fit(replace(obs(c.MIRELS_TOTAL, 5, days_ago=3), focus=("Condition/m",))),
    )
    plan, _ = assess(facts)
    assert plan.tier is Tier.LOW
    assert statuses(plan)[IMPACT] is R
    assert statuses(plan)[UP] is R


# prescription by tier tier → prescription.
def test_low_prescription_text() -> None:
    plan, found = skull()
    assert plan.tier is Tier.LOW
    dose = {d.domain: d.dose or "" for d in plan.domains}
    assert "RPE 11-13" in dose[NWB]
    assert "10-12RM" in dose[UP]
    assert "start low, go slow" in dose[UP]
    assert "tandem walking" in dose[BAL]
    assert "ex-adl-only" not in dose
    assert "2-4 weeks" in plan.progression
    assert "service default" in plan.progression
    assert any("NRS rise of 2" in s and "24 h" in s for s in plan.stop_and_call)
    ex01 = found["EX01"]
    assert ex01.indicator is Indicator.INFO
    assert ex01.referrals == (Referral.EXERCISE_PHYSIOLOGY,)
    assert ex01.unverified  # RPE band awaits clinical review
    assert "exercise.rpe_low_min" not in ex01.defaults_used  # unverified, not a service default


def test_moderate_prescription_text() -> None:
    plan, found = assess(
        patient(lesions=[lesion(S.PELVIS)], observations=fit(), medications=[med(c.BONE_MODIFYING_AGENT)])
    )
    assert plan.tier is Tier.MODERATE
    assert "oncology training" in plan.supervision
    assert statuses(plan)[IMPACT] is A
    assert statuses(plan)[BAL] is R
    assert "4 weeks" in plan.progression
    assert found["EX01"].referrals == (Referral.PHYSIOTHERAPY,)


def test_moderate_tier_prefers_non_weight_bearing_aerobic_for_a_weight_bearing_lesion() -> None:
    facts = patient(
        lesions=[lesion(S.SPINE_THORACIC, ref="Condition/m")],
        observations=fit(),  # no SINS: MODERATE; thoracic row permits weight-bearing aerobic
        medications=[med(c.BONE_MODIFYING_AGENT)],
    )
    plan, _ = assess(facts)
    wb = next(d for d in plan.domains if d.domain == WB)
    assert plan.tier is Tier.MODERATE
    assert wb.status is R
    assert any("Non-weight-bearing preferred" in e for e in wb.exclusions)


def test_high_prescription_text() -> None:
    plan, found = assess(
        patient(lesions=[lesion(S.PELVIS)], observations=fit(obs(c.LESION_TYPE, code="lytic")))
    )
    assert plan.tier is Tier.HIGH
    assert "surgical review" in plan.supervision
    assert "1:1" in plan.supervision
    st = statuses(plan)
    assert st[WB] is A
    assert st[IMPACT] is A
    assert st[UP] is R
    assert st[FLEX] is R
    assert st[BAL] is R
    assert st["ex-adl-only"] is P
    assert plan.progression == "No progression until re-tiered."
    assert found["EX01"].indicator is Indicator.WARNING


def test_adl_only_plan() -> None:
    plan, found = skull(obs(c.ECOG, 3, days_ago=1))
    assert plan.tier is Tier.ADL_ONLY
    assert all(statuses(plan)[d] is A for d in STRUCTURED)
    assert statuses(plan)["ex-adl-only"] is P
    assert "PT/OT" in found["EX01"].summary


@pytest.mark.parametrize("status", [obs(c.ECOG, 2, days_ago=0), obs(c.KPS, 60, days_ago=0)])
def test_ecog_2_asks_for_reduced_volume_and_functional_goals(status: ObservationFact) -> None:
    # clinical-rules 2.5: ECOG 2 / KPS 50-60: at least MODERATE; supervised; reduced volume; functional goals.
    plan, found = skull(status)
    assert plan.tier is Tier.MODERATE
    shown = "ECOG 2" if status.concept == c.ECOG else "KPS 60"
    lines = [r for r in found["EX01"].recommendations if "reduced volume" in r]
    assert lines == [
        f"{shown}: reduced volume (fewer, shorter sessions) with functional goals "
        "(transfers, walking, stairs)."
    ]


def test_good_performance_status_keeps_the_full_volume() -> None:
    _, found = skull()
    assert not any("reduced volume" in r for r in found["EX01"].recommendations)


# global gates global gates.
@pytest.mark.parametrize(
    ("lab", "held"),
    [
        (obs(c.LAB_PLATELETS, 19.9, "10*9/L"), True),
        (obs(c.LAB_PLATELETS, 20, "10*9/L"), False),
        (obs(c.LAB_HAEMOGLOBIN, 6.9, "g/dL"), True),
        (obs(c.LAB_HAEMOGLOBIN, 69, "g/L"), True),
        (obs(c.LAB_HAEMOGLOBIN, 7.0, "g/dL"), False),
        (obs(c.LAB_NEUTROPHILS, 0.4, "10*9/L"), True),
        (obs(c.LAB_NEUTROPHILS, 0.5, "10*9/L"), False),
        (obs(c.LAB_CALCIUM, 12.0, "mg/dL"), True),
        (obs(c.LAB_CALCIUM, 11.9, "mg/dL"), False),
        (obs(c.LAB_CALCIUM_IONISED, 1.6, "mmol/L"), True),
        (obs(c.LAB_CALCIUM_IONISED, 1.4, "mmol/L"), False),
        (obs(c.FEVER, flag=True), True),
        (obs(c.FEVER, flag=False), False),
        (obs(c.SYMPTOMATIC_HYPERCALCAEMIA, flag=True), True),
    ],
)
def test_hold_gates(lab: ObservationFact, held: bool) -> None:
    plan, found = skull(lab)
    assert (plan.tier is Tier.HOLD) is held
    if held:
        assert found["EX02"].indicator is Indicator.WARNING
        assert found["EX02"].used
        assert plan.on_hold_reason
        assert all(statuses(plan)[d] is A for d in STRUCTURED)
        assert statuses(plan)["ex-adl-only"] is R


@pytest.mark.parametrize(
    ("lab", "gate", "reason"),
    [
        (
            obs(c.LAB_PLATELETS, 15, "10*9/L"),
            "Platelets 15 ×10⁹/L: hold; functional mobility only, avoid falls and Valsalva",
            "platelets 15 ×10⁹/L",
        ),
        (
            obs(c.LAB_PLATELETS, 30, "10*9/L"),
            "Platelets 30 ×10⁹/L: no resistance, impact or contact; light aerobic only",
            None,
        ),
        (
            obs(c.LAB_NEUTROPHILS, 0.3, "10*9/L"),
            "Neutrophils 0.3 ×10⁹/L: hold (infection risk); no group or gym settings",
            "neutrophils 0.3 ×10⁹/L",
        ),
    ],
)
def test_a_blood_count_gate_names_the_unit_of_its_count(
    lab: ObservationFact, gate: str, reason: str | None
) -> None:
    """ "Platelets 15: hold" gave no unit, and a count per µL is a thousand times another: the plan page,
    the CarePlan and the cards show the gate and the hold reason as written here."""
    plan, _ = skull(lab)
    assert gate in plan.gates
    if reason is None:
        assert plan.on_hold_reason is None
    else:
        assert reason in (plan.on_hold_reason or "").split("; ")


def test_a_converted_lab_value_is_shown_without_the_digits_of_the_conversion() -> None:
    # 4.2 mmol/L haemoglobin is 6.76788 g/dL: the hold said "haemoglobin 6.76788 g/dL".
    plan, found = skull(obs(c.LAB_HAEMOGLOBIN, 4.2, "mmol/L"))
    assert plan.tier is Tier.HOLD
    assert "6.77 g/dL" in found["EX01"].summary
    assert not any(
        "6.767" in text for text in (found["EX01"].summary, found["EX02"].summary, plan.on_hold_reason)
    )


def test_a_fever_condition_holds_but_an_old_one_does_not() -> None:
    assert skull(conditions=[condition(c.FEVER, onset_days_ago=1)])[0].tier is Tier.HOLD
    assert skull(conditions=[condition(c.FEVER, onset_days_ago=10)])[0].tier is Tier.LOW


def anaemia(status: str = "active") -> ConditionFact:
    return condition(
        c.ANAEMIA,
        ref="Condition/anaemia",
        status=status,
        display="Anemia in neoplastic disease",
        onset_days_ago=12,  # 2025-05-20
    )


@pytest.mark.parametrize(
    ("hb", "said"),
    [
        (obs(c.LAB_HAEMOGLOBIN, 11, "g/dL"), "despite haemoglobin 11 g/dL"),
        (obs(c.LAB_HAEMOGLOBIN, 7.5, "g/dL"), "despite haemoglobin 7.5 g/dL"),
        (None, "whatever the haemoglobin"),
    ],
)
def test_an_anaemia_on_record_holds_exercise_whatever_the_haemoglobin(
    hb: ObservationFact | None, said: str
) -> None:
    """clinical-rules.md 2.5: "haemoglobin <7.0 g/dL, or symptomatic anaemia": the condition holds alone."""
    extra = () if hb is None else (hb,)
    observations = [o for o in fit(*extra) if hb is not None or o.concept != c.LAB_HAEMOGLOBIN]
    plan, found = assess(
        patient(lesions=[lesion(S.SKULL)], observations=observations, conditions=[anaemia()])
    )
    assert plan.tier is Tier.HOLD
    assert plan.on_hold_reason == "anaemia on record"
    assert all(statuses(plan)[d] is A for d in STRUCTURED)
    ex02 = found["EX02"]
    assert ex02.indicator is Indicator.WARNING
    # The gate names the condition as recorded, since when, and the haemoglobin it holds despite.
    (gate,) = (r for r in ex02.recommendations if r.startswith("Anaemia"))
    assert gate.startswith("Anaemia on record (Anemia in neoplastic disease, 2025-05-20): hold ")
    assert said in gate
    assert "medical review" in gate
    # Traceable to the Condition; a service default on codes awaiting review, and labelled so in the plan.
    assert ("Anaemia", "active", "Condition/anaemia", "2025-05-20") in [
        (u.label, u.value, u.ref, u.when) for u in ex02.used
    ]
    assert ex02.unverified
    assert found["EX01"].unverified
    assert gate in plan.gates
    assert gate.endswith("medical review (service default)")


@pytest.mark.parametrize("status", ["resolved", "inactive", "remission"])
def test_an_anaemia_no_longer_current_holds_nothing(status: str) -> None:
    plan, found = skull(obs(c.LAB_HAEMOGLOBIN, 11, "g/dL"), conditions=[anaemia(status)])
    assert plan.tier is Tier.LOW
    assert plan.on_hold_reason is None
    assert "EX02" not in found


def test_a_haemoglobin_under_the_hold_line_holds_once_beside_an_anaemia_on_record() -> None:
    plan, found = skull(obs(c.LAB_HAEMOGLOBIN, 6.5, "g/dL"), conditions=[anaemia()])
    assert plan.tier is Tier.HOLD
    assert plan.on_hold_reason is not None
    assert plan.on_hold_reason.endswith("haemoglobin 6.5 g/dL")
    assert "anaemia" not in plan.on_hold_reason
    assert found["EX02"].summary == "Hold structured exercise: Haemoglobin 6.5 g/dL: hold; medical review"
    # The condition was checked: the plan lists it among the data it used.
    assert "Condition/anaemia" in [u.ref for u in found["EX01"].used]


def test_the_newest_of_several_anaemias_is_named_and_each_is_listed() -> None:
    old = condition(c.ANAEMIA, ref="Condition/old", display="Anemia, unspecified", onset_days_ago=300)
    new = condition(c.ANAEMIA, ref="Condition/new", display="Anemia due to chemotherapy", onset_days_ago=3)
    _, found = skull(conditions=[old, new])
    assert "(Anemia due to chemotherapy, 2025-05-29)" in found["EX02"].summary
    assert {"Condition/old", "Condition/new"} <= {u.ref for u in found["EX02"].used}


def test_platelets_under_50_remove_resistance_and_impact_but_keep_the_tier() -> None:
    plan, found = skull(obs(c.LAB_PLATELETS, 49, "10*9/L"))
    assert plan.tier is Tier.LOW
    st = statuses(plan)
    assert (st[UP], st[TRUNK], st[LOW_], st[IMPACT]) == (A, A, A, A)
    assert st[NWB] is R
    nwb = next(d for d in plan.domains if d.domain == NWB)
    assert nwb.dose is not None
    assert nwb.dose.startswith("Light intensity only")
    assert found["EX02"].indicator is Indicator.INFO
    assert [u.label for u in found["EX02"].used] == ["Platelets"]


def test_low_haemoglobin_and_fatigue_soften_intensity() -> None:
    plan, found = skull(obs(c.LAB_HAEMOGLOBIN, 7.9, "g/dL"), obs(c.FATIGUE_SCORE, 7))
    assert plan.tier is Tier.LOW
    nwb = next(d for d in plan.domains if d.domain == NWB)
    assert nwb.dose is not None
    assert "low-to-moderate" in nwb.dose
    assert "short, frequent bouts" in nwb.dose
    assert len(found["EX02"].recommendations) == 2


def test_a_haemoglobin_asking_for_medical_review_warns_and_says_so_first() -> None:
    # Haemoglobin under 8 g/dL restricts intensity and asks for a medical review (clinical-rules.md 2.5):
    # the review is the clinician's to act on, so the gate warns, and the review leads the summary, which
    # a card cuts at its end when a platelet restriction comes too.
    _, found = skull(obs(c.LAB_PLATELETS, 35, "10*9/L"), obs(c.LAB_HAEMOGLOBIN, 7.6, "g/dL"))
    ex02 = found["EX02"]
    assert ex02.indicator is Indicator.WARNING
    assert ex02.summary.startswith(
        "Adjust exercise: Haemoglobin 7.6 g/dL: low-to-moderate intensity only; medical"
    )
    assert ex02.recommendations[0].startswith("Platelets 35")  # the plan's own order is kept


def test_missing_labs_are_reported_and_never_assumed_normal() -> None:
    plan, found = skull(labs=False)
    assert plan.tier is Tier.LOW  # a lesion tier is never lowered, and missing labs do not hold
    assert "EX02" not in found
    ex01, ex03 = found["EX01"], found["EX03"]
    assert any("full blood count" in r and "calcium" in r for r in ex01.recommendations)
    whats = {m.what for m in ex01.missing}
    assert {"platelet count within 30 days", "haemoglobin within 30 days"} <= whats
    assert any(r.startswith("Record full blood count") for r in ex03.recommendations)


def test_old_labs_count_as_missing() -> None:
    plan, found = skull(obs(c.LAB_PLATELETS, 10, "10*9/L", days_ago=40))
    assert plan.tier is Tier.LOW
    assert any(m.what.startswith("platelet count") for m in found["EX01"].missing)


def test_neutrophils_are_asked_for_only_on_chemotherapy() -> None:
    _, found = skull()
    assert not any("neutrophil" in m.what for m in found["EX01"].missing)
    _, found = skull(medications=[med(c.CHEMOTHERAPY)])
    assert any("neutrophil" in m.what for m in found["EX01"].missing)


def test_uncorrected_calcium_is_flagged_as_missing_albumin() -> None:
    facts = patient(
        lesions=[lesion(S.SKULL)],
        observations=[o for o in fit() if o.concept != c.LAB_ALBUMIN],
    )
    _, found = assess(facts)
    assert any("albumin" in m.what for m in found["EX01"].missing)


def test_summaries_are_short_and_say_what_to_do() -> None:
    for plan, found in (skull(), skull(obs(c.LAB_PLATELETS, 5, "10*9/L")), skull(obs(c.ECOG, 4))):
        for finding in found.values():
            assert len(finding.summary) < 140
        assert "suggest" in found["EX01"].summary.lower() or plan.tier is Tier.HOLD


def test_no_lesion_no_plan() -> None:
    assert assess_exercise(patient(lesions=[]), TODAY, TH) == (None, ())


def test_service_default_site_rows_are_labelled_as_such() -> None:
    _, found = skull()
    assert any("service default" in r and "skull lesion" in r for r in found["EX01"].recommendations)
    _, found = assess(patient(lesions=[lesion(S.PELVIS)], observations=fit()))
    assert not any("Site restrictions" in r for r in found["EX01"].recommendations)


def test_ecog_and_karnofsky_in_different_bands_are_both_applied_and_named_to_confirm() -> None:
    # ECOG 1 yesterday, Karnofsky 40 three days ago: the worse decides (ADL only) and the card says the
    # two scales disagree rather than leave the clinician to wonder why the plan ignores "ECOG 1".
    plan, found = skull(obs(c.ECOG, 1, days_ago=1), obs(c.KPS, 40, days_ago=3))
    assert plan.tier is Tier.ADL_ONLY
    (conflict,) = [m for m in found["EX01"].missing if m.conflict]
    assert conflict.what.startswith("ECOG 1 (")
    assert "and Karnofsky 40 (" in conflict.what
    assert conflict.consequence == "the worse applied"
    assert found["EX03"].summary.startswith(
        "Before exercise, suggest recording: which performance status is right"
    )
    # The same band on both scales is no disagreement.
    _, agreeing = skull(obs(c.ECOG, 1, days_ago=1), obs(c.KPS, 80, days_ago=3))
    assert not [m for m in agreeing["EX01"].missing if m.conflict]
