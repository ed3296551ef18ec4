"""The rule context and the finding builder: hooks, focus on draft orders, declared thresholds."""

from __future__ import annotations

from dataclasses import replace

import pytest
from builders import TODAY, order, patient
from pain_support import TH, ibuprofen, oxycodone

from fhir_bonemet.core.model.catalogue import RuleSpec
from fhir_bonemet.core.model.context import build_context
from fhir_bonemet.core.model.finding_builder import Trace
from fhir_bonemet.core.model.findings import MAX_SUMMARY, Category, Indicator

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
    assert len(finding.summary) <= MAX_SUMMARY < 140
    assert finding.summary.endswith("…")


def test_a_long_summary_is_cut_between_words() -> None:
    t = Trace(build_context(patient(), TODAY, TH, "patient-view"), SPEC)
    finding = t.finding(Indicator.INFO, "word " * 40, "why")
    assert finding.summary.endswith("word…")


def test_the_finding_takes_title_category_evidence_and_review_flag_from_the_declaration() -> None:
    spec = RuleSpec(
        id="PX",
        title="declared title",
        category=Category.MEDICATION_SAFETY,
        concepts=frozenset(),
        thresholds=frozenset({"lookback.lab_days"}),
        evidence=("S19", "S02"),
        unverified=True,
    )
    t = Trace(build_context(patient(), TODAY, TH, "patient-view"), spec)
    t.v("lookback.lab_days")  # a service default: recorded so the card can say so
    finding = t.finding(Indicator.WARNING, "summary", "why")
    assert (finding.rule_id, finding.title, finding.category) == ("PX", "declared title", spec.category)
    assert finding.evidence == ("S19", "S02")
    assert finding.unverified
    assert finding.defaults_used == ("lookback.lab_days",)
    with pytest.raises(ValueError, match="did not declare"):
        t.finding(Indicator.INFO, "summary", "why", evidence=("S01",))


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


def test_a_selected_referral_leaves_the_medication_drafts_out_of_focus() -> None:
    """order-select on a ServiceRequest: the drafted oxycodone and ibuprofen beside it are not what the
    clinician selected (they were all in focus, and their medication cards interrupted the referral)."""
    drafts = [oxycodone(draft=True), ibuprofen(draft=True)]
    referral = replace(order(ref="physio"), is_selected=True)
    select = build_context(patient(medications=drafts, orders=[referral]), TODAY, TH, "order-select")
    assert select.focus == frozenset()
    assert select.order_hook
    # Nothing selected could be read (a selected medication draft too malformed to read): every draft.
    unread = build_context(patient(medications=drafts, orders=[order()]), TODAY, TH, "order-select")
    assert unread.focus == frozenset(m.ref for m in drafts)


def test_the_other_draft_orders_in_focus_are_chosen_as_the_medication_drafts_are() -> None:
    """A referral or device drafted beside medicines (R04 reads them: they may load the bone)."""
    drafts = [replace(oxycodone(draft=True), is_selected=True)]
    physio, device = order(ref="physio"), order(resource_type="DeviceRequest", ref="walker")
    facts = patient(medications=drafts, orders=[physio, device])
    assert build_context(facts, TODAY, TH, "patient-view").focus_orders == ()
    assert build_context(facts, TODAY, TH, "order-select").focus_orders == ()  # the medicine was selected
    assert build_context(facts, TODAY, TH, "order-sign").focus_orders == (physio, device)
    chosen = replace(physio, is_selected=True)
    select = build_context(patient(orders=[chosen, device]), TODAY, TH, "order-select")
    assert select.focus_orders == (chosen,)
    # Nothing selected at all: every draft is in focus, as for the medicines.
    assert build_context(patient(orders=[physio, device]), TODAY, TH, "order-select").focus_orders == (
        physio,
        device,
    )
