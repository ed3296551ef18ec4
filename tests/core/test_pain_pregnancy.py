"""Pregnancy and breast-feeding (P40-P42), two NSAIDs (P43): the cautious readings behind the vignettes."""

from __future__ import annotations

from dataclasses import replace

from builders import TODAY, at, condition, dose, med, obs, patient
from pain_support import crcl_labs, denosumab, fired, ibuprofen, oxycodone, pain, run

from fhir_bonemet.cards.detail import detail_markdown
from fhir_bonemet.core.engine import assess
from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.facts import PatientFacts, Sex, UnreadableValue
from fhir_bonemet.core.model.findings import Finding, Indicator
from fhir_bonemet.knowledge import load_thresholds

TH = load_thresholds()
WOMAN = {"age": 31, "sex": Sex.FEMALE}
LABS = [*crcl_labs(90), obs(c.LAB_PLATELETS, 200, "10*9/L", days_ago=2)]
PREGNANT = condition(c.PREGNANCY, ref="preg", onset_days_ago=60)


def _status(answer: str, days_ago: float) -> object:
    return obs(c.PREGNANCY_STATUS, code=answer, days_ago=days_ago, ref=f"status-{answer}")


def test_a_later_not_pregnant_status_does_not_undo_an_active_pregnancy_and_asks_to_verify() -> None:
    facts = patient(**WOMAN, conditions=[PREGNANT], observations=[*LABS, _status("not-pregnant", 1)])
    found = run(facts)["P40"]
    assert "pregnant" in found.summary
    assert any("consistent pregnancy status" in m.what for m in found.missing)
    assert "P07" not in fired(facts)


def test_unknown_or_absent_pregnancy_status_is_not_pregnancy() -> None:
    for observations in ([*LABS, _status("unknown", 3)], LABS):
        facts = patient(**WOMAN, observations=observations, medications=[ibuprofen(), oxycodone()])
        assert not {"P40", "P41", "P42"} & fired(facts)
        assert "P07" in fired(facts)


def test_gestational_age_is_projected_to_today_and_past_term_asks_to_verify() -> None:
    # 30 weeks recorded 10 weeks ago: about 40 weeks today; 36 weeks 10 weeks ago: past term.
    on_time = obs(c.GESTATIONAL_AGE, 30, "wk", days_ago=70, ref="ga")
    found = run(
        patient(**WOMAN, conditions=[PREGNANT], observations=[*LABS, on_time], medications=[ibuprofen()])
    )
    assert found["P41"].indicator is Indicator.CRITICAL
    assert "40 weeks" in found["P41"].summary
    late = obs(c.GESTATIONAL_AGE, 36, "wk", days_ago=70, ref="ga")
    past = run(patient(**WOMAN, conditions=[PREGNANT], observations=[*LABS, late], medications=[ibuprofen()]))
    assert any("past term" in m.consequence for m in past["P41"].missing)


def test_nsaid_before_20_weeks_is_not_a_pregnancy_card_and_unknown_weeks_read_as_20_or_more() -> None:
    early = obs(c.GESTATIONAL_AGE, 14, "wk", days_ago=7, ref="ga")
    facts = patient(**WOMAN, conditions=[PREGNANT], observations=[*LABS, early], medications=[ibuprofen()])
    assert "P41" not in fired(facts)
    unknown = run(patient(**WOMAN, conditions=[PREGNANT], observations=LABS, medications=[ibuprofen()]))[
        "P41"
    ]
    assert unknown.indicator is Indicator.WARNING
    assert [m.what for m in unknown.missing] == ["gestational age"]


def test_low_dose_aspirin_is_neither_a_pregnancy_nsaid_nor_a_second_nsaid() -> None:
    aspirin = med(c.NSAID, ingredients=["aspirin"], doses=[dose(81, "mg", per_day=1)], ref="asa")
    facts = patient(**WOMAN, conditions=[PREGNANT], observations=LABS, medications=[aspirin, ibuprofen()])
    found = fired(facts)
    assert "P43" not in found
    assert "aspirin" not in " ".join(u.value + u.label for u in run(facts)["P41"].used).lower()
    full = med(c.NSAID, ingredients=["aspirin"], doses=[dose(600, "mg", per_day=3)], ref="asa")
    assert "P43" in fired(patient(observations=LABS, medications=[full, ibuprofen()]))


