"""Feedback joined to the rule ids of issued cards: per-rule acceptance, override rates and reasons."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cards_builders import PATIENT, TODAY, full_assessment, make_cards

from fhir_bonemet.cards.build import CardContext
from fhir_bonemet.cli import feedback_report as reports
from fhir_bonemet.store.base import FeedbackItem
from fhir_bonemet.store.sqlite import SqliteStore
from fhir_bonemet.web.routes import issued_cards

T0 = datetime(2025, 6, 2, 10, 0, tzinfo=UTC)
LOCAL = "http://fhir-bonemet.org/fhir/CodeSystem/bonemet"


# The suggestion uuids each issued card offered, by card uuid: what an acceptance names.
OFFERED: dict[str, tuple[str, ...]] = {}


def issue(store: SqliteStore, instance: str) -> dict[str, str]:
    """Issue the cards of one patient-view call; card uuid by leading rule id."""
    context = CardContext("patient-view", instance, PATIENT, TODAY)
    cards = make_cards(full_assessment(), context=context)
    records = issued_cards(cards)
    store.record_issued_cards("bonemet-patient-view", "patient-view", instance, records)
    OFFERED.update((record.uuid, record.suggestion_uuids) for record in records)
    return {card.extension["org.fhir-bonemet.rules"][0]: card.uuid for card in cards if card.extension}


def overridden(card: str, minute: int, code: str | None, comment: str | None = None) -> FeedbackItem:
    return FeedbackItem(
        card_uuid=card,
        outcome="overridden",
        outcome_timestamp=T0.replace(minute=minute),
        override_reason_code=code,
        override_reason_system=LOCAL if code else None,
        override_reason_display={"patient-declined": "Patient declined"}.get(code or ""),
        override_user_comment=comment,
    )


def accepted(card: str, minute: int, suggestions: tuple[str, ...] | None = None) -> FeedbackItem:
    """An acceptance of the card's first suggestion (or of ``suggestions``)."""
    chosen = OFFERED.get(card, ("no-such-suggestion",))[:1] if suggestions is None else suggestions
    return FeedbackItem(
        card_uuid=card,
        outcome="accepted",
        outcome_timestamp=T0.replace(minute=minute),
        accepted_suggestion_ids=chosen,
    )


def test_feedback_for_cards_of_two_rules_shows_up_per_rule(store: SqliteStore) -> None:
    first = issue(store, "hook-1")
    second = issue(store, "hook-2")
    issue(store, "hook-1")  # a retried call records the same cards again: counted once
    store.save_feedback(
        "bonemet-patient-view",
        [
            accepted(first["R04"], 1),
            accepted(second["R04"], 2),
            overridden(first["EX-TIER"], 3, "patient-declined"),
            overridden(second["EX-TIER"], 4, "patient-declined"),
            overridden(first["R09"], 5, None, "discussed with the palliative team"),
            accepted("4b0c8a36-0000-5000-8000-000000000000", 6),  # a card this store never issued
        ],
    )
    report = reports.feedback_report(store)
    rows = {row.rule_id: row for row in report.rules}
    assert [r.rule_id for r in report.rules] == ["EX-TIER", "P04", "P07", "P14", "R04", "R09"]
    assert (rows["R04"].cards_issued, rows["R04"].feedback, rows["R04"].accepted) == (2, 2, 2)
    assert rows["R04"].acceptance_rate == 1.0
    assert rows["R04"].override_rate == 0.0
    assert (rows["EX-TIER"].overridden, rows["EX-TIER"].override_rate) == (2, 1.0)
    assert dict(rows["EX-TIER"].override_reasons) == {"patient-declined (Patient declined)": 2}
    # R09's card also names P14: its feedback counts for both rules.
    assert dict(rows["P14"].override_reasons) == {reports.COMMENT_ONLY: 1}
    assert (rows["P04"].cards_issued, rows["P04"].feedback, rows["P04"].acceptance_rate) == (2, 0, None)
    assert report.unmatched_feedback == 1


def test_an_acceptance_of_a_suggestion_the_card_never_offered_is_not_counted(store: SqliteStore) -> None:
    cards = issue(store, "hook-1")
    assert OFFERED[cards["R04"]], "the R04 card offers a referral"
    store.save_feedback(
        "bonemet-patient-view",
        [accepted(cards["R04"], 1, ("8d5ef2a4-0000-5000-8000-000000000000",)), accepted(cards["R04"], 2)],
    )
    report = reports.feedback_report(store)
    rows = {row.rule_id: row for row in report.rules}
    assert (rows["R04"].feedback, rows["R04"].accepted) == (1, 1)
    assert report.unknown_suggestions == 1
    assert "never offered" in reports.render_table(report)


