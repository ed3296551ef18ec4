"""The persistence contract: card feedback, the audit of issued cards, and the write-back outbox.

Two implementations share this contract and one test suite: :mod:`fhir_bonemet.store.sqlite` (embedded
default) and :mod:`fhir_bonemet.store.postgres`.  Both create their schema when opened, are safe to call
from several threads, and raise :class:`StoreError` (never a driver exception) when the database fails.

What is stored, and why it is safe:

- feedback: what a clinician did with a card (ids, outcome, coded override reason, free-text comment);
- issued cards: card/suggestion uuids, rule ids and indicator per hook call, so feedback can be joined to the
  rules that produced the card; no patient data;
- outbox: FHIR resources waiting to be written back (this does hold patient data, as the EHR will);
- plan views: the rendered plan behind a signed plan link (clinical data, no name or identifier), kept only
  until the link expires; expired rows are purged.
- seen tokens: (issuer, jti, expiry) of every accepted JWT, so a token is refused a second time by any
  process sharing the database, and after a restart (replay protection); no patient data.

All timestamps are timezone-aware UTC ``datetime`` objects; a naive datetime is a programming error.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, Protocol, runtime_checkable

from fhir_bonemet.errors import BonemetError

__all__ = [
    "FeedbackItem",
    "IssuedCall",
    "IssuedCard",
    "OutboxItem",
    "OutboxStatus",
    "PlanViewToStore",
    "Store",
    "StoreError",
    "StoredFeedback",
    "StoredIssuedCard",
    "StoredPlanView",
]

OutboxStatus = Literal["pending", "done", "failed"]
OUTBOX_STATUSES: tuple[OutboxStatus, ...] = ("pending", "done", "failed")


class StoreError(BonemetError):
    """The database could not be reached or refused an operation; the message carries no data values."""


@dataclass(frozen=True, slots=True)
class FeedbackItem:
    """One entry of a CDS Hooks feedback body, as it is stored."""

    card_uuid: str
    outcome: Literal["accepted", "overridden"]
    outcome_timestamp: datetime
    accepted_suggestion_ids: tuple[str, ...] = ()
    override_reason_code: str | None = None
    override_reason_system: str | None = None
    override_reason_display: str | None = None
    override_user_comment: str | None = None


@dataclass(frozen=True, slots=True)
class StoredFeedback:
    service_id: str
    item: FeedbackItem
    received_at: datetime


@dataclass(frozen=True, slots=True)
class IssuedCard:
    """What one card proposed: enough to join feedback to rule ids, nothing about the patient."""

    uuid: str
    rule_ids: tuple[str, ...]
    indicator: str
    suggestion_uuids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class IssuedCall:
    """The cards one hook answer proposed, as :meth:`Store.record_issued_batch` records them."""

    service_id: str
    hook: str
    hook_instance: str
    cards: tuple[IssuedCard, ...]


@dataclass(frozen=True, slots=True)
class StoredIssuedCard:
    service_id: str
    hook: str
    hook_instance: str
    card: IssuedCard
    issued_at: datetime


@dataclass(frozen=True, slots=True)
class OutboxItem:
    key: str
    fhir_base: str
    resource_type: str
    if_none_exist: str | None
    body_json: str
    status: OutboxStatus
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None
    location: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class StoredPlanView:
    """The plan view behind one plan link, as a store gives it back; ``patient_key`` is a keyed hash, never
    the patient id, and ``body_json`` the view's JSON text."""

    plan_id: str
    patient_key: str
    body_json: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class PlanViewToStore:
    """A plan view on its way into a store: as :class:`StoredPlanView`, but ``body_json`` may also be the
    UTF-8 bytes the writer rendered (orjson's), which the store keeps as the same text."""

    plan_id: str
    patient_key: str
    body_json: str | bytes
    expires_at: datetime


