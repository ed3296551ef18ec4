"""Bone-modifying agents: P07, P08, P09, P10, R06 (hypocalcaemia) and R07 (osteonecrosis of the jaw)."""

from __future__ import annotations

import pytest
from builders import condition, lesion, med, obs, order, patient, procedure
from pain_support import ca_vit_d, crcl_labs, denosumab, fired, refs, run, zoledronic

from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.facts import ObservationFact
from fhir_bonemet.core.model.findings import Indicator, Referral

CA_OK = [obs(c.LAB_CALCIUM, 9.4, "mg/dL", days_ago=2), obs(c.LAB_ALBUMIN, 4.0, "g/dL", days_ago=2)]
DENTAL = procedure(c.DENTAL_EXAM, days_ago=100)


# --- P07 --------------------------------------------------------------------------------------------


def test_p07_breast_primary_without_bma() -> None:
    met = lesion(primary=c.PRIMARY_BREAST)
    found = run(patient(lesions=[met], observations=crcl_labs(80)))["P07"]
    assert found.recommendations[0].startswith("Breast or prostate primary")
    assert found.referrals == (Referral.DENTAL,)


def test_p07_other_or_unknown_primary_mentions_life_expectancy() -> None:
    found = run(patient(observations=crcl_labs(80)))["P07"]
    assert "life expectancy" in found.recommendations[0]
    assert any(m.what == "primary cancer" for m in found.missing)


def test_p07_low_clearance_steers_away_from_zoledronic_acid() -> None:
    found = run(patient(lesions=[lesion(primary=c.PRIMARY_PROSTATE)], observations=crcl_labs(25)))["P07"]
    assert any("zoledronic acid not recommended" in r for r in found.recommendations)


def test_p07_silent_on_denosumab_and_without_bone_lesion() -> None:
    assert "P07" not in fired(patient(medications=[denosumab(), ca_vit_d()], observations=CA_OK))
    assert "P07" not in fired(patient(lesions=[]))


def test_p07_no_dental_referral_when_exam_recorded() -> None:
    assert run(patient(procedures=[DENTAL], observations=crcl_labs(80)))["P07"].referrals == ()


# --- P08 --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("crcl", "advised"),
    [(61, 4.0), (60, 3.5), (50, 3.5), (49.5, 3.3), (40, 3.3), (39, 3.0), (30, 3.0)],
)
def test_p08_renally_adjusted_dose_by_band(crcl: float, advised: float) -> None:
    za = zoledronic(advised)
    found = run(
        patient(observations=[*crcl_labs(crcl), *CA_OK], medications=[za, ca_vit_d()], procedures=[DENTAL])
    )["P08"]
    assert found.indicator is Indicator.WARNING
    assert f"{advised:g} mg advised" in found.summary
    assert found.order_actions == ()


def test_p08_clearance_just_under_a_band_boundary_is_not_shown_as_the_boundary() -> None:
    found = run(
        patient(
            observations=[*crcl_labs(39.9), *CA_OK],
            medications=[zoledronic(3.0), ca_vit_d()],
            procedures=[DENTAL],
        )
    )["P08"]
    assert "3 mg advised for CrCl 39.9" in found.summary


def test_p08_on_a_measured_clearance_misses_nothing() -> None:
    # A measured clearance (24-hour urine) is a basis for the dose of its own, not a stand-in for
    # Cockcroft-Gault: listed as missing, a correct 4 mg draft got a warning card of its own.
    measured = obs(c.LAB_CRCL, 70, "mL/min", days_ago=1)
    found = run(
        patient(observations=[measured, *CA_OK], medications=[zoledronic(4.0, draft=True), ca_vit_d()]),
        hook="order-sign",
    )["P08"]
    assert found.summary.startswith("Zoledronic acid: 4 mg advised for CrCl 70")
    assert "(measured)" in found.rationale
    assert found.missing == ()
    egfr = obs(c.LAB_EGFR, 70, "mL/min/{1.73_m2}", days_ago=1)
    found = run(patient(observations=[egfr, *CA_OK], medications=[zoledronic(4.0), ca_vit_d()]))["P08"]
    assert [m.what for m in found.missing] == ["Cockcroft-Gault creatinine clearance"]


