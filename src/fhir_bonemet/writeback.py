"""Getting the CarePlan into the EHR: ``suggest`` (default) or ``write`` mode, with a durable outbox.

* ``suggest``: nothing is written; the CarePlan travels in the exercise card's *create* action and exists
  only once a clinician accepts it.
* ``write``: the service creates the CarePlan as a ``draft`` on ``fhirServer`` with a conditional create
  (``If-None-Exist: identifier=<system>|<value>``), and the card offers an *update* that makes it active.
  It writes only when the hook's ``fhirAuthorization.scope`` grants writing CarePlan; otherwise, and when the
  server refuses the write (4xx), nothing is written and the plan travels in the card as in ``suggest``.

Never lost, never duplicated: the plan is put into the store's outbox under a key derived from the server
and the plan identifier (a second put of the same key is a no-op) *before* it is sent, "in flight" under a
lease; success marks it done, a transient failure (5xx, 429, timeout, connection error) leaves it due for
:func:`drain_outbox` with exponential backoff, and a process killed mid-write leaves it for the worker once
the lease runs out.  Workers claim items under a lease in the database (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL), so several processes or hosts sharing it retry each item once.  Every attempt is a conditional
create, so a retry after a lost response finds the plan instead of creating it again.

Credentials: the hook's access token is used for the first attempt only and is **never stored**.  Retries
from the outbox run later, outside the hook call, with the service's own write-back credential
(``BONEMET_WRITEBACK_TOKEN``, a bearer token issued to the service for writing CarePlans) or, when none is
configured, with no Authorization header (for servers that authorise the service by network or mTLS).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Literal

import requests

from fhir_bonemet.client.fhir import FhirClient, FhirServerNotAllowedError, ServerPolicy, Timeouts
from fhir_bonemet.client.policy import server_policy
from fhir_bonemet.errors import FhirClientError
from fhir_bonemet.fhir.outbound.careplan import BuiltCarePlan, CarePlanStatus, with_status
from fhir_bonemet.settings import Settings
from fhir_bonemet.store.base import OutboxItem, Store, StoreError

__all__ = [
    "Delivery",
    "DrainReport",
    "OutboxWorker",
    "WriteOutcome",
    "WritebackMode",
    "backoff",
    "deliver_careplan",
    "drain_configured",
    "drain_outbox",
    "outbox_key",
    "scope_allows_write",
    "start_outbox_worker",
]

log = logging.getLogger(__name__)

BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=1)
LEASE_MARGIN = timedelta(seconds=2)
_TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
# SMART v1 "user/CarePlan.write", "patient/*.*"; SMART v2 "user/CarePlan.cruds", "patient/*.c".
_SCOPE = re.compile(r"^(user|patient|system)/(CarePlan|\*)\.(write|\*|[cruds]+)$")


class WritebackMode(StrEnum):
    SUGGEST = "suggest"
    WRITE = "write"


@dataclass(frozen=True, slots=True)
class WriteOutcome:
    state: Literal["written", "existing", "queued", "no-scope", "rejected"]
    location: str | None = None  # "CarePlan/<id>" when written or found
    reason: str = ""  # for logs: never patient data or tokens


@dataclass(frozen=True, slots=True)
class Delivery:
    """What the card builder needs: the plan to offer, and where it was written (or that it is queued)."""

    careplan: BuiltCarePlan | None
    location: str | None = None
    queued: bool = False
    outcome: WriteOutcome | None = None


def scope_allows_write(scope: str | None) -> bool:
    """True when a space-separated SMART scope string lets the token create CarePlans."""
    for item in (scope or "").split():
        match = _SCOPE.match(item)
        if match and (match.group(3) in ("write", "*") or "c" in match.group(3)):
            return True
    return False


def outbox_key(fhir_base: str, if_none_exist: str) -> str:
    return hashlib.sha256(f"{fhir_base.rstrip('/')}\n{if_none_exist}".encode()).hexdigest()


def backoff(attempts: int, base: timedelta = BACKOFF_BASE) -> timedelta:
    """Delay before the next try after ``attempts`` failed ones: 30 s, 1 min, 2 min … capped at 1 h."""
    delay: timedelta = base * (2 ** max(0, min(attempts, 16)))
    return min(delay, BACKOFF_CAP)


def _transient(exc: FhirClientError) -> bool:
    return exc.status is None or exc.status in _TRANSIENT_STATUS


def _location(resource_type: str, resource_id: str | None) -> str | None:
    return f"{resource_type}/{resource_id}" if resource_id else None


def deliver_careplan(
    plan: BuiltCarePlan | None,
    *,
    mode: WritebackMode,
    client: FhirClient | None,
    scope: str | None,
    store: Store,
    now: datetime,
    retry_base: timedelta = BACKOFF_BASE,
) -> Delivery:
    """Write the plan in ``write`` mode when allowed; otherwise hand it to the card as a suggestion."""
    if plan is None or mode is WritebackMode.SUGGEST or client is None:
        return Delivery(plan)
    outcome = write_careplan(plan, client=client, scope=scope, store=store, now=now, retry_base=retry_base)
    log.info("careplan write-back: %s (%s)", outcome.state, outcome.reason)
    if outcome.state in ("written", "existing"):
        return Delivery(plan, location=outcome.location, outcome=outcome)
    if outcome.state == "queued":
        return Delivery(plan, queued=True, outcome=outcome)
    # Not written: the plan travels in the card instead, as a suggestion a clinician accepts (so active).
    return Delivery(with_status(plan, CarePlanStatus.ACTIVE), outcome=outcome)


def _queued_item(store: Store, key: str) -> OutboxItem | None:
    try:
        return store.outbox_get(key)
    except StoreError:
        log.warning("careplan write-back: outbox unreadable")
        return None


def write_careplan(
    plan: BuiltCarePlan,
    *,
    client: FhirClient,
    scope: str | None,
    store: Store,
    now: datetime,
    retry_base: timedelta = BACKOFF_BASE,
) -> WriteOutcome:
    """One conditional create of the plan as a draft, queued in the outbox *before* it is sent.

    The plan goes into the outbox "in flight" (a lease no worker claims before it runs out) and only then to
    the FHIR server: done on success, due for a retry on a transient failure, forgotten when the server
    refuses it.  A process killed at any point leaves the plan queued, and the worker writes it once the
    lease has run out; the conditional create makes that retry find a plan the killed call did write.
    """
    if not scope_allows_write(scope):
        return WriteOutcome("no-scope", reason="the access token's scope does not allow writing CarePlan")
    draft = with_status(plan, CarePlanStatus.DRAFT)
    key = outbox_key(client.base_url, draft.if_none_exist)
    body = json.dumps(draft.resource, separators=(",", ":"), ensure_ascii=False)
    try:
        in_flight = store.outbox_put(
            key, client.base_url, "CarePlan", draft.if_none_exist, body, in_flight_until=now + _lease(client)
        )
    except StoreError:
        log.warning("careplan write-back: outbox unwritable; writing without a durable queue entry")
        in_flight = False
    earlier = None if in_flight else _queued_item(store, key)
    if earlier is not None and earlier.status == "pending":
        # Being written by another call, or waiting for the retry worker: one writer per plan.
        return WriteOutcome("queued", reason="an earlier write of this plan is in flight or in the outbox")
    try:
        result = client.conditional_create(draft.resource, draft.if_none_exist)
    except FhirClientError as exc:
        if not _transient(exc):
            if in_flight:
                _settle(store.outbox_discard, key)
            return WriteOutcome("rejected", reason=f"FHIR server refused the write ({exc.status})")
        if earlier is not None and earlier.status == "done" and earlier.location:
            return WriteOutcome("existing", earlier.location, "written earlier through the outbox")
        return _queue(store, key, client.base_url, draft, str(exc), now + backoff(0, retry_base), in_flight)
    if result.resource_id is None:
        # The server took the plan (2xx) but its answer names no id (unreadable body, no Location): never
        # offer a second create.  The outbox repeats the conditional create, which finds the plan and
        # learns its id; until then the card says the write is being confirmed.
        error = f"HTTP {result.status} without a CarePlan id"
        return _queue(store, key, client.base_url, draft, error, now + backoff(0, retry_base), in_flight)
    location = _location("CarePlan", result.resource_id)
    if in_flight:
        # Should this fail, the worker repeats the conditional create after the lease: it finds the plan.
        _settle(store.outbox_mark_done, key, location)
    state: Literal["written", "existing"] = "written" if result.status == 201 else "existing"
    return WriteOutcome(state, location, f"HTTP {result.status}")


def _lease(client: FhirClient) -> timedelta:
    """How long a write in flight keeps the worker away: the hook call's budget (or one connect and read
    timeout, retried once, without a deadline) and a margin, so a live call is never raced by the worker."""
    if client.deadline is not None:
        budget = max(0.0, client.deadline - time.monotonic())
    else:
        budget = 2 * (client.timeouts.connect + client.timeouts.read)
    return timedelta(seconds=budget) + LEASE_MARGIN


def _settle(update: Callable[..., None], *args: str | None) -> None:
    try:
        update(*args)
    except (StoreError, KeyError):
        log.warning("careplan write-back: outbox not updated after the write; the worker will check it")


def _queue(
    store: Store,
    key: str,
    base: str,
    draft: BuiltCarePlan,
    error: str,
    retry_at: datetime,
    in_flight: bool,
) -> WriteOutcome:
    body = json.dumps(draft.resource, separators=(",", ":"), ensure_ascii=False)
    try:
        queued_here = in_flight or store.outbox_put(key, base, "CarePlan", draft.if_none_exist, body)
        # Another hook call for the same plan may have queued it since this one looked: its attempt is
        # counted already, and counting every concurrent caller would push the retry out to the cap.
        existing = None if queued_here else store.outbox_get(key)
        if existing is None or existing.status != "pending":
            # The direct attempt counts as the first one: the worker waits one backoff step, which also
            # leaves time for a server that answered too slowly to finish what it may still be doing.
            store.outbox_mark_failed(key, error, retry_at)
    except (StoreError, KeyError):
        if in_flight:
            # Queued already (in flight): the worker takes it once the lease runs out.
            return WriteOutcome("queued", reason=f"write failed ({error}); queued for retry")
        # Could not queue: say so, and let the plan travel in the card so it is still not lost.
        return WriteOutcome("rejected", reason="write failed and the outbox could not store it")
    return WriteOutcome("queued", reason=f"write failed ({error}); queued for retry")


@dataclass(frozen=True, slots=True)
class DrainReport:
    written: int = 0
    retrying: int = 0
    failed: int = 0


def drain_outbox(
    store: Store,
    session: requests.Session,
    now: datetime,
    *,
    token_for: Callable[[str], str | None] = lambda base_url: None,
    policy: ServerPolicy | None = None,
    timeouts: Timeouts | None = None,
    limit: int = 20,
    retry_base: timedelta = BACKOFF_BASE,
) -> DrainReport:
    """Try every due outbox item once: done on success, retried later on a transient error (backoff), failed
    (kept, listed by ``fhir-bonemet outbox``, re-queued by ``--retry``) when the server refuses it.
    ``token_for(base_url)`` is the service's own credential for that server (None: no Authorization)."""
    report = DrainReport()
    timeouts = timeouts or Timeouts()
    # One retry's time budget, and a margin: the lease under which a claimed item is hidden from every
    # other worker (in this process or another sharing the database).  Claimed one at a time, so an item is
    # never held while the ones before it are tried; a worker killed mid-try leaves it to the next claim.
    lease = timedelta(seconds=timeouts.connect + timeouts.read) + LEASE_MARGIN
    for _ in range(limit):
        claimed = store.outbox_claim(now, now + lease, 1)
        if not claimed:
            break
        (item,) = claimed
        try:
            client = FhirClient(
                session,
                item.fhir_base,
                policy=policy or ServerPolicy([item.fhir_base]),
                access_token=token_for(item.fhir_base),
                timeouts=timeouts,
                # Each retry gets one connect and one read timeout in all, however slowly the server
                # answers, so one stuck server cannot hold the worker (or the shutdown waiting for it).
                deadline=time.monotonic() + timeouts.connect + timeouts.read,
            )
            resource = json.loads(item.body_json)
            if item.if_none_exist:
                result = client.conditional_create(resource, item.if_none_exist)
            else:
                result = client.create(resource)
        except FhirClientError as exc:
            # A server no longer on the allowlist is a configuration matter: failed, for an operator to see.
            if _transient(exc) and not isinstance(exc, FhirServerNotAllowedError):
                store.outbox_mark_failed(item.key, str(exc), now + backoff(item.attempts, retry_base))
                report = replace(report, retrying=report.retrying + 1)
            else:
                store.outbox_mark_failed(item.key, str(exc), None)
                report = replace(report, failed=report.failed + 1)
            continue
        if result.resource_id is None:
            # Taken (2xx) but the answer names no id: try again, so that the next conditional create finds
            # the plan and learns its id.  Marked done without one, a later hook call whose own attempt
            # failed could neither point the card at the plan nor say it was queued.
            error = f"HTTP {result.status} without a {item.resource_type} id"
            store.outbox_mark_failed(item.key, error, now + backoff(item.attempts, retry_base))
            report = replace(report, retrying=report.retrying + 1)
            continue
        store.outbox_mark_done(item.key, _location(item.resource_type, result.resource_id))
        report = replace(report, written=report.written + 1)
    return report


