"""Pharmacovigilance of CNS-active and opioid therapy: P12, P13, P14, P15, P24, P46 and R09."""

from __future__ import annotations

import pytest
from builders import condition, med, obs, patient
from pain_support import crcl_labs, docusate, fired, oxycodone, plan, run, senna

from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.facts import Sex
from fhir_bonemet.core.model.findings import Indicator, Referral


def gabapentin(**kw):  # type: ignore[no-untyped-def]
    return med(c.GABAPENTINOID, ingredients=["gabapentin"], **kw)


def lorazepam(**kw):  # type: ignore[no-untyped-def]
    return med(c.BENZODIAZEPINE, ingredients=["lorazepam"], **kw)


def duloxetine(**kw):  # type: ignore[no-untyped-def]
    return med(c.SNRI_TCA, ingredients=["duloxetine"], **kw)


def tramadol(**kw):  # type: ignore[no-untyped-def]
    return med(c.OPIOID, c.TRAMADOL, ingredients=["tramadol"], **kw)


# --- P12 --------------------------------------------------------------------------------------------


def test_p12_older_patient_on_gabapentinoid() -> None:
    gaba = gabapentin()
    found = run(patient(age=72, medications=[gaba, senna()]))["P12"]
    assert found.indicator is Indicator.WARNING
    assert "age 72" in found.rationale
    assert gaba.ref in {u.ref for u in found.used}


def test_p12_silent_at_64_without_other_fall_risk() -> None:
    assert "P12" not in fired(patient(age=64, medications=[duloxetine()]))


@pytest.mark.parametrize(
    "extra",
    [
        {"conditions": [condition(c.FALLS_HISTORY, status="resolved")]},
        {"observations": [obs(c.MORSE_FALL_SCALE, 50, days_ago=10)]},
    ],
)
def test_p12_falls_history_or_high_morse_score(extra: dict) -> None:  # type: ignore[type-arg]
    assert "P12" in fired(patient(age=50, medications=[duloxetine()], **extra))


def test_p12_morse_below_cut_off_is_silent() -> None:
    assert "P12" not in fired(
        patient(age=50, medications=[duloxetine()], observations=[obs(c.MORSE_FALL_SCALE, 40)])
    )


def test_p12_exercise_programme_counts_and_unknown_age_is_cautious() -> None:
    assert "P12" in fired(patient(age=50, medications=[duloxetine()]), exercise=plan())
    found = run(patient(age=None, medications=[duloxetine()]))["P12"]
    assert any(m.what.startswith("age") for m in found.missing)


def test_p12_three_cns_drugs_in_older_adult_asks_to_reduce() -> None:
    meds = [gabapentin(), duloxetine(), oxycodone(), senna()]
    found = run(patient(age=70, medications=meds))["P12"]
    assert found.recommendations[0].startswith("3 CNS-active drugs")


def test_p12_gabapentinoid_below_the_renal_cut_off_asks_first_to_reduce_its_dose() -> None:
    """S20: adjust the gabapentinoid to renal function; it accumulates, and sedation and falls follow.
    (CrCl 25 at 60 years is 21.2 at 72.)"""
    gaba = gabapentin(display="Pregabalin 75 mg capsule")
    found = run(patient(age=72, observations=crcl_labs(25), medications=[gaba, senna()]))["P12"]
    assert found.summary == "Gabapentinoid with CrCl 21.2 and fall risk: reduce the dose, review falls"
    assert found.recommendations[0] == (
        "Pregabalin 75 mg capsule: renally cleared; reduce the dose for CrCl 21.2 mL/min (Cockcroft-Gault), "
        "below 60 mL/min (service default)."
    )
    assert "pain.gabapentinoid_renal_crcl_below" in found.defaults_used


def test_p12_gabapentinoid_with_normal_or_unknown_renal_function() -> None:
    normal = run(patient(age=72, observations=crcl_labs(80), medications=[gabapentin(), senna()]))["P12"]
    assert normal.summary.startswith("Sedating adjuvant with fall risk")
    assert not any("renal" in r.lower() for r in normal.recommendations)
    unknown = run(patient(age=72, medications=[gabapentin(), senna()]))["P12"]
    assert unknown.recommendations[-1].startswith("Renal function unknown: check it before setting")
    assert any(m.what.startswith("renal function") for m in unknown.missing)
    # An SNRI alone is not renally dosed here: nothing about the kidney.
    snri = run(patient(age=72, medications=[duloxetine()]))["P12"]
    assert not any("renal" in r.lower() for r in snri.recommendations)


# --- P13 / P14 / R09 --------------------------------------------------------------------------------


def test_p13_gabapentinoid_with_opioid() -> None:
    found = run(patient(age=50, sex=Sex.FEMALE, medications=[gabapentin(), oxycodone(), senna()]))["P13"]
    assert found.evidence == ("S22",)


def test_p13_copd_and_age_raise_the_risk_text() -> None:
    facts = patient(age=70, conditions=[condition(c.COPD)], medications=[gabapentin(), oxycodone(), senna()])
    assert "COPD, age 70" in run(facts)["P13"].recommendations[-1]


def test_p13_silent_without_opioid() -> None:
    assert "P13" not in fired(patient(medications=[gabapentin()]))


def test_p14_opioid_with_benzodiazepine_suggests_naloxone() -> None:
    found = run(patient(medications=[oxycodone(), lorazepam(), senna()]))["P14"]
    assert found.indicator is Indicator.WARNING
    assert any("naloxone" in r for r in found.recommendations)


