"""A yes/no finding answered neither yes nor no (docs/clinical-model.md#unreadable-results): not "no".
Each rule that reads it names it under "Received but not read", and where reading it as "yes" is the
more cautious advice the rule takes that reading and says so: fever and symptoms of hypercalcaemia hold
exercise, a falls answer sets the MODERATE floor, mechanical pain raises its lesion one tier, an impending
fracture makes its lesion HIGH.  A newer readable answer to the same finding settles it."""

from __future__ import annotations

from dataclasses import replace

import pytest
from builders import TODAY, at, lesion, med, obs, order, patient, site
from pain_support import denosumab, run

from fhir_bonemet.core.engine import assess
from fhir_bonemet.core.exercise.assess import assess_exercise
from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.facts import BodySite, ObservationFact, PatientFacts, SiteClass, UnreadableValue
from fhir_bonemet.core.model.findings import ExercisePlan, Finding, MissingFact, Tier
from fhir_bonemet.core.red_flags.spinal import assess_red_flags
from fhir_bonemet.knowledge import load_thresholds

TH = load_thresholds()
S = SiteClass


def unread(
    concept: str, *, days_ago: float = 1, where: BodySite | None = None, ref: str = "Observation/u"
) -> UnreadableValue:
    """An answer as the reader keeps it when it is neither yes nor no (a valueString "unclear")."""
    return UnreadableValue(
        ref=ref,
        concept=concept,
        effective=at(days_ago),
        value_text="unclear",
        unit_text=None,
        reason="answer not recognised; not used",
        site=where,
    )


def fit(*extra: ObservationFact) -> list[ObservationFact]:
    """A patient fit to exercise: ECOG 0, blastic lesion, normal blood counts and calcium."""
    return [
        obs(c.ECOG, 0, days_ago=1),
        obs(c.LESION_TYPE, code="blastic", days_ago=9),
        obs(c.LAB_PLATELETS, 250, "10*9/L", days_ago=1),
        obs(c.LAB_HAEMOGLOBIN, 13, "g/dL", days_ago=1),
        obs(c.LAB_CALCIUM, 9.4, "mg/dL", days_ago=1),
        obs(c.LAB_ALBUMIN, 4.0, "g/dL", days_ago=1),
        *extra,
    ]


def facts_with(
    *values: UnreadableValue,
    readable: tuple[ObservationFact, ...] = (),
    lesions: tuple[SiteClass, ...] = (S.SKULL,),
) -> PatientFacts:
    facts = patient(
        lesions=[lesion(cls, ref=f"Condition/{cls.value}", index=i) for i, cls in enumerate(lesions)],
        observations=fit(*readable),
    )
    return replace(facts, unreadable=values)


def plan_of(facts: PatientFacts) -> tuple[ExercisePlan, tuple[Finding, ...]]:
    plan, findings = assess_exercise(facts, TODAY, TH)
    assert plan is not None
    return plan, findings


def unread_lines(findings: tuple[Finding, ...]) -> list[MissingFact]:
    return [m for f in findings for m in f.missing if m.unreadable]


def test_the_fit_patient_exercises_at_low_tier() -> None:
    plan, findings = plan_of(facts_with())
    assert plan.tier is Tier.LOW
    assert unread_lines(findings) == []


def test_an_unreadable_fever_answer_holds_exercise_as_a_fever_and_says_so() -> None:
    plan, findings = plan_of(facts_with(unread(c.FEVER)))
    assert plan.tier is Tier.HOLD
    assert plan.on_hold_reason is not None
    assert "fever answer not readable" in plan.on_hold_reason
    lines = unread_lines(findings)
    assert lines, "the record is named"
    assert all("Fever 'unclear'" in m.what for m in lines)
    assert any("read as fever" in m.consequence for m in lines)


def test_a_newer_temperature_or_no_settles_an_unreadable_fever_answer() -> None:
    for settled in (obs(c.FEVER, flag=False, days_ago=0), obs(c.FEVER, 36.8, "Cel", days_ago=0)):
        plan, findings = plan_of(facts_with(unread(c.FEVER), readable=(settled,)))
        assert plan.tier is Tier.LOW
        assert unread_lines(findings) == []
    # Outside the fever lookback it no longer speaks either.
    old = TH.v("exercise.fever_lookback_days") + 2
    plan, findings = plan_of(facts_with(unread(c.FEVER, days_ago=old)))
    assert plan.tier is Tier.LOW
    assert unread_lines(findings) == []


