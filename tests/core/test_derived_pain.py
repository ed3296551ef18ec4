"""Derived values for the pain rules: pain score and trend, pain mechanism, renal function."""

from __future__ import annotations

import math

import pytest
from builders import TODAY, at, condition, lesion, obs, patient

from fhir_bonemet.core.evidence.derived import (
    RENAL_BAND_EDGES,
    Mechanism,
    Trend,
    cockcroft_gault,
    latest_pain,
    pain_mechanism,
    pain_trend,
    renal_function,
)
from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.facts import ObservationFact, Quantity, Sex
from fhir_bonemet.knowledge import load_thresholds

TH = load_thresholds()


# --- pain score and trend ---------------------------------------------------------------------------


def test_latest_pain_is_the_newest_score_within_the_lookback() -> None:
    newest = obs(c.PAIN_SCORE, 3, days_ago=1)
    facts = patient(observations=[obs(c.PAIN_SCORE, 8, days_ago=5), newest])
    score = latest_pain(facts, TODAY, TH)
    assert score is not None
    assert (score.ref, score.value) == (newest.ref, 3)


def test_latest_pain_ignores_scores_older_than_the_lookback_and_undated_ones() -> None:
    facts = patient(
        observations=[
            obs(c.PAIN_SCORE, 8, days_ago=TH.v("lookback.pain_score_days") + 1),
            obs(c.PAIN_SCORE, 5, undated=True),
        ]
    )
    assert latest_pain(facts, TODAY, TH) is None


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ((2, 4, 6), Trend.RISING),  # oldest first
        ((7, 6, 4), Trend.FALLING),
        ((5, 7, 6), Trend.STABLE),  # change of 1 < trend_min_change
        ((5,), Trend.UNKNOWN),
    ],
)
def test_pain_trend_compares_newest_with_oldest_score_in_window(
    values: tuple[int, ...], expected: Trend
) -> None:
    scores = [obs(c.PAIN_SCORE, v, days_ago=len(values) - i) for i, v in enumerate(values)]
    trend = pain_trend(patient(observations=scores), TODAY, TH)
    assert trend.direction is expected
    assert trend.refs == tuple(s.ref for s in scores)


def test_pain_trend_leaves_out_scores_outside_the_window() -> None:
    old = obs(c.PAIN_SCORE, 1, days_ago=TH.v("pain.trend_window_days") + 2)
    recent = [obs(c.PAIN_SCORE, 6, days_ago=3), obs(c.PAIN_SCORE, 6, days_ago=1)]
    trend = pain_trend(patient(observations=[old, *recent]), TODAY, TH)
    assert trend.direction is Trend.STABLE
    assert old.ref not in trend.refs


# --- pain mechanism ---------------------------------------------------------------------------------


def test_bone_metastasis_alone_is_nociceptive() -> None:
    met = lesion()
    mech = pain_mechanism(patient(lesions=[met]), TODAY, TH)
    assert mech.kind is Mechanism.NOCICEPTIVE
    assert mech.nociceptive_refs == (met.ref,)
    assert not mech.has_neuropathic_component


@pytest.mark.parametrize("concept", [c.NEUROPATHIC_PAIN, c.PERIPHERAL_NEUROPATHY])
def test_neuropathic_condition_on_top_of_bone_pain_is_mixed(concept: str) -> None:
    cond = condition(concept)
    mech = pain_mechanism(patient(conditions=[cond]), TODAY, TH)
    assert mech.kind is Mechanism.MIXED
    assert mech.neuropathic_refs == (cond.ref,)


def test_resolved_neuropathy_does_not_count() -> None:
    mech = pain_mechanism(
        patient(conditions=[condition(c.PERIPHERAL_NEUROPATHY, status="resolved")]), TODAY, TH
    )
    assert mech.kind is Mechanism.NOCICEPTIVE


