"""Hostile or extreme input answers 400 with an OperationOutcome, never 500 or 503: bodies nested
deeper than any parser's recursion limit, feedback timestamps at the edges of the calendar, NUL characters
in feedback text (which PostgreSQL cannot store)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cds_helpers import RecordingHandler, assert_outcome, example
from fastapi.testclient import TestClient
from psycopg import sql

from fhir_bonemet.settings import Settings
from fhir_bonemet.store.base import Store
from fhir_bonemet.store.postgres import PostgresStore
from fhir_bonemet.store.sqlite import SqliteStore
from fhir_bonemet.web.app import create_app

POSTGRES_URL = os.environ.get("BONEMET_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
PV = "/cds-services/bonemet-patient-view"
FEEDBACK = PV + "/feedback"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        sqlite = SqliteStore(tmp_path / "bonemet.sqlite3")
        yield sqlite
        sqlite.close()
        return
    schema = f"bonemet_test_{uuid.uuid4().hex[:12]}"
    try:
        postgres = PostgresStore(POSTGRES_URL, schema=schema)
    except Exception as exc:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"PostgreSQL is not reachable ({type(exc).__name__})")
    yield postgres
    postgres.close()
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def app_client(open_settings: Settings, handler: RecordingHandler, any_store: Store) -> TestClient:
    return TestClient(create_app(open_settings, handler=handler, store=any_store))


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for level in range(depth):
        value = [value] if level % 2 else {"x": value}
    return value


def raw_nested(depth: int) -> bytes:
    return b'{"a":' + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.parametrize("path", [PV, FEEDBACK])
@pytest.mark.parametrize("body", [raw_nested(100_000), raw_nested(2_000), raw_nested(150)])
def test_deeply_nested_bodies_are_refused_with_400(app_client: TestClient, path: str, body: bytes) -> None:
    response = app_client.post(path, content=body, headers={"Content-Type": "application/json"})
    [issue] = assert_outcome(response, 400, "$this")
    assert "deeper than 100 levels" in issue["diagnostics"]


def test_ordinary_nesting_is_still_served(
    app_client: TestClient, handler: RecordingHandler, patient_view_body: dict[str, Any]
) -> None:
    patient_view_body["extension"] = {"https://example.org/deep": nested(40)}
    assert app_client.post(PV, json=patient_view_body).status_code == 200
    assert len(handler.calls) == 1


def feedback_at(timestamp: str, comment: str = "A comment entered by the clinician.") -> dict[str, Any]:
    body = example("feedback.overridden-with-reason.json")
    body["feedback"][0]["outcomeTimestamp"] = timestamp
    body["feedback"][0]["overrideReason"]["userComment"] = comment
    return body


@pytest.mark.parametrize("timestamp", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_timestamps_without_a_utc_instant_are_refused(
    app_client: TestClient, any_store: Store, timestamp: str
) -> None:
    [issue] = assert_outcome(
        app_client.post(FEEDBACK, json=feedback_at(timestamp)), 400, "feedback[0].outcomeTimestamp"
    )
    assert "representable in UTC" in issue["diagnostics"]
    assert any_store.list_feedback() == []


@pytest.mark.parametrize(
    "timestamp", ["0001-01-01T00:00:00Z", "0999-06-30T12:00:00+02:00", "9999-12-31T23:59:59.999999Z"]
)
def test_the_extremes_of_the_calendar_are_stored_and_read_back(
    app_client: TestClient, any_store: Store, timestamp: str
) -> None:
    assert app_client.post(FEEDBACK, json=feedback_at(timestamp)).status_code == 200
    [stored] = any_store.list_feedback()
    assert stored.item.outcome_timestamp.isoformat().startswith(timestamp[:4])


def test_a_nul_character_in_a_comment_is_bad_input_not_a_store_failure(
    app_client: TestClient, any_store: Store
) -> None:
    response = app_client.post(FEEDBACK, json=feedback_at("2020-12-11T00:00:00Z", "before\x00after"))
    [issue] = assert_outcome(response, 400, "feedback[0].overrideReason.userComment")
    assert "NUL" in issue["diagnostics"]
    assert any_store.list_feedback() == []


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", PV + "/"), ("POST", FEEDBACK + "/"), ("GET", "/cds-services/"), ("GET", "/health/")],
)
def test_a_trailing_slash_is_not_redirected_to_the_host_header(
    client: TestClient, handler: RecordingHandler, method: str, path: str
) -> None:
    # A 307 would echo the Host header into Location, unauthenticated: an open redirect for any proxy
    # that forwards Host.  The URL simply does not exist.
    response = client.request(method, path, json={}, headers={"Host": "evil.example"}, follow_redirects=False)
    assert "location" not in response.headers
    assert_outcome(response, 404, "url")
    assert handler.calls == []


@pytest.mark.parametrize(
    "server",
    [
        "https://" + "a" * 5000 + ".org/fhir",  # no resolver takes a name this long
        "https://ehr." + "b" * 64 + ".org/fhir",  # a label over 63 characters
        "https://ehr..example.org/fhir",
        "https://ehr.example.org:99999/fhir",
        "https://ehr.example.org:port/fhir",
    ],
)
def test_a_fhir_server_no_client_could_reach_is_refused_with_400(
    app_client: TestClient, handler: RecordingHandler, patient_view_body: dict[str, Any], server: str
) -> None:
    """Refused as the caller's error, naming fhirServer, rather than failing in the HTTP client later."""
    patient_view_body["fhirServer"] = server
    assert_outcome(app_client.post(PV, json=patient_view_body), 400, "fhirServer")
    assert handler.calls == []
