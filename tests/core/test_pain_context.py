"""The shared machinery of the pain rules: hooks, focus on draft orders, and the finding builder."""

from __future__ import annotations

import pytest
from builders import TODAY, patient
from pain_support import TH, ibuprofen, oxycodone

from fhir_bonemet.core.model.catalogue import RuleSpec
from fhir_bonemet.core.model.findings import Category, Indicator
from fhir_bonemet.core.pain.context import SUMMARY_MAX, Trace, build_context

SPEC = RuleSpec(
    id="PX",
    title="test rule",
    category=Category.PAIN,
    concepts=frozenset(),
    thresholds=frozenset({"pain.nrs_severe_min"}),
    evidence=("S19",),
)


def test_long_summary_is_shortened_rather_than_failing_the_request() -> None:
    t = Trace(build_context(patient(), TODAY, TH, "patient-view"), SPEC)
    finding = t.finding(Indicator.INFO, "x" * 200, "why")
    assert len(finding.summary) < SUMMARY_MAX
    assert finding.summary.endswith("…")


def test_reading_an_undeclared_threshold_is_a_programming_error() -> None:
    t = Trace(build_context(patient(), TODAY, TH, "patient-view"), SPEC)
    assert t.v("pain.nrs_severe_min") == TH.v("pain.nrs_severe_min")
    with pytest.raises(KeyError, match="did not declare"):
        t.v("pain.nrs_mild_min")


def test_focus_by_hook() -> None:
    selected, other, active = oxycodone(draft=True, selected=True), ibuprofen(draft=True), ibuprofen()
    facts = patient(medications=[selected, other, active])
    view = build_context(facts, TODAY, TH, "patient-view")
    assert view.focus is None
    assert view.meds == (active,)
    select = build_context(facts, TODAY, TH, "order-select")
    assert select.focus == frozenset({selected.ref})
    assert set(select.meds) == {selected, other, active}
    sign = build_context(facts, TODAY, TH, "order-sign")
    assert sign.focus == frozenset({selected.ref, other.ref})
