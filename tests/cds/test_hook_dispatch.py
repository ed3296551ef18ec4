"""Which requests the hook-call dispatch answers itself (the rest go on to FastAPI's router), and what it
frees after the answer."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from cds_helpers import RecordingHandler
from fastapi.testclient import TestClient

from fhir_bonemet.cli.examples_runner import prefetched_request
from fhir_bonemet.core.model.facts import PatientFacts
from fhir_bonemet.main import build_app
from fhir_bonemet.settings import Settings
from fhir_bonemet.store.sqlite import SqliteStore
from fhir_bonemet.web.app import create_app
from fhir_bonemet.web.hook_dispatch import hook_service_id
from fhir_bonemet.web.routes import AFTER_SENT_KEY, HELD_KEY, run_after_sent


def _scope(method: str, path: str, root_path: str = "", kind: str = "http") -> dict[str, Any]:
    return {"type": kind, "method": method, "path": path, "root_path": root_path}


@pytest.mark.parametrize(
    ("scope", "service_id"),
    [
        (_scope("POST", "/cds-services/bonemet-patient-view"), "bonemet-patient-view"),
        (_scope("POST", "/proxy/cds-services/svc", root_path="/proxy"), "svc"),
        (_scope("POST", "/cds-services/svc/feedback"), None),  # feedback is FastAPI's
        (_scope("POST", "/cds-services/"), None),
        (_scope("POST", "/cds-services"), None),
        (_scope("POST", "/other/cds-services/svc"), None),
        (_scope("GET", "/cds-services/svc"), None),  # the router answers 405
        (_scope("OPTIONS", "/cds-services/svc"), None),
    ],
)
def test_only_a_post_to_one_service_url_is_a_hook_call(scope: dict[str, Any], service_id: str | None) -> None:
    assert hook_service_id(scope) == service_id


def test_websockets_pass_through() -> None:
    assert hook_service_id({"type": "websocket", "path": "/cds-services/svc"}) is None


def _held_while_sending(
    app: Any, body: dict[str, Any], key: str = HELD_KEY
) -> tuple[list[Any], dict[str, Any]]:
    """What the call held under ``key`` while its answer was sent, and its scope's state afterwards."""
    held_while_sending: list[Any] = []
    states: list[dict[str, Any]] = []

    async def watching(scope: Any, receive: Any, send: Any) -> None:
        states.append(scope.setdefault("state", {}))

        async def watched_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body":
                held_while_sending.extend(scope["state"].get(key, []))
            await send(message)

        await app(scope, receive, watched_send)

    response = TestClient(watching).post("/cds-services/bonemet-patient-view", json=body)
    assert response.status_code == 200
    return held_while_sending, states[-1]


def test_the_parsed_request_is_freed_after_the_answer_is_sent_not_before(
    open_settings: Settings, store: SqliteStore, patient_view_body: dict[str, Any]
) -> None:
    """Freeing a large parsed prefetch costs milliseconds: the answer goes out first.  And nothing of the
    call stays behind in the connection's scope (a kept-alive connection keeps it until its next request)."""
    app = create_app(open_settings, handler=RecordingHandler(), store=store)
    held, state = _held_while_sending(app, patient_view_body)
    assert held == [patient_view_body]
    assert HELD_KEY not in state


def test_the_workflow_data_is_freed_after_the_answer_too(open_settings: Settings) -> None:
    app = build_app(open_settings)
    chart = prefetched_request("thoracic-spine-sins14", today=date.today())
    held, state = _held_while_sending(app, chart)
    body, (_, _, facts, assessment) = held
    assert body["hook"] == "patient-view"
    assert isinstance(facts, PatientFacts)
    assert assessment.in_population
    assert HELD_KEY not in state


def test_the_plan_view_is_rendered_after_the_answer_is_sent_and_its_link_opens(
    open_settings: Settings,
) -> None:
    """Rendering the plan view is left until the answer is out, and done by the thread that sent it: on the
    writer's thread it held the interpreter while the next call waited (a call in ten took twice as
    long).  The link in the card then opens the page."""
    app = build_app(open_settings)
    chart = prefetched_request("thoracic-spine-sins14", today=date.today())
    waiting, state = _held_while_sending(app, chart, key=AFTER_SENT_KEY)
    assert len(waiting) == 1  # the plan view's rendering, not done before the answer went out
    assert AFTER_SENT_KEY not in state  # done since, and nothing of it left in the connection's scope

    with TestClient(app) as client:
        answer = client.post("/cds-services/bonemet-patient-view", json=chart).json()
        links = [link["url"] for card in answer["cards"] for link in card.get("links", ())]
        plan_links = [url for url in links if "/plan/" in url]
        assert plan_links
        page = client.get(plan_links[0].removeprefix("http://testserver"))
        assert page.status_code == 200
        assert "T9" in page.text


def test_work_after_the_answer_runs_in_order_and_a_failure_stops_none_of_it() -> None:
    done: list[str] = []

    def failing() -> None:
        done.append("failing")
        raise RuntimeError("rendering failed")

    state = {AFTER_SENT_KEY: [lambda: done.append("first"), failing, lambda: done.append("last")]}
    run_after_sent({"state": state})
    assert done == ["first", "failing", "last"]
    assert AFTER_SENT_KEY not in state
