"""The population gate: adults with an active bone metastasis, and nobody else."""

from __future__ import annotations

from datetime import date

from builders import TODAY, condition, lesion, patient

from fhir_bonemet.core.exercise.assess import assess_exercise
from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.facts import PatientFacts
from fhir_bonemet.core.model.findings import Tier
from fhir_bonemet.core.population import AGE_UNKNOWN_REASON, population_gate
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
