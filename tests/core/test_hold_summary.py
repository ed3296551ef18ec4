"""The summary of an exercise plan on hold: why, as briefly as it must, and always what to do."""

from __future__ import annotations

from fhir_bonemet.core.exercise.hold_summary import on_hold_summary
from fhir_bonemet.core.model.findings import MAX_SUMMARY

THEN = "defer Physiotherapy: progressive resistance exercise"


def test_reasons_that_fit_are_named_as_the_plan_words_them() -> None:
    assert (
        on_hold_summary("hypercalcaemia (R03); fever", THEN)
        == f"Exercise on hold (hypercalcaemia (R03); fever): {THEN}"
    )


def test_a_long_reason_loses_its_trailing_bracket_before_anything_else() -> None:
    reason = "hypercalcaemia (R03); corrected Ca 3.20 mmol/L (12.8 mg/dL)"
    then = f"{THEN}, lower limbs"
    assert (
        on_hold_summary(reason, then)
        == f"Exercise on hold (hypercalcaemia; corrected Ca 3.20 mmol/L): {then}"
    )


def test_reasons_beyond_the_room_are_counted_not_dropped() -> None:
    reason = (
        "hypercalcaemia (R03); critical cytopenia (R08); haemoglobin 6.5 g/dL; "
        "corrected Ca 3.20 mmol/L (12.8 mg/dL)"
    )
    text = on_hold_summary(reason, THEN)
    assert text == f"Exercise on hold (hypercalcaemia; critical cytopenia and 2 more): {THEN}"
    assert len(text) <= MAX_SUMMARY


def test_an_order_name_too_long_for_any_reason_is_what_gets_cut() -> None:
    text = on_hold_summary("fever", "defer " + "very long order name " * 10)
    assert text.startswith("Exercise on hold (fever): defer very long order name")
    assert text.endswith("…")
    assert len(text) <= MAX_SUMMARY