def test_p14_no_naloxone_advice_when_naloxone_is_prescribed() -> None:
    naloxone = med(c.NALOXONE, ingredients=["naloxone"])
    found = run(patient(medications=[oxycodone(), lorazepam(), senna(), naloxone]))["P14"]
    assert not any("naloxone" in r for r in found.recommendations)


def test_p14_silent_without_opioid() -> None:
    assert "P14" not in fired(patient(medications=[lorazepam()]))


def test_r09_triple_combination_is_critical_and_supersedes_p13_p14() -> None:
    meds = [oxycodone(), lorazepam(), gabapentin(), senna()]
    result = run(patient(medications=meds))
    assert "R09" in result
    assert not {"P13", "P14"} & set(result)
    assert result["R09"].indicator is Indicator.CRITICAL
    assert result["R09"].related_rules == ("P14", "P13")
    assert {m.ref for m in meds[:3]} <= {u.ref for u in result["R09"].used}
    # A review of the regimen, not the interventional pain referral of uncontrolled pain (P05).
    assert result["R09"].referrals == (Referral.SEDATING_REGIMEN_REVIEW,)


def test_r09_silent_with_two_of_three() -> None:
    assert "R09" not in fired(patient(medications=[oxycodone(), gabapentin(), senna()]))


def test_stopped_benzodiazepine_does_not_count() -> None:
    result = fired(patient(medications=[oxycodone(), lorazepam(status="stopped"), gabapentin(), senna()]))
    assert "R09" not in result
    assert "P13" in result


# --- P15 --------------------------------------------------------------------------------------------


def test_p15_opioid_with_docusate_only() -> None:
    found = run(patient(medications=[oxycodone(), docusate()]))["P15"]
    assert found.unverified
    assert any("docusate" in r for r in found.recommendations)
    assert "softener only" in found.rationale


def test_p15_silent_with_senna_or_macrogol() -> None:
    assert "P15" not in fired(patient(medications=[oxycodone(), senna()]))
    peg = med(c.LAXATIVE_OSMOTIC, ingredients=["polyethylene glycol 3350"])
    assert "P15" not in fired(patient(medications=[oxycodone(), peg]))


def test_p15_laxative_statement_counts() -> None:
    stmt = med(
        c.LAXATIVE_STIMULANT, ingredients=["bisacodyl"], source="MedicationStatement", status="intended"
    )
    assert "P15" not in fired(patient(medications=[oxycodone(), stmt]))


# --- P24 --------------------------------------------------------------------------------------------


def test_p24_tramadol_with_duloxetine() -> None:
    found = run(patient(medications=[tramadol(), duloxetine(), senna()]))["P24"]
    assert found.unverified
    assert "serotonin" in found.summary


def test_p24_silent_with_tramadol_alone_or_other_opioid_with_ssri() -> None:
    assert "P24" not in fired(patient(medications=[tramadol(), senna()]))
    assert "P24" not in fired(
        patient(medications=[oxycodone(), med(c.SSRI, ingredients=["sertraline"]), senna()])
    )


def test_r09_mentions_copd() -> None:
    meds = [oxycodone(), lorazepam(), gabapentin(), senna()]
    found = run(patient(conditions=[condition(c.COPD)], medications=meds))["R09"]
    assert any("COPD" in r for r in found.recommendations)


def test_p15_says_when_the_medication_list_could_not_be_read() -> None:
    found = run(patient(medications=[oxycodone()], unavailable=["MedicationStatement"]))["P15"]
    assert any("medication list" in m.what for m in found.missing)


# --- P46 --------------------------------------------------------------------------------------------


def pregabalin(**kw):  # type: ignore[no-untyped-def]
    return med(c.GABAPENTINOID, ingredients=["pregabalin"], display="Pregabalin 75 mg capsule", **kw)


def test_p46_a_draft_second_gabapentinoid_is_offered_for_cancellation() -> None:
    # A switch to pregabalin whose gabapentin was never stopped.
    gaba, pregab = gabapentin(display="Gabapentin 300 mg capsule"), pregabalin(draft=True)
    found = run(patient(medications=[gaba, pregab]), hook="order-sign")["P46"]
    assert found.indicator is Indicator.WARNING
    assert found.summary == (
        "Two gabapentinoids at once: keep one (Pregabalin 75 mg capsule ordered while Gabapentin 300 mg "
        "capsule is active)"
    )
    assert [(a.order_ref, a.action) for a in found.order_actions] == [(pregab.ref, "delete")]
    assert found.unverified


def test_p46_names_both_classes_when_both_are_doubled() -> None:
    diazepam = med(c.BENZODIAZEPINE, ingredients=["diazepam"], display="Diazepam 5 mg tablet")
    meds = [gabapentin(display="Gabapentin"), pregabalin(), lorazepam(display="Lorazepam"), diazepam]
    found = run(patient(medications=meds))["P46"]
    assert found.summary.startswith("Two gabapentinoids and two benzodiazepines at once: keep one")
    assert found.order_actions == ()


def test_p46_silent_for_one_drug_however_many_orders_it_has() -> None:
    facts = patient(
        medications=[gabapentin(), gabapentin(draft=True), gabapentin(source="MedicationStatement")]
    )
    assert "P46" not in fired(facts)
    assert "P46" not in fired(facts, hook="order-sign")


def test_p46_on_order_hooks_speaks_only_about_a_draft_of_the_class() -> None:
    facts = patient(medications=[gabapentin(), pregabalin(), oxycodone(draft=True)])
    assert "P46" not in fired(facts, hook="order-sign")
    assert "P46" in fired(facts)