def test_radicular_pain_observation_makes_it_mixed_but_a_negative_answer_does_not() -> None:
    yes = obs(c.RF_RADICULAR_PAIN, flag=True, days_ago=2)
    assert pain_mechanism(patient(observations=[yes]), TODAY, TH).kind is Mechanism.MIXED
    no = obs(c.RF_RADICULAR_PAIN, flag=False, days_ago=2)
    assert pain_mechanism(patient(observations=[no]), TODAY, TH).kind is Mechanism.NOCICEPTIVE


def test_recorded_neuropathic_assessment_without_bone_lesion_is_neuropathic() -> None:
    assessed = obs(c.PAIN_MECHANISM, code="pain-neuropathic", days_ago=3)
    mech = pain_mechanism(patient(lesions=[], observations=[assessed]), TODAY, TH)
    assert mech.kind is Mechanism.NEUROPATHIC
    assert mech.neuropathic_refs == (assessed.ref,)


def test_old_pain_mechanism_assessment_is_not_used() -> None:
    stale = obs(c.PAIN_MECHANISM, code="pain-neuropathic", days_ago=TH.v("pain.mechanism_lookback_days") + 5)
    assert pain_mechanism(patient(observations=[stale]), TODAY, TH).kind is Mechanism.NOCICEPTIVE


# --- renal function ---------------------------------------------------------------------------------


def test_cockcroft_gault_formula_male_and_female() -> None:
    # (140 - 60) x 72 / (72 x 1.0) = 80 mL/min; female x 0.85 = 68
    assert cockcroft_gault(1.0, 72, 60, Sex.MALE) == pytest.approx(80.0)
    assert cockcroft_gault(1.0, 72, 60, Sex.FEMALE) == pytest.approx(68.0)


@pytest.mark.parametrize("sex", [Sex.UNKNOWN, Sex.OTHER])
def test_cockcroft_gault_unknown_sex_uses_the_lower_female_value(sex: Sex) -> None:
    assert cockcroft_gault(1.0, 72, 60, sex) == pytest.approx(68.0)


def test_cockcroft_gault_rejects_impossible_inputs() -> None:
    with pytest.raises(ValueError, match="Cockcroft-Gault"):
        cockcroft_gault(0, 70, 60, Sex.MALE)


def _labs(creat: float | None = 1.0, weight: float | None = 72, creat_unit: str = "mg/dL") -> list:  # type: ignore[type-arg]
    out = []
    if creat is not None:
        out.append(obs(c.LAB_CREATININE, creat, creat_unit, days_ago=2))
    if weight is not None:
        out.append(obs(c.BODY_WEIGHT, weight, "kg", days_ago=10))
    return out


def test_renal_function_uses_cockcroft_gault_when_possible() -> None:
    labs = _labs()
    renal = renal_function(
        patient(age=60, observations=[*labs, obs(c.LAB_EGFR, 30, "mL/min/{1.73_m2}")]), TODAY, TH
    )
    assert renal.method == "cockcroft-gault"
    assert renal.value == pytest.approx(80.0)
    assert renal.refs == (labs[0].ref, labs[1].ref)
    assert "Cockcroft-Gault" in renal.describe()


def test_renal_function_converts_creatinine_in_umol_per_litre() -> None:
    renal = renal_function(patient(age=60, observations=_labs(creat=88.42, creat_unit="umol/L")), TODAY, TH)
    assert renal.value == pytest.approx(80.0)


def test_unknown_sex_is_said_in_the_renal_result() -> None:
    renal = renal_function(patient(age=60, sex=Sex.UNKNOWN, observations=_labs()), TODAY, TH)
    assert renal.value == pytest.approx(68.0)
    assert any("female factor" in m for m in renal.missing)


def test_renal_function_falls_back_to_egfr_and_says_why() -> None:
    egfr = obs(c.LAB_EGFR, 42, "mL/min/{1.73_m2}", days_ago=3)
    renal = renal_function(patient(observations=[*_labs(weight=None), egfr]), TODAY, TH)
    assert (renal.method, renal.value, renal.refs) == ("egfr", 42, (egfr.ref,))
    assert any("body weight" in m for m in renal.missing)
    assert "eGFR" in renal.describe()