@pytest.mark.parametrize(
    ("shown", "unit", "held"),
    [
        ("38.9", None, True),  # a fever in Celsius
        ("101", None, True),  # a fever in Fahrenheit
        ("101", "deg", True),
        ("36.8", None, False),  # normal in every unit it could be in: named, not held
        ("98.6", "F?", False),
        ("<37.5", None, False),
        ("high", None, True),  # no number: a fever cannot be ruled out
    ],
)
def test_a_temperature_whose_unit_could_not_be_read_holds_only_if_it_may_be_a_fever(
    shown: str, unit: str | None, held: bool
) -> None:
    number = float(shown.lstrip("<")) if shown[0].isdigit() or shown[0] == "<" else None
    value = replace(
        unread(c.FEVER), value_text=shown, unit_text=unit, number=number, reason="no unit; not used"
    )
    plan, findings = plan_of(facts_with(value))
    assert (plan.tier is Tier.HOLD) is held
    assert any(f"Fever {shown!r}" in m.what for m in unread_lines(findings))  # named either way


def test_an_unreadable_hypercalcaemia_symptom_answer_holds_exercise_until_checked() -> None:
    plan, findings = plan_of(facts_with(unread(c.SYMPTOMATIC_HYPERCALCAEMIA)))
    assert plan.tier is Tier.HOLD
    assert plan.on_hold_reason is not None
    assert "hypercalcaemia symptom answer" in plan.on_hold_reason
    assert any(
        "Symptoms of hypercalcaemia 'unclear'" in m.what and "read as symptomatic" in m.consequence
        for m in unread_lines(findings)
    )
    settled = obs(c.SYMPTOMATIC_HYPERCALCAEMIA, flag=False, days_ago=0)
    plan, findings = plan_of(facts_with(unread(c.SYMPTOMATIC_HYPERCALCAEMIA), readable=(settled,)))
    assert plan.tier is Tier.LOW
    assert unread_lines(findings) == []


@pytest.mark.parametrize("concept", [c.FALLS_HISTORY, c.FALL_RISK])
def test_an_unreadable_falls_answer_sets_the_moderate_floor(concept: str) -> None:
    plan, findings = plan_of(facts_with(unread(concept)))
    assert plan.tier is Tier.MODERATE
    assert any("answer not readable" in f for f in plan.person_factors)
    assert any("'unclear'" in m.what and "read as yes" in m.consequence for m in unread_lines(findings))
    plan, findings = plan_of(facts_with(unread(concept), readable=(obs(concept, flag=False, days_ago=0),)))
    assert plan.tier is Tier.LOW
    assert unread_lines(findings) == []


def by_site(plan: ExercisePlan) -> dict[SiteClass, Tier]:
    return {risk.site.site: risk.tier for risk in plan.lesions}


TWO = (S.SKULL, S.HUMERUS)
UP = {Tier.LOW: Tier.MODERATE, Tier.MODERATE: Tier.HIGH, Tier.HIGH: Tier.HIGH}  # one upgrade
HUMERUS = site(S.HUMERUS)


def test_an_unreadable_mechanical_pain_answer_raises_its_own_lesion_one_tier() -> None:
    before = by_site(plan_of(facts_with(lesions=TWO))[0])
    facts = facts_with(unread(c.PAIN_MECHANICAL, where=HUMERUS), lesions=TWO)
    plan, findings = plan_of(facts)
    assert by_site(plan) == {S.SKULL: before[S.SKULL], S.HUMERUS: UP[before[S.HUMERUS]]}
    humerus = next(r for r in plan.lesions if r.site.site is S.HUMERUS)
    assert "mechanical-pain answer not readable" in humerus.reasons
    assert any(
        "Mechanical pain 'unclear'" in m.what and "read as mechanical pain" in m.consequence
        for m in unread_lines(findings)
    )
    # A newer "no" at the humerus settles it; one older than the unreadable answer does not.
    for days_ago, tier in ((0, before[S.HUMERUS]), (2, UP[before[S.HUMERUS]])):
        said = replace(obs(c.PAIN_MECHANICAL, flag=False, days_ago=days_ago), site=HUMERUS)
        plan, _ = plan_of(replace(facts, observations=(*facts.observations, said)))
        assert by_site(plan)[S.HUMERUS] is tier


