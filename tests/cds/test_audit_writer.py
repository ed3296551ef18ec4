"""The issued-card audit (and the plan views behind the cards' links) leave the request path but never lose
a record: batched in the background, flushed at shutdown, including when the service is stopped with
SIGTERM."""

from __future__ import annotations

import logging
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
import requests

from fhir_bonemet.cli.examples_runner import prefetched_request
from fhir_bonemet.store.base import IssuedCall, IssuedCard, StoreError
from fhir_bonemet.store.sqlite import SqliteStore
from fhir_bonemet.web.audit import IssuedCardWriter


def _card(n: int) -> IssuedCard:
    return IssuedCard(uuid=f"00000000-0000-4000-8000-{n:012d}", rule_ids=("R01",), indicator="critical")


def test_queued_records_wait_for_the_batch_and_close_writes_them_all(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "audit.sqlite3")
    writer = IssuedCardWriter(store, linger=30.0)  # nothing is written until close() or a full batch
    for n in range(5):
        writer.submit("bonemet-patient-view", "patient-view", f"hook-{n}", [_card(n)])
    writer.close()
    assert sorted(i.hook_instance for i in store.issued_cards()) == [f"hook-{n}" for n in range(5)]
    writer.submit("bonemet-patient-view", "patient-view", "hook-late", [_card(9)])  # after close: direct
    assert len(store.issued_cards(hook_instance="hook-late")) == 1
    store.close()


def test_flush_waits_until_what_was_queued_is_written(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "audit.sqlite3")
    writer = IssuedCardWriter(store, linger=0.2)
    writer.submit("bonemet-order-sign", "order-sign", "hook-1", [_card(1), _card(2)])
    writer.flush()
    assert len(store.issued_cards(hook_instance="hook-1")) == 2
    writer.close()
    store.close()


class _RefusesHook(SqliteStore):
    """A store that refuses, every time, any write holding the answer of one hook instance."""

    refused = "hook-1"

    def record_issued_batch(self, calls: Sequence[IssuedCall]) -> None:
        if any(call.hook_instance == self.refused for call in calls):
            raise StoreError("SQLite store: OperationalError: disk I/O error")
        super().record_issued_batch(calls)


def test_a_store_failure_is_logged_without_patient_data_and_the_writer_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = _RefusesHook(tmp_path / "audit.sqlite3")
    writer = IssuedCardWriter(store, linger=0.01)
    with caplog.at_level(logging.ERROR, logger="fhir_bonemet.cds"):
        writer.submit("bonemet-patient-view", "patient-view", "hook-1", [_card(1)])
        writer.flush()
        writer.submit("bonemet-patient-view", "patient-view", "hook-2", [_card(2)])
        writer.close()
    assert [r.message for r in caplog.records] == ["issued-card audit not recorded"]
    assert caplog.records[0].error_type == "StoreError"  # type: ignore[attr-defined]
    assert [i.hook_instance for i in store.issued_cards()] == ["hook-2"]
    store.close()


def test_one_refused_answer_in_a_batch_does_not_cost_the_others_theirs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = _RefusesHook(tmp_path / "audit.sqlite3")
    writer = IssuedCardWriter(store, linger=5)  # all three wait for one batch
    with caplog.at_level(logging.ERROR, logger="fhir_bonemet.cds"):
        for n in (0, 1, 2):
            writer.submit("bonemet-patient-view", "patient-view", f"hook-{n}", [_card(n)])
        writer.close()
    assert [r.message for r in caplog.records] == ["issued-card audit not recorded"]
    assert sorted(i.hook_instance for i in store.issued_cards()) == ["hook-0", "hook-2"]
    store.close()


def test_a_batch_of_many_answers_is_recorded_in_full(tmp_path: Path) -> None:
    """More cards than one statement carries (a busy minute's worth), written as one batch."""
    store = SqliteStore(tmp_path / "audit.sqlite3")
    writer = IssuedCardWriter(store, linger=5)
    for n in range(120):
        writer.submit("bonemet-patient-view", "patient-view", f"hook-{n}", [_card(2 * n), _card(2 * n + 1)])
    writer.submit("bonemet-patient-view", "patient-view", "hook-0", [_card(0)])  # a retried answer
    writer.close()
    stored = store.issued_cards()
    assert len(stored) == 240
    assert {(i.hook_instance, i.card.uuid) for i in stored} == {
        (f"hook-{n}", _card(c).uuid) for n in range(120) for c in (2 * n, 2 * n + 1)
    }
    store.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_sigterm_right_after_the_answers_loses_no_audit_record(tmp_path: Path) -> None:
    """A real service process, a batch window far longer than the test: only the shutdown flush can have
    written the records when SIGTERM arrives right after the last answer."""
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("BONEMET_")},
        "BONEMET_DATA_DIR": str(tmp_path),
        "BONEMET_AUDIT_LINGER_SECONDS": "30",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "fhir_bonemet", "serve", "--no-auth", "--port", str(port), "--workers", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        with requests.Session() as http:
            http.trust_env = False
            while True:
                try:
                    http.get(f"{base}/health", timeout=1)
                    break
                except (requests.ConnectionError, requests.Timeout):
                    if time.monotonic() > deadline or process.poll() is not None:
                        raise
                    time.sleep(0.1)
            issued = []
            plan_links = set()
            for scenario in ("thoracic-spine-sins14", "hypercalcaemia", "opioid-benzodiazepine"):
                body = http.post(
                    f"{base}/cds-services/bonemet-patient-view",
                    json=prefetched_request(scenario),
                    timeout=30,
                ).json()
                issued += [card["uuid"] for card in body["cards"]]
                plan_links |= {
                    link["url"]
                    for card in body["cards"]
                    for link in card.get("links", [])
                    if "/plan/" in link["url"]
                }
        process.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal so that a supervisor sees it.
        assert process.wait(timeout=30) in (0, -signal.SIGTERM)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert len(issued) >= 3
    store = SqliteStore(tmp_path / "bonemet.sqlite3")
    assert sorted(i.card.uuid for i in store.issued_cards()) == sorted(issued)
    store.close()
    # Every plan link of those answers leads to a stored view (one per link).
    assert plan_links
    with sqlite3.connect(tmp_path / "bonemet.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM plan_views").fetchone()[0] == len(plan_links)