def test_a_statement_repeating_an_order_is_one_nsaid_not_two() -> None:
    statement = med(c.NSAID, ingredients=["ibuprofen"], source="MedicationStatement", ref="ibu-st")
    assert "P43" not in fired(patient(observations=LABS, medications=[ibuprofen(ref="ibu"), statement]))


def test_a_draft_second_nsaid_is_offered_for_removal_and_the_active_one_kept() -> None:
    draft = med(c.NSAID, ingredients=["naproxen"], draft=True, ref="nap", doses=[dose(250, "mg", per_day=2)])
    found = run(patient(observations=LABS, medications=[ibuprofen(ref="ibu"), draft]), hook="order-select")
    assert [(a.order_ref, a.action) for a in found["P43"].order_actions] == [("nap", "delete")]


def test_denosumab_draft_in_pregnancy_is_critical_and_named_for_removal() -> None:
    draft = denosumab(draft=True, ref="dmab")
    found = run(
        patient(**WOMAN, conditions=[PREGNANT], observations=LABS, medications=[draft]), hook="order-sign"
    )
    assert found["P40"].indicator is Indicator.CRITICAL
    assert [(a.order_ref, a.action) for a in found["P40"].order_actions] == [("dmab", "delete")]
    assert not {"P07", "P08", "P10"} & set(found)


def test_calcium_and_vitamin_d_are_not_prepared_for_an_agent_cancelled_in_pregnancy() -> None:
    # P09 offered "add daily calcium and vitamin D with this order" on the draft P40 asks to cancel.
    draft = denosumab(draft=True, ref="dmab")
    found = run(
        patient(**WOMAN, conditions=[PREGNANT], observations=LABS, medications=[draft]), hook="order-sign"
    )
    assert "P40" in found
    assert "P09" not in found
    breast_feeding = condition(c.LACTATION, ref="bf", onset_days_ago=30)
    active = denosumab(ref="dmab-active")
    assert "P09" not in fired(
        patient(**WOMAN, conditions=[breast_feeding], observations=LABS, medications=[active])
    )


def test_sedatives_in_pregnancy_are_flagged_as_awaiting_review() -> None:
    benzo = med(c.BENZODIAZEPINE, ingredients=["lorazepam"], ref="lzp")
    found = run(patient(**WOMAN, conditions=[PREGNANT], observations=LABS, medications=[benzo]))["P42"]
    assert found.unverified
    opioid = run(patient(**WOMAN, conditions=[PREGNANT], observations=LABS, medications=[oxycodone()]))["P42"]
    assert not opioid.unverified
    assert "do not stop abruptly" in opioid.summary


def test_a_pregnancy_status_recorded_with_no_answer_is_named_in_clinical_words() -> None:
    """Named on the pregnancy card as "Pregnancy status", not by the concept id, over the pregnancy
    lookback (the pregnancy rules read the status over it, not over the laboratory lookback)."""
    no_answer = UnreadableValue(
        ref="Observation/status",
        concept=c.PREGNANCY_STATUS,
        effective=at(60),
        value_text="(no answer)",
        unit_text=None,
        reason="recorded with no answer; not used",
        no_answer="asked-unknown",
    )
    facts = patient(**WOMAN, conditions=[PREGNANT], observations=LABS, medications=[ibuprofen()])
    (found,) = [
        f for f in assess(replace(facts, unreadable=(no_answer,)), TODAY, TH).findings if f.rule_id == "P41"
    ]
    assert "Pregnancy status (recorded with no answer: asked-unknown, " in " ".join(
        m.what for m in found.missing
    )


