"""Daily morphine milligram equivalents (CDC 2022 factors) and total daily acetaminophen."""

from __future__ import annotations

import pytest
from builders import dose, med, strength

from fhir_bonemet.core.evidence.dose_arithmetic import (
    daily_acetaminophen,
    daily_amount,
    daily_mme,
    deduplicate,
    dose_mg,
)
from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.knowledge import load_thresholds

TH = load_thresholds()
OPIOID = (c.OPIOID,)


def opioid(name: str, *doses_, **kw):  # type: ignore[no-untyped-def]
    return med(*OPIOID, ingredients=[name], doses=doses_, **kw)


# One scheduled oral dose per CDC opioid: (ingredient, mg per dose, doses per day, expected MME/day).
CDC_TABLE = [
    ("codeine", 30, 4, 120 * 0.15),
    ("hydrocodone", 10, 4, 40 * 1),
    ("hydromorphone", 2, 6, 12 * 5),
    ("methadone", 10, 3, 30 * 4.7),
    ("morphine", 30, 2, 60 * 1),
    ("oxycodone", 10, 2, 20 * 1.5),
    ("oxymorphone", 10, 2, 20 * 3),
    ("tapentadol", 100, 2, 200 * 0.4),
    ("tramadol", 50, 4, 200 * 0.2),
]


@pytest.mark.parametrize(("name", "mg", "per_day", "expected"), CDC_TABLE)
def test_mme_of_each_cdc_opioid(name: str, mg: float, per_day: float, expected: float) -> None:
    result = daily_mme([opioid(name, dose(mg, "mg", per_day=per_day))], TH)
    assert result.total == pytest.approx(expected)
    assert result.complete
    assert result.per_med[0].ingredient == name


def test_mme_factors_come_from_the_thresholds_file_with_their_source() -> None:
    for name, *_ in CDC_TABLE:
        entry = TH[f"pain.mme_factor_{name}"]
        assert (entry.basis, entry.source) == ("evidence", "S30")


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        (dose(25, "ug/h", per_day=1 / 3, route="transdermal"), 60.0),
        (dose(25, "mcg/h", route=None), 60.0),
    ],
)
def test_fentanyl_patch_rate_times_2_4(patch, expected: float) -> None:  # type: ignore[no-untyped-def]
    result = daily_mme([opioid("fentanyl", patch)], TH)
    assert result.total == pytest.approx(expected)


def test_fentanyl_patches_counted_in_product_units_use_the_strength() -> None:
    patch = med(
        *OPIOID,
        ingredients=["fentanyl"],
        doses=[dose(2, "{patch}", per_day=1 / 3, route="transdermal")],
        strengths=[strength("fentanyl", 25, "ug/h")],
    )
    assert daily_mme([patch], TH).total == pytest.approx(2 * 25 * 2.4)


def test_tablets_times_strength() -> None:
    tabs = med(
        *OPIOID,
        ingredients=["oxycodone"],
        doses=[dose(2, "{tablet}", per_day=4)],
        strengths=[strength("oxycodone", 5, "mg")],
    )
    result = daily_mme([tabs], TH)
    assert result.total == pytest.approx(40 * 1.5)
    assert "2 {tablet}" in result.per_med[0].daily.basis


def test_oral_solution_in_ml_times_mg_per_ml() -> None:
    liquid = med(
        *OPIOID,
        ingredients=["morphine sulfate"],
        doses=[dose(5, "mL", per_day=6)],
        strengths=[strength("morphine sulfate", 2, "mg/mL")],
    )
    assert daily_mme([liquid], TH).total == pytest.approx(60.0)


def test_prn_counted_at_its_maximum_daily_dose_and_labelled() -> None:
    prn = opioid("oxycodone", dose(5, "mg", per_day=6, max_per_day=30, prn=True))
    result = daily_mme([prn], TH)
    assert result.total == pytest.approx(30 * 1.5)
    assert result.as_needed_counted_at_max
    assert "maximum" in result.describe()


def test_prn_without_maximum_counted_at_its_frequency_based_maximum() -> None:
    prn = opioid("morphine", dose(10, "mg", per_day=6, prn=True))
    result = daily_mme([prn], TH)
    assert result.total == pytest.approx(60.0)
    assert result.per_med[0].daily.as_needed_max


def test_prn_tablets_maximum_is_in_tablets() -> None:
    prn = med(
        *OPIOID,
        ingredients=["hydromorphone"],
        doses=[dose(1, "{tablet}", max_per_day=4, prn=True)],
        strengths=[strength("hydromorphone", 2)],
    )
    assert daily_mme([prn], TH).total == pytest.approx(4 * 2 * 5)


