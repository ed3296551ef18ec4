"""R01 on a red-flag symptom whose answer was received but could not be read (docs/clinical-model.md
#red-flags): not "no symptom".  Alone it is an R01 warning asking for the cord-compression symptoms to be
checked now; beside a readable symptom or a recent cord compression it is named on the critical card."""

from __future__ import annotations

from dataclasses import replace

from builders import TODAY, at, condition, lesion, obs, patient

from fhir_bonemet.cards.detail import LINE_LIMIT, MAX_ACTION_BULLETS
from fhir_bonemet.core.engine import assess
from fhir_bonemet.core.exercise.assess import assess_exercise
from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.facts import ObservationFact, PatientFacts, SiteClass, UnreadableValue
from fhir_bonemet.core.model.findings import Finding, Indicator, MissingFact, Referral, Tier
from fhir_bonemet.core.red_flags.spinal import assess_red_flags
from fhir_bonemet.knowledge import load_thresholds

TH = load_thresholds()
WEAKNESS = "Observation/weak-j"


def unread(
    concept: str = c.RF_LIMB_WEAKNESS,
    *,
    days_ago: float | None = 1,
    ref: str = WEAKNESS,
    text: str = "code J",
    date_unreadable: bool = False,
) -> UnreadableValue:
    """A symptom answer as the reader keeps it when it is neither yes nor no (a local code "J")."""
    return UnreadableValue(
        ref=ref,
        concept=concept,
        effective=at(days_ago) if days_ago is not None else None,
        value_text=text,
        unit_text=None,
        reason="answer not recognised; not used",
        date_unreadable=date_unreadable,
    )


def spine(
    *values: UnreadableValue, observations: tuple[ObservationFact, ...] = (), **kw: object
) -> PatientFacts:
    facts = patient(
        lesions=[lesion(SiteClass.SPINE_THORACIC, ref="Condition/m", text="T9")],
        observations=observations,
        **kw,  # type: ignore[arg-type]
    )
    return replace(facts, unreadable=values)


def r01s(facts: PatientFacts) -> list[Finding]:
    return [f for f in assess_red_flags(facts, TODAY, TH) if f.rule_id == "R01"]


def unread_lines(finding: Finding) -> list[MissingFact]:
    return [m for m in finding.missing if m.unreadable]


def test_an_unreadable_symptom_answer_alone_is_an_r01_warning_that_names_it() -> None:
    (r01,) = r01s(spine(unread()))
    assert r01.indicator is Indicator.WARNING  # the symptom is not known to be present
    assert "Limb weakness answer not readable" in r01.summary
    assert "check now" in r01.summary
    assert "MSCC" in r01.summary
    checks = " ".join(r01.recommendations)
    for symptom in ("back pain", "limb weakness", "sensory loss", "bladder or bowel", "difficulty walking"):
        assert symptom in checks
    assert "treat as suspected MSCC" in checks
    (line,) = unread_lines(r01)
    assert "Limb weakness 'code J'" in line.what  # the record and the value received
    assert [u.ref for u in r01.used] == [WEAKNESS]
    assert r01.referrals == (Referral.MSCC_PATHWAY,)
    # Evidence and review status are R01's, as on its critical card.
    (critical,) = r01s(spine(observations=(obs(c.RF_LIMB_WEAKNESS, flag=True, days_ago=1),)))
    assert r01.evidence == critical.evidence
    assert r01.unverified
    assert [f.rule_id for f in assess_red_flags(spine(unread()), TODAY, TH)] == ["R01"]


def test_an_unreadable_answer_beside_a_readable_yes_is_named_on_the_one_critical_card() -> None:
    facts = spine(unread(), observations=(obs(c.RF_WALKING_DIFFICULTY, flag=True, days_ago=1),))
    (r01,) = r01s(facts)
    assert r01.indicator is Indicator.CRITICAL
    (line,) = unread_lines(r01)
    assert "Limb weakness 'code J'" in line.what
    # Through the engine, the line the unreadable-data pass adds is the same one: said once.
    (card,) = [f for f in assess(facts, TODAY, TH).findings if f.rule_id == "R01"]
    assert len(unread_lines(card)) == 1


