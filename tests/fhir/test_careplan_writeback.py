"""CarePlan write-back: scopes, idempotent conditional create, the outbox and its retry worker.

The write tests run against the real FHIR test server (``fresh_fhir``), including its fault injection for
5xx answers and slow responses.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from cards_builders import PATIENT, TODAY, exercise_finding, exercise_plan, make_careplan, p04

from fhir_bonemet.cli import outbox as writeback_cli
from fhir_bonemet.client.fhir import FhirClient, ServerPolicy, Timeouts
from fhir_bonemet.core.model.findings import Assessment
from fhir_bonemet.fhir.outbound.careplan import BuiltCarePlan
from fhir_bonemet.settings import Settings
from fhir_bonemet.store.sqlite import SqliteStore
from fhir_bonemet.writeback import (
    DrainReport,
    OutboxWorker,
    WritebackMode,
    backoff,
    deliver_careplan,
    drain_configured,
    drain_outbox,
    scope_allows_write,
)

NOW = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
WRITE_SCOPE = "launch patient/*.read user/CarePlan.write"


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        s.trust_env = False
        yield s


@pytest.fixture
def cli_store(fresh_fhir: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SqliteStore:
    """The embedded store the ``outbox`` command will open, configured through the environment as an
    operator would, with the test FHIR server allowlisted."""
    monkeypatch.setenv("BONEMET_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("BONEMET_DATABASE_URL", raising=False)
    monkeypatch.setenv("BONEMET_FHIR_SERVER_ALLOWLIST", fresh_fhir.base_url)
    return SqliteStore(tmp_path / "bonemet.sqlite3")


@pytest.fixture
def plan() -> BuiltCarePlan:
    built = make_careplan(
        Assessment(True, "bone metastasis", (exercise_finding(), p04()), exercise_plan()),
        patient_ref=PATIENT,
        today=TODAY,
    )
    assert built is not None
    return built


def client(session: requests.Session, base: str, token: str | None = None, read: float = 5.0) -> FhirClient:
    return FhirClient(
        session, base, policy=ServerPolicy([base]), access_token=token, timeouts=Timeouts(2.0, read)
    )


def careplans_on(fhir: Any, plan: BuiltCarePlan) -> list[dict[str, Any]]:
    fhir.set_token(None)
    response = requests.get(
        f"{fhir.base_url}/CarePlan",
        params={"identifier": f"{plan.identifier_system}|{plan.identifier_value}"},
        timeout=10,
    )
    assert response.status_code == 200
    return [entry["resource"] for entry in response.json().get("entry", [])]


def posts(fhir: Any) -> list[dict[str, Any]]:
    return [r for r in fhir.requests_seen() if r["method"] == "POST" and r["path"].startswith("CarePlan")]


@pytest.mark.parametrize(
    ("scope", "allowed"),
    [
        ("user/CarePlan.write", True),
        ("user/CarePlan.*", True),
        ("user/*.write", True),
        ("patient/CarePlan.write", True),
        ("patient/*.*", True),
        ("user/CarePlan.cruds", True),
        ("patient/CarePlan.c", True),
        ("launch openid patient/*.read user/CarePlan.crus", True),
        ("user/CarePlan.read", False),
        ("user/CarePlan.rs", False),
        ("patient/*.read", False),
        ("user/Observation.write", False),
        ("user/CarePlan.c?category=bm-exercise", False),
        ("", False),
        (None, False),
    ],
)
def test_scope_decides_whether_the_service_may_write(scope: str | None, allowed: bool) -> None:
    assert scope_allows_write(scope) is allowed


def test_backoff_doubles_from_thirty_seconds_up_to_an_hour() -> None:
    assert [backoff(n).total_seconds() for n in range(9)] == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert backoff(10_000) == timedelta(hours=1)


def test_suggest_mode_writes_nothing(plan: BuiltCarePlan, store: SqliteStore) -> None:
    delivery = deliver_careplan(
        plan, mode=WritebackMode.SUGGEST, client=None, scope=WRITE_SCOPE, store=store, now=NOW
    )
    assert (delivery.careplan, delivery.location, delivery.queued) == (plan, None, False)


def test_same_hook_three_times_writes_exactly_one_careplan(
    fresh_fhir: Any, plan: BuiltCarePlan, store: SqliteStore, session: requests.Session
) -> None:
    fresh_fhir.set_token("hook-token")
    deliveries = [
        deliver_careplan(
            plan,
            mode=WritebackMode.WRITE,
            client=client(session, fresh_fhir.base_url, "hook-token"),
            scope=WRITE_SCOPE,
            store=store,
            now=NOW,
        )
        for _ in range(3)
    ]
    assert [d.outcome.state for d in deliveries if d.outcome] == ["written", "existing", "existing"]
    assert len({d.location for d in deliveries}) == 1
    assert deliveries[0].location is not None
    assert deliveries[0].location.startswith("CarePlan/")
    sent = posts(fresh_fhir)
    assert [(r["auth"], r["ifNoneExist"]) for r in sent] == [("valid", plan.if_none_exist.split("?")[-1])] * 3
    stored = careplans_on(fresh_fhir, plan)
    assert len(stored) == 1
    assert stored[0]["status"] == "draft"
    # Queued before it was sent, marked done once written: nothing left for the worker.
    (done,) = store.outbox_list()
    assert (done.status, done.location) == ("done", deliveries[0].location)
    assert drain_outbox(store, session, NOW + timedelta(hours=1)) == DrainReport()


class _DiesDuringTheWrite(requests.Session):
    """The process ends while the CarePlan POST is on the wire (SIGKILL, power loss): nothing after the
    request runs, so whatever is to survive must be in the store before it is sent."""

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        if method == "POST":
            raise SystemExit("killed")
        return super().request(method, url, *args, **kwargs)


def test_a_plan_whose_writer_dies_mid_write_is_queued_and_written_once_after_the_lease(
    fresh_fhir: Any, plan: BuiltCarePlan, store: SqliteStore, session: requests.Session
) -> None:
    with _DiesDuringTheWrite() as dying, pytest.raises(SystemExit):
        deliver_careplan(
            plan,
            mode=WritebackMode.WRITE,
            client=client(dying, fresh_fhir.base_url),
            scope=WRITE_SCOPE,
            store=store,
            now=NOW,
        )
    (item,) = store.outbox_list("pending")
    assert item.attempts == 0
    # In flight: the lease keeps the worker from racing a call that may still be writing …
    assert item.next_attempt_at is not None
    assert NOW < item.next_attempt_at <= NOW + timedelta(seconds=2 * (2.0 + 5.0) + 2)
    assert drain_outbox(store, session, NOW + timedelta(seconds=1)) == DrainReport()
    # … and once it has run out, the worker writes the plan, once.
    assert drain_outbox(store, session, item.next_attempt_at) == DrainReport(written=1)
    assert len(careplans_on(fresh_fhir, plan)) == 1
    (done,) = store.outbox_list("done")
    assert done.location is not None


def test_server_5xx_queues_the_plan_and_it_lands_once_after_recovery(
    fresh_fhir: Any, plan: BuiltCarePlan, store: SqliteStore, session: requests.Session
) -> None:
    fresh_fhir.inject_fault(status=503, method="POST", path="CarePlan", count=-1)
    delivery = deliver_careplan(
        plan,
        mode=WritebackMode.WRITE,
        client=client(session, fresh_fhir.base_url),
        scope=WRITE_SCOPE,
        store=store,
        now=NOW,
    )
    assert delivery.queued
    assert delivery.careplan is plan
    (item,) = store.outbox_list("pending")
    assert (item.attempts, item.next_attempt_at) == (1, NOW + timedelta(seconds=30))

    assert drain_outbox(store, session, NOW + timedelta(seconds=10)) == DrainReport()  # not yet due
    assert drain_outbox(store, session, NOW + timedelta(seconds=31)) == DrainReport(retrying=1)  # still down
    (item,) = store.outbox_list("pending")
    assert item.attempts == 2
    assert item.next_attempt_at == NOW + timedelta(seconds=31) + timedelta(seconds=60)
    assert careplans_on(fresh_fhir, plan) == []

    fresh_fhir.clear_faults()
    assert drain_outbox(store, session, NOW + timedelta(minutes=5)) == DrainReport(written=1)
    (done,) = store.outbox_list("done")
    stored = careplans_on(fresh_fhir, plan)
    assert len(stored) == 1
    assert done.location == f"CarePlan/{stored[0]['id']}"
    assert drain_outbox(store, session, NOW + timedelta(hours=2)) == DrainReport()

    # The next hook call finds the plan; still one.
    again = deliver_careplan(
        plan,
        mode=WritebackMode.WRITE,
        client=client(session, fresh_fhir.base_url),
        scope=WRITE_SCOPE,
        store=store,
        now=NOW,
    )
    assert again.location == done.location
    assert len(careplans_on(fresh_fhir, plan)) == 1


def test_timeout_queues_the_plan_and_the_retry_never_duplicates_it(
    fresh_fhir: Any, plan: BuiltCarePlan, store: SqliteStore, session: requests.Session
) -> None:
    # The server answers too late: the service gives up waiting, yet the server still creates the plan.
    fresh_fhir.inject_fault(delay_ms=1500, method="POST", path="CarePlan", count=1)
    delivery = deliver_careplan(
        plan,
        mode=WritebackMode.WRITE,
        client=client(session, fresh_fhir.base_url, read=0.3),
        scope=WRITE_SCOPE,
        store=store,
        now=NOW,
    )
    assert delivery.queued
    deadline = time.monotonic() + 10
    while not all(r["status"] for r in posts(fresh_fhir)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [r["status"] for r in posts(fresh_fhir)] == [201]

    assert drain_outbox(store, session, NOW + timedelta(minutes=1)) == DrainReport(written=1)
    assert [r["status"] for r in posts(fresh_fhir)] == [201, 200]  # the retry found it
    assert len(careplans_on(fresh_fhir, plan)) == 1


def test_a_queued_plan_is_left_to_the_worker(
    fresh_fhir: Any, plan: BuiltCarePlan, store: SqliteStore, session: requests.Session
) -> None:
    fresh_fhir.inject_fault(status=502, method="POST", path="CarePlan", count=1)
    kwargs: dict[str, Any] = {"mode": WritebackMode.WRITE, "scope": WRITE_SCOPE, "store": store, "now": NOW}
    assert deliver_careplan(plan, client=client(session, fresh_fhir.base_url), **kwargs).queued
    second = deliver_careplan(plan, client=client(session, fresh_fhir.base_url), **kwargs)
    assert second.queued
    assert len(posts(fresh_fhir)) == 1  # no second writer while the first waits in the outbox


def test_nothing_is_written_when_the_token_lacks_write_scope(
    fresh_fhir: Any, plan: BuiltCarePlan, store: SqliteStore, session: requests.Session
) -> None:
    delivery = deliver_careplan(
        plan,
        mode=WritebackMode.WRITE,
        client=client(session, fresh_fhir.base_url, "hook-token"),
        scope="launch patient/*.read user/CarePlan.read",
        store=store,
        now=NOW,
    )
    assert delivery.outcome is not None
    assert delivery.outcome.state == "no-scope"
    assert (delivery.location, delivery.queued, delivery.careplan) == (
        None,
        False,
        plan,
    )  # offered in the card
    assert fresh_fhir.requests_seen() == []
    assert store.outbox_list() == []


def test_a_refused_write_is_not_retried_and_the_plan_stays_in_the_card(
    fresh_fhir: Any, plan: BuiltCarePlan, store: SqliteStore, session: requests.Session
) -> None:
    fresh_fhir.inject_fault(status=403, method="POST", path="CarePlan", count=1)
    delivery = deliver_careplan(
        plan,
        mode=WritebackMode.WRITE,
        client=client(session, fresh_fhir.base_url),
        scope=WRITE_SCOPE,
        store=store,
        now=NOW,
    )
    assert delivery.outcome is not None
    assert delivery.outcome.state == "rejected"
    assert (delivery.location, delivery.queued) == (None, False)
    assert store.outbox_list() == []


def test_retries_use_the_service_credential_and_the_hook_token_is_never_stored(
    fresh_fhir: Any, plan: BuiltCarePlan, store: SqliteStore, session: requests.Session, tmp_path: Path
) -> None:
    fresh_fhir.set_token("hook-token-123")
    fresh_fhir.inject_fault(status=503, method="POST", path="CarePlan", count=1)
    deliver_careplan(
        plan,
        mode=WritebackMode.WRITE,
        client=client(session, fresh_fhir.base_url, "hook-token-123"),
        scope=WRITE_SCOPE,
        store=store,
        now=NOW,
    )
    fresh_fhir.set_token("service-token-456")
    fresh_fhir.clear_requests()
    settings = Settings(
        data_dir=tmp_path,
        fhir_server_allowlist=(fresh_fhir.base_url,),
        writeback_tokens={fresh_fhir.base_url: "service-token-456"},
    )
    assert drain_configured(settings, store, session, NOW + timedelta(minutes=1)) == DrainReport(written=1)
    assert [r["auth"] for r in posts(fresh_fhir)] == ["valid"]
    database = b"".join(p.read_bytes() for p in tmp_path.glob("bonemet.sqlite3*"))
    assert b"hook-token-123" not in database
    assert b"service-token-456" not in database


def test_a_retry_never_carries_the_credential_of_another_server(
    fresh_fhir: Any, plan: BuiltCarePlan, store: SqliteStore, session: requests.Session, tmp_path: Path
) -> None:
    other = "https://other-ehr.example/fhir"
    fresh_fhir.inject_fault(status=503, method="POST", path="CarePlan", count=1)
    kwargs: dict[str, Any] = {"mode": WritebackMode.WRITE, "scope": WRITE_SCOPE, "store": store, "now": NOW}
    assert deliver_careplan(plan, client=client(session, fresh_fhir.base_url), **kwargs).queued
    fresh_fhir.set_token("token-of-the-other-server")
    fresh_fhir.clear_requests()
    settings = Settings(
        data_dir=tmp_path,
        fhir_server_allowlist=(fresh_fhir.base_url, other),
        writeback_tokens={other: "token-of-the-other-server"},
    )
    assert drain_configured(settings, store, session, NOW + timedelta(minutes=1)) == DrainReport(failed=1)
    assert [r["auth"] for r in posts(fresh_fhir)] == ["missing"]


def test_a_permanently_refused_retry_fails_and_can_be_requeued(
    fresh_fhir: Any, plan: BuiltCarePlan, store: SqliteStore, session: requests.Session
) -> None:
    fresh_fhir.inject_fault(status=500, method="POST", path="CarePlan", count=1)
    fresh_fhir.inject_fault(status=422, method="POST", path="CarePlan", count=1)
    kwargs: dict[str, Any] = {"mode": WritebackMode.WRITE, "scope": WRITE_SCOPE, "store": store, "now": NOW}
    assert deliver_careplan(plan, client=client(session, fresh_fhir.base_url), **kwargs).queued
    assert drain_outbox(store, session, NOW + timedelta(minutes=1)) == DrainReport(failed=1)
    (failed,) = store.outbox_list("failed")
    assert "422" in (failed.last_error or "")
    assert (
        drain_outbox(store, session, NOW + timedelta(hours=3)) == DrainReport()
    )  # failed items wait for an operator


def test_outbox_cli_lists_without_the_resource_and_retry_writes_it(
    fresh_fhir: Any,
    plan: BuiltCarePlan,
    session: requests.Session,
    cli_store: SqliteStore,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = cli_store
    fresh_fhir.inject_fault(status=503, method="POST", path="CarePlan", count=1)
    fresh_fhir.inject_fault(status=400, method="POST", path="CarePlan", count=1)
    kwargs: dict[str, Any] = {"mode": WritebackMode.WRITE, "scope": WRITE_SCOPE, "store": store, "now": NOW}
    assert deliver_careplan(plan, client=client(session, fresh_fhir.base_url), **kwargs).queued
    drain_outbox(store, session, NOW + timedelta(minutes=1))  # 400: failed
    store.close()

    assert writeback_cli._run(argparse.Namespace(json=True, all=False, retry=False, force=False)) == 0
    listed = json.loads(capsys.readouterr().out)["items"]
    assert [(i["status"], i["attempts"], i["resourceType"]) for i in listed] == [("failed", 2, "CarePlan")]
    assert PATIENT not in json.dumps(listed)

    # A retry the server refuses again: said, and the exit status says so to a script.
    fresh_fhir.inject_fault(status=400, method="POST", path="CarePlan", count=1)
    assert writeback_cli._run(argparse.Namespace(json=False, all=True, retry=True, force=False)) == 1
    assert "written 0, retrying later 0, failed 1" in capsys.readouterr().out

    assert writeback_cli._run(argparse.Namespace(json=False, all=True, retry=True, force=False)) == 0
    out = capsys.readouterr().out
    assert "1 failed item(s) re-queued, 0 waiting item(s) brought forward; written 1" in out
    assert "done" in out
    assert len(careplans_on(fresh_fhir, plan)) == 1


def test_worker_thread_drains_until_stopped() -> None:
    calls: list[int] = []
    drained = threading.Event()

    def drain() -> DrainReport:
        calls.append(1)
        if len(calls) >= 2:
            drained.set()
        if len(calls) == 1:
            raise RuntimeError("database briefly unavailable")  # must not kill the worker
        return DrainReport()

    worker = OutboxWorker(drain, interval=0.01)
    worker.start()
    assert drained.wait(5)
    worker.stop()
    count = len(calls)
    time.sleep(0.05)
    assert len(calls) == count


def test_retry_worker_never_calls_a_server_off_the_allowlist(
    fresh_fhir: Any, plan: BuiltCarePlan, store: SqliteStore, session: requests.Session
) -> None:
    fresh_fhir.inject_fault(status=503, method="POST", path="CarePlan", count=1)
    kwargs: dict[str, Any] = {"mode": WritebackMode.WRITE, "scope": WRITE_SCOPE, "store": store, "now": NOW}
    assert deliver_careplan(plan, client=client(session, fresh_fhir.base_url), **kwargs).queued
    fresh_fhir.clear_requests()
    settings = Settings(fhir_server_allowlist=("https://ehr.example.org/fhir",))
    assert drain_configured(settings, store, session, NOW + timedelta(minutes=1)) == DrainReport(failed=1)
    assert fresh_fhir.requests_seen() == []
    (failed,) = store.outbox_list("failed")
    assert "allowlist" in (failed.last_error or "")


class _NoFullScans(SqliteStore):
    """A store that fails any listing of the whole outbox: the hook path must look items up by key."""

    def outbox_list(self, status: Any = None) -> Any:
        raise AssertionError("a hook call read the whole outbox")


def test_a_hook_write_looks_its_plan_up_by_key_not_by_reading_the_outbox(
    fresh_fhir: Any, plan: BuiltCarePlan, session: requests.Session, tmp_path: Path
) -> None:
    store = _NoFullScans(tmp_path / "scan.sqlite3")
    try:
        fresh_fhir.inject_fault(status=503, method="POST", path="CarePlan", count=1)
        kwargs: dict[str, Any] = {
            "mode": WritebackMode.WRITE,
            "scope": WRITE_SCOPE,
            "store": store,
            "now": NOW,
        }
        assert deliver_careplan(plan, client=client(session, fresh_fhir.base_url), **kwargs).queued
        again = deliver_careplan(plan, client=client(session, fresh_fhir.base_url), **kwargs)
        assert again.outcome is not None
        assert again.outcome.state == "queued"
    finally:
        store.close()


def test_draining_prunes_done_items_older_than_the_setting(
    fresh_fhir: Any, plan: BuiltCarePlan, store: SqliteStore, session: requests.Session, tmp_path: Path
) -> None:
    fresh_fhir.inject_fault(status=503, method="POST", path="CarePlan", count=1)
    kwargs: dict[str, Any] = {"mode": WritebackMode.WRITE, "scope": WRITE_SCOPE, "store": store, "now": NOW}
    assert deliver_careplan(plan, client=client(session, fresh_fhir.base_url), **kwargs).queued
    settings = Settings(
        data_dir=tmp_path, fhir_server_allowlist=(fresh_fhir.base_url,), outbox_keep_done_days=7
    )
    assert drain_configured(settings, store, session, datetime.now(UTC) + timedelta(minutes=1)).written == 1
    assert [i.status for i in store.outbox_list()] == ["done"]
    drain_configured(settings, store, session, datetime.now(UTC) + timedelta(days=6))
    assert len(store.outbox_list()) == 1
    drain_configured(settings, store, session, datetime.now(UTC) + timedelta(days=8))
    assert store.outbox_list() == []


def test_concurrent_failing_hooks_count_one_attempt(
    fresh_fhir: Any, plan: BuiltCarePlan, store: SqliteStore, session: requests.Session
) -> None:
    fresh_fhir.inject_fault(status=503, method="POST", path="CarePlan", count=-1)
    callers = 8
    barrier = threading.Barrier(callers)
    outcomes: list[str] = []

    def hook() -> None:
        barrier.wait()
        delivery = deliver_careplan(
            plan,
            mode=WritebackMode.WRITE,
            client=client(session, fresh_fhir.base_url),
            scope=WRITE_SCOPE,
            store=store,
            now=NOW,
        )
        outcomes.append(delivery.outcome.state if delivery.outcome else "none")

    threads = [threading.Thread(target=hook) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert outcomes == ["queued"] * callers
    (item,) = store.outbox_list("pending")
    assert (item.attempts, item.next_attempt_at) == (1, NOW + backoff(0))


def test_outbox_cli_retry_force_tries_items_not_yet_due(
    fresh_fhir: Any,
    plan: BuiltCarePlan,
    session: requests.Session,
    cli_store: SqliteStore,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = cli_store
    fresh_fhir.inject_fault(status=503, method="POST", path="CarePlan", count=1)
    kwargs: dict[str, Any] = {
        "mode": WritebackMode.WRITE,
        "scope": WRITE_SCOPE,
        "store": store,
        "now": datetime.now(UTC),
    }
    assert deliver_careplan(plan, client=client(session, fresh_fhir.base_url), **kwargs).queued
    store.close()

    assert writeback_cli._run(argparse.Namespace(json=False, all=True, retry=True, force=False)) == 0
    assert "written 0" in capsys.readouterr().out  # its backoff has not run out
    assert careplans_on(fresh_fhir, plan) == []
    assert writeback_cli._run(argparse.Namespace(json=False, all=True, retry=True, force=True)) == 0
    assert "1 waiting item(s) brought forward; written 1" in capsys.readouterr().out
    assert len(careplans_on(fresh_fhir, plan)) == 1
    assert writeback_cli._run(argparse.Namespace(json=False, all=False, retry=False, force=True)) == 2
