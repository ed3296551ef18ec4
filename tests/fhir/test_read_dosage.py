"""R4 Dosage → DoseInstruction: amounts, frequencies, PRN, ceilings, routes, cautious readings."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_bonemet.fhir.intake.dosage import parse_dosage, per_day_from_text

ORAL = {"coding": [{"system": "http://snomed.info/sct", "code": "26643006", "display": "Oral route"}]}


def _dose(value: float, unit: str, code: str | None = None) -> dict[str, Any]:
    quantity: dict[str, Any] = {"value": value, "unit": unit, "system": "http://unitsofmeasure.org"}
    if code is not None:
        quantity["code"] = code
    return {"doseAndRate": [{"doseQuantity": quantity}]}


def test_bid_timing_code_with_oral_route() -> None:
    dose, issues = parse_dosage(
        {**_dose(5, "mg"), "timing": {"code": {"coding": [{"code": "BID"}]}}, "route": ORAL}
    )
    assert (dose.amount, dose.amount_unit, dose.per_day, dose.route, dose.as_needed) == (
        5.0,
        "mg",
        2.0,
        "oral",
        False,
    )
    assert issues == []


def test_prn_every_4_hours_with_max_per_day() -> None:
    dosage = {
        **_dose(1, "tablet", "{tbl}"),
        "timing": {"repeat": {"frequency": 1, "period": 4, "periodUnit": "h"}},
        "asNeededBoolean": True,
        "maxDosePerPeriod": {
            "numerator": {"value": 6, "unit": "tablet"},
            "denominator": {"value": 1, "unit": "day", "code": "d"},
        },
    }
    dose, issues = parse_dosage(dosage)
    assert dose.as_needed is True
    assert (dose.amount, dose.amount_unit, dose.per_day, dose.max_per_day) == (1.0, "{tablet}", 6.0, 6.0)
    assert issues == []


def test_as_needed_for_a_reason_is_prn() -> None:
    dose, _ = parse_dosage({**_dose(400, "mg"), "asNeededCodeableConcept": {"text": "pain"}})
    assert dose.as_needed is True


def test_fentanyl_patch_every_72_hours() -> None:
    dosage = {
        **_dose(1, "patch"),
        "timing": {"repeat": {"frequency": 1, "period": 72, "periodUnit": "h"}},
        "route": {
            "coding": [
                {"system": "http://snomed.info/sct", "code": "45890007", "display": "Transdermal route"}
            ]
        },
    }
    dose, _ = parse_dosage(dosage)
    assert dose.amount_unit == "{patch}"
    assert dose.per_day == pytest.approx(1 / 3, rel=1e-4)
    assert dose.route == "transdermal"


def test_dose_range_counts_at_its_high_end_and_frequency_max_wins() -> None:
    dosage = {
        "doseAndRate": [
            {"doseRange": {"low": {"value": 5, "unit": "mg"}, "high": {"value": 10, "unit": "mg"}}}
        ],
        "timing": {"repeat": {"frequency": 1, "frequencyMax": 2, "period": 1, "periodUnit": "d"}},
    }
    dose, _ = parse_dosage(dosage)
    assert (dose.amount, dose.per_day) == (10.0, 2.0)


def test_grams_and_micrograms_are_normalised() -> None:
    assert parse_dosage(_dose(1, "g"))[0].amount == 1000.0
    assert parse_dosage(_dose(1, "g"))[0].amount_unit == "mg"
    assert parse_dosage(_dose(100, "µg"))[0].amount_unit == "mcg"
    assert parse_dosage(_dose(12, "ug/h", "ug/h"))[0].amount_unit == "mcg/h"


def test_unknown_dose_unit_is_reported_not_guessed() -> None:
    dose, issues = parse_dosage(_dose(2, "scoops"))
    assert dose.amount is None
    assert issues == ["dose unit not recognised; dose amount not used"]


def test_ceiling_in_another_unit_is_not_used() -> None:
    dosage = {
        **_dose(1, "tablet"),
        "maxDosePerPeriod": {
            "numerator": {"value": 4000, "unit": "mg"},
            "denominator": {"value": 24, "code": "h"},
        },
    }
    dose, issues = parse_dosage(dosage)
    assert dose.max_per_day is None
    assert "ceiling not used" in issues[0]


def test_ceiling_per_24_hours_is_per_day() -> None:
    dosage = {
        **_dose(500, "mg"),
        "maxDosePerPeriod": {
            "numerator": {"value": 3000, "unit": "mg"},
            "denominator": {"value": 24, "code": "h"},
        },
    }
    assert parse_dosage(dosage)[0].max_per_day == 3000.0


def test_ceiling_without_a_unit_counts_doses() -> None:
    """A ceiling written as the FHIR R4 examples write it, a numerator with no unit: 1 g every 4 h as
    needed, at most 4 a day.  It was 'not understood', and the every-4-hours maximum (6 g) made P20 call
    4 g a day an overdose."""
    dosage = {
        **_dose(1, "g", "g"),
        "timing": {"repeat": {"frequency": 1, "period": 4, "periodUnit": "h"}},
        "asNeededBoolean": True,
        "maxDosePerPeriod": {
            "numerator": {"value": 4},
            "denominator": {"value": 1, "system": "http://unitsofmeasure.org", "code": "d"},
        },
    }
    dose, issues = parse_dosage(dosage)
    assert (dose.amount_unit, dose.per_day, dose.max_per_day) == ("mg", 6.0, 4000.0)
    assert issues == []
    # Without a dose to count, the ceiling still cannot be read, and says so.
    del dosage["doseAndRate"]
    dose, issues = parse_dosage(dosage)
    assert dose.max_per_day is None
    assert issues == ["maxDosePerPeriod not understood; ceiling not used"]


def test_text_only_dosage_is_parsed_cautiously() -> None:
    dose, _ = parse_dosage({"text": "Take 1-2 tablets by mouth every 4-6 hours as needed for pain"})
    assert dose.per_day == 6.0  # the shortest interval: the most doses a day the text allows
    assert dose.as_needed is True
    assert dose.route == "oral"
    assert dose.text is not None


def test_structured_fields_win_over_text() -> None:
    dosage = {
        **_dose(10, "mg"),
        "text": "5 mg twice daily",
        "timing": {"code": {"coding": [{"code": "TID"}]}},
    }
    dose, _ = parse_dosage(dosage)
    assert (dose.amount, dose.per_day) == (10.0, 3.0)


def test_times_of_day_count_as_administrations() -> None:
    dose, _ = parse_dosage({**_dose(1, "mg"), "timing": {"repeat": {"timeOfDay": ["08:00:00", "20:00:00"]}}})
    assert dose.per_day == 2.0


QID = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation", "code": "QID"}]}


@pytest.mark.parametrize(
    "repeat",
    [
        {"period": 1, "periodUnit": "d"},  # no frequency: "once per period" unless the code says more
        {"frequency": 4},  # a count with no period: only the code gives the rate
        {"frequency": 4, "boundsPeriod": {"start": "2026-01-01"}},
        {"timeOfDay": ["06:00:00", "12:00:00", "18:00:00", "23:00:00"], "period": 1, "periodUnit": "d"},
    ],
    ids=["period only", "frequency only", "frequency and bounds", "times of day per day"],
)
def test_a_repeat_without_a_rate_of_its_own_is_read_with_its_timing_code(repeat: dict[str, Any]) -> None:
    """A repeat naming a period but no frequency beside the code QID was read as once a day (1 g q.i.d. as
    1 g/day, under the acetaminophen ceiling); a frequency with no period and the code QID as unknown."""
    timing: dict[str, Any] = {"repeat": repeat}
    if "timeOfDay" not in repeat:
        timing["code"] = QID
    dose, issues = parse_dosage({**_dose(1000, "mg"), "timing": timing})
    assert dose.per_day == 4.0
    assert issues == []


def test_an_explicit_rate_in_the_repeat_wins_over_the_timing_code() -> None:
    repeat = {"frequency": 2, "period": 1, "periodUnit": "d"}
    dose, _ = parse_dosage({**_dose(5, "mg"), "timing": {"repeat": repeat, "code": QID}})
    assert dose.per_day == 2.0


def test_default_route_from_dose_form_applies_only_without_a_coded_route() -> None:
    assert parse_dosage(_dose(1, "patch"), default_route="transdermal")[0].route == "transdermal"
    assert parse_dosage({**_dose(5, "mg"), "route": ORAL}, default_route="transdermal")[0].route == "oral"


@pytest.mark.parametrize(
    ("text", "per_day"),
    [
        ("q6h", 4.0),
        ("every 8 hours", 3.0),
        ("BID", 2.0),
        ("three times a day", 3.0),
        ("once daily", 1.0),
        ("qid", 4.0),
        # "daily" is in each of these; they were read as once a day (1 g q.i.d. as 1 g/day).
        ("1 g up to four times daily", 4.0),
        ("4 times daily", 4.0),
        ("three times daily", 3.0),
        ("4x daily", 4.0),
        ("six times a day", 6.0),
        ("5 times per day", 5.0),
        ("twice a day", 2.0),
        ("Q.I.D.", 4.0),
        ("2 tablets daily", 1.0),  # a count of tablets, not of doses
    ],
)
def test_frequency_text(text: str, per_day: float) -> None:
    assert per_day_from_text(text.lower()) == per_day


@pytest.mark.parametrize(
    "dosage",
    [
        {"doseAndRate": "x"},
        {"doseAndRate": [{"doseQuantity": {"value": "abc", "unit": "mg"}}]},
        {"timing": {"repeat": {"frequency": "two", "period": 0, "periodUnit": "h"}}},
        {"maxDosePerPeriod": {"numerator": 4}},
        {"route": ["oral"], "asNeededBoolean": "yes"},
    ],
)
def test_malformed_dosages_never_raise(dosage: dict[str, Any]) -> None:
    dose, _ = parse_dosage(dosage)
    assert dose.amount is None
    assert dose.as_needed is False
