"""NSAID safety (P16-P19), acetaminophen ceilings (P20, P21), steroids (P22), renal opioids (P23)."""

from __future__ import annotations

import pytest
from builders import condition, dose, med, obs, patient, strength
from pain_support import (
    acetaminophen,
    crcl_labs,
    fired,
    ibuprofen,
    morphine,
    oxycodone,
    refs,
    run,
    senna,
)

from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.findings import Finding, Indicator

PLATELETS_OK = obs(c.LAB_PLATELETS, 200, "10*9/L", days_ago=2)


# --- P16 --------------------------------------------------------------------------------------------


def test_p16_nsaid_with_crcl_29_is_avoided_and_31_is_a_short_course_near_the_edge() -> None:
    found = run(patient(observations=[*crcl_labs(29), PLATELETS_OK], medications=[ibuprofen()]))["P16"]
    assert found.indicator is Indicator.WARNING
    assert "CrCl 29" in found.summary
    assert "avoid" in found.summary
    assert "below the 30 mL/min edge" in found.summary
    assert "Cockcroft-Gault" in found.rationale
    assert "pain.nsaid_avoid_crcl_below" in found.defaults_used
    caution = run(patient(observations=[*crcl_labs(31), PLATELETS_OK], medications=[ibuprofen()]))["P16"]
    assert caution.indicator is Indicator.WARNING
    assert "short course only" in caution.summary
    assert "avoid" not in caution.summary
    assert "above the 30 mL/min edge" in caution.summary


@pytest.mark.parametrize(
    ("egfr", "clause"),
    [
        (27, "(3 mL/min/1.73 m2 below the 30 mL/min/1.73 m2 edge): avoid"),
        (32, "(2 mL/min/1.73 m2 above the 30 mL/min/1.73 m2 edge): short course only"),
        (57, "(3 mL/min/1.73 m2 below the 60 mL/min/1.73 m2 edge): short course only"),
    ],
)
def test_p16_on_egfr_words_the_gap_to_the_edge_in_the_unit_of_egfr(egfr: float, clause: str) -> None:
    """An eGFR is in mL/min/1.73 m2: "3 mL/min below the 30 mL/min edge" gave it the unit of a creatinine
    clearance, a different measure."""
    measured = obs(c.LAB_EGFR, egfr, "mL/min/{1.73_m2}", days_ago=1)
    found = run(patient(observations=[measured, PLATELETS_OK], medications=[ibuprofen()]))["P16"]
    assert f"NSAID with eGFR {egfr:g} {clause}" in found.summary
    assert "mL/min edge" not in " ".join((found.summary, *found.recommendations))
    assert "Cockcroft-Gault is not that precise" not in " ".join(found.recommendations)


def _card_text(found: Finding) -> str:
    return " ".join((found.summary, found.rationale, *found.recommendations))


@pytest.mark.parametrize(
    ("egfr", "band"),
    [
        (25, "below 30 mL/min/1.73 m2 (service default)"),
        (45, "between 30 mL/min/1.73 m2 (service default) and 60 mL/min/1.73 m2 (service default)"),
    ],
)
def test_p16_on_egfr_quotes_its_cut_offs_in_the_unit_of_egfr(egfr: float, band: str) -> None:
    """The card compares an eGFR with the cut-offs: quoted beside it in mL/min, they read as clearances
    ("eGFR 25 mL/min/1.73 m2 ..., below 30 mL/min"), another measure than the one compared."""
    measured = obs(c.LAB_EGFR, egfr, "mL/min/{1.73_m2}", days_ago=1)
    found = run(patient(observations=[measured, PLATELETS_OK], medications=[ibuprofen()]))["P16"]
    assert band in found.rationale
    assert "mL/min (" not in _card_text(found)


def test_p16_on_a_clearance_quotes_its_cut_offs_in_ml_per_minute() -> None:
    found = run(patient(observations=[*crcl_labs(45), PLATELETS_OK], medications=[ibuprofen()]))["P16"]
    assert "between 30 mL/min (service default) and 60 mL/min (service default)" in found.rationale
    assert "1.73" not in _card_text(found)