def test_an_unreadable_impending_fracture_answer_makes_its_lesion_high() -> None:
    before = by_site(plan_of(facts_with(lesions=TWO))[0])
    assert before[S.HUMERUS] is not Tier.HIGH
    facts = facts_with(unread(c.IMPENDING_FRACTURE, where=HUMERUS, days_ago=200), lesions=TWO)
    plan, findings = plan_of(facts)
    # At any age, as a readable answer is, and at its own lesion only.
    assert by_site(plan) == {S.SKULL: before[S.SKULL], S.HUMERUS: Tier.HIGH}
    assert any(
        "Impending fracture 'unclear'" in m.what and "read as an impending fracture" in m.consequence
        for m in unread_lines(findings)
    )
    said = replace(obs(c.IMPENDING_FRACTURE, flag=False, days_ago=0), site=HUMERUS)
    plan, findings = plan_of(replace(facts, observations=(*facts.observations, said)))
    assert by_site(plan) == before
    assert unread_lines(findings) == []


@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_r04_at_order_entry_reads_it_at_its_lesion_beside_another_lesions_critical_card(hook: str) -> None:
    """The exercise plan that reads the answer is not shown while ordering: R04's critical card for the skull
    would name the humerus answer only as "not used".  With a draft that may load the bone, the humerus gets
    its own warning with the reading patient-view's plan applies; with medicines alone, only the critical."""
    skull = replace(obs(c.IMPENDING_FRACTURE, flag=True, days_ago=3), site=site(S.SKULL))
    facts = replace(
        facts_with(unread(c.IMPENDING_FRACTURE, where=HUMERUS, days_ago=200), lesions=TWO),
        orders=(order(ref="physio"),),
    )
    facts = replace(facts, observations=(*facts.observations, skull))
    r04 = [f for f in assess(facts, TODAY, TH, hook=hook).findings if f.rule_id == "R04"]
    assert [(f.indicator.value, f.summary.split(":")[0]) for f in r04] == [
        ("critical", "Impending fracture (skull lesion)"),
        ("warning", "Impending-fracture answer not readable (humerus lesion)"),
    ]
    assert any(
        "Impending fracture 'unclear'" in m.what and "no loading of the site until verified" in m.consequence
        for m in r04[1].missing
    )
    medicines_only = replace(facts, orders=())
    r04 = [f for f in assess(medicines_only, TODAY, TH, hook=hook).findings if f.rule_id == "R04"]
    assert [f.indicator.value for f in r04] == ["critical"]


# R03: symptomatic hypercalcaemia means admission; an answer nobody could read is not taken to mean it.
# The card names it and asks for the symptoms to be checked now (clinical-rules.md R03).
def r03(*values: UnreadableValue, readable: tuple[ObservationFact, ...] = ()) -> Finding | None:
    facts = replace(patient(lesions=[lesion(S.PELVIS)], observations=readable), unreadable=values)
    return next((f for f in assess_red_flags(facts, TODAY, TH) if f.rule_id == "R03"), None)


def calcium(value: float) -> tuple[ObservationFact, ...]:
    return obs(c.LAB_CALCIUM, value, "mg/dL", days_ago=1), obs(c.LAB_ALBUMIN, 4.0, "g/dL", days_ago=1)


@pytest.mark.parametrize(
    ("value", "indicator", "wording"), [(11.0, "warning", "repeat"), (12.5, "critical", "urgent")]
)
def test_r03_names_an_unreadable_symptom_answer_and_asks_to_check_the_symptoms(
    value: float, indicator: str, wording: str
) -> None:
    finding = r03(unread(c.SYMPTOMATIC_HYPERCALCAEMIA), readable=calcium(value))
    assert finding is not None
    assert finding.indicator.value == indicator  # the band of the calcium: not raised to admission
    assert wording in finding.summary
    assert "admission" not in finding.summary
    assert finding.summary.endswith("check symptoms now")
    assert any("confusion, polyuria, constipation and weakness" in r for r in finding.recommendations)
    (line,) = [m for m in finding.missing if m.unreadable]
    assert "Symptoms of hypercalcaemia 'unclear'" in line.what
    assert "check the symptoms now" in line.consequence


