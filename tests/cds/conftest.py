"""Fixtures for the HTTP-layer tests: settings, an app with a recording hook handler, JWT signers (ES384
and RS384 keys made with ``cryptography``), a JWKS-serving ``requests`` session, and a JSON log capture."""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from cds_helpers import (
    EPIC_ISS,
    EPIC_JKU,
    PUBLIC_BASE,
    SANDBOX_ISS,
    SANDBOX_JKU,
    JwksAdapter,
    RecordingHandler,
    Signer,
    ec_signer,
    example,
    rsa_signer,
)
from fastapi.testclient import TestClient

from fhir_bonemet.settings import Settings, TrustedIssuer
from fhir_bonemet.store.sqlite import SqliteStore
from fhir_bonemet.web.app import create_app
from fhir_bonemet.web.logs import JsonFormatter


@pytest.fixture(autouse=True)
def _no_service_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests build their settings explicitly; variables of the surrounding shell must not leak in."""
    for name in list(os.environ):
        if name.startswith("BONEMET_") and not name.startswith("BONEMET_TEST_"):
            monkeypatch.delenv(name)


@pytest.fixture
def patient_view_body() -> dict[str, Any]:
    return example("patient-view.request.json")


@pytest.fixture
def order_select_body() -> dict[str, Any]:
    return example("order-select.request.json")


@pytest.fixture
def order_sign_body() -> dict[str, Any]:
    return example("order-sign.request.json")


@pytest.fixture
def handler() -> RecordingHandler:
    return RecordingHandler()


@pytest.fixture
def open_settings(tmp_path: Path) -> Settings:
    """Settings as ``fhir-bonemet serve --no-auth`` would build them."""
    return Settings(auth_required=False, data_dir=tmp_path)


@pytest.fixture
def client(open_settings: Settings, handler: RecordingHandler, store: SqliteStore) -> TestClient:
    return TestClient(create_app(open_settings, handler=handler, store=store))


@pytest.fixture(scope="session")
def sandbox_signer() -> Signer:
    """Shaped like the CDS Hooks Sandbox: ES384, its kid, a jku header, no sub or tenant."""
    return ec_signer("44823f3d-0b01-4a6c-a80e-b9d3e8a7226f")


@pytest.fixture(scope="session")
def epic_signer() -> Signer:
    """Shaped like an Epic client: RS384, key published at an allowlisted jku."""
    return rsa_signer("epic-key-1")


@pytest.fixture(scope="session")
def rotated_epic_signer() -> Signer:
    return rsa_signer("epic-key-2")


@pytest.fixture
def jwks_adapter(epic_signer: Signer) -> JwksAdapter:
    adapter = JwksAdapter()
    adapter.sets[EPIC_JKU] = {"keys": [epic_signer.public_jwk]}
    return adapter


@pytest.fixture
def jwks_session(jwks_adapter: JwksAdapter) -> requests.Session:
    session = requests.Session()
    session.mount("https://", jwks_adapter)
    return session


@pytest.fixture
def auth_settings(tmp_path: Path, sandbox_signer: Signer) -> Settings:
    """Auth on: the Sandbox trusted through a configured JWKS, the Epic-shaped client through its jku."""
    return Settings(
        data_dir=tmp_path,
        public_base_url=PUBLIC_BASE,
        trusted_issuers={
            SANDBOX_ISS: TrustedIssuer(jwks={"keys": [sandbox_signer.public_jwk]}, jku=(SANDBOX_JKU,)),
            EPIC_ISS: TrustedIssuer(jku=(EPIC_JKU,), tenants=("hospital-a",)),
        },
        cors_origins=("http://localhost:8080",),
    )


@pytest.fixture
def auth_client(
    auth_settings: Settings, handler: RecordingHandler, store: SqliteStore, jwks_session: requests.Session
) -> TestClient:
    return TestClient(create_app(auth_settings, handler=handler, store=store, session=jwks_session))


@pytest.fixture
def json_logs() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """Capture the service's log lines as the production formatter writes them; call to get them parsed."""
    stream = io.StringIO()
    log_handler = logging.StreamHandler(stream)
    log_handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("fhir_bonemet")
    previous = logger.level
    logger.addHandler(log_handler)
    logger.setLevel(logging.DEBUG)

    def lines() -> list[dict[str, Any]]:
        return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]

    yield lines
    logger.removeHandler(log_handler)
    logger.setLevel(previous)
