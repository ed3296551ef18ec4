"""The card detail's data-gap headings say what the lines under them are: a value received but not read
(no unit, an answer not understood) and a finding recorded with no answer (a dataAbsentReason such as
asked-unknown) are different things, and "Received but not read" was untrue of the second."""

from __future__ import annotations

from fhir_bonemet.cards.detail import detail_markdown
from fhir_bonemet.core.model.findings import Category, Finding, Indicator, MissingFact

UNREAD = MissingFact("Platelets '30' (no unit, 2026-12-01)", "not used (no unit); verify it", unreadable=True)
NO_ANSWER = MissingFact(
    "Fever (recorded with no answer: asked-unknown, 2026-12-01)",
    "read as fever: exercise held until assessed; verify it",
    unreadable=True,
)


def _finding(rule_id: str, *missing: MissingFact) -> Finding:
    return Finding(
        rule_id, rule_id, Category.EXERCISE, Indicator.WARNING, "Exercise on hold", "why", missing=missing
    )


def test_a_finding_recorded_with_no_answer_is_not_said_to_be_unread() -> None:
    detail = detail_markdown([_finding("EX01", NO_ANSWER)])
    assert "Received but not read" not in detail
    assert (
        "**Recorded without an answer:** Fever (asked-unknown, 2026-12-01): read as fever: exercise held "
        "until assessed; verify it." in detail
    )


def test_each_kind_has_its_heading_when_a_card_has_both() -> None:
    detail = detail_markdown([_finding("EX01", UNREAD, NO_ANSWER)])
    unread = detail.index("**Received but not read:** Platelets '30' (no unit")
    absent = detail.index("**Recorded without an answer:** Fever (asked-unknown")
    assert unread < absent
    assert detail.count("Fever") == 1


def test_folded_advice_files_its_no_answer_gap_under_the_same_heading() -> None:
    detail = detail_markdown([_finding("EX01")], folded=[_finding("P25", NO_ANSWER)])
    assert "**Recorded without an answer (advice under Also):** Fever (asked-unknown" in detail
    assert "Received but not read" not in detail