def test_p16_caution_band_ends_at_60_and_says_when_it_is_far_from_both_edges() -> None:
    middle = run(patient(observations=[*crcl_labs(45), PLATELETS_OK], medications=[ibuprofen()]))["P16"]
    assert "short course only" in middle.summary
    assert "edge" not in middle.summary
    assert "P16" not in fired(patient(observations=[*crcl_labs(61), PLATELETS_OK], medications=[ibuprofen()]))


def test_p16_egfr_fallback_is_named() -> None:
    egfr = obs(c.LAB_EGFR, 25, "mL/min/{1.73_m2}", days_ago=3)
    found = run(patient(observations=[egfr, PLATELETS_OK], medications=[ibuprofen()]))["P16"]
    assert "eGFR 25" in found.summary
    assert egfr.ref in refs(found)
    assert any("Cockcroft-Gault" in m.what for m in found.missing)


def test_p16_unknown_renal_function_says_check_before_continuing() -> None:
    found = run(patient(observations=[PLATELETS_OK], medications=[ibuprofen()]))["P16"]
    assert found.indicator is Indicator.INFO
    assert found.summary.startswith("Renal function unknown")
    assert found.missing
    assert found.missing[0].what.startswith("renal function")


def test_p16_topical_nsaid_is_not_counted() -> None:
    gel = med(c.NSAID, ingredients=["diclofenac"], doses=[dose(4, "g", per_day=4, route="topical")])
    assert not {"P16", "P18", "P19"} & fired(patient(age=70, observations=crcl_labs(20), medications=[gel]))


# --- P17 --------------------------------------------------------------------------------------------


def test_p17_nsaid_with_anticoagulant() -> None:
    apixaban = med(c.ANTICOAGULANT, ingredients=["apixaban"])
    found = run(patient(observations=[*crcl_labs(80), PLATELETS_OK], medications=[ibuprofen(), apixaban]))[
        "P17"
    ]
    assert apixaban.ref in refs(found)


def test_p17_silent_without_anticoagulant() -> None:
    assert "P17" not in fired(patient(observations=[*crcl_labs(80), PLATELETS_OK], medications=[ibuprofen()]))


# --- P18 --------------------------------------------------------------------------------------------


def test_p18_platelets_49_fires_and_51_does_not() -> None:
    low = obs(c.LAB_PLATELETS, 49, "10*9/L", days_ago=1)
    found = run(patient(observations=[*crcl_labs(80), low], medications=[ibuprofen()]))["P18"]
    assert found.indicator is Indicator.WARNING
    assert "platelets 49" in found.summary
    ok = obs(c.LAB_PLATELETS, 51, "10*3/uL", days_ago=1)
    assert "P18" not in fired(patient(observations=[*crcl_labs(80), ok], medications=[ibuprofen()]))


def test_p18_thrombocytopenia_condition_counts() -> None:
    facts = patient(
        observations=[*crcl_labs(80), PLATELETS_OK],
        conditions=[condition(c.THROMBOCYTOPENIA)],
        medications=[ibuprofen()],
    )
    assert "thrombocytopenia recorded" in run(facts)["P18"].summary


def test_p18_no_platelet_count_asks_for_one() -> None:
    found = run(patient(observations=crcl_labs(80), medications=[ibuprofen()]))["P18"]
    assert found.indicator is Indicator.INFO
    assert found.missing[0].what.startswith("platelet count")


# --- P19 --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra",
    [
        {"age": 65},
        {"conditions": [condition(c.GI_BLEED_ULCER, status="resolved")]},
        {"medications": [med(c.CORTICOSTEROID, ingredients=["dexamethasone"], start_days_ago=2)]},
        {"medications": [med(c.CHEMOTHERAPY, ingredients=["capecitabine"])]},
    ],
)
def test_p19_nsaid_with_each_risk_factor(extra: dict) -> None:  # type: ignore[type-arg]
    meds = [ibuprofen(), *extra.pop("medications", [])]
    facts = patient(observations=[*crcl_labs(80), PLATELETS_OK], medications=meds, **{"age": 50, **extra})
    assert "P19" in fired(facts)


def test_p19_silent_at_64_without_risk_factors() -> None:
    assert "P19" not in fired(
        patient(age=64, observations=[*crcl_labs(80), PLATELETS_OK], medications=[ibuprofen()])
    )


# --- P20 --------------------------------------------------------------------------------------------