def test_p08_on_egfr_says_the_clearance_table_was_read_with_it_in_its_unit() -> None:
    """The label's table is by creatinine clearance: read with an eGFR, the card says so and gives the
    bands in the unit of the eGFR it compared, not "mL/min" beside "eGFR 45 mL/min/1.73 m2"."""
    egfr = obs(c.LAB_EGFR, 45, "mL/min/{1.73_m2}", days_ago=1)
    found = run(patient(observations=[egfr, *CA_OK], medications=[zoledronic(3.3), ca_vit_d()]))["P08"]
    table = found.recommendations[0]
    assert table.startswith(
        "Zoledronic acid by CrCl (S17; eGFR used in place of creatinine clearance): >60 mL/min/1.73 m2 4 mg;"
    )
    assert "mL/min " not in table
    low = obs(c.LAB_EGFR, 25, "mL/min/{1.73_m2}", days_ago=1)
    found = run(patient(observations=[low, *CA_OK], medications=[zoledronic(3.0), ca_vit_d()]))["P08"]
    assert found.rationale.endswith("is below 30 mL/min/1.73 m2 (S17).")


def test_p08_on_a_clearance_gives_the_table_in_ml_per_minute() -> None:
    found = run(patient(observations=[*crcl_labs(45), *CA_OK], medications=[zoledronic(3.3), ca_vit_d()]))[
        "P08"
    ]
    assert found.recommendations[0].startswith("Zoledronic acid by CrCl (S17): >60 mL/min 4 mg;")


def test_p08_dose_above_the_band_is_flagged() -> None:
    za = zoledronic(4.0, draft=True)
    found = run(
        patient(observations=[*crcl_labs(45), *CA_OK], medications=[za, ca_vit_d()], procedures=[DENTAL]),
        hook="order-sign",
    )["P08"]
    assert "4 mg is above the 3.3 mg advised" in found.summary
    assert [(a.order_ref, a.action) for a in found.order_actions] == [(za.ref, "update")]
    assert "3.3 mg" in found.order_actions[0].description


def test_p08_below_30_is_critical_and_removes_the_draft() -> None:
    za = zoledronic(3.0, draft=True)
    found = run(
        patient(observations=[*crcl_labs(29), *CA_OK], medications=[za, ca_vit_d()]), hook="order-sign"
    )["P08"]
    assert found.indicator is Indicator.CRITICAL
    assert [(a.order_ref, a.action) for a in found.order_actions] == [(za.ref, "delete")]


def test_p08_unknown_renal_function_says_check_before_dosing() -> None:
    found = run(patient(observations=CA_OK, medications=[zoledronic(), ca_vit_d()], procedures=[DENTAL]))[
        "P08"
    ]
    assert found.summary.startswith("Renal function unknown")
    assert found.indicator is Indicator.WARNING


def test_p08_unreadable_dose_is_reported_missing() -> None:
    za = med(c.ZOLEDRONIC_ACID, ingredients=["zoledronic acid"])
    found = run(
        patient(observations=[*crcl_labs(45), *CA_OK], medications=[za, ca_vit_d()], procedures=[DENTAL])
    )["P08"]
    assert any(m.what.startswith("ordered dose of zoledronic acid") for m in found.missing)


def test_p08_silent_on_denosumab() -> None:
    assert "P08" not in fired(
        patient(observations=[*crcl_labs(20), *CA_OK], medications=[denosumab(), ca_vit_d()])
    )


# --- P09 --------------------------------------------------------------------------------------------


def test_p09_no_calcium_vitamin_d_supplement() -> None:
    found = run(
        patient(observations=[*crcl_labs(80), *CA_OK], medications=[denosumab()], procedures=[DENTAL])
    )["P09"]
    assert "no calcium and vitamin D supplement" in found.rationale
    assert any("500 mg calcium" in r for r in found.recommendations)


def test_p09_silent_with_supplement_normal_calcium_and_clearance() -> None:
    facts = patient(
        observations=[*crcl_labs(80), *CA_OK], medications=[denosumab(), ca_vit_d()], procedures=[DENTAL]
    )
    assert "P09" not in fired(facts)


