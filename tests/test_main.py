"""The composition root: ``build_app`` wires the production parts, runs the outbox worker only in write
mode, and closes at shutdown exactly what it opened."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fhir_bonemet.main import build_app
from fhir_bonemet.settings import Settings
from fhir_bonemet.store.base import StoreError
from fhir_bonemet.store.sqlite import SqliteStore
from fhir_bonemet.workflow import Workflow


def _outbox_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "bonemet-outbox" and t.is_alive()]


def _settings(tmp_path: Path, mode: str) -> Settings:
    return Settings(auth_required=False, data_dir=tmp_path, writeback_mode=mode)


def test_the_production_handler_is_the_workflow(tmp_path: Path) -> None:
    app = build_app(_settings(tmp_path, "suggest"))
    assert isinstance(app.state.bonemet.handler, Workflow)


@pytest.mark.parametrize(("mode", "workers"), [("suggest", 0), ("write", 1)])
def test_the_outbox_worker_runs_only_in_write_mode_and_stops_with_the_app(
    tmp_path: Path, mode: str, workers: int
) -> None:
    before = len(_outbox_threads())
    with TestClient(build_app(_settings(tmp_path, mode))) as client:
        assert client.get("/cds-services").status_code == 200
        assert len(_outbox_threads()) == before + workers
    assert len(_outbox_threads()) == before


def test_what_it_opens_it_closes_and_what_it_is_given_it_leaves_open(tmp_path: Path) -> None:
    with TestClient(build_app(_settings(tmp_path, "suggest"))) as client:
        store = client.app.state.bonemet.store  # type: ignore[attr-defined]
    with pytest.raises(StoreError):
        store.ping()

    given = SqliteStore(tmp_path / "given.sqlite3")
    try:
        with TestClient(build_app(_settings(tmp_path, "suggest"), store=given)):
            pass
        given.ping()  # still open
    finally:
        given.close()
