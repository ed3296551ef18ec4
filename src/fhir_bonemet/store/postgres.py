"""PostgreSQL store (psycopg 3), selected when ``BONEMET_DATABASE_URL`` is a ``postgresql://`` URL.

Tables live in one schema (``public`` unless told otherwise) that is created on open.  Each connection (one
for writes, one for the reads on a hook call's path) is shared under a lock; when it breaks, the next call
reconnects.  A failed statement is never retried
blindly, because an update (an outbox attempt counter) must not be applied twice.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql

from fhir_bonemet.store.base import StoreError
from fhir_bonemet.store.sql import Row, SqlStore, schema

__all__ = ["PostgresStore"]

_SCHEMA = schema(row_number="BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY", timestamp="TIMESTAMPTZ")


def _pg(statement: str) -> str:
    # The shared statements use DB-API "qmark" placeholders; psycopg wants "format" ones.
    return statement.replace("?", "%s")


def _error(exc: psycopg.Error) -> StoreError:
    # Only the class and SQLSTATE: PostgreSQL messages can quote row values.
    state = getattr(exc, "sqlstate", None) or "-"
    return StoreError(f"PostgreSQL store: {type(exc).__name__} (SQLSTATE {state})")


# Advisory lock key that serialises schema set-up across processes (an arbitrary, fixed 64-bit number).
_SCHEMA_LOCK = 0x626F6E656D6574  # "bonemet"


class _Link:
    """One connection shared under a lock; when it breaks, the next use reconnects."""

    def __init__(self, url: str, schema: str, connect_timeout: int) -> None:
        self._url = url
        self._schema = schema
        self._connect_timeout = connect_timeout
        self.lock = threading.Lock()
        self._conn: psycopg.Connection[Any] | None = None
        self.closed = False

    def connection(self) -> psycopg.Connection[Any]:
        """The live connection, (re)connecting and selecting the schema when needed.  The caller holds
        :attr:`lock`."""
        if self.closed:
            raise StoreError("PostgreSQL store: used after close()")
        if self._conn is not None and not self._conn.closed and not self._conn.broken:
            return self._conn
        try:
            conn = psycopg.connect(self._url, autocommit=True, connect_timeout=self._connect_timeout)
            # Another process may create the schema in the same instant.
            with contextlib.suppress(psycopg.errors.UniqueViolation, psycopg.errors.DuplicateSchema):
                conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self._schema)))
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self._schema)))
        except psycopg.Error as exc:
            raise _error(exc) from exc
        self._conn = conn
        return conn

    def close(self) -> None:
        with self.lock:
            self.closed = True
            if self._conn is not None:
                self._conn.close()


class PostgresStore(SqlStore):
    """Writes (and most reads) on one connection; the reads on a hook call's path on a second one, so that
    they never queue behind the background writers' transactions."""

    _claim_lock = " FOR UPDATE SKIP LOCKED"

    def __init__(self, url: str, *, schema: str = "public", connect_timeout: int = 5) -> None:
        self.schema = schema
        self._writer = _Link(url, schema, connect_timeout)
        self._reader = _Link(url, schema, connect_timeout)  # connects on its first read
        with self._writer.lock:
            conn = self._writer.connection()
            try:
                # Several processes (workers, replicas) may start at once on a fresh database, and
                # concurrent CREATE ... IF NOT EXISTS can still collide in PostgreSQL's catalogue.  One
                # transaction under an advisory lock makes the schema set-up happen once, in turn.
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                    for statement in _SCHEMA:
                        conn.execute(statement)
                    self._migrate(lambda statement, params: conn.execute(_pg(statement), tuple(params)))
            except psycopg.Error as exc:
                conn.close()
                raise _error(exc) from exc

    def close(self) -> None:
        self._reader.close()
        self._writer.close()

    def _run(
        self, statement: str, params: Sequence[Any] = (), *, fetch: bool = False
    ) -> tuple[int, list[Row]]:
        with self._writer.lock:
            conn = self._writer.connection()
            try:
                cursor = conn.execute(_pg(statement), tuple(params))
                rows = [tuple(row) for row in cursor.fetchall()] if fetch else []
                return cursor.rowcount, rows
            except psycopg.Error as exc:
                raise _error(exc) from exc

    def _read(self, statement: str, params: Sequence[Any] = ()) -> list[Row]:
        with self._reader.lock:
            conn = self._reader.connection()
            try:
                return [tuple(row) for row in conn.execute(_pg(statement), tuple(params)).fetchall()]
            except psycopg.Error as exc:
                raise _error(exc) from exc

    def _run_many(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> int:
        with self._writer.lock:
            conn = self._writer.connection()
            try:
                total = 0
                with conn.transaction():
                    for statement, params in statements:
                        total += conn.execute(_pg(statement), tuple(params)).rowcount
                return total
            except psycopg.Error as exc:
                raise _error(exc) from exc

    def _ts_in(self, value: datetime) -> datetime:
        return value.astimezone(UTC)

    def _ts_out(self, value: Any) -> datetime:
        if not isinstance(value, datetime):
            raise StoreError("PostgreSQL store: a timestamp column returned a non-timestamp value")
        return value.astimezone(UTC)