def test_a_pregnancy_recorded_for_a_patient_recorded_as_male_is_read_as_pregnant_and_said_as_a_conflict() -> (
    None
):
    """Administrative sex does not rule a pregnancy out, and the record may be wrong either way: the cards
    read it as a pregnancy (NSAID avoided, no bone-modifying agent proposed) but said nothing of the
    disagreement, so nobody was asked to check the record."""
    man = {"age": 31, "sex": Sex.MALE}
    for facts in (
        patient(**man, conditions=[PREGNANT], observations=LABS, medications=[ibuprofen()]),
        patient(**man, observations=[*LABS, _status("pregnant", 3)], medications=[ibuprofen()]),
    ):
        found = run(facts)
        for rule in ("P40", "P41"):
            conflicts = [m for m in found[rule].missing if m.conflict]
            assert [m.what for m in conflicts] == [
                "a pregnancy recorded for a patient whose recorded sex is male"
            ]
    woman = run(patient(**WOMAN, conditions=[PREGNANT], observations=LABS, medications=[ibuprofen()]))
    assert not any(m.conflict for m in woman["P41"].missing)


def test_a_later_unknown_pregnancy_status_does_not_undo_an_earlier_pregnant_one() -> None:
    """'Unknown' says nobody knows, not that the pregnancy ended: read as the newest status, it made a
    pregnant patient not pregnant, and the NSAID and a bone-modifying agent went unremarked."""
    statuses = [_status("pregnant", 60), _status("unknown", 1)]
    facts = patient(**WOMAN, observations=[*LABS, *statuses], medications=[ibuprofen()])
    found = run(facts)
    assert {"P40", "P41"} <= set(found)
    assert "P07" not in found
    assert any(m.what == "a current pregnancy status" for m in found["P41"].missing)
    # A later definite answer still settles it, and "unknown" alone is still not pregnancy.
    ended = [_status("pregnant", 60), _status("not-pregnant", 1)]
    assert "P41" not in fired(patient(**WOMAN, observations=[*LABS, *ended], medications=[ibuprofen()]))
    only_unknown = [_status("unknown", 1)]
    assert "P41" not in fired(
        patient(**WOMAN, observations=[*LABS, *only_unknown], medications=[ibuprofen()])
    )


def _assessed(facts: PatientFacts) -> dict[str, Finding]:
    """Findings as the cards get them: with what was received but not read (data_gaps) added."""
    return {f.rule_id: f for f in assess(facts, TODAY, TH).findings}


def _status_lines(finding: Finding) -> list[str]:
    return [m.what for m in finding.missing if m.what.startswith("Pregnancy status")]


def test_a_pregnancy_status_answered_unknown_is_named_where_a_bone_modifying_agent_is_proposed() -> None:
    """'Unknown' is not pregnancy, but it was received: P07 proposed an agent for a woman of childbearing
    age with no word of it, while a status recorded with no answer was named.  A later definite answer
    settles it."""
    unknown = _status("unknown", 3)
    found = _assessed(patient(**WOMAN, observations=[*LABS, unknown]))
    assert "P40" not in found
    (line,) = [m for m in found["P07"].missing if m.what.startswith("Pregnancy status")]
    assert line.what == f"Pregnancy status (recorded with no answer: unknown, {at(3).date().isoformat()})"
    assert line.unreadable
    assert line.consequence == "not read as pregnant; verify it"
    settled = _assessed(
        patient(**WOMAN, observations=[*LABS, _status("unknown", 30), _status("not-pregnant", 3)])
    )
    assert "P07" in settled
    assert _status_lines(settled["P07"]) == []
    # Said once where the rule read that status itself (a later unknown over a pregnant one).
    later = _assessed(
        patient(**WOMAN, observations=[*LABS, _status("pregnant", 60), unknown], medications=[ibuprofen()])
    )
    assert _status_lines(later["P41"]) == []
    assert any(m.what == "a current pregnancy status" for m in later["P41"].missing)


