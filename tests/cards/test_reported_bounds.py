"""Results reported as a bound ("<10", ">60") rather than a value.

Renal function above the range its equation covers is reported as a lower bound (eGFR ">60 mL/min/1.73 m2",
the usual US report of normal function, often without its unit, which every eGFR shares): it is read as
the lowest value it can have and shown as received, so a normal kidney is neither "unknown" nor mistaken
for the newest value being older.  A number written as text with its unit ("13.2 mg/dL") is read as the
Quantity it spells.  Fired on the example patient with an NSAID and renal impairment (eGFR 27, creatinine
2.4 mg/dL)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from hook_answers import HookCase, answer, example_cases

Json = dict[str, Any]

EGFR = "bm-nsaid-renal-egfr"
CREATININE = "bm-nsaid-renal-creat"
CALCIUM = "bm-nsaid-renal-ca"
PAIN = "bm-nsaid-renal-pain"
UCUM_EGFR = "mL/min/{1.73_m2}"


def _case() -> HookCase:
    return next(
        c for c in example_cases() if c.name == "example:nsaid-renal-impairment" and c.hook == "patient-view"
    )


def _labs(request: Json) -> list[Json]:
    return [e["resource"] for e in request["prefetch"]["observations-labs"]["entry"]]


def _lab(request: Json, rid: str) -> Json:
    return next(r for r in _labs(request) if r["id"] == rid)


def _without_creatinine(request: Json) -> None:
    bundle = request["prefetch"]["observations-labs"]
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["id"] != CREATININE]


def _fired(change: Callable[[Json], None]) -> tuple[list[Json], list[Json]]:
    case = _case()
    request = copy.deepcopy(case.request)
    change(request)
    body = answer(case, request)
    return body["cards"], (body.get("extension") or {}).get("org.fhir-bonemet.read-issues", [])


def _rules(cards: list[Json]) -> str:
    return json.dumps(cards, ensure_ascii=False)


def test_the_unchanged_example_warns_about_the_nsaid_with_low_renal_function() -> None:
    cards, _ = _fired(_without_creatinine)
    assert "NSAID with eGFR 27" in _rules(cards)


@pytest.mark.parametrize(
    "value",
    [
        {"valueQuantity": {"comparator": ">", "value": 60, "unit": "mL/min/1.73m2", "code": UCUM_EGFR}},
        {"valueQuantity": {"comparator": ">=", "value": 90, "code": "mL/min/{1.73_m2}"}},
        {"valueString": "> 60 mL/min/1.73m2"},
    ],
)
def test_an_egfr_above_the_reported_bound_is_normal_renal_function(value: Json) -> None:
    def change(request: Json) -> None:
        _without_creatinine(request)
        egfr = _lab(request, EGFR)
        egfr.pop("valueQuantity")
        egfr.update(value)

    cards, issues = _fired(change)
    text = _rules(cards)
    assert "NSAID with eGFR" not in text  # no renal warning: the kidney function is above every band
    assert "received but not read" not in text
    assert not [i for i in issues if EGFR in i["location"]]


def test_an_egfr_bound_is_shown_as_received_where_a_rule_names_it() -> None:
    """A bound inside a band still counts there, and the card shows it as the laboratory wrote it."""

    def change(request: Json) -> None:
        _without_creatinine(request)
        _lab(request, EGFR)["valueQuantity"] = {"comparator": ">", "value": 45, "code": "mL/min/{1.73_m2}"}

    cards, _ = _fired(change)
    assert "NSAID with eGFR >45" in _rules(cards)


def test_a_newer_bound_supersedes_an_older_low_value() -> None:
    def change(request: Json) -> None:
        _without_creatinine(request)
        older = copy.deepcopy(_lab(request, EGFR))
        older["id"] = "bm-nsaid-renal-egfr-older"
        older["effectiveDateTime"] = "2000-01-01"
        request["prefetch"]["observations-labs"]["entry"].append({"resource": older})
        _lab(request, EGFR)["valueQuantity"] = {"comparator": ">", "value": 60, "code": "mL/min/{1.73_m2}"}

    cards, _ = _fired(change)
    assert "NSAID with eGFR" not in _rules(cards)


def _egfr_as(value: Json, code: str | None = None) -> Callable[[Json], None]:
    def change(request: Json) -> None:
        _without_creatinine(request)
        egfr = _lab(request, EGFR)
        egfr.pop("valueQuantity")
        egfr.update(value)
        if code is not None:
            egfr["code"] = {"coding": [{"system": "http://loinc.org", "code": code}]}

    return change


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ({"valueString": ">60"}, None),
        ({"valueString": "> 60"}, None),
        ({"valueString": ">90"}, None),
        ({"valueQuantity": {"comparator": ">", "value": 60}}, None),
    ],
)
def test_renal_function_above_a_bound_without_a_unit_is_normal(value: Json, code: str | None) -> None:
    """Every eGFR is in mL/min/1.73 m2, so the code gives the unit a laboratory often leaves out; the
    sender is told so in a note, which is not a warning and puts nothing on the cards."""
    cards, issues = _fired(_egfr_as(value, code))
    text = _rules(cards)
    assert "NSAID with eGFR" not in text
    assert "NSAID with CrCl" not in text
    assert "Renal function unknown" not in text
    assert "received but not read" not in text
    assert [i["severity"] for i in issues if EGFR in i["location"]] == ["information"]


@pytest.mark.parametrize("bound", ["15", "30"])
def test_an_egfr_below_a_bound_inside_the_lowest_band_is_read_there(bound: str) -> None:
    cards, _ = _fired(_egfr_as({"valueString": f"<{bound} mL/min/1.73m2"}))
    text = _rules(cards)
    assert f"NSAID with eGFR <{bound}: avoid" in text
    assert "edge" not in text  # a bound says nothing of how far below the edge the kidney lies


def test_an_egfr_upper_bound_without_a_unit_is_read_in_the_severe_band_and_says_so() -> None:
    cards, _ = _fired(_egfr_as({"valueString": "<15"}))
    text = _rules(cards)
    assert "NSAID with eGFR <15: avoid" in text
    assert "unit taken from the code" in text  # the card says where the unit came from
    assert "that part was not used" not in text  # the note about it is no gap


def test_an_egfr_below_a_bound_that_spans_bands_is_not_read_as_its_higher_band() -> None:
    """ "<45" allows 12 as well as 44: no "short course" advice, renal function is unknown."""
    cards, _ = _fired(_egfr_as({"valueQuantity": {"comparator": "<", "value": 45, "code": UCUM_EGFR}}))
    text = _rules(cards)
    assert "short course only" not in text
    assert "Renal function unknown" in text
    assert "band unknown" in text


def test_a_unitless_egfr_that_could_be_in_ml_per_second_is_still_not_read() -> None:
    _, issues = _fired(_egfr_as({"valueString": "1.2"}))
    assert [i for i in issues if EGFR in i["location"] and i["severity"] == "warning"]


def test_a_creatinine_bound_without_a_unit_is_still_not_read() -> None:
    """mg/dL and µmol/L are both in use: the code of a creatinine implies no unit."""

    def change(request: Json) -> None:
        creatinine = _lab(request, CREATININE)
        creatinine.pop("valueQuantity")
        creatinine["valueString"] = ">1.2"

    _, issues = _fired(change)
    assert [i for i in issues if CREATININE in i["location"] and "comparator" in i["message"]]


def test_a_lower_bound_of_another_result_is_still_not_read() -> None:
    """Only renal function is reported as a bound of a normal result; a calcium ">9" is not a value."""
    _, issues = _fired(
        lambda request: _lab(request, CALCIUM)["valueQuantity"].update(comparator=">", value=9)
    )
    assert [i for i in issues if CALCIUM in i["location"] and "comparator" in i["message"]]


@pytest.mark.parametrize("written", ["13.2 mg/dL", " 13.2mg/dL ", "3.3 mmol/L"])
def test_a_value_written_as_text_with_its_unit_is_read(written: str) -> None:
    def change(request: Json) -> None:
        calcium = _lab(request, CALCIUM)
        calcium.pop("valueQuantity")
        calcium["valueString"] = written

    cards, issues = _fired(change)
    assert any(card["indicator"] == "critical" and "calcaemia" in card["summary"] for card in cards)
    assert not [i for i in issues if CALCIUM in i["location"]]


def test_text_that_is_not_a_quantity_is_still_reported_unread() -> None:
    def change(request: Json) -> None:
        calcium = _lab(request, CALCIUM)
        calcium.pop("valueQuantity")
        calcium["valueString"] = "see report"

    _, issues = _fired(change)
    assert [i for i in issues if CALCIUM in i["location"]]


def _pain_written(written: str) -> Callable[[Json], None]:
    def change(request: Json) -> None:
        pain = next(e["resource"] for e in request["prefetch"]["observations-pain"]["entry"])
        assert pain["id"] == PAIN
        for key in [k for k in pain if k.startswith("value")]:
            pain.pop(key)
        pain["valueString"] = written

    return change


def test_a_pain_score_written_out_of_ten_is_read() -> None:
    cards, issues = _fired(_pain_written("8/10"))
    assert "NRS 8" in _rules(cards)
    assert not [i for i in issues if PAIN in i["location"]]


@pytest.mark.parametrize("written", ["3-4", "2 to 8", "6 or 7"])
def test_a_range_written_as_text_is_not_read_as_its_first_number(written: str) -> None:
    """ "3-4" read as 3 would be the less cautious end of what was recorded."""
    cards, issues = _fired(_pain_written(written))
    assert [i for i in issues if PAIN in i["location"] and "range" in i["message"]]
    text = _rules(cards)
    assert "NRS 3)" not in text
    assert "NRS 2)" not in text
