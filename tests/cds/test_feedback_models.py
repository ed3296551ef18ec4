"""Feedback wire model: the spec's and the Sandbox's bodies validate; cds-fb-1..3 are enforced."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from cds_helpers import example
from pydantic import ValidationError

from fhir_bonemet.cds.feedback import parse_rfc3339
from fhir_bonemet.cds.models import CDSFeedback
from fhir_bonemet.store.base import FeedbackItem


def one(**fields: Any) -> dict[str, Any]:
    entry = {
        "card": "4e0a3a1e-3283-4575-ab82-028d55fe2719",
        "outcome": "overridden",
        "outcomeTimestamp": "2020-12-11T00:00:00Z",
    }
    entry.update(fields)
    return {"feedback": [entry]}


@pytest.mark.parametrize(
    "name",
    [
        "feedback.accepted.json",
        "feedback.overridden.json",
        "feedback.overridden-with-reason.json",
        "feedback.sandbox-accepted.json",
        "feedback.sandbox-overridden.json",
    ],
)
def test_spec_and_sandbox_examples_validate(name: str) -> None:
    assert CDSFeedback.model_validate(example(name)).feedback


def test_items_carry_every_field() -> None:
    accepted = CDSFeedback.model_validate(example("feedback.accepted.json")).to_items()
    assert accepted == [
        FeedbackItem(
            card_uuid="4e0a3a1e-3283-4575-ab82-028d55fe2719",
            outcome="accepted",
            outcome_timestamp=datetime(2021, 12, 11, 10, 5, 31, tzinfo=UTC),
            accepted_suggestion_ids=("e56e1945-20b3-4393-8503-a1a20fd73152",),
        )
    ]
    [overridden] = CDSFeedback.model_validate(example("feedback.overridden-with-reason.json")).to_items()
    assert overridden.override_reason_code == "d7ecf885"
    assert overridden.override_reason_system == "https://example.com/cds-hooks/override-reason-system"
    assert overridden.override_reason_display is None
    assert overridden.override_user_comment == "A comment entered by the clinician."


def test_cds_fb_1_outcome_values() -> None:
    with pytest.raises(ValidationError, match="accepted' or 'overridden"):
        CDSFeedback.model_validate(one(outcome="ignored"))


def test_cds_fb_2_accepted_needs_suggestions() -> None:
    with pytest.raises(ValidationError, match="cds-fb-2"):
        CDSFeedback.model_validate(one(outcome="accepted"))
    with pytest.raises(ValidationError, match="cds-fb-2"):
        CDSFeedback.model_validate(one(outcome="accepted", acceptedSuggestions=[]))
    with pytest.raises(ValidationError, match="id"):
        CDSFeedback.model_validate(one(outcome="accepted", acceptedSuggestions=[{"uuid": "x"}]))


def test_cds_fb_3_override_reason_needs_reason_or_comment() -> None:
    with pytest.raises(ValidationError, match="cds-fb-3"):
        CDSFeedback.model_validate(one(overrideReason={}))
    assert CDSFeedback.model_validate(one(overrideReason={"userComment": "Seen by spine team"}))
    assert CDSFeedback.model_validate(one(overrideReason={"reason": {"code": "12354"}}))


def test_reason_coding_needs_a_code() -> None:
    with pytest.raises(ValidationError, match="code"):
        CDSFeedback.model_validate(one(overrideReason={"reason": {"system": "http://x"}}))


def test_required_fields_and_non_empty_list() -> None:
    with pytest.raises(ValidationError, match="card"):
        CDSFeedback.model_validate(
            {"feedback": [{"outcome": "overridden", "outcomeTimestamp": "2020-12-11T00:00:00Z"}]}
        )
    with pytest.raises(ValidationError, match="outcomeTimestamp"):
        CDSFeedback.model_validate({"feedback": [{"card": "c", "outcome": "overridden"}]})
    with pytest.raises(ValidationError, match="feedback"):
        CDSFeedback.model_validate({"feedback": []})
    with pytest.raises(ValidationError, match="feedback"):
        CDSFeedback.model_validate({"card": "c"})


def test_unknown_fields_are_ignored() -> None:
    body = one(extension={"com.example.x": 1}, futureField=True)
    body["clientVersion"] = "9"
    assert CDSFeedback.model_validate(body).feedback[0].card


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1985-04-12T23:20:50.52Z", datetime(1985, 4, 12, 23, 20, 50, 520000, tzinfo=UTC)),
        ("2026-03-31T14:07:12.345Z", datetime(2026, 3, 31, 14, 7, 12, 345000, tzinfo=UTC)),
        ("1996-12-19T16:39:57-08:00", datetime(1996, 12, 20, 0, 39, 57, tzinfo=UTC)),
        ("2020-12-11t00:00:00.123456789z", datetime(2020, 12, 11, 0, 0, 0, 123456, tzinfo=UTC)),
        # A leap second (RFC 3339 §5.7) is held as the last instant of its minute; it was refused.
        ("2016-12-31T23:59:60Z", datetime(2016, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
        ("2016-12-31T23:59:60.5Z", datetime(2016, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
        (
            "1990-12-31T15:59:60-08:00",
            datetime(1990, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        ),  # RFC's example
    ],
)
def test_rfc3339_timestamps_become_utc(text: str, expected: datetime) -> None:
    assert parse_rfc3339(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "2020-12-11",
        "2020-12-11T00:00:00",
        "2020-12-11 00:00:00Z",
        "2020-13-11T00:00:00Z",
        "yesterday",
        1607644800,
        "２０２６-12-07T01:00:00Z",  # full-width digits
        "2026-12-07T01:00:00Z\n",
        "2026-12-07T01:00:00+99:99",
        "2026-12-07T01:00:00+05:75",
        "2016-12-31T12:00:60Z",  # a leap second only ends a UTC day
        "2016-12-31T23:58:60Z",
        "1990-12-31T23:59:60-08:00",
        "2016-12-31T23:59:61Z",
    ],
)
def test_non_rfc3339_timestamps_are_rejected(text: Any) -> None:
    with pytest.raises(ValueError, match=r"RFC 3339|calendar|offset must be|leap second"):
        parse_rfc3339(text)
