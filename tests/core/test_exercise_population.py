"""The population gate: adults with an active bone metastasis, and nobody else."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from builders import TODAY, condition, lesion, patient

from fhir_bonemet.core.engine import assess
from fhir_bonemet.core.exercise.assess import assess_exercise
from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.facts import PatientFacts, SiteClass
from fhir_bonemet.core.model.findings import Tier
from fhir_bonemet.core.population import (
    AGE_UNCERTAIN_REASON,
    AGE_UNKNOWN_REASON,
    diagnosis_caveat,
    population_gate,
)
from fhir_bonemet.knowledge import load_thresholds

TH = load_thresholds()


def test_an_adult_with_a_bone_lesion_is_in() -> None:
    inside, reason = population_gate(patient(age=18), TODAY, TH)
    assert inside
    assert reason == "adult with 1 active bone metastasis site(s)"


def test_the_eighteenth_birthday_counts() -> None:
    facts = patient()
    on_birthday = PatientFacts(facts.patient_ref, birth_date=date(2007, 6, 1), lesions=facts.lesions)
    day_before = PatientFacts(facts.patient_ref, birth_date=date(2007, 6, 2), lesions=facts.lesions)
    assert population_gate(on_birthday, TODAY, TH)[0]
    assert population_gate(day_before, TODAY, TH) == (False, "under 18 years")


def _born(first: date, last: date) -> PatientFacts:
    """A partial birth date: its first and last possible day."""
    facts = patient()
    return PatientFacts(facts.patient_ref, birth_date=first, birth_date_latest=last, lesions=facts.lesions)


def test_a_partial_birth_date_that_may_make_the_patient_a_minor_is_said_on_every_card() -> None:
    # TODAY is 1 June 2025: "2007" may be a 17-year-old (born after 1 June 2007), and "2007-06" too.  Read
    # at its first day, either was an adult of 18, and the cards said nothing.
    for last in (date(2007, 12, 31), date(2007, 6, 30)):
        facts = _born(date(2007, 1, 1) if last.month == 12 else date(2007, 6, 1), last)
        assert population_gate(facts, TODAY, TH) == (True, AGE_UNCERTAIN_REASON)
        findings = assess(facts, TODAY, TH).findings
        assert findings
        for finding in findings:
            assert finding.missing[0].what.startswith("full birth date"), finding.rule_id
            assert "under 18" in finding.missing[0].what


def test_a_partial_birth_date_certainly_adult_or_certainly_minor_is_read_as_before() -> None:
    adult = _born(date(2007, 5, 1), date(2007, 5, 31))  # 18 on 31 May 2025 at the latest
    assert population_gate(adult, TODAY, TH) == (True, "adult with 1 active bone metastasis site(s)")
    assert not any(
        m.what.startswith("full birth date") for f in assess(adult, TODAY, TH).findings for m in f.missing
    )
    minor = _born(date(2008, 1, 1), date(2008, 12, 31))  # 17 at the oldest
    assert population_gate(minor, TODAY, TH) == (False, "under 18 years")


def test_a_patient_without_a_bone_lesion_is_out_whatever_else_is_recorded() -> None:
    brain = patient(
        lesions=[], conditions=[condition(c.SECONDARY_MALIGNANCY), condition(c.PATHOLOGICAL_FRACTURE)]
    )
    assert population_gate(brain, TODAY, TH) == (
        False,
        "no active bone metastasis (metastases recorded at other sites only)",
    )
    assert population_gate(patient(lesions=[]), TODAY, TH) == (False, "no active bone metastasis")


def test_an_unknown_age_speaks_so_red_flags_are_not_hidden_and_says_why() -> None:
    facts = patient(age=None)
    assert population_gate(facts, TODAY, TH) == (True, AGE_UNKNOWN_REASON)
    plan, findings = assess_exercise(facts, TODAY, TH)
    assert plan is not None
    assert plan.tier.rank >= Tier.MODERATE.rank
    assert any(m.what == "birth date" for m in findings[0].missing)


def test_reasons_carry_no_patient_data() -> None:
    for facts in (patient(age=17), patient(age=None), patient(lesions=[lesion(), lesion()])):
        _, reason = population_gate(facts, TODAY, TH)
        assert "Patient/" not in reason
        assert "Condition/" not in reason


def test_the_diagnosis_caveat_is_said_only_when_no_bone_metastasis_is_confirmed() -> None:
    provisional = replace(lesion(), unconfirmed="provisional")
    differential = replace(lesion(SiteClass.PELVIS), unconfirmed="differential")
    open_only = patient(lesions=[provisional, differential])
    caveat = diagnosis_caveat(open_only)
    assert caveat is not None
    assert caveat.what == "confirmation of the bone metastasis (recorded as differential or provisional)"
    # One confirmed lesion settles who the service speaks for; the provisional one is still a lesion.
    assert diagnosis_caveat(patient(lesions=[provisional, lesion(SiteClass.HUMERUS)])) is None