def test_r03_a_newer_readable_no_or_a_normal_calcium_leaves_nothing_to_check() -> None:
    settled = r03(
        unread(c.SYMPTOMATIC_HYPERCALCAEMIA),
        readable=(*calcium(11.0), obs(c.SYMPTOMATIC_HYPERCALCAEMIA, flag=False, days_ago=0)),
    )
    assert settled is not None
    assert "check symptoms" not in settled.summary
    assert not [m for m in settled.missing if m.unreadable]
    # Symptoms with a normal calcium are not hypercalcaemia, read or not.
    assert r03(unread(c.SYMPTOMATIC_HYPERCALCAEMIA), readable=calcium(9.4)) is None


def test_an_answer_whose_date_could_not_be_read_is_not_settled_by_an_older_looking_readable_one() -> None:
    # Its date was received but not read, so it may be today's: a readable "no" of 20 days ago (or a
    # normal temperature) cannot be placed after it.  Read as older than every result, it was dropped in
    # silence: R03 said nothing and exercise went ahead on a symptom answer that may be from today.
    undated = replace(unread(c.SYMPTOMATIC_HYPERCALCAEMIA), effective=None, date_unreadable=True)
    older_no = obs(c.SYMPTOMATIC_HYPERCALCAEMIA, flag=False, days_ago=20)
    finding = r03(undated, readable=(older_no,))
    assert finding is not None
    assert "check calcium and symptoms now" in finding.summary
    plan, findings = plan_of(facts_with(undated, readable=(older_no,)))
    assert plan.tier is Tier.HOLD
    assert any("date not readable" in m.what for m in unread_lines(findings))
    fever = replace(unread(c.FEVER), effective=None, date_unreadable=True)
    plan, _ = plan_of(facts_with(fever, readable=(obs(c.FEVER, 36.8, "Cel", days_ago=2),)))
    assert plan.tier is Tier.HOLD


def test_r03_without_a_recent_calcium_an_unreadable_symptom_answer_asks_for_both_now() -> None:
    finding = r03(unread(c.SYMPTOMATIC_HYPERCALCAEMIA))
    assert finding is not None
    assert finding.indicator.value == "warning"  # neither symptoms nor a high calcium is known
    assert "check calcium and symptoms now" in finding.summary
    assert any(m.unreadable and "'unclear'" in m.what for m in finding.missing)
    assert r03() is None
    old = TH.v("red_flags.symptom_lookback_days") + 2
    assert r03(unread(c.SYMPTOMATIC_HYPERCALCAEMIA, days_ago=old)) is None


# R05: a severe score beside a mechanical-pain answer that could not be read is read as an escalation.
def r05s(*values: UnreadableValue, readable: tuple[ObservationFact, ...] = ()) -> list[Finding]:
    facts = replace(
        patient(lesions=[lesion(S.FEMUR, ref="Condition/f")], observations=readable), unreadable=values
    )
    return [f for f in assess_red_flags(facts, TODAY, TH) if f.rule_id == "R05"]


FEMUR = site(S.FEMUR)


def test_r05_a_severe_score_with_an_unreadable_mechanical_pain_answer_is_an_escalation() -> None:
    severe = (replace(obs(c.PAIN_SCORE, 8, days_ago=0), site=FEMUR),)
    (r05,) = r05s(unread(c.PAIN_MECHANICAL, where=FEMUR), readable=severe)
    assert "mechanical-pain answer not readable" in r05.summary
    assert "imaging" in r05.summary
    assert any(
        "Mechanical pain 'unclear'" in m.what and "read as mechanical pain" in m.consequence
        for m in r05.missing
    )
    # A newer "no" settles it; a moderate score with it is no escalation.
    no = replace(obs(c.PAIN_MECHANICAL, flag=False, days_ago=0), site=FEMUR)
    assert r05s(unread(c.PAIN_MECHANICAL, where=FEMUR), readable=(*severe, no)) == []
    moderate = (replace(obs(c.PAIN_SCORE, 5, days_ago=0), site=FEMUR),)
    assert r05s(unread(c.PAIN_MECHANICAL, where=FEMUR), readable=moderate) == []


