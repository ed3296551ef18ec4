"""The embedded default store: one SQLite file in the data directory (WAL journal, safe across threads).

Commits go to the write-ahead log; copying the log into the database file (a checkpoint) is left to a
thread of the store's own (:class:`_Checkpointer`), never done by a commit.  SQLite's default has the commit
that fills the log past 1,000 pages copy all of it, some 8 ms with a sync, under the lock every write takes:
with JWT verification on, the hook call whose token record was that commit, or that queued behind it,
waited, once in every seventy calls or so (p99 of a typical call 10.5 ms; 5.1 ms since).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
import weakref
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fhir_bonemet.store.base import StoreError
from fhir_bonemet.store.sql import Row, SqlStore, schema

__all__ = ["SqliteStore"]

log = logging.getLogger("fhir_bonemet.store")


_SCHEMA = schema(row_number="INTEGER PRIMARY KEY AUTOINCREMENT", timestamp="TEXT")


_OPEN_TIMEOUT = 10.0  # seconds a connection waits for another process's lock (sqlite3's busy timeout)


def _connect(path: Path) -> sqlite3.Connection:
    # isolation_level=None: autocommit; multi-statement writes open their own transaction.
    return sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=_OPEN_TIMEOUT)


def _use_wal(conn: sqlite3.Connection) -> None:
    """Switch the file to the WAL journal, waiting for other processes that open it at the same moment.

    Changing the journal mode needs the file to itself, and SQLite answers "database is locked" at once,
    without its busy timeout, while another connection holds it (workers starting together on a fresh data
    directory do): try again until the timeout.  Once one of them has switched, the others find it done.
    """
    give_up = time.monotonic() + _OPEN_TIMEOUT
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > give_up:
                raise
            time.sleep(0.01)


# How long the checkpointer lets commits gather before it copies them into the database file: the log stays
# at a few megabytes under a busy service's writes (some 15 pages a hook call).
_CHECKPOINT_AFTER_SECONDS = 0.2


class _Checkpointer:
    """Copies committed pages from the write-ahead log into the database file, on a thread of its own.

    The thread starts with the first commit and then waits for commits, so a store that is only read costs
    no thread.  Its checkpoints are PASSIVE: they wait for no reader or writer, and writers go on appending
    to the log meanwhile.  What one leaves (a reader still on an old page) the next copies; and SQLite
    copies the rest when the last connection closes.  The thread holds no reference to the store, so an
    unclosed store can still be collected (which stops the thread)."""

    def __init__(self, path: Path, after_seconds: float) -> None:
        self._path = path
        self._after_seconds = after_seconds
        self._committed = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def committed(self) -> None:
        """Note a commit (the first one starts the thread)."""
        if self._thread is None:
            with self._start_lock:
                if self._thread is None and not self._stopped.is_set():
                    self._thread = threading.Thread(target=self._run, name="sqlite-checkpointer", daemon=True)
                    self._thread.start()
        self._committed.set()

    def stop(self, *, wait: bool = True) -> None:
        """Stop the thread after the checkpoint under way, if any.  Idempotent."""
        with self._start_lock:
            self._stopped.set()
            thread = self._thread
        self._committed.set()
        if wait and thread is not None and thread is not threading.current_thread():
            thread.join()

    def _run(self) -> None:
        try:
            conn = _connect(self._path)
        except sqlite3.Error as exc:  # the log then grows until the store closes, which copies it
            log.error("SQLite checkpointer could not connect", extra={"error_type": type(exc).__name__})
            return
        try:
            conn.execute("PRAGMA synchronous=NORMAL")
            # Stopping is checked before each wait: stop() may come while a checkpoint runs, after clear().
            while not self._stopped.is_set():
                self._committed.wait()
                # A busy service commits many times a second: let them gather (unless stopped meanwhile).
                if self._stopped.wait(self._after_seconds):
                    return
                self._committed.clear()
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as exc:  # the next commit's checkpoint tries again
                    log.warning("SQLite checkpoint failed", extra={"error_type": type(exc).__name__})
        finally:
            conn.close()


class SqliteStore(SqlStore):
    """SQLite file store.  One connection for writes (and most reads), guarded by a lock; a second one for
    the reads on a hook call's path, so that they never queue behind the background writers'
    transactions (the WAL journal lets a reader see the last commit while a write is under way); a third,
    the checkpointer's."""

    def __init__(self, path: Path, *, checkpoint_after_seconds: float = _CHECKPOINT_AFTER_SECONDS) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = _connect(path)
            _use_wal(self._conn)
            self._conn.execute("PRAGMA synchronous=NORMAL")
            # No commit copies the log into the file: the checkpointer does (see the module docstring).
            self._conn.execute("PRAGMA wal_autocheckpoint=0")
            self._checkpointer = _Checkpointer(path, checkpoint_after_seconds)
            weakref.finalize(self, self._checkpointer.stop, wait=False)
            for statement in _SCHEMA:
                self._conn.execute(statement)
            # One writer at a time: a process opening the file at the same moment finds the change made.
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._migrate(self._conn.execute)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
            self._reader_lock = threading.Lock()
            self._reader = _connect(path)
            self._reader.execute("PRAGMA query_only=ON")
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the SQLite store at {path}: {exc}") from exc

    @classmethod
    def from_url(cls, url: str) -> SqliteStore:
        """``sqlite:///relative/path.sqlite3`` or ``sqlite:////absolute/path.sqlite3``."""
        prefix = "sqlite:///"
        if not url.startswith(prefix) or len(url) == len(prefix):
            raise StoreError("a SQLite database URL looks like sqlite:///path/to/file.sqlite3")
        return cls(Path(url[len(prefix) :]))

    def close(self) -> None:
        self._checkpointer.stop()
        with self._reader_lock:
            self._reader.close()
        with self._lock:
            self._conn.close()

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        with self._reader_lock:
            try:
                return [tuple(row) for row in self._reader.execute(sql, tuple(params)).fetchall()]
            except sqlite3.Error as exc:
                raise StoreError(f"SQLite store: {type(exc).__name__}: {exc}") from exc

    def _run(self, sql: str, params: Sequence[Any] = (), *, fetch: bool = False) -> tuple[int, list[Row]]:
        with self._lock:
            try:
                cursor = self._conn.execute(sql, tuple(params))
                rows = [tuple(row) for row in cursor.fetchall()] if fetch else []
                if cursor.rowcount > 0:  # a change committed (autocommit); a query counts -1
                    self._checkpointer.committed()
                return cursor.rowcount, rows
            except sqlite3.Error as exc:
                raise StoreError(f"SQLite store: {type(exc).__name__}: {exc}") from exc

    def _run_many(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> int:
        with self._lock:
            try:
                total = 0
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    for sql, params in statements:
                        total += self._conn.execute(sql, tuple(params)).rowcount
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
                self._checkpointer.committed()
                return total
            except sqlite3.Error as exc:
                raise StoreError(f"SQLite store: {type(exc).__name__}: {exc}") from exc

    def _json_text_in(self, body: str | bytes) -> Any:
        # Bytes as they are: SQLite's CAST(? AS TEXT) takes UTF-8 bytes for the text they spell, where
        # binding a str had the driver encode it (a plan view is some 17 kB, and holds characters beyond
        # Latin-1: ×10⁹/L, ·), after the writer had decoded orjson's bytes into that str.  On a typical hook
        # call the two conversions cost more instructions than SQLite's whole write of the view.
        return body

    def _ts_in(self, value: datetime) -> str:
        # YYYY-MM-DDTHH:MM:SS.ffffffZ, fixed width (isoformat pads the year to four digits, strftime does
        # not), so text order equals time order in SQL comparisons, from year 1 to 9999.
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"

    def _ts_out(self, value: Any) -> datetime:
        return datetime.fromisoformat(str(value).removesuffix("Z")).replace(tzinfo=UTC)