def test_p09_calcium_corrected_with_its_albumin_misses_no_albumin() -> None:
    found = run(
        patient(observations=[*crcl_labs(80), *CA_OK], medications=[denosumab()], procedures=[DENTAL])
    )["P09"]
    assert {o.ref for o in CA_OK} <= refs(found)
    assert not any("albumin" in m.what for m in found.missing)


def test_p09_denosumab_with_low_clearance() -> None:
    facts = patient(observations=[*crcl_labs(25), *CA_OK], medications=[denosumab(), ca_vit_d()])
    assert "denosumab with CrCl 25" in run(facts)["P09"].rationale


@pytest.mark.parametrize(
    ("labs", "named"),
    [
        (
            [obs(c.LAB_EGFR, 25, "mL/min/{1.73_m2}", days_ago=1)],
            "Denosumab with eGFR below 30 mL/min/1.73 m2 (S17)",
        ),
        (crcl_labs(25), "Denosumab with CrCl below 30 mL/min (S17)"),
        ([], "Denosumab with CrCl below 30 mL/min (S17)"),  # unknown: to be checked as the clearance
    ],
    ids=["eGFR", "CrCl", "unknown"],
)
def test_p09_names_the_renal_measure_it_compared_with_the_denosumab_cut_off(
    labs: list[ObservationFact], named: str
) -> None:
    """Read with an eGFR, the card said "Denosumab with CrCl below 30 mL/min" beside "eGFR 25"."""
    found = run(patient(observations=[*labs, *CA_OK], medications=[denosumab(), ca_vit_d()]))["P09"]
    [said] = [r for r in found.recommendations if r.startswith("Denosumab with")]
    assert said == f"{named} carries the highest hypocalcaemia risk: monitor calcium."


def test_p09_no_recent_calcium() -> None:
    found = run(patient(observations=crcl_labs(80), medications=[zoledronic(), ca_vit_d()]))["P09"]
    assert "no recent calcium result" in found.rationale


def test_p09_hypercalcaemic_patient_is_not_told_to_take_calcium() -> None:
    high = [obs(c.LAB_CALCIUM, 11.5, "mg/dL", days_ago=1), obs(c.LAB_ALBUMIN, 4.0, "g/dL", days_ago=1)]
    assert "P09" not in fired(patient(observations=[*crcl_labs(80), *high], medications=[zoledronic()]))


def test_p09_reads_hypercalcaemia_on_the_mmol_per_litre_limit_as_r03_does() -> None:
    # 2.64 mmol/L is below the mmol/L upper limit (2.65) but above 10.5 mg/dL: R03 is silent, and P09 took
    # the patient for hypercalcaemic and did not suggest the supplement.
    for value, suggested in ((2.64, True), (2.65, False)):
        high = [obs(c.LAB_CALCIUM_CORRECTED, value, "mmol/L", days_ago=1)]
        found = run(
            patient(observations=[*crcl_labs(80), *high], medications=[zoledronic()], procedures=[DENTAL])
        )
        assert (
            "P09" in found and "no calcium and vitamin D supplement" in found["P09"].rationale
        ) is suggested


# --- R06 --------------------------------------------------------------------------------------------


def test_r06_corrected_calcium_below_lln_on_denosumab() -> None:
    # 8.0 + 0.8 x (4.0 - 3.5) = 8.4 mg/dL corrected: below 8.5, not below 8.0
    ca = [obs(c.LAB_CALCIUM, 8.0, "mg/dL", days_ago=1), obs(c.LAB_ALBUMIN, 3.5, "g/dL", days_ago=1)]
    result = run(patient(observations=[*crcl_labs(80), *ca], medications=[denosumab()]))
    assert "P09" not in result
    found = result["R06"]
    assert found.indicator is Indicator.WARNING
    assert found.related_rules == ("P09",)
    assert {o.ref for o in ca} <= refs(found)
    assert not any("albumin" in m.what for m in found.missing)