def test_p20_over_4_g_short_term_counting_combination_products() -> None:
    combo = med(
        c.OPIOID,
        c.ACETAMINOPHEN,
        ingredients=["oxycodone", "acetaminophen"],
        doses=[dose(1, "{tablet}", per_day=4)],
        strengths=[strength("oxycodone", 5), strength("acetaminophen", 325)],
        start_days_ago=3,
    )
    plain = acetaminophen(tabs=2, per_day=3, start_days_ago=3)  # 3000 + 1300 = 4300 mg
    found = run(patient(age=50, medications=[combo, plain, senna()]))["P20"]
    # Above the short-term maximum: critical, with the total in the summary.
    assert "4.3 g/day (2 products) is above the 4 g maximum" in found.summary
    assert found.indicator is Indicator.CRITICAL
    assert {combo.ref, plain.ref} <= refs(found)


def test_p20_3900_mg_short_term_is_silent() -> None:
    apap = acetaminophen(tabs=1, per_day=3, mg=1300, start_days_ago=3)
    assert "P20" not in fired(patient(age=50, medications=[apap]))


def test_p20_long_term_ceiling_is_lower() -> None:
    apap = acetaminophen(tabs=2, per_day=3, start_days_ago=30)  # 3000 mg: at the ceiling
    assert "P20" not in fired(patient(age=50, medications=[apap]))
    apap = acetaminophen(tabs=2, per_day=3.5, start_days_ago=30)  # 3500 mg long term
    assert "long-term maximum of 3 g/day" in run(patient(age=50, medications=[apap]))["P20"].summary


def test_p20_unknown_start_is_treated_as_long_term() -> None:
    found = run(patient(age=50, medications=[acetaminophen(tabs=2, per_day=3.5)]))["P20"]
    assert "long-term" in found.summary
    assert any("start date" in m.what for m in found.missing)


def test_p20_unreadable_dose_asks_to_check_total() -> None:
    unreadable = med(
        c.ACETAMINOPHEN,
        ingredients=["acetaminophen"],
        doses=[dose(1, "{tablet}", per_day=4)],
        start_days_ago=2,
    )
    found = run(patient(age=50, medications=[unreadable]))["P20"]
    assert found.indicator is Indicator.INFO
    assert "could not be read" in found.summary
    assert any("strength" in m.what for m in found.missing)


# --- P21 --------------------------------------------------------------------------------------------


def test_p21_liver_metastases_cap_2_g() -> None:
    liver = condition(c.LIVER_DISEASE, display="Secondary malignant neoplasm of liver")
    found = run(
        patient(age=50, conditions=[liver], medications=[acetaminophen(tabs=1, per_day=3, start_days_ago=2)])
    )["P21"]
    assert "liver disease" in found.summary
    assert liver.ref in refs(found)


def test_p21_alt_above_three_times_normal() -> None:
    alt = obs(c.LAB_ALT, 130, "U/L", days_ago=3)
    found = run(patient(age=50, observations=[alt], medications=[acetaminophen(start_days_ago=2)]))["P21"]
    assert "raised liver enzymes" in found.summary
    assert "pain.alt_uln" in found.defaults_used
    alt_ok = obs(c.LAB_ALT, 110, "U/L", days_ago=3)
    assert "P21" not in fired(
        patient(age=50, observations=[alt_ok], medications=[acetaminophen(start_days_ago=2)])
    )


def test_p21_older_adult_over_2_g_fires_and_at_2_g_does_not() -> None:
    assert "P21" in fired(
        patient(age=70, medications=[acetaminophen(tabs=1, per_day=5, mg=500, start_days_ago=2)])
    )
    assert "P21" not in fired(
        patient(age=70, medications=[acetaminophen(tabs=1, per_day=4, mg=500, start_days_ago=2)])
    )


def test_p21_absorbs_p20_when_both_fire() -> None:
    result = run(patient(age=70, medications=[acetaminophen(tabs=2, per_day=5, start_days_ago=2)]))
    assert "P20" not in result
    assert result["P21"].related_rules == ("P20",)


# --- P22 --------------------------------------------------------------------------------------------