@pytest.mark.parametrize(
    ("medication", "reason"),
    [
        (opioid("oxycodone", dose(5, "mg", prn=True)), "as-needed dose without a frequency"),
        (opioid("morphine", dose(10, "mg")), "frequency not recorded"),
        (opioid("morphine", dose(5, "mg", per_day=6, route="intravenous")), "oral doses only"),
        (opioid("buprenorphine", dose(5, "ug/h", route="transdermal")), "no CDC conversion factor"),
        (opioid("fentanyl", dose(100, "ug", per_day=4, route="buccal")), "transdermal rate"),
        (opioid("oxycodone"), "no dosage instructions"),
        (opioid("oxycodone", dose(2, "{tablet}", per_day=4)), "strength of oxycodone"),
        (
            med(*OPIOID, ingredients=["hydrocodone", "acetaminophen"], doses=[dose(5, "mg", per_day=4)]),
            "combination product",
        ),
    ],
)
def test_dose_that_cannot_be_computed_says_why(medication, reason: str) -> None:  # type: ignore[no-untyped-def]
    result = daily_mme([medication], TH)
    assert not result.complete
    assert result.not_computable[0][0] == medication.ref
    assert reason in result.not_computable[0][1]


def test_total_is_a_lower_bound_when_one_dose_cannot_be_computed() -> None:
    known = opioid("morphine", dose(30, "mg", per_day=2))
    unknown = opioid("oxycodone", dose(5, "mg", prn=True))
    result = daily_mme([known, unknown], TH)
    assert result.total == pytest.approx(60.0)
    assert result.describe().startswith("at least 60 MME/day")


def test_route_not_recorded_is_assumed_oral_and_noted() -> None:
    result = daily_mme([opioid("morphine", dose(10, "mg", per_day=3, route=None))], TH)
    assert result.total == pytest.approx(30.0)
    assert "oral assumed" in result.per_med[0].notes[0]


def test_several_dosage_instructions_are_added() -> None:
    result = daily_mme([opioid("morphine", dose(20, "mg", per_day=1), dose(10, "mg", per_day=1))], TH)
    assert result.total == pytest.approx(30.0)


def test_request_and_statement_of_the_same_drug_counted_once() -> None:
    request = opioid("oxycodone", dose(10, "mg", per_day=2))
    statement = opioid("oxycodone", dose(10, "mg", per_day=2), source="MedicationStatement")
    result = daily_mme([statement, request], TH)
    assert result.total == pytest.approx(30.0)
    assert result.duplicates == ((statement.ref, request.ref),)


def test_two_requests_of_one_drug_both_count_and_a_lone_statement_counts() -> None:
    long_acting = opioid("oxycodone", dose(20, "mg", per_day=2))
    breakthrough = opioid("oxycodone", dose(5, "mg", per_day=4, prn=True))
    statement = opioid("tramadol", dose(50, "mg", per_day=2), source="MedicationStatement")
    result = daily_mme([long_acting, breakthrough, statement], TH)
    assert result.total == pytest.approx(40 * 1.5 + 20 * 1.5 + 100 * 0.2)
    assert result.duplicates == ()


def test_deduplicate_keeps_order_and_reports_the_request_kept() -> None:
    a = med(c.NSAID, ingredients=["ibuprofen"], source="MedicationStatement")
    b = med(c.NSAID, ingredients=["Ibuprofen"])
    kept, dropped = deduplicate([a, b])
    assert kept == [b]
    assert dropped == [(a.ref, b.ref)]


# --- acetaminophen ----------------------------------------------------------------------------------


def _apap(tabs: float, mg: float, per_day: float, **kw):  # type: ignore[no-untyped-def]
    return med(
        c.ACETAMINOPHEN,
        ingredients=["acetaminophen"],
        doses=[dose(tabs, "{tablet}", per_day=per_day)],
        strengths=[strength("acetaminophen", mg)],
        **kw,
    )


def test_acetaminophen_total_across_plain_and_combination_products() -> None:
    combo = med(
        c.OPIOID,
        c.ACETAMINOPHEN,
        ingredients=["oxycodone", "acetaminophen"],
        doses=[dose(2, "{tablet}", per_day=4)],
        strengths=[strength("oxycodone", 5), strength("acetaminophen", 325)],
    )
    plain = _apap(2, 500, 3)
    result = daily_acetaminophen([combo, plain])
    assert result.total == pytest.approx(2600 + 3000)
    assert {m.ref for m in result.per_med} == {combo.ref, plain.ref}
    # the combination's opioid part is counted in MME, not in acetaminophen
    assert daily_mme([combo], TH).total == pytest.approx(40 * 1.5)


def test_acetaminophen_prn_at_max_and_mg_doses() -> None:
    prn = med(
        c.ACETAMINOPHEN, ingredients=["paracetamol"], doses=[dose(1000, "mg", max_per_day=4000, prn=True)]
    )
    scheduled = med(c.ACETAMINOPHEN, ingredients=["acetaminophen"], doses=[dose(1, "g", per_day=2)])
    result = daily_acetaminophen([prn, scheduled])
    assert result.total == pytest.approx(6000)
    assert result.as_needed_counted_at_max


