"""The issued-card audit, written off the request path: a background writer with a queue.

Every hook answer with cards is recorded (rule ids, indicator, card and suggestion uuids; nothing about
the patient) so that feedback can be joined to rules later.  Writing it before answering put a store round
trip on every call; the clinician does not need it to have happened.  Records wait in a queue and one
thread writes them in batches, at most ``linger`` seconds after they were queued
(:mod:`fhir_bonemet.store.write_behind`).  :meth:`close` (the
application's shutdown, which uvicorn runs on SIGTERM) writes whatever is still waiting before it returns,
so a stopped service loses nothing it has answered.

A store failure is logged (service, hook instance, error class) and the cards already went out: the audit
never withholds advice.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from fhir_bonemet.log_keys import safe_hook_instance
from fhir_bonemet.store.base import IssuedCall, IssuedCard, Store
from fhir_bonemet.store.write_behind import WriteBehind

__all__ = ["IssuedCardWriter"]

log = logging.getLogger("fhir_bonemet.cds")


class IssuedCardWriter:
    """Queue issued-card records and write them from one background thread (started here)."""

    def __init__(self, store: Store, *, linger: float = 0.05) -> None:
        self._store = store
        self._behind: WriteBehind[IssuedCall] = WriteBehind(
            self._write, linger=linger, name="issued-card-writer"
        )

    def submit(self, service_id: str, hook: str, hook_instance: str, cards: Sequence[IssuedCard]) -> None:
        """Queue one answer's cards; returns at once.  After :meth:`close`, writes them directly."""
        self._behind.submit(IssuedCall(service_id, hook, hook_instance, tuple(cards)))

    def flush(self) -> None:
        """Block until everything queued so far is written (or its failure logged)."""
        self._behind.flush()

    def close(self) -> None:
        """Write what is queued and stop the thread.  Idempotent."""
        self._behind.close()

    def _write(self, batch: Sequence[IssuedCall]) -> None:
        try:
            self._store.record_issued_batch(batch)  # one transaction, a statement per hundred cards
        except Exception:
            self._write_one_by_one(batch)

    def _write_one_by_one(self, batch: Sequence[IssuedCall]) -> None:
        # One answer's records that the store refuses must not cost the others theirs.
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