@pytest.mark.parametrize(
    ("labs", "named"),
    [
        (
            [obs(c.LAB_EGFR, 25, "mL/min/{1.73_m2}", days_ago=1)],
            "Denosumab with eGFR below 30 mL/min/1.73 m2 (S17)",
        ),
        (crcl_labs(25), "Denosumab with CrCl below 30 mL/min (S17)"),
        ([], "Denosumab with CrCl below 30 mL/min (S17)"),
    ],
    ids=["eGFR", "CrCl", "unknown"],
)
def test_r06_names_the_renal_measure_it_compared_with_the_denosumab_cut_off(
    labs: list[ObservationFact], named: str
) -> None:
    ca = [obs(c.LAB_CALCIUM, 8.0, "mg/dL", days_ago=1), obs(c.LAB_ALBUMIN, 3.5, "g/dL", days_ago=1)]
    found = run(patient(observations=[*labs, *ca], medications=[denosumab()]))["R06"]
    assert f"{named} carries the highest risk." in found.recommendations


def test_r06_critical_below_8() -> None:
    ca = [obs(c.LAB_CALCIUM, 7.5, "mg/dL", days_ago=1), obs(c.LAB_ALBUMIN, 4.0, "g/dL", days_ago=1)]
    assert (
        run(patient(observations=[*crcl_labs(80), *ca], medications=[zoledronic()]))["R06"].indicator
        is Indicator.CRITICAL
    )


def test_r06_silent_when_albumin_correction_brings_calcium_to_normal() -> None:
    # 8.2 + 0.8 x (4.0 - 3.0) = 9.0 mg/dL corrected
    ca = [obs(c.LAB_CALCIUM, 8.2, "mg/dL", days_ago=1), obs(c.LAB_ALBUMIN, 3.0, "g/dL", days_ago=1)]
    assert "R06" not in fired(
        patient(observations=[*crcl_labs(80), *ca], medications=[denosumab(), ca_vit_d()])
    )


def test_r06_uncorrected_low_calcium_fires_and_asks_for_albumin() -> None:
    found = run(
        patient(observations=[obs(c.LAB_CALCIUM, 8.3, "mg/dL", days_ago=1)], medications=[denosumab()])
    )["R06"]
    assert any("albumin" in r for r in found.recommendations)
    assert any("albumin" in m.what for m in found.missing)


def test_r06_calcium_in_mmol_per_litre_at_the_lower_limit_is_not_low() -> None:
    # clinical-rules P09: the lower limit is 8.5 mg/dL / 2.12 mmol/L.  2.12 mmol/L is 8.497 mg/dL: read
    # against 8.5 mg/dL it was called low and the next dose held.
    at_limit = [obs(c.LAB_CALCIUM_CORRECTED, 2.12, "mmol/L", days_ago=1)]
    result = run(patient(observations=[*crcl_labs(80), *at_limit], medications=[denosumab(), ca_vit_d()]))
    assert "R06" not in result
    assert "P09" not in result
    # Corrected here: 2.00 + 0.02 x (40 - 34) = 2.12 mmol/L by the mmol/L formula (2.1198 by the mg/dL one).
    computed = [obs(c.LAB_CALCIUM, 2.00, "mmol/L", days_ago=1), obs(c.LAB_ALBUMIN, 34, "g/L", days_ago=1)]
    assert "R06" not in fired(
        patient(observations=[*crcl_labs(80), *computed], medications=[denosumab(), ca_vit_d()])
    )
    below = [obs(c.LAB_CALCIUM_CORRECTED, 2.11, "mmol/L", days_ago=1)]
    found = run(patient(observations=[*crcl_labs(80), *below], medications=[denosumab(), ca_vit_d()]))["R06"]
    assert found.indicator is Indicator.WARNING
    assert "pain.calcium_lln_mmol" in found.defaults_used


def test_r06_silent_without_bma() -> None:
    assert "R06" not in fired(patient(observations=[obs(c.LAB_CALCIUM, 7.0, "mg/dL")]))


# --- R07 --------------------------------------------------------------------------------------------


def test_r07_onj_condition_on_zoledronic_acid() -> None:
    onj = condition(c.ONJ)
    found = run(
        patient(
            observations=[*crcl_labs(80), *CA_OK], conditions=[onj], medications=[zoledronic(), ca_vit_d()]
        )
    )["R07"]
    # The jaw is assessed by dentistry or oral-maxillofacial surgery: the order was the screening
    # "dental examination before a bone-modifying agent", for a patient already on one.
    assert found.referrals == (Referral.ORAL_MAXILLOFACIAL,)
    assert found.unverified
    assert onj.ref in refs(found)