def test_dosage_steps_that_follow_one_another_count_the_heaviest_step_not_their_sum() -> None:
    # Dosage.sequence: lines with different numbers follow one another (1 g four times a day, then 500 mg);
    # the patient never takes both at once.  Lines with no number, or the same one, are taken together.
    steps = [dose(1000, per_day=4, sequence=1), dose(500, per_day=4, sequence=2)]
    stepped = med(c.ACETAMINOPHEN, ingredients=["acetaminophen"], doses=steps)
    assert daily_acetaminophen([stepped]).total == pytest.approx(4000)
    together = med(
        c.ACETAMINOPHEN, ingredients=["acetaminophen"], doses=[dose(650, per_day=4), dose(1000, per_day=1)]
    )
    assert daily_acetaminophen([together]).total == pytest.approx(3600)
    same_step = [dose(650, per_day=4, sequence=1), dose(1000, per_day=1, sequence=1)]
    one_step = med(c.ACETAMINOPHEN, ingredients=["acetaminophen"], doses=same_step)
    assert daily_acetaminophen([one_step]).total == pytest.approx(3600)
    # A line with no step number is read as taken beside every step (the cautious reading).
    mixed = [dose(500, per_day=3, sequence=1), dose(1000, per_day=3, sequence=2), dose(500, per_day=1)]
    result = daily_amount(med(c.ACETAMINOPHEN, ingredients=["acetaminophen"], doses=mixed), "acetaminophen")
    assert not isinstance(result, str)
    assert result.value == pytest.approx(3500)
    assert "step 2 of 2" in result.basis


def test_acetaminophen_not_computable_is_listed_and_total_is_partial() -> None:
    known = _apap(2, 500, 4)
    unknown = med(c.ACETAMINOPHEN, ingredients=["acetaminophen"], doses=[dose(None, None)])
    result = daily_acetaminophen([known, unknown])
    assert result.total == pytest.approx(4000)
    assert result.not_computable == ((unknown.ref, "dose amount not recorded"),)


def test_acetaminophen_statement_duplicate_of_request_not_counted() -> None:
    request = _apap(2, 500, 4)
    statement = _apap(2, 500, 4, source="MedicationStatement")
    result = daily_acetaminophen([request, statement])
    assert result.total == pytest.approx(4000)
    assert result.duplicates == ((statement.ref, request.ref),)


# --- single doses -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("medication", "expected"),
    [
        (med(c.ZOLEDRONIC_ACID, ingredients=["zoledronic acid"], doses=[dose(3.5, "mg")]), 3.5),
        (
            med(
                c.ZOLEDRONIC_ACID,
                ingredients=["zoledronic acid"],
                doses=[dose(5, "mL")],
                strengths=[strength("zoledronic acid", 0.8, "mg/mL")],
            ),
            4.0,
        ),
        (
            med(
                c.ZOLEDRONIC_ACID,
                ingredients=["zoledronic acid"],
                doses=[dose(1, "{vial}")],
                strengths=[strength("zoledronic acid", 4, "mg")],
            ),
            4.0,
        ),
    ],
)
def test_dose_mg_of_one_administration(medication, expected: float) -> None:  # type: ignore[no-untyped-def]
    assert dose_mg(medication, "zoledronic acid") == pytest.approx(expected)


def test_dose_mg_without_amount_says_so() -> None:
    assert dose_mg(med(c.ZOLEDRONIC_ACID, ingredients=["zoledronic acid"]), "zoledronic acid") == (
        "dose amount not recorded"
    )


def test_daily_amount_rejects_mixing_a_rate_with_discrete_doses() -> None:
    mixed = opioid("fentanyl", dose(25, "ug/h"), dose(100, "ug", per_day=2))
    assert daily_amount(mixed, "fentanyl") == "dosage instructions mix a continuous rate with discrete doses"


@pytest.mark.parametrize(
    ("medication", "reason"),
    [
        (opioid("morphine", dose(10, None, per_day=4)), "dose unit not recorded"),
        (
            med(
                *OPIOID,
                ingredients=["morphine"],
                doses=[dose(5, "mL", per_day=4)],
                strengths=[strength("morphine", 10)],
            ),
            "not per mL",
        ),
        (
            med(
                *OPIOID,
                ingredients=["morphine"],
                doses=[dose(1, "{tablet}", per_day=4)],
                strengths=[strength("morphine", 10, "mmol")],
            ),
            "not understood",
        ),
        (opioid("morphine", dose(1, "puffs", per_day=4)), "dose unit puffs not understood"),
        (opioid("oxycodone", dose(1, "mg/h", route=None)), "given as a rate"),
    ],
)
def test_more_doses_that_cannot_be_computed(medication, reason: str) -> None:  # type: ignore[no-untyped-def]
    result = daily_mme([medication], TH)
    assert result.total == 0
    assert reason in result.not_computable[0][1]


def test_acetaminophen_class_without_named_ingredient_is_not_computable() -> None:
    unnamed = med(c.ACETAMINOPHEN, ingredients=["unknown analgesic"], doses=[dose(1, "g", per_day=4)])
    result = daily_acetaminophen([unnamed])
    assert result.not_computable == ((unnamed.ref, "acetaminophen ingredient not identified in the product"),)