def requeue_failed(store: Store, now: datetime) -> int:
    """Put every failed item back in the queue, due now (operator asked for a retry)."""
    failed = store.outbox_list("failed")
    for item in failed:
        store.outbox_mark_failed(item.key, f"retry requested; last error: {item.last_error}", now)
    return len(failed)


class OutboxWorker:
    """A daemon thread that drains the outbox every ``interval`` seconds until :meth:`stop`."""

    def __init__(self, drain: Callable[[], DrainReport], interval: float = 30.0) -> None:
        self._drain, self._interval = drain, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bonemet-outbox", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._drain()
            except Exception:  # a broken database must not kill the thread; log without data
                log.exception("outbox drain failed; will try again")


def drain_configured(
    settings: Settings, store: Store, session: requests.Session, now: datetime, limit: int = 20
) -> DrainReport:
    """:func:`drain_outbox` with the settings' FHIR allowlist, timeouts and write-back credential."""
    policy = server_policy(settings)
    connect, read = settings.fhir_timeouts
    # Done rows only serve as a memory of recent writes; the FHIR server's conditional create is the
    # lasting guard against duplicates, so old ones can go (the outbox would otherwise only grow).
    store.outbox_prune_done(now - timedelta(days=settings.outbox_keep_done_days))
    return drain_outbox(
        store,
        session,
        now,
        token_for=settings.writeback_token_for,
        policy=policy,
        timeouts=Timeouts(connect, read),
        limit=limit,
        retry_base=timedelta(seconds=settings.outbox_backoff_base_seconds),
    )


def start_outbox_worker(
    settings: Settings, store: Store, session: requests.Session, interval: float = 30.0
) -> OutboxWorker:
    """Start the app's background retry worker (settings' credential, never a hook's token); ``stop()`` it
    on shutdown."""
    worker = OutboxWorker(lambda: drain_configured(settings, store, session, datetime.now(UTC)), interval)
    worker.start()
    return worker