def test_an_unreadable_answer_beside_a_recent_cord_compression_is_named_on_the_critical_card() -> None:
    facts = spine(unread(), conditions=(condition(c.CORD_COMPRESSION, onset_days_ago=2),))
    (r01,) = r01s(facts)
    assert r01.indicator is Indicator.CRITICAL
    assert len(unread_lines(r01)) == 1


def test_an_unreadable_answer_outside_the_symptom_lookback_says_nothing() -> None:
    days = TH.v("red_flags.symptom_lookback_days")
    assert assess_red_flags(spine(unread(days_ago=days + 6)), TODAY, TH) == ()


def test_a_newer_readable_answer_settles_the_symptom_an_older_one_does_not() -> None:
    newer_no = (obs(c.RF_LIMB_WEAKNESS, flag=False, days_ago=0),)
    assert r01s(spine(unread(days_ago=2), observations=newer_no)) == []
    older_no = (obs(c.RF_LIMB_WEAKNESS, flag=False, days_ago=3),)
    (r01,) = r01s(spine(unread(days_ago=1), observations=older_no))
    assert r01.indicator is Indicator.WARNING


def test_an_undated_unreadable_answer_counts_unless_a_dated_answer_settles_it() -> None:
    assert r01s(spine(unread(days_ago=None)))[0].indicator is Indicator.WARNING
    settled = (obs(c.RF_LIMB_WEAKNESS, flag=False, days_ago=1),)
    assert r01s(spine(unread(days_ago=None), observations=settled)) == []
    # A date received but not read may be today's: it counts whatever the lookback.
    assert r01s(spine(unread(days_ago=None, date_unreadable=True), observations=settled))


def test_with_the_spinal_pain_pattern_the_warning_carries_r02s_advice_on_one_card() -> None:
    facts = spine(
        unread(c.RF_SENSORY_LOSS, text="unclear"),
        observations=(obs(c.RF_NOCTURNAL_SPINAL_PAIN, flag=True, days_ago=1),),
    )
    found = assess_red_flags(facts, TODAY, TH)
    assert [f.rule_id for f in found] == ["R01"]  # R01 supersedes R02: one card for the one concern
    (r01,) = found
    assert r01.indicator is Indicator.WARNING
    assert r01.related_rules == ("R02",)
    advice = " ".join(r01.recommendations)
    assert f"within {TH['red_flags.spinal_contact_hours'].label()}" in advice
    assert f"within {TH['red_flags.spinal_mri_days'].label()}" in advice
    assert {u.label for u in r01.used} == {"Nocturnal spinal pain", "Sensory loss"}
    # R02's other advice is not lost with its card: SINS once imaged, and what the patient must report.
    sins = TH["exercise.sins_potentially_unstable_min"]
    assert f"calculate SINS once imaged ({sins.value:g} or more: surgical opinion)" in advice
    assert "Tell the patient to report any weakness, numbness or bladder/bowel change at once" in advice
    # Merged into the card's lines, not appended: each said once, and every line shown on the card.
    assert advice.count("MSCC coordinator within") == 1
    assert advice.lower().count("axial loading") == 1
    assert len(r01.recommendations) <= MAX_ACTION_BULLETS
    assert all(len(line) <= LINE_LIMIT for line in r01.recommendations)


def test_an_unreadable_spinal_pain_answer_also_asks_for_the_check() -> None:
    (r01,) = r01s(spine(unread(c.RF_PAIN_ON_STRAINING, text="3 mm")))
    assert r01.indicator is Indicator.WARNING
    assert "Spinal pain on straining '3 mm'" in unread_lines(r01)[0].what


