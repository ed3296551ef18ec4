"""``POST /cds-services/{id}/feedback``: validated, stored durably, idempotent, answered with 200 ``{}``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from cds_helpers import assert_outcome, example
from fastapi.testclient import TestClient

from fhir_bonemet.store.sqlite import SqliteStore

URL = "/cds-services/bonemet-patient-view/feedback"


def test_spec_example_is_stored_and_answered_with_an_empty_object(
    client: TestClient, store: SqliteStore
) -> None:
    response = client.post(URL, json=example("feedback.accepted.json"))
    assert response.status_code == 200
    assert response.json() == {}
    [stored] = store.list_feedback()
    assert stored.service_id == "bonemet-patient-view"
    assert stored.item.card_uuid == "4e0a3a1e-3283-4575-ab82-028d55fe2719"


def test_feedback_posted_twice_is_stored_once(client: TestClient, store: SqliteStore) -> None:
    body = example("feedback.overridden-with-reason.json")
    assert client.post(URL, json=body).status_code == 200
    assert client.post(URL, json=body).status_code == 200
    assert len(store.list_feedback()) == 1


def test_sandbox_bodies_are_read_back_field_by_field(client: TestClient, store: SqliteStore) -> None:
    """The Sandbox posts one entry per body: an accepted suggestion, and a dismissal with a coded reason;
    the spec's override example adds the clinician's comment."""
    for name in (
        "feedback.sandbox-accepted.json",
        "feedback.sandbox-overridden.json",
        "feedback.overridden-with-reason.json",
    ):
        assert client.post(URL, json=example(name)).json() == {}
    accepted, dismissed, commented = (entry.item for entry in store.list_feedback())

    assert accepted.card_uuid == "0b7e4e36-3c1f-4a43-9d3b-2f7f1a6c9e10"
    assert accepted.outcome == "accepted"
    assert accepted.accepted_suggestion_ids == ("5d1a6a8e-8f2b-4f0e-a7c4-91e2b3c4d5f6",)
    assert accepted.outcome_timestamp == datetime(2026, 3, 31, 14, 7, 12, 345000, tzinfo=UTC)
    assert (accepted.override_reason_code, accepted.override_user_comment) == (None, None)

    assert dismissed.card_uuid == "c2f4e8a1-7b3d-4e5f-9a1b-2c3d4e5f6a7b"
    assert dismissed.outcome == "overridden"
    assert dismissed.accepted_suggestion_ids == ()
    assert dismissed.override_reason_code == "12354"
    assert (
        dismissed.override_reason_system == "http://example.org/cds-services/fhir/CodeSystem/override-reasons"
    )
    assert dismissed.override_reason_display is None  # the Sandbox does not send display
    assert dismissed.override_user_comment is None
    assert dismissed.outcome_timestamp == datetime(2026, 3, 31, 14, 8, 40, 12000, tzinfo=UTC)

    assert commented.card_uuid == "9368d37b-283f-44a0-93ea-547cebab93ed"
    assert commented.override_reason_code == "d7ecf885"
    assert commented.override_reason_system == "https://example.com/cds-hooks/override-reason-system"
    assert commented.override_user_comment == "A comment entered by the clinician."
    assert commented.outcome_timestamp == datetime(2020, 12, 11, tzinfo=UTC)


def test_a_batch_of_several_cards_is_stored_whole(client: TestClient, store: SqliteStore) -> None:
    body = {
        "feedback": example("feedback.sandbox-accepted.json")["feedback"]
        + example("feedback.overridden.json")["feedback"]
    }
    assert client.post(URL, json=body).status_code == 200
    assert [entry.item.outcome for entry in store.list_feedback()] == ["accepted", "overridden"]


def test_feedback_for_an_unknown_card_is_still_accepted(client: TestClient, store: SqliteStore) -> None:
    assert client.post(URL, json=example("feedback.overridden.json")).status_code == 200
    assert store.issued_cards() == []
    assert len(store.list_feedback()) == 1


@pytest.mark.parametrize(
    ("change", "location"),
    [
        ({"outcome": "dismissed"}, "feedback[0].outcome"),
        ({"outcome": "accepted"}, "feedback[0]"),
        ({"outcomeTimestamp": "11/12/2020"}, "feedback[0].outcomeTimestamp"),
        ({"overrideReason": {}}, "feedback[0].overrideReason"),
        ({"card": ""}, "feedback[0].card"),
    ],
)
def test_invalid_feedback_is_400_with_its_location(
    client: TestClient, store: SqliteStore, change: dict[str, Any], location: str
) -> None:
    body = example("feedback.overridden.json")
    body["feedback"][0].update(change)
    assert_outcome(client.post(URL, json=body), 400, location)
    assert store.list_feedback() == []


def test_malformed_json_is_400(client: TestClient) -> None:
    assert_outcome(
        client.post(URL, content=b"{feedback", headers={"content-type": "application/json"}), 400, "$this"
    )


def test_store_down_is_503_with_an_operation_outcome(client: TestClient, store: SqliteStore) -> None:
    store.close()
    [issue] = assert_outcome(client.post(URL, json=example("feedback.overridden.json")), 503, "$this")
    assert issue["code"] == "transient"