# R07: a jaw-symptom answer that could not be read on a bone-modifying agent asks for the jaw to be checked
# before the next dose, without offering to hold the agent.
def test_r07_an_unreadable_jaw_symptom_answer_asks_to_check_the_jaw() -> None:
    on_bma = patient(medications=[denosumab()])
    found = run(replace(on_bma, unreadable=(unread(c.RF_ONJ_SYMPTOM),)))["R07"]
    assert found.indicator.value == "warning"
    assert "check the jaw before the next dose" in found.summary
    assert found.order_actions == ()  # not read as a symptom: no hold offered
    assert any("Jaw symptom 'unclear'" in m.what and m.unreadable for m in found.missing)
    # It stands in for the screening dental examination (P10), so it keeps that advice.
    assert "P10" not in run(replace(on_bma, unreadable=(unread(c.RF_ONJ_SYMPTOM),)))
    assert any(m.what == "dental examination" for m in found.missing)
    assert "If absent: no dental examination on record; arrange one." in found.recommendations
    settled = replace(
        on_bma,
        unreadable=(unread(c.RF_ONJ_SYMPTOM),),
        observations=(obs(c.RF_ONJ_SYMPTOM, flag=False, days_ago=0),),
    )
    assert "R07" not in run(settled)
    assert "R07" not in run(replace(patient(), unreadable=(unread(c.RF_ONJ_SYMPTOM),)))  # no agent


# P12: a falls answer that could not be read counts as a fall risk beside a sedating adjuvant.
@pytest.mark.parametrize("concept", [c.FALLS_HISTORY, c.FALL_RISK])
def test_p12_an_unreadable_falls_answer_counts_as_a_fall_risk(concept: str) -> None:
    duloxetine = med(c.SNRI_TCA, ingredients=["duloxetine"])
    younger = patient(age=50, medications=[duloxetine])
    assert "P12" not in run(younger)
    found = run(replace(younger, unreadable=(unread(concept),)))["P12"]
    assert "falls answer not readable" in found.rationale
    assert any("'unclear'" in m.what and "read as a fall risk" in m.consequence for m in found.missing)
    settled = replace(
        younger, unreadable=(unread(concept),), observations=(obs(concept, flag=False, days_ago=0),)
    )
    assert "P12" not in run(settled)


# A yes/no answer recorded with no date at all may be current: R01 counts one unless a dated answer within
# the lookback settles it, and so do the other rules that read the answer cautiously (R03, the exercise
# gates, R07, P12).  Dropped before, it made their advice less cautious than R01's.
def undated(concept: str) -> UnreadableValue:
    return replace(unread(concept), effective=None)


def test_an_undated_answer_counts_unless_a_dated_answer_within_the_lookback_settles_it() -> None:
    symptom = undated(c.SYMPTOMATIC_HYPERCALCAEMIA)
    finding = r03(symptom)
    assert finding is not None
    assert "check calcium and symptoms now" in finding.summary
    plan, findings = plan_of(facts_with(symptom))
    assert plan.tier is Tier.HOLD
    assert any("Symptoms of hypercalcaemia 'unclear'" in m.what for m in unread_lines(findings))
    # A dated "no" within the lookback settles it, as it settles an undated red-flag answer for R01 ...
    recent_no = obs(c.SYMPTOMATIC_HYPERCALCAEMIA, flag=False, days_ago=2)
    assert r03(symptom, readable=(recent_no,)) is None
    plan, findings = plan_of(facts_with(symptom, readable=(recent_no,)))
    assert plan.tier is Tier.LOW
    assert unread_lines(findings) == []
    # ... one older than the lookback does not.
    old_no = obs(
        c.SYMPTOMATIC_HYPERCALCAEMIA, flag=False, days_ago=TH.v("red_flags.symptom_lookback_days") + 2
    )
    assert r03(symptom, readable=(old_no,)) is not None


