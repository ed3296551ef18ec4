"""Behaviour shared by the SQL stores: one schema, one set of statements, one set of row conversions.

Subclasses provide a connection (``_run``), the two dialect words of the schema (:func:`schema`), and how
timestamps travel to and from the driver.
Statements are written with ``?`` placeholders; the PostgreSQL store rewrites them to ``%s``.  Only our
own constants (column lists, column names) are ever formatted into SQL text (hence the ``noqa: S608``
marks); every value travels as a bound parameter.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, cast

import orjson

from fhir_bonemet.store.base import (
    FeedbackItem,
    IssuedCall,
    IssuedCard,
    OutboxItem,
    OutboxStatus,
    PlanViewToStore,
    StoredFeedback,
    StoredIssuedCard,
    StoredPlanView,
    check_status,
    feedback_key,
    to_utc,
    utc_now,
)

__all__ = ["Row", "SqlStore", "schema"]

Row = tuple[Any, ...]

_FEEDBACK_COLUMNS = (
    "service_id, card_uuid, outcome, outcome_timestamp, accepted_suggestion_ids, override_reason_code, "
    "override_reason_system, override_reason_display, override_user_comment, received_at"
)
_ISSUED_COLUMNS = (
    "service_id, hook, hook_instance, card_uuid, rule_ids, indicator, suggestion_uuids, issued_at"
)
_OUTBOX_COLUMNS = (
    "key, fhir_base, resource_type, if_none_exist, body_json, status, attempts, last_error, next_attempt_at, "
    "location, created_at, updated_at"
)


def schema(row_number: str, timestamp: str) -> tuple[str, ...]:
    """The tables and indexes, created when a store opens.

    The dialects differ only in how ``seq`` (the insertion order every listing follows) is generated
    and in the column type of timestamps; ``row_number`` and ``timestamp`` are our own constants.
    """
    return (
        f"""CREATE TABLE IF NOT EXISTS feedback (
        seq {row_number},
        key TEXT NOT NULL UNIQUE,
        service_id TEXT NOT NULL,
        card_uuid TEXT NOT NULL,
        outcome TEXT NOT NULL,
        outcome_timestamp {timestamp} NOT NULL,
        accepted_suggestion_ids TEXT NOT NULL,
        override_reason_code TEXT,
        override_reason_system TEXT,
        override_reason_display TEXT,
        override_user_comment TEXT,
        received_at {timestamp} NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS feedback_card ON feedback (card_uuid)",
        f"""CREATE TABLE IF NOT EXISTS issued_cards (
        seq {row_number},
        service_id TEXT NOT NULL,
        hook TEXT NOT NULL,
        hook_instance TEXT NOT NULL,
        card_uuid TEXT NOT NULL,
        rule_ids TEXT NOT NULL,
        indicator TEXT NOT NULL,
        suggestion_uuids TEXT NOT NULL,
        issued_at {timestamp} NOT NULL,
        UNIQUE (hook_instance, card_uuid))""",
        "CREATE INDEX IF NOT EXISTS issued_cards_card ON issued_cards (card_uuid)",
        f"""CREATE TABLE IF NOT EXISTS outbox (
        seq {row_number},
        key TEXT NOT NULL UNIQUE,
        fhir_base TEXT NOT NULL,
        resource_type TEXT NOT NULL,
        if_none_exist TEXT,
        body_json TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'done', 'failed')),
        attempts INTEGER NOT NULL,
        last_error TEXT,
        next_attempt_at {timestamp},
        location TEXT,
        created_at {timestamp} NOT NULL,
        updated_at {timestamp} NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS outbox_status ON outbox (status, next_attempt_at)",
        f"""CREATE TABLE IF NOT EXISTS plan_views (
        plan_id TEXT PRIMARY KEY,
        patient_key TEXT NOT NULL,
        body_json TEXT NOT NULL,
        expires_at {timestamp} NOT NULL,
        created_at {timestamp} NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS plan_views_expiry ON plan_views (expires_at)",
        f"""CREATE TABLE IF NOT EXISTS seen_tokens (
        issuer TEXT NOT NULL,
        jti TEXT NOT NULL,
        expires_at {timestamp} NOT NULL,
        PRIMARY KEY (issuer, jti))""",
        "CREATE INDEX IF NOT EXISTS seen_tokens_expiry ON seen_tokens (expires_at)",
        # The changes made to a database an earlier version created, each applied once (SqlStore._migrate).
        f"""CREATE TABLE IF NOT EXISTS store_migrations (
        name TEXT PRIMARY KEY,
        applied_at {timestamp} NOT NULL)""",
    )


# Feedback keys now include the override reason and comment (base.feedback_key): rows stored before keep
# the old key until rekeyed, and a retry of one of them would otherwise be stored a second time.
_FEEDBACK_KEY_MIGRATION = "feedback-key-with-override-reason"
_SAYS_SOMETHING = (
    "override_reason_code IS NOT NULL OR override_reason_system IS NOT NULL "
    "OR override_reason_display IS NOT NULL OR override_user_comment IS NOT NULL"
)


class SqlStore(ABC):
    """A :class:`~fhir_bonemet.store.base.Store` over a DB-API connection."""

    # How a claim's inner SELECT locks the rows it picks.  SQLite has one writer at a time, so its UPDATE is
    # atomic as it stands; PostgreSQL adds FOR UPDATE SKIP LOCKED, so concurrent claims pass each other by.
    _claim_lock: str = ""

    @abstractmethod
    def _run(self, sql: str, params: Sequence[Any] = (), *, fetch: bool = False) -> tuple[int, list[Row]]:
        """Execute one statement atomically; return (rowcount, rows if ``fetch``)."""

    @abstractmethod
    def _run_many(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> int:
        """Execute statements in one transaction; return the summed rowcount."""

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Rows of one query made on a hook call's path: a store that can read beside its writer (without
        waiting for the background writers' transactions) overrides this."""
        return self._run(sql, params, fetch=True)[1]

    @abstractmethod
    def _ts_in(self, value: datetime) -> Any: ...

    @abstractmethod
    def _ts_out(self, value: Any) -> datetime: ...

    def _ts_out_opt(self, value: Any) -> datetime | None:
        return None if value is None else self._ts_out(value)

    def _migrate(self, execute: Callable[[str, Sequence[Any]], Any]) -> None:
        """Bring a database made by an earlier version up to date, inside the caller's schema transaction
        (``execute`` runs one qmark statement there and returns its cursor), so that processes opening it
        together apply each change once."""
        done = execute("SELECT 1 FROM store_migrations WHERE name = ?", (_FEEDBACK_KEY_MIGRATION,))
        if done.fetchall():
            return
        stored = execute(
            f"SELECT seq, {_FEEDBACK_COLUMNS} FROM feedback WHERE {_SAYS_SOMETHING}",  # noqa: S608
            (),
        ).fetchall()
        for row in stored:
            entry = self._feedback(tuple(row[1:]))
            execute(
                "UPDATE feedback SET key = ? WHERE seq = ?",
                (feedback_key(entry.service_id, entry.item), row[0]),
            )
        execute(
            "INSERT INTO store_migrations (name, applied_at) VALUES (?, ?)",
            (_FEEDBACK_KEY_MIGRATION, self._ts_in(utc_now())),
        )

    # --- health ---------------------------------------------------------------------------------------
    def ping(self) -> None:
        self._run("SELECT 1", fetch=True)

    # --- feedback -------------------------------------------------------------------------------------
    def save_feedback(self, service_id: str, items: Sequence[FeedbackItem]) -> int:
        received = self._ts_in(utc_now())
        statements = [
            (
                f"INSERT INTO feedback (key, {_FEEDBACK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "  # noqa: S608
                "ON CONFLICT (key) DO NOTHING",
                (
                    feedback_key(service_id, item),
                    service_id,
                    item.card_uuid,
                    item.outcome,
                    self._ts_in(to_utc(item.outcome_timestamp)),
                    json.dumps(list(item.accepted_suggestion_ids)),
                    item.override_reason_code,
                    item.override_reason_system,
                    item.override_reason_display,
                    item.override_user_comment,
                    received,
                ),
            )
            for item in items
        ]
        return self._run_many(statements) if statements else 0

    def list_feedback(
        self, service_id: str | None = None, card_uuid: str | None = None, limit: int | None = None
    ) -> list[StoredFeedback]:
        where, params = _filters(service_id=service_id, card_uuid=card_uuid)
        sql = f"SELECT {_FEEDBACK_COLUMNS} FROM feedback{where} ORDER BY seq"  # noqa: S608
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        _, rows = self._run(sql, params, fetch=True)
        return [self._feedback(row) for row in rows]

    def _feedback(self, row: Row) -> StoredFeedback:
        item = FeedbackItem(
            card_uuid=row[1],
            outcome=row[2],
            outcome_timestamp=self._ts_out(row[3]),
            accepted_suggestion_ids=tuple(json.loads(row[4])),
            override_reason_code=row[5],
            override_reason_system=row[6],
            override_reason_display=row[7],
            override_user_comment=row[8],
        )
        return StoredFeedback(service_id=row[0], item=item, received_at=self._ts_out(row[9]))

    # --- audit of issued cards ------------------------------------------------------------------------
    def record_issued_cards(
        self, service_id: str, hook: str, hook_instance: str, cards: Sequence[IssuedCard]
    ) -> None:
        self.record_issued_batch([IssuedCall(service_id, hook, hook_instance, tuple(cards))])

    def record_issued_batch(self, calls: Sequence[IssuedCall]) -> None:
        issued = self._ts_in(utc_now())
        rows = [
            (
                call.service_id,
                call.hook,
                call.hook_instance,
                card.uuid,
                # orjson: the audit is written for every answer, and json.dumps cost a third of it.
                orjson.dumps(card.rule_ids).decode(),
                card.indicator,
                orjson.dumps(card.suggestion_uuids).decode(),
                issued,
            )
            for call in calls
            for card in call.cards
        ]
        statements = _multi_row(
            f"INSERT INTO issued_cards ({_ISSUED_COLUMNS}) VALUES {{rows}} "  # noqa: S608
            "ON CONFLICT (hook_instance, card_uuid) DO NOTHING",
            rows,
        )
        if statements:
            self._run_many(statements)

    def issued_cards(
        self, service_id: str | None = None, hook_instance: str | None = None, card_uuid: str | None = None
    ) -> list[StoredIssuedCard]:
        where, params = _filters(service_id=service_id, hook_instance=hook_instance, card_uuid=card_uuid)
        _, rows = self._run(
            f"SELECT {_ISSUED_COLUMNS} FROM issued_cards{where} ORDER BY seq",  # noqa: S608
            params,
            fetch=True,
        )
        return [
            StoredIssuedCard(
                service_id=row[0],
                hook=row[1],
                hook_instance=row[2],
                card=IssuedCard(
                    uuid=row[3],
                    rule_ids=tuple(json.loads(row[4])),
                    indicator=row[5],
                    suggestion_uuids=tuple(json.loads(row[6])),
                ),
                issued_at=self._ts_out(row[7]),
            )
            for row in rows
        ]

    # --- write-back outbox ----------------------------------------------------------------------------
    def outbox_put(
        self,
        key: str,
        fhir_base: str,
        resource_type: str,
        if_none_exist: str | None,
        body_json: str,
        *,
        in_flight_until: datetime | None = None,
    ) -> bool:
        now = self._ts_in(utc_now())
        lease = None if in_flight_until is None else self._ts_in(to_utc(in_flight_until))
        count, _ = self._run(
            f"INSERT INTO outbox ({_OUTBOX_COLUMNS}) "  # noqa: S608
            "VALUES (?, ?, ?, ?, ?, 'pending', 0, NULL, ?, NULL, ?, ?) "
            "ON CONFLICT (key) DO NOTHING",
            (key, fhir_base, resource_type, if_none_exist, body_json, lease, now, now),
        )
        return count == 1

    def outbox_claim(self, now: datetime, lease_until: datetime, limit: int) -> list[OutboxItem]:
        due = "status = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= ?)"
        at = self._ts_in(to_utc(now))
        # The picked keys are materialised once (a LIMIT inside "key IN (…)" may be re-run by the planner
        # and pick more); the outer WHERE repeats the due test, so a row leased meanwhile is left alone.
        returning = ", ".join(f"outbox.{column.strip()}" for column in _OUTBOX_COLUMNS.split(","))
        _, rows = self._run(
            f"WITH picked AS MATERIALIZED (SELECT key FROM outbox WHERE {due} "  # noqa: S608
            f"ORDER BY seq LIMIT ?{self._claim_lock}) "
            "UPDATE outbox SET next_attempt_at = ?, updated_at = ? FROM picked "
            f"WHERE outbox.key = picked.key AND {due} RETURNING {returning}",
            (at, int(limit), self._ts_in(to_utc(lease_until)), self._ts_in(utc_now()), at),
            fetch=True,
        )
        return sorted((self._outbox(row) for row in rows), key=lambda item: item.created_at)

    def outbox_discard(self, key: str) -> None:
        self._run("DELETE FROM outbox WHERE key = ?", (key,))

    def outbox_due(self, now: datetime, limit: int) -> list[OutboxItem]:
        _, rows = self._run(
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE status = 'pending' "  # noqa: S608
            "AND (next_attempt_at IS NULL OR next_attempt_at <= ?) ORDER BY seq LIMIT ?",
            (self._ts_in(to_utc(now)), int(limit)),
            fetch=True,
        )
        return [self._outbox(row) for row in rows]

    def outbox_mark_done(self, key: str, location: str | None) -> None:
        count, _ = self._run(
            "UPDATE outbox SET status = 'done', location = ?, next_attempt_at = NULL, updated_at = ? "
            "WHERE key = ?",
            (location, self._ts_in(utc_now()), key),
        )
        if count != 1:
            raise KeyError("no outbox item with that key")

    def outbox_mark_failed(self, key: str, error: str, next_attempt_at: datetime | None) -> None:
        status = "pending" if next_attempt_at is not None else "failed"
        retry_at = None if next_attempt_at is None else self._ts_in(to_utc(next_attempt_at))
        count, _ = self._run(
            "UPDATE outbox SET status = ?, attempts = attempts + 1, last_error = ?, next_attempt_at = ?, "
            "updated_at = ? WHERE key = ?",
            (status, error, retry_at, self._ts_in(utc_now()), key),
        )
        if count != 1:
            raise KeyError("no outbox item with that key")

    def outbox_get(self, key: str) -> OutboxItem | None:
        _, rows = self._run(
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE key = ?",  # noqa: S608
            (key,),
            fetch=True,
        )
        return self._outbox(rows[0]) if rows else None

    def outbox_make_due(self, now: datetime) -> int:
        at = self._ts_in(to_utc(now))
        count, _ = self._run(
            "UPDATE outbox SET next_attempt_at = ?, updated_at = ? "
            "WHERE status = 'pending' AND next_attempt_at > ?",
            (at, self._ts_in(utc_now()), at),
        )
        return max(count, 0)

    def outbox_prune_done(self, before: datetime) -> int:
        count, _ = self._run(
            "DELETE FROM outbox WHERE status = 'done' AND updated_at < ?", (self._ts_in(to_utc(before)),)
        )
        return max(count, 0)

    def outbox_list(self, status: OutboxStatus | None = None) -> list[OutboxItem]:
        check_status(status)
        where, params = _filters(status=status)
        _, rows = self._run(f"SELECT {_OUTBOX_COLUMNS} FROM outbox{where} ORDER BY seq", params, fetch=True)  # noqa: S608
        return [self._outbox(row) for row in rows]

    # --- replay protection ---------------------------------------------------------------------------
    def remember_token(self, issuer: str, jti: str, expires_at: datetime) -> bool:
        # One statement, so the database arbitrates between processes: a new pair is inserted, an expired
        # one is renewed, a live one matches the conflict clause's WHERE false and changes no row.
        now = self._ts_in(utc_now())
        count, _ = self._run(
            "INSERT INTO seen_tokens (issuer, jti, expires_at) VALUES (?, ?, ?) "
            "ON CONFLICT (issuer, jti) DO UPDATE SET expires_at = excluded.expires_at "
            "WHERE seen_tokens.expires_at <= ?",
            (issuer, jti, self._ts_in(to_utc(expires_at)), now),
        )
        return count == 1

    def purge_expired_tokens(self, now: datetime) -> int:
        count, _ = self._run("DELETE FROM seen_tokens WHERE expires_at <= ?", (self._ts_in(to_utc(now)),))
        return max(count, 0)

    def _outbox(self, row: Row) -> OutboxItem:
        return OutboxItem(
            key=row[0],
            fhir_base=row[1],
            resource_type=row[2],
            if_none_exist=row[3],
            body_json=row[4],
            status=cast(OutboxStatus, row[5]),
            attempts=int(row[6]),
            last_error=row[7],
            next_attempt_at=self._ts_out_opt(row[8]),
            location=row[9],
            created_at=self._ts_out(row[10]),
            updated_at=self._ts_out(row[11]),
        )

    # --- plan views behind signed links --------------------------------------------------------------------
    def plan_put(self, plan_id: str, patient_key: str, body_json: str | bytes, expires_at: datetime) -> None:
        self.plan_put_many([PlanViewToStore(plan_id, patient_key, body_json, expires_at)])

    def _json_text_in(self, body: str | bytes) -> Any:
        """A JSON body, text or UTF-8 bytes, as the parameter of a ``CAST(? AS TEXT)``: text here (a
        store whose driver turns bytes into text at no cost passes them as they are)."""
        return body.decode("utf-8") if isinstance(body, bytes) else body

    def plan_put_many(self, views: Sequence[PlanViewToStore]) -> None:
        if not views:
            return
        now = self._ts_in(utc_now())
        latest = {view.plan_id: view for view in views}  # one row may be set once per statement
        text = self._json_text_in
        rows = [
            (v.plan_id, v.patient_key, text(v.body_json), self._ts_in(to_utc(v.expires_at)), now)
            for v in latest.values()
        ]
        # The body's placeholder is cast to text: a store may bind it as UTF-8 bytes (see _json_text_in).
        self._run_many(
            [
                ("DELETE FROM plan_views WHERE expires_at <= ?", (now,)),
                *_multi_row(
                    "INSERT INTO plan_views (plan_id, patient_key, body_json, expires_at, created_at) "
                    "VALUES {rows} ON CONFLICT (plan_id) DO UPDATE SET patient_key = excluded.patient_key, "
                    "body_json = excluded.body_json, expires_at = excluded.expires_at",
                    rows,
                    casts={2: "TEXT"},
                ),
            ]
        )

    def plan_get(self, plan_id: str, now: datetime) -> StoredPlanView | None:
        rows = self._read(
            "SELECT plan_id, patient_key, body_json, expires_at FROM plan_views "
            "WHERE plan_id = ? AND expires_at > ?",
            (plan_id, self._ts_in(to_utc(now))),
        )
        if not rows:
            return None
        row = rows[0]
        return StoredPlanView(row[0], row[1], row[2], self._ts_out(row[3]))

    def plan_expiry(self, plan_id: str, now: datetime) -> tuple[str, datetime] | None:
        rows = self._read(
            "SELECT patient_key, expires_at FROM plan_views WHERE plan_id = ? AND expires_at > ?",
            (plan_id, self._ts_in(to_utc(now))),
        )
        return (rows[0][0], self._ts_out(rows[0][1])) if rows else None

    def plan_purge(self, now: datetime) -> int:
        count, _ = self._run("DELETE FROM plan_views WHERE expires_at <= ?", (self._ts_in(to_utc(now)),))
        return max(count, 0)


# Rows per INSERT: well under SQLite's and PostgreSQL's limits on bound parameters.
_ROWS_PER_STATEMENT = 100


def _multi_row(
    template: str, rows: Sequence[tuple[Any, ...]], *, casts: Mapping[int, str] | None = None
) -> list[tuple[str, list[Any]]]:
    """``template`` (with ``{rows}`` where its VALUES go) as statements of up to
    :data:`_ROWS_PER_STATEMENT` rows each; ``casts`` gives the SQL type some columns' placeholders are
    cast to (by column index).

    A batch is written with one statement per hundred rows rather than one per row: the database driver
    lets go of the GIL around every statement, and a background writer that lets go of it waits for the
    busy request thread to hand it back (up to the interpreter's switch interval, 5 ms) each time.  Row by
    row, the writers fell behind a busy service and their queues grew without bound.
    """
    statements = []
    for start in range(0, len(rows), _ROWS_PER_STATEMENT):
        chunk = rows[start : start + _ROWS_PER_STATEMENT]
        marks = [f"CAST(? AS {casts[i]})" if casts and i in casts else "?" for i in range(len(chunk[0]))]
        placeholders = ", ".join(["(" + ", ".join(marks) + ")"] * len(chunk))
        statements.append((template.format(rows=placeholders), [value for row in chunk for value in row]))
    return statements


def _filters(**conditions: str | None) -> tuple[str, list[Any]]:
    """A WHERE clause for the given column=value conditions; None means 'any'.  Column names are ours."""
    used = [(column, value) for column, value in conditions.items() if value is not None]
    if not used:
        return "", []
    return " WHERE " + " AND ".join(f"{column} = ?" for column, _ in used), [value for _, value in used]
