"""End to end through the running service: example patients on the real FHIR server, hooks over HTTP.

* ``write`` mode: the same hook three times writes exactly one CarePlan; a failing server (5xx) leaves the
  plan in the outbox until the server recovers; a token without write scope writes nothing.
* The examples runner loads every scenario and fires every hook at the live service.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from fastapi.testclient import TestClient
from jwt.algorithms import ECAlgorithm

from fhir_bonemet.cli import examples_runner
from fhir_bonemet.main import build_app
from fhir_bonemet.settings import Settings, TrustedIssuer
from fhir_bonemet.store.sqlite import SqliteStore
from fhir_bonemet.writeback import drain_configured

EXAMPLES = examples_runner.default_examples_dir()
MANIFEST = examples_runner.load_manifest(EXAMPLES)
SCENARIO = "rib-blastic-ecog1"  # no red flag: a structured programme, so a CarePlan is planned
PATIENT = "bm-rib-blastic"
TOKEN = "hook-access-token"


def _days() -> int:
    return (datetime.now(UTC).date() - datetime.fromisoformat(MANIFEST["anchorDate"]).date()).days


def _load(fhir: Any, scenario: str) -> None:
    data = json.loads((EXAMPLES / scenario / "bundle.json").read_text(encoding="utf-8"))
    fhir.load(examples_runner.shift_dates(data, _days()))


def _hook(fhir: Any, scenario: str, hook: str, scope: str) -> dict[str, Any]:
    request: dict[str, Any] = examples_runner.shift_dates(
        json.loads((EXAMPLES / scenario / f"{hook}.json").read_text(encoding="utf-8")), _days()
    )
    request["fhirServer"] = fhir.base_url
    request["fhirAuthorization"] = {
        "access_token": TOKEN,
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": scope,
        "subject": "Practitioner/bm-demo-clinician",
    }
    return request


def _settings(tmp_path: Path, fhir: Any, mode: str) -> Settings:
    return Settings(
        auth_required=False,
        data_dir=tmp_path,
        writeback_mode=mode,  # type: ignore[arg-type]
        fhir_server_allowlist=(fhir.base_url,),
        fhir_read_timeout_seconds=3.0,
    )


def _careplans(fhir: Any) -> list[dict[str, Any]]:
    found = requests.get(f"{fhir.base_url}/CarePlan", params={"subject": f"Patient/{PATIENT}"}, timeout=10)
    assert found.status_code == 200
    return [e["resource"] for e in found.json().get("entry", [])]


def _exercise_card(response: requests.Response | Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    cards = response.json()["cards"]
    return next(c for c in cards if c["extension"]["org.fhir-bonemet.rules"][0].startswith("EX"))


@pytest.fixture
def write_app(fresh_fhir: Any, tmp_path: Path) -> Iterator[tuple[TestClient, Settings]]:
    _load(fresh_fhir, SCENARIO)
    settings = _settings(tmp_path, fresh_fhir, "write")
    with TestClient(build_app(settings)) as client:
        yield client, settings


def test_write_mode_same_hook_three_times_gives_exactly_one_careplan(
    fresh_fhir: Any, write_app: tuple[TestClient, Settings]
) -> None:
    client, _ = write_app
    request = _hook(fresh_fhir, SCENARIO, "patient-view", "patient/*.read user/CarePlan.write")
    cards = [
        _exercise_card(client.post("/cds-services/bonemet-patient-view", json=request)) for _ in range(3)
    ]
    stored = _careplans(fresh_fhir)
    assert len(stored) == 1
    assert stored[0]["status"] == "draft"
    for card in cards:
        action = card["suggestions"][0]["actions"][0]
        assert action["type"] == "update"
        assert (action["resource"]["id"], action["resource"]["status"]) == (stored[0]["id"], "active")
    assert cards[0] == cards[2]  # same hook call, same answer, same uuids


def test_write_mode_server_failure_lands_after_recovery(
    fresh_fhir: Any, write_app: tuple[TestClient, Settings]
) -> None:
    client, settings = write_app
    fresh_fhir.inject_fault(status=503, method="POST", path="CarePlan", count=-1)
    request = _hook(fresh_fhir, SCENARIO, "patient-view", "patient/*.read user/CarePlan.write")
    card = _exercise_card(client.post("/cds-services/bonemet-patient-view", json=request))
    assert "queued" in card["detail"]
    assert not any(
        a["resource"]["resourceType"] == "CarePlan"
        for s in card.get("suggestions", [])
        for a in s["actions"]
        if "resource" in a
    )
    assert _careplans(fresh_fhir) == []

    fresh_fhir.clear_faults()
    store = SqliteStore(Path(settings.effective_database_url.removeprefix("sqlite:///")))
    with requests.Session() as session:
        report = drain_configured(settings, store, session, datetime.now(UTC) + timedelta(minutes=5))
    store.close()
    assert report.written == 1
    assert len(_careplans(fresh_fhir)) == 1
    # The next call finds the plan written by the retry and offers to activate it: still one plan.
    card = _exercise_card(client.post("/cds-services/bonemet-patient-view", json=request))
    assert card["suggestions"][0]["actions"][0]["type"] == "update"
    assert len(_careplans(fresh_fhir)) == 1


def test_write_mode_without_write_scope_writes_nothing_and_suggests_the_plan(
    fresh_fhir: Any, write_app: tuple[TestClient, Settings]
) -> None:
    client, _ = write_app
    request = _hook(fresh_fhir, SCENARIO, "patient-view", "patient/*.read")
    card = _exercise_card(client.post("/cds-services/bonemet-patient-view", json=request))
    assert [r for r in fresh_fhir.requests_seen() if r["method"] != "GET"] == []
    assert _careplans(fresh_fhir) == []
    create = card["suggestions"][0]["actions"][0]
    assert (create["type"], create["resource"]["resourceType"], create["resource"]["status"]) == (
        "create",
        "CarePlan",
        "active",
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def _serving(app: FastAPI, port: int) -> Iterator[str]:
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def live_service(fresh_fhir: Any, tmp_path: Path) -> Iterator[str]:
    with _serving(build_app(_settings(tmp_path, fresh_fhir, "suggest")), _free_port()) as base:
        yield base


def test_examples_runner_loads_every_scenario_and_fires_every_hook(
    fresh_fhir: Any, live_service: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = examples_runner.main(["--fhir", fresh_fhir.base_url, "--service", live_service, "--json"])
    results = json.loads(capsys.readouterr().out)
    assert code == 0
    assert len(results) == len(MANIFEST["scenarios"]) * 3
    assert {r["status"] for r in results} == {200}
    by_key = {(r["scenario"], r["hook"]): r["body"]["cards"] for r in results}
    assert all(cards == [] for (scenario, _), cards in by_key.items() if scenario == "brain-only-metastasis")
    leading = {
        c["extension"]["org.fhir-bonemet.rules"][0]
        for c in by_key[("suspected-cord-compression", "patient-view")]
    }
    assert "R01" in leading
    first = by_key[("suspected-cord-compression", "patient-view")][0]
    assert first["indicator"] == "critical"
    assert first["selectionBehavior"] == "at-most-one"


def test_examples_runner_prints_cards(
    fresh_fhir: Any, live_service: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = examples_runner.main(
        ["--fhir", fresh_fhir.base_url, "--service", live_service, "--scenario", "opioid-benzodiazepine"]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "== opioid-benzodiazepine:" in out
    assert "-- order-select: HTTP 200" in out
    assert "[critical]" in out
    assert "(R09, P14" in out


def test_examples_runner_signs_a_jwt_per_call_for_a_service_with_authentication(
    fresh_fhir: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One JWT cannot serve a run (its aud names one endpoint, its jti is accepted once): with the EHR's key
    the runner signs one per call, and discovery and every hook answer."""
    key = ec.generate_private_key(ec.SECP384R1())
    pem = tmp_path / "ehr-private.pem"
    pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    public = {**json.loads(ECAlgorithm.to_jwk(key.public_key())), "kid": "ehr-key-1", "alg": "ES384"}
    port = _free_port()
    settings = Settings(
        data_dir=tmp_path,
        public_base_url=f"http://127.0.0.1:{port}",
        trusted_issuers={
            "https://ehr.example.org": TrustedIssuer(jwks={"keys": [public]}, tenants=("hospital-a",))
        },
        fhir_server_allowlist=(fresh_fhir.base_url,),
    )
    with _serving(build_app(settings), port) as service:
        code = examples_runner.main(
            [
                "--fhir", fresh_fhir.base_url, "--service", service, "--scenario", SCENARIO, "--json",
                "--jwt-key", str(pem), "--jwt-issuer", "https://ehr.example.org", "--jwt-kid", "ehr-key-1",
                "--jwt-tenant", "hospital-a",
            ]
        )  # fmt: skip
    results = json.loads(capsys.readouterr().out)
    assert code == 0
    assert [(r["hook"], r["status"]) for r in results] == [
        ("patient-view", 200),
        ("order-select", 200),
        ("order-sign", 200),
    ]
