"""The CarePlan and its Goals: R4 validity, activities per domain, hold logic, pain plan, identifier."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from cards_builders import (
    PATIENT,
    TODAY,
    exercise_finding,
    exercise_plan,
    full_assessment,
    make_careplan,
    p04,
    r04,
)
from fhir.resources.R4B.careplan import CarePlan
from fhir.resources.R4B.goal import Goal

from fhir_bonemet.core.model.findings import Assessment, Category, Finding, Indicator, Referral, Tier
from fhir_bonemet.errors import TerminologyError
from fhir_bonemet.fhir.outbound.careplan import (
    BuiltCarePlan,
    CarePlanStatus,
    activated,
    with_status,
)
from fhir_bonemet.fhir.outbound.careplan_text import reassessment
from fhir_bonemet.fhir.outbound.codes import default_codes_path, load_outbound_codes, parse_outbound_codes

CODES = load_outbound_codes()
LOCAL = CODES.local_system


def planned() -> Assessment:
    """Exercise and pain findings, no red flag: structured exercise goes ahead."""
    return Assessment(True, "bone metastasis", (exercise_finding(), p04()), exercise_plan())


def build(assessment: Assessment | None = None, **kw: Any) -> BuiltCarePlan:
    plan = make_careplan(assessment or planned(), patient_ref=PATIENT, today=TODAY, **kw)
    assert plan is not None
    return plan


def activities(plan: BuiltCarePlan) -> dict[str, dict[str, Any]]:
    return {a["detail"]["code"]["coding"][0]["code"]: a["detail"] for a in plan.resource["activity"]}


def test_careplan_and_goals_parse_as_r4_resources() -> None:
    plan = build(opioid=True)
    parsed = CarePlan.model_validate(plan.resource)
    assert parsed.intent == "plan"
    assert len(plan.resource["contained"]) == 3
    for goal in plan.resource["contained"]:
        Goal.model_validate(goal)
    assert [g["reference"] for g in plan.resource["goal"]] == ["#goal-safety", "#goal-function", "#goal-pain"]


def test_plan_names_patient_conditions_and_the_observations_used() -> None:
    resource = build().resource
    assert resource["subject"] == {"reference": PATIENT}
    assert resource["addresses"] == [{"reference": "Condition/met-1"}, {"reference": "Condition/met-2"}]
    assert resource["supportingInfo"] == [
        {"reference": "Observation/sins-1"},
        {"reference": "Observation/mirels-1"},
        {"reference": "Observation/pain-1"},
    ]
    assert [c["coding"][0]["code"] for c in resource["category"]] == ["bm-exercise", "bm-pain"]
    assert all(c["coding"][0]["system"] == LOCAL for c in resource["category"])


def test_one_activity_per_domain_with_exclusions_timing_and_performer() -> None:
    acts = activities(build())
    assert list(acts)[:8] == [
        "ex-aerobic-wb",
        "ex-aerobic-nwb",
        "ex-resist-upper",
        "ex-resist-trunk",
        "ex-resist-lower",
        "ex-flex",
        "ex-balance",
        "ex-impact",
    ]
    avoided = acts["ex-resist-trunk"]
    assert avoided["doNotPerform"] is True
    assert "scheduledTiming" not in avoided
    assert "No spinal flexion, extension or rotation (T9)" in avoided["description"]
    restricted = acts["ex-resist-lower"]
    assert "doNotPerform" not in restricted
    assert restricted["status"] == "scheduled"
    assert "Knee only; no hip loading (left femur)" in restricted["description"]
    assert restricted["scheduledTiming"] == {"repeat": {"frequency": 3, "period": 1.0, "periodUnit": "wk"}}
    assert restricted["performer"] == [{"display": CODES.performers["high"]}]
    assert acts["stop-and-call"]["description"].startswith(
        "Stop and contact the care team if: New or worse pain"
    )


def test_held_plan_puts_structured_exercise_on_hold_and_keeps_daily_activity() -> None:
    acts = activities(
        build(
            Assessment(
                True, "x", (exercise_finding(),), exercise_plan(Tier.HOLD, on_hold_reason="platelets 15")
            )
        )
    )
    assert acts["ex-aerobic-nwb"]["status"] == "on-hold"
    assert "On hold: platelets 15." in acts["ex-aerobic-nwb"]["description"]
    assert "scheduledTiming" not in acts["ex-aerobic-nwb"]
    assert acts["ex-adl-only"]["status"] == "scheduled"
    assert acts["ex-resist-trunk"]["doNotPerform"] is True


def test_a_critical_red_flag_holds_exercise_even_when_the_plan_did_not() -> None:
    plan = build(Assessment(True, "x", (r04(), exercise_finding()), exercise_plan(Tier.MODERATE)))
    acts = activities(plan)
    assert plan.structured_exercise_held
    assert acts["ex-balance"]["status"] == "on-hold"
    assert "Pathological or impending fracture" in acts["ex-balance"]["description"]
    assert "structured exercise on hold" in plan.resource["description"]


def test_pain_plan_activities_and_bowel_regimen_only_with_an_opioid() -> None:
    without = activities(build())
    assert {"pain-diary", "pain-reassessment"} <= set(without)
    assert "bowel-regimen" not in without
    assert without["pain-diary"]["scheduledTiming"]["repeat"] == {
        "frequency": 1,
        "period": 1.0,
        "periodUnit": "d",
    }
    assert "P04: Severe pain 7/10" in without["pain-reassessment"]["description"]
    with_opioid = activities(build(opioid=True))
    assert "docusate alone is not enough" in with_opioid["bowel-regimen"]["description"]


def test_no_pain_activities_without_pain_findings_or_opioid() -> None:
    plan = build(Assessment(True, "x", (exercise_finding(),), exercise_plan()))
    assert not {"pain-diary", "pain-reassessment", "bowel-regimen"} & set(activities(plan))
    assert [c["coding"][0]["code"] for c in plan.resource["category"]] == ["bm-exercise"]
    assert [g["id"] for g in plan.resource["contained"]] == ["goal-safety", "goal-function"]


def test_pain_only_plan_without_exercise_plan() -> None:
    plan = build(Assessment(True, "x", (p04(),)))
    assert set(activities(plan)) == {"pain-diary", "pain-reassessment"}
    assert "addresses" not in plan.resource
    assert plan.resource["contained"][0]["target"][0]["measure"]["coding"][0]["code"] == "72514-3"


def test_goals_are_time_bound_at_the_review_interval() -> None:
    goal = build().resource["contained"][0]
    assert goal["target"][0]["dueDate"] == (TODAY + timedelta(weeks=8)).isoformat()
    assert goal["addresses"] == [{"reference": "Condition/met-1"}, {"reference": "Condition/met-2"}]
    assert "8 weeks (service default)" in goal["description"]["text"]


def test_narrative_is_generated_escaped_xhtml() -> None:
    plan_obj = exercise_plan()
    lesion = replace(plan_obj.lesions[0], reasons=("SINS <14> & rising",))
    plan = build(Assessment(True, "x", (exercise_finding(),), replace(plan_obj, lesions=(lesion,))))
    text = plan.resource["text"]
    assert text["status"] == "generated"
    assert text["div"].startswith('<div xmlns="http://www.w3.org/1999/xhtml">')
    assert "SINS &lt;14&gt; &amp; rising" in text["div"]
    assert "Rules: EX-TIER." in text["div"]


@pytest.mark.parametrize(
    ("special", "reference"), [("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"), ("'", "&#x27;")]
)
def test_narrative_escapes_each_markup_character_of_patient_text(special: str, reference: str) -> None:
    plan_obj = exercise_plan()
    lesion = replace(plan_obj.lesions[0], reasons=(f"SINS 14 {special} rising",))
    plan = build(Assessment(True, "x", (exercise_finding(),), replace(plan_obj, lesions=(lesion,))))
    assert f"SINS 14 {reference} rising" in plan.resource["text"]["div"]


def test_identifier_is_stable_for_the_same_plan_and_changes_with_content() -> None:
    first = build()
    assert first.resource["identifier"] == [
        {"system": CODES.careplan_identifier_system, "value": first.identifier_value}
    ]
    later = make_careplan(planned(), patient_ref=PATIENT, today=TODAY + timedelta(days=3))
    draft = build(status=CarePlanStatus.DRAFT)
    assert later is not None
    assert later.identifier_value == first.identifier_value == draft.identifier_value
    other_patient = make_careplan(planned(), patient_ref="Patient/other", today=TODAY)
    other_tier = build(replace(planned(), exercise=exercise_plan(Tier.MODERATE)))
    assert other_patient is not None
    assert first.identifier_value not in (other_patient.identifier_value, other_tier.identifier_value)
    assert first.if_none_exist == f"identifier={CODES.careplan_identifier_system}|{first.identifier_value}"


def test_status_active_when_suggested_draft_when_written_and_activation() -> None:
    plan = build()
    assert plan.resource["status"] == "active"
    draft = with_status(plan, CarePlanStatus.DRAFT)
    assert draft.resource["status"] == "draft"
    assert draft.resource["identifier"] == plan.resource["identifier"]
    active = activated(draft.resource, "cp-1")
    assert (active["id"], active["status"]) == ("cp-1", "active")
    CarePlan.model_validate(active)


def test_no_plan_outside_the_population_or_without_anything_to_plan() -> None:
    assert (
        make_careplan(Assessment(False, "x", (p04(),), exercise_plan()), patient_ref=PATIENT, today=TODAY)
        is None
    )
    red_flag_only = Assessment(True, "x", (r04(),))
    assert make_careplan(red_flag_only, patient_ref=PATIENT, today=TODAY) is None


def test_unverified_rules_are_flagged_in_the_plan() -> None:
    unverified = replace(exercise_finding(), unverified=True)
    notes = [n["text"] for n in build(Assessment(True, "x", (unverified,), exercise_plan())).resource["note"]]
    assert "Parts of this plan rest on rules awaiting clinical review." in notes
    assert any(n.startswith("Decision support only") for n in notes)


def test_code_file_covers_every_referral_category_and_tier() -> None:
    assert {r.value for r in Referral} <= set(CODES.referrals)
    assert {c.value for c in Category} <= set(CODES.topics)
    assert {t.value for t in Tier} <= set(CODES.performers)


@pytest.mark.parametrize(
    ("section", "key", "message"),
    [
        ("referrals", "palliative-care", "[referrals] lacks palliative-care"),
        ("topics", "pain", "[topics] lacks pain"),
        ("performers", "hold", "[performers] lacks hold"),
    ],
)
def test_code_file_missing_entry_stops_start_up(section: str, key: str, message: str) -> None:
    data = tomllib.loads(default_codes_path().read_text(encoding="utf-8"))
    del data[section][key]
    with pytest.raises(TerminologyError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_outbound_codes(data)


def test_code_file_rejects_a_bad_priority() -> None:
    data = tomllib.loads(default_codes_path().read_text(encoding="utf-8"))
    data["referrals"]["mscc-pathway"]["priority"] = "whenever"
    with pytest.raises(TerminologyError, match="priority must be one of"):
        parse_outbound_codes(data)


def test_plan_names_only_the_exercise_and_pain_rules_it_rests_on() -> None:
    # A non-plan finding (medication safety) is not copied into the plan's rule ids.
    extra = Finding(
        "P13", "Gabapentinoid with opioid", Category.MEDICATION_SAFETY, Indicator.WARNING, "s", "r"
    )
    plan = build(Assessment(True, "x", (*full_assessment().findings, extra), exercise_plan()))
    assert plan.rule_ids == ("EX-TIER", "P04")


def test_the_pain_reassessment_activity_gives_units_as_the_cards_do() -> None:
    """The CarePlan quoted a pain finding's summary with its UCUM code ("for 3 d") where the card reads
    "for 3 days": the plan and the card say the same value the same way."""
    finding = Finding(
        rule_id="P05",
        title="Pain uncontrolled on a strong opioid",
        category=Category.PAIN,
        indicator=Indicator.WARNING,
        summary="Pain 7/10 persists on a strong opioid for 3 d: review the pain plan",
        rationale="rationale",
        evidence=(),
    )
    expected = "P05: Pain 7/10 persists on a strong opioid for 3 days: review the pain plan"
    assert expected in reassessment([finding])
