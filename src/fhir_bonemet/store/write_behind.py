"""Store writes that leave the request path: queued, written in batches by one background thread.

What a hook answer must record but the clinician does not wait for (the issued-card audit, the plan view
behind the card's link) is handed to a :class:`WriteBehind` and written at most ``linger`` seconds later, in
one batch with whatever else arrived meanwhile.  :meth:`WriteBehind.close` (the application's shutdown,
which uvicorn runs on SIGTERM) writes everything still queued before it returns, so a stopped service loses
nothing it has answered; after close, submissions are written at once, on the caller's thread.

Submitting costs one uncontended lock and wakes nobody: the writer looks for work every ``linger`` seconds
on its own.  A queue that woke its consumer per item cost a thread switch on every call.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

__all__ = ["WriteBehind"]

log = logging.getLogger("fhir_bonemet.store")

_T = TypeVar("_T")


class WriteBehind(Generic[_T]):
    """Queue items and hand them, in batches, to ``write`` on one background thread (started here).

    ``write`` must handle (and log) its own failures: what it raises is logged by class name and the batch
    counts as done, so one failure never stops the writer.
    """

    def __init__(self, write: Callable[[Sequence[_T]], None], *, linger: float, name: str) -> None:
        self._write = write
        self._linger = linger
        self._name = name
        self._cv = threading.Condition()
        self._items: list[_T] = []
        self._submitted = 0
        self._written = 0
        self._hurry = False
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, item: _T) -> None:
        """Queue one item; returns at once.  After :meth:`close`, writes it directly."""
        with self._cv:
            if not self._closed:
                self._items.append(item)
                self._submitted += 1
                return
        self._write_batch([item])

    def flush(self) -> None:
        """Block until everything submitted so far is written (or its failure logged)."""
        with self._cv:
            target = self._submitted
            self._hurry = True
            self._cv.notify_all()
            while self._written < target and self._thread.is_alive():
                self._cv.wait(0.1)

    def close(self) -> None:
        """Write what is queued and stop the thread.  Idempotent."""
        with self._cv:
            if self._closed:
                return
            self._closed = True
            self._cv.notify_all()
        self._thread.join()

    def _run(self) -> None:
        while True:
            with self._cv:
                # Items are picked up every ``linger`` seconds, all at once: a busy service writes in
                # batches, not per call.  close() and flush() cut the wait short.
                while not (self._closed or (self._hurry and self._items)):
                    self._cv.wait(self._linger)
                    if self._items:
                        break
                batch, self._items = self._items, []
                self._hurry = False
                stopping = self._closed
            if batch:
                self._write_batch(batch)
                with self._cv:
                    self._written += len(batch)
                    self._cv.notify_all()
            if stopping:
                return

    def _write_batch(self, batch: Sequence[_T]) -> None:
        try:
            self._write(batch)
        except Exception as exc:
            failure = {"writer": self._name, "error_type": type(exc).__name__}
            log.error("background write failed", extra=failure)