def test_the_pain_cards_ask_for_obstetric_input_before_suggesting_an_opioid_in_pregnancy() -> None:
    """P03 and P04 suggest an opioid and radiotherapy before any opioid is active, when P42 cannot yet say a
    word: in pregnancy they lead with the caveat and show the pregnancy record they read."""
    moderate = _assessed(patient(**WOMAN, conditions=[PREGNANT], observations=[*LABS, pain(6)]))["P03"]
    caveat = moderate.recommendations[0]
    assert caveat.startswith("Pregnant: choose the opioid and any radiotherapy with obstetric and specialist")
    assert caveat.endswith("(awaiting clinical review).")
    assert moderate.unverified
    assert moderate.used[1].ref == "preg"  # right after the score, so "Based on" shows it
    assert "Pregnancy" in detail_markdown([moderate]).split("Based on:")[1].split("\n")[0]
    weeks = obs(c.GESTATIONAL_AGE, 24, "wk", days_ago=0, ref="ga")
    severe = _assessed(patient(**WOMAN, conditions=[PREGNANT], observations=[*LABS, weeks, pain(8)]))["P04"]
    assert severe.recommendations[0].startswith("Pregnant (24 weeks): choose the opioid and any radiotherapy")
    assert {"preg", "ga"} <= {u.ref for u in severe.used}


def test_the_pain_cards_say_nothing_of_pregnancy_when_none_is_recorded_and_name_an_unknown_status() -> None:
    for score, rule_id in ((6, "P03"), (8, "P04")):
        plain = _assessed(patient(**WOMAN, observations=[*LABS, pain(score)]))[rule_id]
        assert not any("regnan" in line for line in plain.recommendations)
        assert not any("regnan" in u.label for u in plain.used)
        assert _status_lines(plain) == []
        # "Unknown" is not pregnancy: no caveat, but the status is named as on the other pregnancy cards.
        asked = patient(**WOMAN, observations=[*LABS, _status("unknown", 3), pain(score)])
        unknown = _assessed(asked)[rule_id]
        assert not any("regnan" in line for line in unknown.recommendations)
        assert _status_lines(unknown) == [
            f"Pregnancy status (recorded with no answer: unknown, {at(3).date().isoformat()})"
        ]


BREAST_FEEDING = condition(c.LACTATION, ref="bf", onset_days_ago=30)


def test_codeine_or_tramadol_while_breast_feeding_is_a_warning_with_the_draft_offered_for_removal() -> None:
    # The FDA recommends against both in breast-feeding (S44): the infant may be sedated or stop breathing.
    tramadol = med(c.OPIOID, c.TRAMADOL, ingredients=["tramadol"], ref="trm", draft=True)
    found = run(
        patient(**WOMAN, conditions=[BREAST_FEEDING], observations=LABS, medications=[tramadol]),
        hook="order-sign",
    )["P47"]
    assert found.indicator is Indicator.WARNING
    assert "while breast-feeding: not recommended" in found.summary
    assert [(a.order_ref, a.action) for a in found.order_actions] == [(tramadol.ref, "delete")]
    assert found.evidence == ("S44",)
    assert "bf" in {u.ref for u in found.used}
    codeine = med(c.OPIOID, ingredients=["codeine", "acetaminophen"], ref="cod")
    assert "P47" in fired(
        patient(**WOMAN, conditions=[BREAST_FEEDING], observations=LABS, medications=[codeine])
    )


def test_other_opioids_or_no_breast_feeding_raise_no_p47() -> None:
    assert "P47" not in fired(
        patient(**WOMAN, conditions=[BREAST_FEEDING], observations=LABS, medications=[oxycodone()])
    )
    tramadol = med(c.OPIOID, c.TRAMADOL, ingredients=["tramadol"], ref="trm")
    assert "P47" not in fired(patient(**WOMAN, observations=LABS, medications=[tramadol]))


def test_the_pain_cards_rule_out_codeine_and_tramadol_while_breast_feeding() -> None:
    moderate = _assessed(patient(**WOMAN, conditions=[BREAST_FEEDING], observations=[*LABS, pain(6)]))["P03"]
    assert moderate.recommendations[0].startswith("Breast-feeding: not codeine or tramadol")
    assert moderate.recommendations[1].startswith("Add a low-dose strong opioid (morphine or oxycodone)")
    assert "S44" in moderate.evidence
    plain = _assessed(patient(**WOMAN, observations=[*LABS, pain(6)]))["P03"]
    assert plain.recommendations[0].startswith(
        "Add a weak opioid (e.g. tramadol) or a low-dose strong opioid"
    )
    assert "S44" not in plain.evidence