def test_r07_takes_the_place_of_the_screening_dental_examination() -> None:
    # With the jaw to be assessed now, a second dental order "before a bone-modifying agent" for a patient
    # on one is noise: R07 names P10 as related and P10 does not fire.
    found = run(
        patient(conditions=[condition(c.ONJ)], medications=[zoledronic(), ca_vit_d()], observations=CA_OK)
    )
    assert "P10" not in found
    assert "P10" in found["R07"].related_rules
    assert "P10" in fired(patient(medications=[zoledronic(), ca_vit_d()], observations=CA_OK))


def test_r07_jaw_symptom_observation() -> None:
    symptom = obs(c.RF_ONJ_SYMPTOM, flag=True, days_ago=2)
    assert "R07" in fired(patient(observations=[symptom], medications=[denosumab()]))


def test_r07_silent_without_bma_or_with_negative_symptom() -> None:
    assert "R07" not in fired(patient(conditions=[condition(c.ONJ)]))
    assert "R07" not in fired(
        patient(observations=[obs(c.RF_ONJ_SYMPTOM, flag=False)], medications=[denosumab()])
    )


# --- P10 --------------------------------------------------------------------------------------------


def test_p10_bma_without_dental_exam() -> None:
    found = run(patient(medications=[denosumab(), ca_vit_d()], observations=CA_OK))["P10"]
    assert found.referrals == (Referral.DENTAL,)


def test_p10_silent_with_dental_exam_procedure_observation_or_order() -> None:
    for extra in (
        {"procedures": [DENTAL]},
        {"observations": [*CA_OK, obs(c.DENTAL_EXAM, flag=True, days_ago=40)]},
        {"orders": [order(c.DENTAL_EXAM)]},
    ):
        facts = patient(medications=[denosumab(), ca_vit_d()], **{"observations": CA_OK, **extra})
        assert "P10" not in fired(facts)


def test_p10_not_done_dental_procedure_does_not_count() -> None:
    not_done = procedure(c.DENTAL_EXAM, days_ago=5, status="not-done")
    assert "P10" in fired(
        patient(medications=[denosumab(), ca_vit_d()], observations=CA_OK, procedures=[not_done])
    )


def test_p09_hypercalcaemic_patient_on_denosumab_with_low_clearance_is_not_told_to_add_calcium() -> None:
    high = [obs(c.LAB_CALCIUM, 11.5, "mg/dL", days_ago=1), obs(c.LAB_ALBUMIN, 4.0, "g/dL", days_ago=1)]
    vit_d = obs(c.LAB_VITAMIN_D, 32, "ng/mL", days_ago=20)
    found = run(
        patient(observations=[*crcl_labs(25), *high, vit_d], medications=[denosumab(draft=True)]),
        hook="order-sign",
    )["P09"]
    assert any("do not add calcium" in r for r in found.recommendations)
    assert found.order_actions == ()
    assert vit_d.ref in refs(found)


def test_p08_dose_for_hypercalcaemia_is_not_reduced_by_the_bone_metastasis_table() -> None:
    za = zoledronic(4.0, draft=True, reasons=[c.HYPERCALCAEMIA])
    found = run(patient(observations=[*crcl_labs(45), *CA_OK], medications=[za]), hook="order-sign")["P08"]
    assert found.order_actions == ()
    assert any("hypercalcaemia" in r for r in found.recommendations)


CA_URGENT = [obs(c.LAB_CALCIUM, 13.2, "mg/dL", days_ago=2), obs(c.LAB_ALBUMIN, 3.2, "g/dL", days_ago=2)]
CA_MILD = [obs(c.LAB_CALCIUM, 11.0, "mg/dL", days_ago=2), obs(c.LAB_ALBUMIN, 4.0, "g/dL", days_ago=2)]


