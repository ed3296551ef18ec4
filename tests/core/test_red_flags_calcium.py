"""Corrected calcium (labs.corrected_calcium) and the hypercalcaemia red flag R03."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC

import pytest
from builders import TODAY, condition, lesion, obs, patient

from fhir_bonemet.core.evidence.labs import CalciumMethod, corrected_calcium, latest_lab
from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.facts import ObservationFact, PatientFacts, SiteClass
from fhir_bonemet.core.model.findings import Finding, Indicator, Referral
from fhir_bonemet.core.red_flags.spinal import assess_red_flags
from fhir_bonemet.knowledge import load_thresholds

TH = load_thresholds()


def facts(*observations: ObservationFact, **kw: object) -> PatientFacts:
    return patient(lesions=[lesion(SiteClass.PELVIS)], observations=observations, **kw)  # type: ignore[arg-type]


def ca(
    value: float, unit: str = "mg/dL", days_ago: float = 1, concept: str = c.LAB_CALCIUM
) -> ObservationFact:
    return obs(concept, value, unit, days_ago=days_ago)


def alb(value: float, unit: str = "g/dL", days_ago: float = 1) -> ObservationFact:
    return obs(c.LAB_ALBUMIN, value, unit, days_ago=days_ago)


def r03(f: PatientFacts) -> Finding | None:
    return next((x for x in assess_red_flags(f, TODAY, TH) if x.rule_id == "R03"), None)


def test_albumin_correction_formula() -> None:
    result = corrected_calcium(facts(ca(10.0), alb(2.5)), TODAY, TH)
    assert result is not None
    assert result.method is CalciumMethod.ALBUMIN_CORRECTED
    assert result.value == pytest.approx(11.2)  # 10 + 0.8 x (4.0 - 2.5)
    assert result.unit == "mg/dL"
    assert len(result.refs) == 2
    assert [u.label for u in result.used] == ["Calcium", "Albumin"]


def test_si_units_are_converted() -> None:
    result = corrected_calcium(facts(ca(2.5, "mmol/L"), alb(30, "g/L")), TODAY, TH)
    assert result is not None
    assert result.value == pytest.approx(2.5 * 4.008 + 0.8)


def test_albumin_is_used_only_within_the_pairing_window() -> None:
    near = facts(ca(10.0, days_ago=1), alb(2.0, days_ago=2.9))  # 45.6 h apart: paired
    far = facts(ca(10.0, days_ago=1), alb(2.0, days_ago=3.1))  # 50.4 h apart: not paired
    assert corrected_calcium(near, TODAY, TH).method is CalciumMethod.ALBUMIN_CORRECTED  # type: ignore[union-attr]
    unpaired = corrected_calcium(far, TODAY, TH)
    assert unpaired is not None
    assert unpaired.method is CalciumMethod.UNCORRECTED
    assert unpaired.value == 10.0
    assert "may be higher" in unpaired.note


def test_a_measured_ionised_or_corrected_value_takes_precedence() -> None:
    ionised = corrected_calcium(
        facts(ca(10.0), alb(2.0), ca(1.4, "mmol/L", concept=c.LAB_CALCIUM_IONISED)), TODAY, TH
    )
    assert ionised is not None
    assert (ionised.method, ionised.unit, ionised.is_total) == (CalciumMethod.IONISED, "mmol/L", False)
    measured = corrected_calcium(
        facts(ca(10.0), alb(2.0), ca(10.4, concept=c.LAB_CALCIUM_CORRECTED)), TODAY, TH
    )
    assert measured is not None
    assert (measured.method, measured.value) == (CalciumMethod.MEASURED_CORRECTED, 10.4)


def test_a_newer_total_calcium_wins_over_an_old_ionised_one() -> None:
    result = corrected_calcium(
        facts(
            ca(13.0, days_ago=0),
            alb(4.0, days_ago=0),
            ca(1.2, "mmol/L", days_ago=10, concept=c.LAB_CALCIUM_IONISED),
        ),
        TODAY,
        TH,
    )
    assert result is not None
    assert result.method is CalciumMethod.ALBUMIN_CORRECTED
    assert result.value == pytest.approx(13.0)


def test_no_recent_calcium_is_none_and_unreadable_units_are_skipped() -> None:
    assert corrected_calcium(facts(ca(15.0, days_ago=40)), TODAY, TH) is None
    assert corrected_calcium(facts(ca(15.0, unit="mEq/L")), TODAY, TH) is None
    older = facts(ca(9.0, days_ago=3), ca(15.0, unit="mEq/L", days_ago=1))
    assert latest_lab(older, c.LAB_CALCIUM, TODAY, 30).value == 9.0  # type: ignore[union-attr]


def test_offset_and_offset_free_times_can_be_compared() -> None:
    calcium = ca(10.0)
    assert calcium.effective is not None
    aware = replace(calcium, effective=calcium.effective.replace(tzinfo=UTC))
    result = corrected_calcium(facts(aware, alb(3.0)), TODAY, TH)
    assert result is not None
    assert result.method is CalciumMethod.ALBUMIN_CORRECTED


# R03 bands (clinical model): above ULN warning, 12-<14 urgent, >=14 severe.  Urgent advice is critical
# advice: the urgent and the severe band both make a critical finding (the rationale names the band).
@pytest.mark.parametrize(
    ("observations", "indicator", "band"),
    [
        ((ca(10.4), alb(4.0)), None, None),
        ((ca(10.6), alb(4.0)), Indicator.WARNING, "mild"),
        ((ca(11.0), alb(3.0)), Indicator.WARNING, "mild"),  # corrected 11.8
        ((ca(11.5), alb(3.0)), Indicator.CRITICAL, "urgent"),  # corrected 12.3
        ((ca(13.5), alb(3.5)), Indicator.CRITICAL, "urgent"),  # corrected 13.9
        ((ca(13.5), alb(3.0)), Indicator.CRITICAL, "critical"),  # corrected 14.3
        ((ca(1.3, "mmol/L", concept=c.LAB_CALCIUM_IONISED),), None, None),
        ((ca(1.5, "mmol/L", concept=c.LAB_CALCIUM_IONISED),), Indicator.WARNING, "mild"),
        ((ca(1.7, "mmol/L", concept=c.LAB_CALCIUM_IONISED),), Indicator.CRITICAL, "urgent"),
        ((ca(1.9, "mmol/L", concept=c.LAB_CALCIUM_IONISED),), Indicator.CRITICAL, "critical"),
    ],
)
def test_r03_bands(
    observations: tuple[ObservationFact, ...], indicator: Indicator | None, band: str | None
) -> None:
    finding = r03(facts(*observations))
    if indicator is None:
        assert finding is None
        return
    assert finding is not None
    assert finding.indicator is indicator
    assert f"band: {band}" in finding.rationale
    assert (Referral.ACUTE_ONCOLOGY in finding.referrals) is (band != "mild")
    assert len(finding.summary) < 140
    ionised = observations[0].concept == c.LAB_CALCIUM_IONISED
    assert finding.unverified is ionised  # the ionised bands await clinical review


def test_r03_exact_band_edges() -> None:
    assert r03(facts(ca(11.9), alb(4.0))).indicator is Indicator.WARNING  # type: ignore[union-attr]
    assert r03(facts(ca(12.0), alb(4.0))).indicator is Indicator.CRITICAL  # type: ignore[union-attr]
    assert "band: urgent" in r03(facts(ca(12.0), alb(4.0))).rationale  # type: ignore[union-attr]
    assert "band: critical" in r03(facts(ca(14.0), alb(4.0))).rationale  # type: ignore[union-attr]
    assert "band: urgent" in r03(facts(ca(13.9), alb(4.0))).rationale  # type: ignore[union-attr]


def test_symptoms_make_hypercalcaemia_critical() -> None:
    finding = r03(facts(ca(11.0), alb(4.0), obs(c.SYMPTOMATIC_HYPERCALCAEMIA, flag=True)))
    assert finding is not None
    assert finding.indicator is Indicator.CRITICAL


def test_uncorrected_calcium_says_albumin_is_missing() -> None:
    finding = r03(facts(ca(12.5)))
    assert finding is not None
    assert finding.missing[0].what == "albumin taken with the calcium"


def test_a_hypercalcaemia_diagnosis_without_a_recent_result_asks_for_one() -> None:
    finding = r03(facts(conditions=[condition(c.HYPERCALCAEMIA, onset_days_ago=3)]))
    assert finding is not None
    assert finding.indicator is Indicator.CRITICAL  # severity unknown: treated as urgent
    assert finding.missing[0].what.startswith("calcium result")
    assert r03(facts()) is None


@pytest.mark.parametrize(
    ("value", "unit", "band"),
    [
        (3.45, "mmol/L", "critical"),  # CKS severe: >3.40 mmol/L (13.8 mg/dL)
        (3.40, "mmol/L", "urgent"),
        (13.8, "mg/dL", "urgent"),  # the mg/dL band stays 12-<14
    ],
)
def test_calcium_in_mmol_per_litre_uses_the_published_mmol_severe_band(
    value: float, unit: str, band: str
) -> None:
    """R03: admit at >=14 mg/dL *or* >3.4 mmol/L; the two do not convert exactly."""
    albumin = alb(40, "g/L") if unit == "mmol/L" else alb(4.0)
    finding = r03(facts(ca(value, unit), albumin))
    assert finding is not None
    assert finding.indicator is Indicator.CRITICAL
    assert f"band: {band}" in finding.rationale
    if unit == "mmol/L":
        assert f"{value:.2f} mmol/L" in finding.summary


@pytest.mark.parametrize(
    ("calcium", "albumin", "warns"),
    [
        # clinical-rules R03: the warning band is above 10.5 mg/dL, from 2.65 mmol/L.  2.63 and 2.64 mmol/L
        # are 10.54 and 10.58 mg/dL: read against 10.5 mg/dL they were called high.
        (ca(2.63, "mmol/L"), alb(40, "g/L"), False),
        (ca(2.64, "mmol/L"), alb(40, "g/L"), False),
        (ca(2.65, "mmol/L"), alb(40, "g/L"), True),
        (obs(c.LAB_CALCIUM_CORRECTED, 2.64, "mmol/L", days_ago=1), None, False),
        (obs(c.LAB_CALCIUM_CORRECTED, 2.65, "mmol/L", days_ago=1), None, True),
        # Corrected here: 2.55 + 0.02 x (40 - 35) = 2.65 mmol/L (2.6499 by the mg/dL coefficient).
        (ca(2.55, "mmol/L"), alb(35, "g/L"), True),
        # mg/dL unchanged: above 10.5.
        (ca(10.5), alb(4.0), False),
        (ca(10.6), alb(4.0), True),
    ],
)
def test_calcium_in_mmol_per_litre_warns_from_the_mmol_upper_limit(
    calcium: ObservationFact, albumin: ObservationFact | None, warns: bool
) -> None:
    finding = r03(facts(calcium, *([albumin] if albumin is not None else [])))
    assert (finding is not None) is warns
    if finding is not None:
        assert finding.indicator is Indicator.WARNING
        assert "band: mild" in finding.rationale
        # The mg/dL limit is a service default the card labels as such; the mmol/L one is S24's band.
        molar = calcium.quantity is not None and calcium.quantity.unit == "mmol/L"
        assert ("red_flags.calcium_uln" in finding.defaults_used) is not molar


@pytest.mark.parametrize(
    ("calcium", "albumin", "band", "shown", "not_shown"),
    [
        # 11.5 + 0.8 x (4.0 - 3.4) = 11.98: the band below 12, shown as such (it read "12.0").
        (ca(11.5), alb(3.4), "mild", "corrected Ca 11.98 mg/dL", "12.0"),
        # 13.5 + 0.8 x (4.0 - 3.4) = 13.98: urgent, not the admission band from 14 (it read "14.0").
        (ca(13.5), alb(3.4), "urgent", "corrected Ca 13.98 mg/dL", "14.0"),
        # 2.99 mmol/L is 11.98 mg/dL: the mmol/L band is 2.65-3.0 (it read "(12.0 mg/dL)").
        (ca(2.99, "mmol/L"), alb(40, "g/L"), "mild", "2.99 mmol/L (11.98 mg/dL)", "12.0"),
        # One decimal where it does not round up, as laboratories report it.
        (ca(13.2), alb(3.2), "urgent", "corrected Ca 13.8 mg/dL", "13.84"),
    ],
)
def test_calcium_is_never_shown_rounded_up_into_the_next_band(
    calcium: ObservationFact, albumin: ObservationFact, band: str, shown: str, not_shown: str
) -> None:
    finding = r03(facts(calcium, albumin))
    assert finding is not None
    assert f"band: {band}" in finding.rationale
    assert shown in finding.summary
    assert not_shown not in finding.summary