def test_p22_dexamethasone_for_pain_beyond_14_days() -> None:
    dex = med(c.CORTICOSTEROID, ingredients=["dexamethasone"], start_days_ago=20, reasons=[c.NEOPLASM_PAIN])
    found = run(patient(medications=[dex]))["P22"]
    assert dex.ref in refs(found)
    assert "pain.corticosteroid_review_days" in found.defaults_used


def test_p22_silent_for_short_course_other_reason_or_inhaled() -> None:
    short = med(c.CORTICOSTEROID, ingredients=["dexamethasone"], start_days_ago=10)
    other = med(
        c.CORTICOSTEROID, ingredients=["dexamethasone"], start_days_ago=30, reasons=[c.CORD_COMPRESSION]
    )
    inhaled = med(
        c.CORTICOSTEROID,
        ingredients=["budesonide"],
        start_days_ago=300,
        doses=[dose(200, "ug", route="inhalation")],
    )
    assert "P22" not in fired(patient(medications=[short, other, inhaled]))


def test_p22_unknown_start_is_reviewed() -> None:
    found = run(patient(medications=[med(c.CORTICOSTEROID, ingredients=["prednisone"])]))["P22"]
    assert any("start date" in m.what for m in found.missing)


# --- P23 --------------------------------------------------------------------------------------------


def test_p23_morphine_with_crcl_29_fires_and_31_does_not() -> None:
    found = run(patient(observations=crcl_labs(29), medications=[morphine(), senna()]))["P23"]
    assert found.indicator is Indicator.WARNING
    assert "P23" not in fired(patient(observations=crcl_labs(31), medications=[morphine(), senna()]))


def test_p23_summary_shows_a_clearance_just_under_the_cut_off_as_under_it() -> None:
    # 29.6 mL/min fires (below 30); rounded to a whole number the card read "CrCl 30", the cut-off itself.
    found = run(patient(observations=crcl_labs(29.6), medications=[morphine(), senna()]))["P23"]
    assert "CrCl 29.6" in found.summary
    assert "CrCl 30" not in found.summary


def test_p23_on_egfr_quotes_its_cut_off_in_the_unit_of_egfr() -> None:
    egfr = obs(c.LAB_EGFR, 25, "mL/min/{1.73_m2}", days_ago=1)
    found = run(patient(observations=[egfr], medications=[morphine(), senna()]))["P23"]
    assert found.rationale.endswith("below 30 mL/min/1.73 m2 (service default).")
    assert "mL/min (" not in _card_text(found)


def test_p23_silent_for_oxycodone_with_low_clearance() -> None:
    assert "P23" not in fired(patient(observations=crcl_labs(20), medications=[oxycodone(), senna()]))


def test_p23_codeine_recognised_by_ingredient_and_unknown_renal_is_info() -> None:
    codeine = med(c.OPIOID, ingredients=["codeine phosphate"])
    found = run(patient(medications=[codeine, senna()]))["P23"]
    assert found.indicator is Indicator.INFO
    assert found.summary.startswith("Renal function unknown")


def test_p19_unknown_age_is_treated_as_a_risk_factor() -> None:
    found = run(patient(age=None, observations=[*crcl_labs(80), PLATELETS_OK], medications=[ibuprofen()]))
    assert "age unknown" in found["P19"].rationale


def test_p20_statement_duplicating_a_request_is_not_counted_twice() -> None:
    request = acetaminophen(tabs=2, per_day=4, start_days_ago=3)  # 4000 mg: at the short-term ceiling
    statement = acetaminophen(tabs=2, per_day=4, start_days_ago=3, source="MedicationStatement")
    assert "P20" not in fired(patient(age=50, medications=[request, statement]))
    extra = acetaminophen(tabs=1, per_day=1, start_days_ago=3)
    found = run(patient(age=50, medications=[request, statement, extra]))["P20"]
    assert "4.5 g/day" in found.summary
    assert any(u.label == "Not counted twice" and u.ref == statement.ref for u in found.used)


def test_p22_with_nsaid_asks_for_gastric_protection() -> None:
    dex = med(c.CORTICOSTEROID, ingredients=["dexamethasone"], start_days_ago=30)
    found = run(patient(observations=[*crcl_labs(80), PLATELETS_OK], medications=[dex, ibuprofen()]))["P22"]
    assert any("gastric protection" in r for r in found.recommendations)
