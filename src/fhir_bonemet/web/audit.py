"""The issued-card audit, written off the request path: a background writer with a queue.

Every hook answer with cards is recorded (rule ids, indicator, card and suggestion uuids; nothing about
the patient) so that feedback can be joined to rules later.  Writing it before answering put a store round
trip on every call; the clinician does not need it to have happened.  Records wait in a queue and one
thread writes them in batches, at most ``linger`` seconds after they were queued.  :meth:`close` (the
application's shutdown, which uvicorn runs on SIGTERM) writes whatever is still waiting before it returns,
so a stopped service loses nothing it has answered.

A store failure is logged (service, hook instance, error class) and the cards already went out: the audit
never withholds advice.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from fhir_bonemet.store.base import IssuedCard, Store
from fhir_bonemet.web.logs import safe_hook_instance

__all__ = ["IssuedCardWriter"]

log = logging.getLogger("fhir_bonemet.cds")

_BATCH = 256


@dataclass(frozen=True, slots=True)
class _Record:
    service_id: str
    hook: str
    hook_instance: str
    cards: tuple[IssuedCard, ...]


class IssuedCardWriter:
    """Queue issued-card records and write them from one background thread (started here)."""

    def __init__(self, store: Store, *, linger: float = 0.05) -> None:
        self._store = store
        self._linger = linger
        self._queue: queue.Queue[_Record | None] = queue.Queue()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="issued-card-writer", daemon=True)
        self._thread.start()

    def submit(self, service_id: str, hook: str, hook_instance: str, cards: Sequence[IssuedCard]) -> None:
        """Queue one answer's cards; returns at once.  After :meth:`close`, writes them directly."""
        record = _Record(service_id, hook, hook_instance, tuple(cards))
        if self._closed:
            self._write([record])
            return
        self._queue.put(record)

    def flush(self) -> None:
        """Block until everything queued so far is written (or its failure logged)."""
        self._queue.join()

    def close(self) -> None:
        """Write what is queued and stop the thread.  Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            batch: list[_Record] = []
            taken = 1
            if first is None:
                stopping = True
            else:
                batch.append(first)
                # Wait a little for more, so that a busy service writes in batches, not per call.
                stopping = self._gather(batch)
            taken += len(batch) - (1 if first is not None else 0)
            self._write(batch)
            for _ in range(taken):
                self._queue.task_done()

    def _gather(self, batch: list[_Record]) -> bool:
        """Add what arrives within ``linger`` (up to a batch); True when the stop marker came."""
        while len(batch) < _BATCH:
            try:
                more = self._queue.get(timeout=self._linger)
            except queue.Empty:
                return False
            if more is None:
                self._queue.task_done()
                return True
            batch.append(more)
        return False

    def _write(self, batch: Sequence[_Record]) -> None:
        for record in batch:
            try:
                self._store.record_issued_cards(
                    record.service_id, record.hook, record.hook_instance, record.cards
                )
            except Exception as exc:
                log.error(
                    "issued-card audit not recorded",
                    extra={
                        "service": record.service_id,
                        "hookInstance": safe_hook_instance(record.hook_instance),
                        "error_type": type(exc).__name__,
                    },
                )