def test_the_warning_does_not_hold_exercise_but_restricts_the_spine_until_checked() -> None:
    femur = replace(patient(lesions=[lesion(SiteClass.FEMUR)]), unreadable=(unread(),))
    plan, _ = assess_exercise(femur, TODAY, TH)
    assert plan is not None
    assert plan.on_hold_reason is None  # only a critical red flag holds exercise
    assert plan.tier is Tier.HIGH  # as for a suspected spinal metastasis (R02)
    assert any("not readable (R01)" in f for f in plan.person_factors)
    trunk = next(d for d in plan.domains if d.domain == "ex-resist-trunk")
    assert any("suspected spinal metastasis" in e for e in trunk.exclusions)
    # The critical R01 still holds everything, the unreadable answer beside it changes nothing.
    held = replace(femur, observations=(obs(c.RF_BLADDER_BOWEL, flag=True, days_ago=1),))
    plan, _ = assess_exercise(held, TODAY, TH)
    assert plan is not None
    assert plan.tier is Tier.HOLD


def no_answer(reason: str = "asked-unknown", **kw: object) -> UnreadableValue:
    """A symptom recorded with no answer but a reason for it, as the reader keeps a dataAbsentReason."""
    return replace(
        unread(**kw),  # type: ignore[arg-type]
        value_text="(no answer)",
        reason="recorded with no answer; not used",
        no_answer=reason,
    )


def test_a_symptom_recorded_with_no_answer_is_the_same_warning_worded_as_unknown() -> None:
    """Asked but unknown may be present: the same check-now warning as an unreadable answer, but the card
    does not say the record could not be read (nothing was misread: what is wanted is the answer)."""
    (r01,) = r01s(spine(no_answer()))
    assert r01.indicator is Indicator.WARNING
    assert "Limb weakness answer unknown: check now for cord-compression symptoms" in r01.summary
    assert "recorded with no answer (asked-unknown)" in r01.rationale
    assert "Record the answer once it is known." in r01.recommendations
    text = " ".join((r01.summary, r01.rationale, *r01.recommendations))
    assert "could not be read" not in text
    assert "not readable" not in text
    (line,) = unread_lines(r01)
    assert line.what == "Limb weakness (recorded with no answer: asked-unknown, 2025-05-31)"
    assert [(u.ref, u.value) for u in r01.used] == [(WEAKNESS, "no answer (asked-unknown)")]


def test_a_no_answer_beside_an_unreadable_one_keeps_the_unreadable_wording() -> None:
    facts = spine(no_answer(), unread(c.RF_SENSORY_LOSS, ref="Observation/s", text="unclear"))
    (r01,) = r01s(facts)
    assert "its answer could not be read" in r01.rationale  # what is true of both
    assert "answer (and 1 more) not readable" in r01.summary
    assert "Correct the record so the answer can be read." in r01.recommendations[-1]
    assert len(unread_lines(r01)) == 2


def test_a_readable_answer_settles_a_no_answer_as_it_settles_an_unreadable_one() -> None:
    newer_no = (obs(c.RF_LIMB_WEAKNESS, flag=False, days_ago=0),)
    assert r01s(spine(no_answer(days_ago=2), observations=newer_no)) == []
    older_no = (obs(c.RF_LIMB_WEAKNESS, flag=False, days_ago=3),)
    assert r01s(spine(no_answer(days_ago=1), observations=older_no))[0].indicator is Indicator.WARNING
    # Undated: it counts unless a dated answer within the lookback settles it.
    assert r01s(spine(no_answer(days_ago=None)))[0].indicator is Indicator.WARNING
    assert r01s(spine(no_answer(days_ago=None), observations=older_no)) == []


def test_a_no_answer_beside_a_readable_yes_is_named_on_the_critical_card_once() -> None:
    facts = spine(no_answer(), observations=(obs(c.RF_WALKING_DIFFICULTY, flag=True, days_ago=1),))
    (card,) = [f for f in assess(facts, TODAY, TH).findings if f.rule_id == "R01"]
    assert card.indicator is Indicator.CRITICAL
    (line,) = unread_lines(card)
    assert "Limb weakness (recorded with no answer: asked-unknown" in line.what