@runtime_checkable
class Store(Protocol):
    def ping(self) -> None:
        """Raise :class:`StoreError` unless the database answers a trivial query."""

    def close(self) -> None: ...

    def save_feedback(self, service_id: str, items: Sequence[FeedbackItem]) -> int:
        """Store each item once; returns how many were new (repeats of a stored item count 0)."""

    def list_feedback(
        self, service_id: str | None = None, card_uuid: str | None = None, limit: int | None = None
    ) -> list[StoredFeedback]:
        """Oldest first."""

    def record_issued_cards(
        self, service_id: str, hook: str, hook_instance: str, cards: Sequence[IssuedCard]
    ) -> None:
        """Idempotent per (hook_instance, card uuid)."""

    def record_issued_batch(self, calls: Sequence[IssuedCall]) -> None:
        """:meth:`record_issued_cards` for many answers at once, in one transaction (all or none)."""

    def issued_cards(
        self, service_id: str | None = None, hook_instance: str | None = None, card_uuid: str | None = None
    ) -> list[StoredIssuedCard]:
        """Oldest first."""

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
        """Queue a write; False (and nothing changed) when ``key`` is already queued or done.

        ``in_flight_until``: the caller is writing it now; no worker claims it before then (its lease), so
        a caller killed mid-write leaves the item for a worker once the lease has run out."""

    def outbox_due(self, now: datetime, limit: int) -> list[OutboxItem]:
        """Pending items whose next attempt is due at ``now``, oldest first."""

    def outbox_claim(self, now: datetime, lease_until: datetime, limit: int) -> list[OutboxItem]:
        """Take up to ``limit`` due pending items, oldest first, and hide them from every other claim until
        ``lease_until`` (their next attempt moves there).  Atomic across processes sharing the database:
        two concurrent claims never return the same item."""

    def outbox_discard(self, key: str) -> None:
        """Forget a queued item whose write the FHIR server refused (the plan travels in the card)."""

    def outbox_mark_done(self, key: str, location: str | None) -> None: ...

    def outbox_mark_failed(self, key: str, error: str, next_attempt_at: datetime | None) -> None:
        """Count a failed attempt; retry at ``next_attempt_at``, or give up (status failed) when None."""

    def outbox_list(self, status: OutboxStatus | None = None) -> list[OutboxItem]: ...

    def plan_put(self, plan_id: str, patient_key: str, body_json: str | bytes, expires_at: datetime) -> None:
        """Store (or replace) one plan view until ``expires_at``; rows already expired are purged.
        ``body_json``: the view's JSON, as text or UTF-8 bytes; it is kept (and given back) as text."""

    def plan_put_many(self, views: Sequence[PlanViewToStore]) -> None:
        """:meth:`plan_put` for many views at once, in one transaction (all or none); of two views with
        one ``plan_id``, the later wins."""

    def plan_get(self, plan_id: str, now: datetime) -> StoredPlanView | None:
        """The plan view if it exists and has not expired at ``now``."""

    def plan_expiry(self, plan_id: str, now: datetime) -> tuple[str, datetime] | None:
        """The patient key and expiry of the plan view, without its body, if it has not expired at ``now``."""

    def plan_purge(self, now: datetime) -> int:
        """Delete every plan view expired at ``now``; returns how many."""

    def outbox_get(self, key: str) -> OutboxItem | None:
        """The item queued under ``key`` (one indexed lookup, whatever the size of the outbox)."""

    def outbox_make_due(self, now: datetime) -> int:
        """Bring every pending item waiting for a later retry forward to ``now`` (attempts unchanged);
        returns how many (an operator's ``outbox --retry --force``)."""

    def outbox_prune_done(self, before: datetime) -> int:
        """Delete done items last updated before ``before``; returns how many.  Pending and failed items
        are never pruned."""

    def remember_token(self, issuer: str, jti: str, expires_at: datetime) -> bool:
        """Record a JWT id until ``expires_at``; False (nothing changed) when the pair is already recorded
        and has not expired.  Atomic across every process sharing the database: of two concurrent calls
        with one pair, exactly one gets True."""

    def purge_expired_tokens(self, now: datetime) -> int:
        """Forget recorded JWT ids whose expiry has passed; returns how many."""


def to_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("timestamps must be timezone-aware")
    return value.astimezone(UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)


def feedback_key(service_id: str, item: FeedbackItem) -> str:
    """The idempotency key of a feedback item: a client reporting the same action twice is stored once.

    What the clinician said (override reason and comment) is part of the action: two overrides of one card
    at one instant with different reasons are two pieces of feedback, both kept; a retry of the same one is
    still dropped.  Feedback that says nothing keeps the key it always had, so the stored rows of an older
    database need new keys only when they carry a reason or comment (``SqlStore`` rekeys those once).
    """
    parts = [
        service_id,
        item.card_uuid,
        item.outcome,
        to_utc(item.outcome_timestamp).isoformat(timespec="microseconds"),
        *sorted(item.accepted_suggestion_ids),
    ]
    said = (
        item.override_reason_system,
        item.override_reason_code,
        item.override_reason_display,
        item.override_user_comment,
    )
    if any(value is not None for value in said):
        # One JSON array after a record separator: unambiguous (None apart from "", no text can end a part).
        parts.append("\x1e" + json.dumps(said))
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def check_status(status: str | None) -> None:
    if status is not None and status not in OUTBOX_STATUSES:
        raise ValueError(f"outbox status must be one of {', '.join(OUTBOX_STATUSES)}")