def test_r05_counts_an_undated_mechanical_pain_answer_unless_a_recent_one_settles_it() -> None:
    severe = (replace(obs(c.PAIN_SCORE, 8, days_ago=0), site=FEMUR),)
    pain = replace(unread(c.PAIN_MECHANICAL, where=FEMUR), effective=None)
    (r05,) = r05s(pain, readable=severe)
    assert "mechanical-pain answer not readable" in r05.summary
    no = replace(obs(c.PAIN_MECHANICAL, flag=False, days_ago=1), site=FEMUR)
    assert r05s(pain, readable=(*severe, no)) == []


def test_r07_and_p12_count_an_undated_answer() -> None:
    on_bma = patient(medications=[denosumab()])
    assert "check the jaw" in run(replace(on_bma, unreadable=(undated(c.RF_ONJ_SYMPTOM),)))["R07"].summary
    younger = patient(age=50, medications=[med(c.SNRI_TCA, ingredients=["duloxetine"])])
    found = run(replace(younger, unreadable=(undated(c.FALLS_HISTORY),)))["P12"]
    assert "falls answer not readable" in found.rationale


def test_an_undated_unreadable_measurement_is_named_but_acted_on_by_no_rule() -> None:
    # A readable value with no date is not used (it may be old); one that could not be read is no more
    # than that: R10 does not ask to verify it now and a temperature does not hold exercise, but the cards
    # of the rules that read it name it.
    platelets = UnreadableValue(
        ref="Observation/plt",
        concept=c.LAB_PLATELETS,
        effective=None,
        value_text="30",
        unit_text=None,
        reason="no unit",
        number=30.0,
    )
    facts = replace(patient(lesions=[lesion(S.PELVIS)]), unreadable=(platelets,))
    assert not [f for f in assess_red_flags(facts, TODAY, TH) if f.rule_id == "R10"]
    dated = replace(platelets, effective=at(1))
    assert [f for f in assess_red_flags(replace(facts, unreadable=(dated,)), TODAY, TH) if f.rule_id == "R10"]
    named = [m for f in assess(facts, TODAY, TH).findings for m in f.missing if m.unreadable]
    assert any("Platelets '30' (no unit)" in m.what for m in named)
    temperature = replace(platelets, ref="Observation/t", concept=c.FEVER, value_text="39", number=39.0)
    plan, _ = plan_of(facts_with(temperature))
    assert plan.tier is not Tier.HOLD


# A readable "yes" recorded with no date counts as R01 counts one, unless a dated answer within the
# lookback settles it: an undated "unclear" counted while an undated "yes" did not.
def test_an_undated_yes_counts_for_falls_hypercalcaemia_symptoms_and_p12_and_says_so() -> None:
    falls = obs(c.FALLS_HISTORY, flag=True, undated=True)
    plan, findings = plan_of(replace(facts_with(), observations=(*fit(), falls)))
    assert plan.tier is Tier.MODERATE
    assert any(m.what == "date of the falls history record" for f in findings for m in f.missing)
    settled = obs(c.FALLS_HISTORY, flag=False, days_ago=1)
    assert plan_of(replace(facts_with(), observations=(*fit(), falls, settled)))[0].tier is Tier.LOW

    symptoms = obs(c.SYMPTOMATIC_HYPERCALCAEMIA, flag=True, undated=True)
    finding = r03(readable=(*calcium(11.0), symptoms))
    assert finding is not None
    assert finding.indicator.value == "critical"
    assert any(m.what == "date of the hypercalcaemia symptom record" for m in finding.missing)
    plan, _ = plan_of(replace(facts_with(), observations=(*fit(), symptoms)))
    assert plan.tier is Tier.HOLD

    duloxetine = med(c.SNRI_TCA, ingredients=["duloxetine"])
    found = run(patient(age=50, medications=[duloxetine], observations=[falls]))["P12"]
    assert any(m.what == "date of the falls record" for m in found.missing)


# A finding recorded with no answer but a reason (dataAbsentReason asked-unknown, asked-declined, ...) is
# read as cautiously as an unreadable answer by every rule above, and worded as what it is: the answer is
# unknown, the record was not misread.
def no_answer(concept: str, **kw: object) -> UnreadableValue:
    return replace(
        unread(concept, **kw),  # type: ignore[arg-type]
        value_text="(no answer)",
        reason="recorded with no answer; not used",
        no_answer="asked-unknown",
    )