def test_p08_order_without_reason_in_urgent_hypercalcaemia_gives_both_readings() -> None:
    """R03 suggests zoledronic acid for a corrected calcium of 13.8 mg/dL; P08 told the same draft, which
    names no reason, to drop to the bone-metastasis dose as if that were the only reading of it."""
    za = zoledronic(4.0, draft=True)
    found = run(patient(observations=[*crcl_labs(55), *CA_URGENT], medications=[za]), hook="order-sign")[
        "P08"
    ]
    assert found.indicator is Indicator.WARNING
    assert (
        found.summary
        == "Zoledronic acid with CrCl 55: 4 mg for hypercalcaemia, 3.5 mg if for bone metastases"
    )
    assert found.recommendations[-2:] == (
        "If for hypercalcaemia of malignancy: 4 mg (label), no CrCl reduction while creatinine is below "
        "4.5 mg/dL (awaiting clinical review).",
        "If for bone metastases: the CrCl table applies (3.5 mg for CrCl 55).",
    )
    assert any("creatinine before every dose" in r for r in found.recommendations)
    assert "hypercalcaemia is urgent (corrected Ca 13.8 mg/dL)" in found.rationale
    assert found.order_actions == ()
    assert found.unverified


def test_p08_order_without_reason_in_mild_hypercalcaemia_keeps_the_clearance_table() -> None:
    za = zoledronic(4.0, draft=True)
    found = run(patient(observations=[*crcl_labs(55), *CA_MILD], medications=[za]), hook="order-sign")["P08"]
    assert "4 mg is above the 3.5 mg advised" in found.summary
    assert [a.action for a in found.order_actions] == ["update"]


def test_p08_order_for_bone_metastases_in_hypercalcaemia_keeps_the_clearance_table() -> None:
    za = zoledronic(4.0, draft=True, reasons=[c.BONE_METASTASIS])
    found = run(patient(observations=[*crcl_labs(55), *CA_URGENT], medications=[za]), hook="order-sign")[
        "P08"
    ]
    assert "4 mg is above the 3.5 mg advised" in found.summary
    assert not any("hypercalcaemia of malignancy" in r for r in found.recommendations)


def test_p08_very_low_clearance_in_hypercalcaemia_is_still_critical() -> None:
    za = zoledronic(4.0, draft=True)
    found = run(patient(observations=[*crcl_labs(25), *CA_URGENT], medications=[za]), hook="order-sign")[
        "P08"
    ]
    assert found.indicator is Indicator.CRITICAL
    assert "not recommended" in found.summary


# --- P45 --------------------------------------------------------------------------------------------


def test_p45_a_draft_of_a_second_agent_is_offered_for_cancellation() -> None:
    # A switch to denosumab whose zoledronic acid was never stopped: the draft is the one to cancel.
    za, dmab = zoledronic(), denosumab(draft=True)
    found = run(
        patient(
            observations=[*crcl_labs(80), *CA_OK], medications=[za, dmab, ca_vit_d()], procedures=[DENTAL]
        ),
        hook="order-sign",
    )["P45"]
    assert found.indicator is Indicator.WARNING
    assert found.summary.startswith("Second bone-modifying agent:")
    assert [(a.order_ref, a.action) for a in found.order_actions] == [(dmab.ref, "delete")]
    assert {za.ref, dmab.ref} <= refs(found)
    assert found.unverified


def test_p45_two_active_agents_are_named_to_keep_one() -> None:
    found = run(patient(observations=CA_OK, medications=[zoledronic(), denosumab(), ca_vit_d()]))["P45"]
    assert found.summary.startswith("Two bone-modifying agents at once")
    assert found.order_actions == ()


def test_p45_silent_for_one_agent_however_many_orders_it_has() -> None:
    # The next infusion ordered while the last order is still active, and a statement repeating an order.
    next_dose = zoledronic(draft=True)
    statement = zoledronic(source="MedicationStatement")
    facts = patient(observations=CA_OK, medications=[zoledronic(), next_dose, statement, ca_vit_d()])
    assert "P45" not in fired(facts, hook="order-sign")
    assert "P45" not in fired(facts)


def test_p45_on_order_hooks_speaks_only_about_a_bone_modifying_agent_draft() -> None:
    both_active = patient(
        observations=CA_OK, medications=[zoledronic(), denosumab(), med(c.OPIOID, draft=True)]
    )
    assert "P45" not in fired(both_active, hook="order-sign")