def test_measured_clearance_is_preferred_to_egfr_when_cockcroft_gault_is_impossible() -> None:
    measured = obs(c.LAB_CRCL, 55, "mL/min", days_ago=3)
    facts = patient(age=None, observations=[*_labs(), measured, obs(c.LAB_EGFR, 42, "mL/min/{1.73_m2}")])
    renal = renal_function(facts, TODAY, TH)
    assert (renal.method, renal.value) == ("measured", 55)
    assert any("age" in m for m in renal.missing)


def _egfr_below(bound: float, comparator: str = "<") -> ObservationFact:
    value = math.nextafter(bound, -math.inf) if comparator == "<" else bound
    quantity = Quantity(value, "mL/min/{1.73_m2}", comparator=comparator)
    return ObservationFact("Observation/egfr", c.LAB_EGFR, at(1), quantity)


def test_an_egfr_upper_bound_below_every_band_edge_is_renal_function_in_the_lowest_band() -> None:
    renal = renal_function(patient(observations=[_egfr_below(15)]), TODAY, TH)
    assert renal.known
    assert renal.value is not None
    assert all(renal.value < TH.v(key) for key in RENAL_BAND_EDGES)
    assert (renal.comparator, renal.label()) == ("<", "eGFR <15")


@pytest.mark.parametrize(("bound", "comparator"), [(45, "<"), (30, "<="), (30.5, "<")])
def test_an_egfr_upper_bound_above_a_band_edge_leaves_renal_function_unknown(
    bound: float, comparator: str
) -> None:
    """ "<45" allows 44 and 12: read as its highest value it would be the less cautious of the two bands."""
    older = obs(c.LAB_EGFR, 50, "mL/min/{1.73_m2}", days_ago=20)
    renal = renal_function(patient(observations=[older, _egfr_below(bound, comparator)]), TODAY, TH)
    assert not renal.known
    assert "band unknown" in renal.missing[0]
    assert renal.used[0].value.startswith(comparator)


def test_the_band_edges_are_every_renal_threshold() -> None:
    """A renal band added later must be below-bound safe too: every mL/min threshold but the margin."""
    renal = {key for key in TH if TH[key].unit == "mL/min"} - {"pain.renal_band_edge_margin"}
    assert set(RENAL_BAND_EDGES) == renal


def test_stale_creatinine_and_no_egfr_means_unknown_renal_function() -> None:
    stale = obs(c.LAB_CREATININE, 1.0, "mg/dL", days_ago=TH.v("lookback.lab_days") + 1)
    renal = renal_function(patient(observations=[stale, obs(c.BODY_WEIGHT, 70, "kg")]), TODAY, TH)
    assert not renal.known
    assert renal.method is None
    assert renal.describe() == "renal function unknown"
    assert any("serum creatinine" in m for m in renal.missing)


def test_creatinine_in_an_unknown_unit_is_not_guessed() -> None:
    renal = renal_function(patient(observations=_labs(creat=1.0, creat_unit="mmol/L")), TODAY, TH)
    assert not renal.known
    assert any("could not be converted" in m for m in renal.missing)


def test_no_lesion_and_no_recorded_mechanism_is_unknown() -> None:
    assert pain_mechanism(patient(lesions=[]), TODAY, TH).kind is Mechanism.UNKNOWN


def test_recorded_nociceptive_assessment_is_used() -> None:
    assessed = obs(c.PAIN_MECHANISM, code="pain-nociceptive", days_ago=3)
    mech = pain_mechanism(patient(lesions=[], observations=[assessed]), TODAY, TH)
    assert (mech.kind, mech.nociceptive_refs) == (Mechanism.NOCICEPTIVE, (assessed.ref,))


def test_weight_in_an_unknown_unit_is_not_guessed() -> None:
    facts = patient(
        observations=[obs(c.LAB_CREATININE, 1.0, "mg/dL", days_ago=1), obs(c.BODY_WEIGHT, 70, "stone")]
    )
    renal = renal_function(facts, TODAY, TH)
    assert not renal.known
    assert any("could not be converted to kg" in m for m in renal.missing)