def said(findings: tuple[Finding, ...] | list[Finding]) -> str:
    return " ".join(
        " ".join(
            (f.summary, f.rationale, *f.recommendations, *(f"{m.what}: {m.consequence}" for m in f.missing))
        )
        for f in findings
    )


def assert_worded_as_no_answer(text: str, label: str) -> None:
    assert f"{label} (recorded with no answer: asked-unknown, " in text
    assert "not readable" not in text
    assert "could not be read" not in text


def test_a_fever_recorded_with_no_answer_holds_exercise_until_assessed() -> None:
    plan, findings = plan_of(facts_with(no_answer(c.FEVER)))
    assert plan.tier is Tier.HOLD
    assert plan.on_hold_reason is not None
    assert "fever answer unknown" in plan.on_hold_reason
    assert any("read as fever" in m.consequence for m in unread_lines(findings))
    assert_worded_as_no_answer(said(findings), "Fever")
    # A newer readable answer settles it, as it settles an unreadable one.
    settled = obs(c.FEVER, flag=False, days_ago=0)
    plan, findings = plan_of(facts_with(no_answer(c.FEVER, days_ago=1), readable=(settled,)))
    assert plan.tier is Tier.LOW
    assert unread_lines(findings) == []


def test_the_exercise_readings_of_a_finding_recorded_with_no_answer() -> None:
    plan, findings = plan_of(facts_with(no_answer(c.SYMPTOMATIC_HYPERCALCAEMIA)))
    assert plan.tier is Tier.HOLD
    assert plan.on_hold_reason is not None
    assert "hypercalcaemia symptom answer unknown" in plan.on_hold_reason
    plan, findings = plan_of(facts_with(no_answer(c.FALLS_HISTORY)))
    assert plan.tier is Tier.MODERATE
    assert "falls history answer unknown" in plan.person_factors
    before = by_site(plan_of(facts_with(lesions=TWO))[0])
    plan, findings = plan_of(facts_with(no_answer(c.PAIN_MECHANICAL, where=HUMERUS), lesions=TWO))
    assert by_site(plan)[S.HUMERUS] is UP[before[S.HUMERUS]]
    humerus = next(r for r in plan.lesions if r.site.site is S.HUMERUS)
    assert "mechanical-pain answer unknown" in humerus.reasons
    plan, findings = plan_of(facts_with(no_answer(c.IMPENDING_FRACTURE, where=HUMERUS), lesions=TWO))
    assert by_site(plan)[S.HUMERUS] is Tier.HIGH
    assert_worded_as_no_answer(said(findings), "Impending fracture")


def test_r03_r05_r07_and_p12_read_a_finding_recorded_with_no_answer_and_say_so() -> None:
    r03_card = r03(no_answer(c.SYMPTOMATIC_HYPERCALCAEMIA))
    assert r03_card is not None
    assert "Hypercalcaemia symptom answer unknown, no recent calcium" in r03_card.summary
    assert "recorded with no answer (asked-unknown)" in r03_card.rationale
    assert "Record the answer once it is known." in r03_card.recommendations
    assert_worded_as_no_answer(said([r03_card]), "Symptoms of hypercalcaemia")
    severe = (replace(obs(c.PAIN_SCORE, 8, days_ago=0), site=FEMUR),)
    (r05,) = r05s(no_answer(c.PAIN_MECHANICAL, where=FEMUR), readable=severe)
    assert "mechanical-pain answer unknown" in r05.summary
    assert_worded_as_no_answer(said([r05]), "Mechanical pain")
    on_bma = patient(medications=[denosumab()])
    r07 = run(replace(on_bma, unreadable=(no_answer(c.RF_ONJ_SYMPTOM),)))["R07"]
    assert "Jaw symptom answer unknown on a bone-modifying agent" in r07.summary
    assert r07.order_actions == ()
    assert_worded_as_no_answer(said([r07]), "Jaw symptom")
    duloxetine = med(c.SNRI_TCA, ingredients=["duloxetine"])
    p12 = run(replace(patient(age=50, medications=[duloxetine]), unreadable=(no_answer(c.FALL_RISK),)))["P12"]
    assert "falls answer unknown" in p12.rationale
    assert_worded_as_no_answer(said([p12]), "At risk of falls")