def test_one_offered_reason_is_one_tally_whether_or_not_the_client_echoes_its_display(
    store: SqliteStore,
) -> None:
    cards = issue(store, "hook-1")
    sandbox = replace(  # the CDS Hooks Sandbox sends the reason's code and system, no display
        overridden(cards["P04"], 2, "patient-declined"), override_reason_display=None
    )
    store.save_feedback("bonemet-patient-view", [overridden(cards["P04"], 1, "patient-declined"), sandbox])
    report = reports.feedback_report(store)
    rows = {row.rule_id: row for row in report.rules}
    assert dict(rows["P04"].override_reasons) == {"patient-declined (Patient declined)": 2}
    assert report.unoffered_reasons == 0


def test_a_reason_the_card_never_offered_is_tallied_apart_without_the_clients_text(
    store: SqliteStore,
) -> None:
    cards = issue(store, "hook-1")
    own = replace(
        overridden(cards["P04"], 1, "cost"),
        override_reason_system="http://ehr.example/reasons",
        override_reason_display="Declined by Jane Doe, MRN 12345",
    )
    # An offered code in another code system is not the card's reason.
    foreign = replace(overridden(cards["P04"], 2, "patient-declined"), override_reason_system="urn:ehr")
    sentence = overridden(cards["P04"], 3, "Jane Doe\nsaid no")  # not a code: never printed
    store.save_feedback("bonemet-patient-view", [own, foreign, sentence])
    report = reports.feedback_report(store)
    rows = {row.rule_id: row for row in report.rules}
    assert dict(rows["P04"].override_reasons) == {
        f"http://ehr.example/reasons|cost {reports.NOT_OFFERED}": 1,
        f"urn:ehr|patient-declined {reports.NOT_OFFERED}": 1,
        reports.NOT_OFFERED: 1,
    }
    assert (rows["P04"].overridden, report.unoffered_reasons) == (3, 3)
    assert report.as_json()["unofferedReasons"] == 3
    table = reports.render_table(report)
    assert "3 override(s) give a reason the card did not offer" in table
    assert "Jane Doe" not in table + json.dumps(report.as_json())


def test_report_renders_as_a_table_and_as_json(store: SqliteStore) -> None:
    cards = issue(store, "hook-1")
    store.save_feedback(
        "bonemet-patient-view", [accepted(cards["R04"], 1), overridden(cards["P04"], 2, "patient-declined")]
    )
    report = reports.feedback_report(store)
    table = reports.render_table(report).splitlines()
    assert table[0].split() == [
        "Rule",
        "Issued",
        "Feedback",
        "Accepted",
        "Overridden",
        "Accept%",
        "Override%",
        "Override",
        "reasons",
    ]
    r04 = next(line for line in table if line.startswith("R04"))
    assert r04.split()[1:7] == ["1", "1", "1", "0", "100%", "0%"]
    p04 = next(line for line in table if line.startswith("P04"))
    assert p04.endswith("patient-declined (Patient declined) x1")
    data = report.as_json()
    assert data["rules"][0].keys() >= {
        "rule",
        "cardsIssued",
        "acceptanceRate",
        "overrideRate",
        "overrideReasons",
    }
    p04_json = next(r for r in data["rules"] if r["rule"] == "P04")
    assert p04_json["overrideReasons"] == [{"reason": "patient-declined (Patient declined)", "count": 1}]


def test_cli_prints_the_report_from_the_configured_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BONEMET_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("BONEMET_DATABASE_URL", raising=False)
    store = SqliteStore(tmp_path / "bonemet.sqlite3")
    cards = issue(store, "hook-1")
    store.save_feedback("bonemet-patient-view", [overridden(cards["R04"], 1, "patient-declined")])
    store.close()
    assert reports._run(argparse.Namespace(json=True, service=None)) == 0
    data = json.loads(capsys.readouterr().out)
    r04 = next(r for r in data["rules"] if r["rule"] == "R04")
    assert (r04["feedback"], r04["overridden"], r04["overrideRate"]) == (1, 1, 1.0)
    assert reports._run(argparse.Namespace(json=False, service="another-service")) == 0
    assert "(no cards issued yet)" in capsys.readouterr().out


def test_empty_store_reports_nothing(store: SqliteStore) -> None:
    report = reports.feedback_report(store)
    assert report.rules == ()
    assert report.unmatched_feedback == 0
