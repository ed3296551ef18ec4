"""The plan routes over HTTP: the link in the exercise card opens the page, the handout and the PDF; a bad
link opens nothing; the token never reaches the logs."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from example_app import EXAMPLES_TODAY as ANCHOR
from example_app import PUBLIC, example_client
from fhir_bonemet.cards.build import PLAN_LINK_LABEL
from fhir_bonemet.cli.examples_runner import prefetched_request
from fhir_bonemet.main import build_app
from fhir_bonemet.settings import Settings
from fhir_bonemet.store.sqlite import SqliteStore
from fhir_bonemet.web.middleware import loggable_path
from fhir_bonemet.workflow import Workflow


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with example_client(tmp_path, public_base_url=PUBLIC) as test_client:
        yield test_client


def hook(client: TestClient, scenario: str) -> list[dict[str, Any]]:
    services = client.get("/cds-services").json()["services"]
    service = next(s["id"] for s in services if s["hook"] == "patient-view")
    response = client.post(f"/cds-services/{service}", json=prefetched_request(scenario))
    assert response.status_code == 200
    cards: list[dict[str, Any]] = response.json()["cards"]
    return cards


def plan_link(cards: list[dict[str, Any]]) -> str:
    exercise = [c for c in cards if "EX01" in c["extension"]["org.fhir-bonemet.rules"]]
    assert exercise, "the example has an exercise card"
    link = exercise[0]["links"][0]
    assert link["label"] == PLAN_LINK_LABEL
    assert link["type"] == "absolute"
    url: str = link["url"]
    assert url.startswith(f"{PUBLIC}/plan/")  # BONEMET_PUBLIC_BASE_URL names where the service is reached
    return url.removeprefix(PUBLIC)


def test_the_exercise_card_links_to_a_page_with_the_whole_plan(client: TestClient) -> None:
    path = plan_link(hook(client, "thoracic-spine-sins14"))
    page = client.get(path)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in page.headers["content-security-policy"]
    html = page.text
    for expected in ("T9 lesion", "SINS 14", "Stop and call", "Analgesics in use", "4000 mg/day", "S10"):
        assert expected in html
    # No third-party asset: the only URLs outside the evidence list are the service's own paths.
    assert "<script" not in html
    assert 'src="http' not in html
    assert 'href="http' not in html.split('id="data-title"')[0]


def test_handout_and_pdf_are_served_from_the_same_link(client: TestClient) -> None:
    path = plan_link(hook(client, "rib-blastic-ecog1"))
    handout = client.get(f"{path}/handout")
    assert handout.status_code == 200
    assert "Number to call" in handout.text
    for paper in ("A4", "Letter"):
        pdf = client.get(f"{path}/handout.pdf", params={"paper": paper})
        assert pdf.status_code == 200
        assert pdf.content.startswith(b"%PDF")
        assert pdf.headers["cache-control"] == "no-store"


def test_a_patient_outside_the_population_gets_no_plan_link(client: TestClient) -> None:
    for card in hook(client, "brain-only-metastasis"):
        assert all(link["label"] != PLAN_LINK_LABEL for link in card.get("links", ()))


def test_altered_or_unknown_links_get_a_plain_page_without_patient_data(client: TestClient) -> None:
    path = plan_link(hook(client, "thoracic-spine-sins14"))
    altered = path[:-3] + ("xyz" if not path.endswith("xyz") else "abc")
    for bad in (altered, f"{altered}/handout", f"{altered}/handout.pdf", "/plan/nonsense"):
        response = client.get(bad)
        assert response.status_code == 403
        assert response.headers["cache-control"] == "no-store"
        assert "T9" not in response.text
        assert "lesion" not in response.text


def test_an_expired_plan_is_gone(client: TestClient, tmp_path: Path) -> None:
    path = plan_link(hook(client, "thoracic-spine-sins14"))
    store = client.app.state.bonemet.store  # type: ignore[attr-defined]
    assert isinstance(store, SqliteStore)
    from datetime import UTC, datetime, timedelta

    client.app.state.bonemet.plan_views.flush()  # type: ignore[attr-defined]  # written, then expired
    assert store.plan_purge(datetime.now(UTC) + timedelta(days=1)) >= 1
    response = client.get(path)
    assert response.status_code == 404
    assert "T9" not in response.text


def test_plan_tokens_never_reach_the_request_log() -> None:
    assert loggable_path("/plan/eyJhbGciOi.abcDEF_-") == "/plan/-token-"
    assert loggable_path("/plan/eyJhbGciOi.abc/handout.pdf") == "/plan/-token-/handout.pdf"
    assert loggable_path("/cds-services/x") == "/cds-services/x"


@pytest.mark.parametrize(
    "spelling", ["//plan/{t}", "/plan//{t}", "/./plan/{t}", "/PLAN/{t}", "/prefix/plan/{t}", "/{t}"]
)
def test_no_spelling_of_a_plan_path_puts_its_token_in_the_log(spelling: str) -> None:
    """A 404 for a mistyped link, or a proxy that keeps its prefix, logged the whole live token."""
    token = "eyJleHAiOjE3OTk5OTk5OTl9.qBJxymNZsAYDhlGTc2rJKc4t2JPLgfiMwnSMPQiG_LA"
    logged = loggable_path(spelling.format(t=token))
    assert "qBJxymNZ" not in logged
    assert "eyJleHAi" not in logged


def test_the_request_log_line_has_no_token(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    path = plan_link(hook(client, "thoracic-spine-sins14"))
    token = path.removeprefix("/plan/")
    with caplog.at_level(logging.INFO):
        client.get(path)
    service_records = [r for r in caplog.records if r.name.startswith("fhir_bonemet")]
    assert service_records, "the service logged the request"
    assert all(token not in str(record.__dict__) for record in service_records)


def test_a_retried_hook_call_gets_the_same_link_and_a_new_call_another(client: TestClient) -> None:
    first = plan_link(hook(client, "thoracic-spine-sins14"))
    assert plan_link(hook(client, "thoracic-spine-sins14")) == first  # same hookInstance: a retry
    request = prefetched_request("thoracic-spine-sins14")
    request["hookInstance"] = "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea"
    services = client.get("/cds-services").json()["services"]
    service = next(s["id"] for s in services if s["hook"] == "patient-view")
    other = plan_link(client.post(f"/cds-services/{service}", json=request).json()["cards"])
    assert other != first
    assert client.get(other).status_code == 200


def test_the_same_hook_instance_with_other_data_gets_a_plan_of_its_own(client: TestClient) -> None:
    """A hookInstance sent again with the SINS changed from 14 to 3: the first link's page still showed
    "SINS 14" and the old tier beside cards that no longer said so."""
    first = plan_link(hook(client, "thoracic-spine-sins14"))
    request = prefetched_request("thoracic-spine-sins14")
    for slot in request["prefetch"].values():
        for entry in (slot or {}).get("entry", []) if isinstance(slot, dict) else []:
            resource = entry.get("resource", {})
            if resource.get("resourceType") == "Observation" and resource.get("valueInteger") == 14:
                resource["valueInteger"] = 3
    services = client.get("/cds-services").json()["services"]
    service = next(s["id"] for s in services if s["hook"] == "patient-view")
    cards = client.post(f"/cds-services/{service}", json=request).json()["cards"]
    second = plan_link(cards)
    assert second != first
    assert "SINS 14" in client.get(first).text
    page = client.get(second).text
    assert "SINS 14" not in page


def _app(data_dir: Path, linger: float) -> Any:
    settings = Settings(
        auth_required=False, data_dir=data_dir, public_base_url=PUBLIC, audit_linger_seconds=linger
    )
    return build_app(settings, handler=Workflow.from_settings(settings, clock=lambda: ANCHOR))


def test_a_link_opened_before_its_view_is_written_works_and_shutdown_writes_the_view(tmp_path: Path) -> None:
    """The view is written in the background; a click that comes first is served from the pending view, and
    a service stopped before the write still stores it."""
    with TestClient(_app(tmp_path, linger=30.0)) as client:  # nothing written before shutdown
        path = plan_link(hook(client, "thoracic-spine-sins14"))
        page = client.get(path)
        assert page.status_code == 200
        assert "T9 lesion" in page.text
        store = client.app.state.bonemet.store  # type: ignore[attr-defined]
        assert store.plan_purge(datetime.max.replace(tzinfo=UTC)) == 0  # still pending, not yet stored
    with TestClient(_app(tmp_path, linger=0.05)) as restarted:  # a new process reads what shutdown wrote
        page = restarted.get(path)
        assert page.status_code == 200
        assert "T9 lesion" in page.text


def test_a_link_opened_on_another_worker_waits_for_the_view_just_issued(tmp_path: Path) -> None:
    """Two workers share one store; the click reaches the one that did not answer the hook, before the
    other has written the view: the page waits for it instead of saying "not found"."""
    with (
        TestClient(_app(tmp_path, linger=0.4)) as answering,
        TestClient(_app(tmp_path, linger=0.05)) as other,
    ):
        path = plan_link(hook(answering, "rib-blastic-ecog1"))
        page = other.get(path)
        assert page.status_code == 200
        assert "Stop and call" in page.text


def test_head_answers_on_the_plan_page_and_its_assets(client: TestClient) -> None:
    path = plan_link(hook(client, "thoracic-spine-sins14"))
    for where in (path, f"{path}/handout", "/plan-assets/plan.css"):
        head = client.head(where)
        assert head.status_code == 200, where
        assert head.content == b""
    assert client.head("/plan/not-a-token").status_code == client.get("/plan/not-a-token").status_code
