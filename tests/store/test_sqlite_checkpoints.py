"""The SQLite store copies its write-ahead log into the database file on a thread of its own, never in the
commit of a write: a hook call that records its token must not wait for a copy of megabytes."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fhir_bonemet.store.base import PlanViewToStore
from fhir_bonemet.store.sqlite import SqliteStore

LATER = datetime.now(UTC) + timedelta(hours=1)
# 300 views of 20 kB: some 1,500 pages, past the 1,000 after which SQLite's default has a commit copy the log.
VIEWS = [PlanViewToStore(f"plan-{n}", "pk", '"' + "x" * 20_000 + '"', LATER) for n in range(300)]
WRITTEN = 300 * 20_000


def _checkpointers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "sqlite-checkpointer"]


def test_no_commit_copies_the_log_into_the_database_file(tmp_path: Path) -> None:
    path = tmp_path / "bonemet.sqlite3"
    store = SqliteStore(path, checkpoint_after_seconds=60.0)  # the checkpointer waits a minute
    try:
        before = path.stat().st_size
        for start in range(0, len(VIEWS), 10):  # thirty commits
            store.plan_put_many(VIEWS[start : start + 10])
        store.remember_token("https://ehr.example", "jti-1", LATER)  # and one on the hook's path
        assert path.stat().st_size == before
        assert store.plan_get("plan-299", datetime.now(UTC)) is not None  # committed, in the log
    finally:
        store.close()  # does not wait out the minute
    assert path.stat().st_size > WRITTEN  # closing the last connection copied it


def test_the_checkpointer_copies_commits_into_the_file_soon_after(tmp_path: Path) -> None:
    path = tmp_path / "bonemet.sqlite3"
    store = SqliteStore(path, checkpoint_after_seconds=0.05)
    try:
        store.plan_put_many(VIEWS)
        deadline = time.monotonic() + 10
        while path.stat().st_size < WRITTEN and time.monotonic() < deadline:
            time.sleep(0.05)
        assert path.stat().st_size > WRITTEN
    finally:
        store.close()


def test_a_store_only_read_starts_no_thread_and_closing_stops_it(tmp_path: Path) -> None:
    before = len(_checkpointers())
    store = SqliteStore(tmp_path / "bonemet.sqlite3")
    store.plan_get("plan-1", datetime.now(UTC))
    assert len(_checkpointers()) == before
    store.plan_put_many(VIEWS[:1])
    assert len(_checkpointers()) == before + 1
    store.close()
    assert len(_checkpointers()) == before
