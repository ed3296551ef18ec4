"""Structured logs: one JSON line per request keyed by hookInstance; never tokens, JWTs or patient data."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from datetime import date
from typing import Any

from cds_helpers import PUBLIC_BASE, SANDBOX_ISS, SANDBOX_JKU, RecordingHandler, Signer
from fastapi.testclient import TestClient

from fhir_bonemet.cds.protocol import HookDeps
from fhir_bonemet.cds.request import CDSRequest
from fhir_bonemet.cds.response import CDSResponse
from fhir_bonemet.cds.services import ServiceDefinition
from fhir_bonemet.cli.examples_runner import prefetched_request
from fhir_bonemet.log_keys import safe_hook_instance
from fhir_bonemet.main import build_app
from fhir_bonemet.settings import Settings
from fhir_bonemet.store.sqlite import SqliteStore
from fhir_bonemet.web.app import create_app
from fhir_bonemet.web.logs import JsonFormatter

Logs = Callable[[], list[dict[str, Any]]]
PV = "/cds-services/bonemet-patient-view"
PATIENT_DATA = ("1288992", "1925-12-23", "Jane", "Doe", "oxycodone")


def with_patient_data(body: dict[str, Any]) -> dict[str, Any]:
    body["prefetch"]["patientToGreet"]["name"] = [{"family": "Doe", "given": ["Jane"]}]
    body["prefetch"]["meds"] = {
        "resourceType": "MedicationRequest",
        "medicationCodeableConcept": {"text": "oxycodone 5 mg"},
    }
    return body


def request_lines(logs: Logs) -> list[dict[str, Any]]:
    return [line for line in logs() if line["event"] == "request"]


def test_a_hook_call_logs_one_line_keyed_by_hook_instance_without_secrets(
    auth_client: TestClient, sandbox_signer: Signer, patient_view_body: dict[str, Any], json_logs: Logs
) -> None:
    jwt = sandbox_signer.token(PUBLIC_BASE + PV, iss=SANDBOX_ISS, headers={"jku": SANDBOX_JKU})
    response = auth_client.post(
        PV, json=with_patient_data(patient_view_body), headers={"Authorization": f"Bearer {jwt}"}
    )
    assert response.status_code == 200
    [line] = request_lines(json_logs)
    assert line["hookInstance"] == "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea"
    assert (line["service"], line["hook"], line["status"], line["method"]) == (
        "bonemet-patient-view",
        "patient-view",
        200,
        "POST",
    )
    assert line["path"] == PV
    assert isinstance(line["latency_ms"], float)
    assert line["cards"] == 0
    everything = json.dumps(json_logs())
    assert jwt not in everything
    assert jwt.split(".")[1] not in everything
    assert "some-opaque-fhir-access-token" not in everything
    for value in PATIENT_DATA:
        assert value not in everything


def test_an_assessed_call_says_what_came_of_it_on_its_one_line(
    open_settings: Settings, json_logs: Logs
) -> None:
    chart = prefetched_request("thoracic-spine-sins14", today=date.today())
    with TestClient(build_app(open_settings)) as client:
        answer = client.post(PV, json=chart).json()
    hook_lines = [line for line in json_logs() if line.get("hookInstance") == chart["hookInstance"]]
    assert [line["event"] for line in hook_lines] == ["request"]
    [line] = hook_lines
    assert line["status"] == 200
    assert line["in_population"] is True
    assert line["findings"] >= len(answer["cards"]) == line["cards"] > 0
    assert line["read_issues"] == 0


def test_the_latency_logged_is_until_the_answer_was_sent(
    open_settings: Settings,
    handler: RecordingHandler,
    store: SqliteStore,
    patient_view_body: dict[str, Any],
    json_logs: Logs,
) -> None:
    """Work a hook call leaves for after its answer (rendering the plan view) is not what the EHR waited for,
    and is not counted as such."""

    def slow_after_the_answer(
        service: ServiceDefinition, request: CDSRequest, deps: HookDeps, /
    ) -> CDSResponse:
        assert deps.after_sent is not None
        deps.after_sent(lambda: time.sleep(0.5))
        return handler(service, request, deps)

    client = TestClient(create_app(open_settings, handler=slow_after_the_answer, store=store))
    started = time.perf_counter()
    assert client.post(PV, json=patient_view_body).status_code == 200
    assert time.perf_counter() - started >= 0.5  # the work ran (the test client waits for it)
    [line] = request_lines(json_logs)
    assert line["latency_ms"] < 400


def test_rejected_and_failed_calls_log_no_patient_data(
    client: TestClient, handler: RecordingHandler, patient_view_body: dict[str, Any], json_logs: Logs
) -> None:
    bad = with_patient_data(json.loads(json.dumps(patient_view_body)))
    bad["context"]["patientId"] = "Jane Doe"
    assert client.post(PV, json=bad).status_code == 400
    handler.error = ValueError("creatinine of patient 1288992 (Jane Doe) is 2.4")
    assert client.post(PV, json=with_patient_data(patient_view_body)).status_code == 500
    statuses = [line["status"] for line in request_lines(json_logs)]
    assert statuses == [400, 500]
    [failure] = [line for line in json_logs() if line["event"] == "unhandled error"]
    assert failure["error_type"] == "ValueError"
    assert "test_logging.py" in failure["error_at"] or "cds_helpers.py" in failure["error_at"]
    assert failure["hookInstance"] == "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea"
    everything = json.dumps(json_logs())
    for value in (*PATIENT_DATA, "creatinine", "some-opaque-fhir-access-token"):
        assert value not in everything


def test_feedback_logs_counts_only(client: TestClient, json_logs: Logs) -> None:
    body = {
        "feedback": [
            {
                "card": "9368d37b-283f-44a0-93ea-547cebab93ed",
                "outcome": "overridden",
                "overrideReason": {"userComment": "Jane Doe refused the MRI"},
                "outcomeTimestamp": "2020-12-11T00:00:00Z",
            }
        ]
    }
    assert client.post(PV + "/feedback", json=body).status_code == 200
    client.post(PV + "/feedback", json=body)
    first, second = request_lines(json_logs)
    assert (first["feedback"], first["feedback_new"], second["feedback_new"]) == (1, 1, 0)
    assert "Jane" not in json.dumps(json_logs())


def test_an_odd_hook_instance_is_not_echoed(
    client: TestClient, patient_view_body: dict[str, Any], json_logs: Logs
) -> None:
    patient_view_body["hookInstance"] = "Jane Doe, born 1925-12-23"
    client.post(PV, json=patient_view_body)
    [line] = request_lines(json_logs)
    assert line["hookInstance"] == "invalid"
    assert (
        safe_hook_instance("d1577c69-dfbe-44ad-ba6d-3e05e953b2ea") == "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea"
    )
    assert safe_hook_instance(None) == "invalid"
    assert safe_hook_instance("x" * 101) == "invalid"


def test_strange_paths_are_not_echoed(client: TestClient, json_logs: Logs) -> None:
    client.get("/patients/Jane Doe")
    [line] = request_lines(json_logs)
    assert line["path"] == "invalid"
    assert line["status"] == 404


def test_formatter_writes_message_extras_and_only_the_class_of_an_exception() -> None:
    try:
        raise RuntimeError("patient 1288992 secret")
    except RuntimeError:
        record = logging.LogRecord(
            "fhir_bonemet.x", logging.ERROR, __file__, 1, "failed %s", ("step",), sys.exc_info()
        )
    record.hookInstance = "h-1"
    line = json.loads(JsonFormatter().format(record))
    assert line["event"] == "failed step"
    assert line["level"] == "ERROR"
    assert line["hookInstance"] == "h-1"
    assert line["error_type"] == "RuntimeError"
    assert line["error_at"].endswith(f"test_logging.py:{line['error_at'].rsplit(':', 1)[1]}")
    assert "1288992" not in json.dumps(line)


def test_every_value_becomes_a_json_line() -> None:
    """Whatever a log call carries, the line is JSON: non-JSON values as text, and values the fast
    encoder refuses (an integer beyond 64 bits, a non-string key) by the slower one."""

    class Opaque:
        def __str__(self) -> str:
            return "opaque"

    record = logging.LogRecord("fhir_bonemet.x", logging.INFO, __file__, 1, "event", None, None)
    record.__dict__.update({"huge": 2**80, "keys": {1: "a"}, "thing": Opaque(), "text": "Zürich"})
    line = json.loads(JsonFormatter().format(record))
    assert (line["huge"], line["keys"]) == (2**80, {"1": "a"})
    assert (line["thing"], line["text"]) == ("opaque", "Zürich")
    assert (line["event"], line["level"]) == ("event", "INFO")
