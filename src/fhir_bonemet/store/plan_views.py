"""The plan views behind the cards' links, stored off the request path.

A hook answer carries a signed link to the full plan page; the view it shows must be in the store when the
clinician clicks, a second or more later, but not before the answer goes out.  Rendering the view and
writing it cost more than a tenth of a typical hook call, so neither happens before the answer is sent: the
hook renders it once the answer is out (the renderer :meth:`PlanViews.plan_put` returns), and a background
thread (:class:`~fhir_bonemet.store.write_behind.WriteBehind`) writes it within ``linger`` seconds, rendering
it first if nobody did.

Until it is written, a view is *pending*: :meth:`PlanViews.plan_get` answers from the pending views first,
so a link opened on this process at once, or a retried hook call, sees the view as if it were stored.
Another worker process sees it once written, ``linger`` seconds at most (the plan page waits that long for a
link issued a moment ago, see :mod:`fhir_bonemet.web.plan_routes`).  Nothing pending is lost on shutdown:
:meth:`close` writes it first.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from fhir_bonemet.store.base import PlanViewToStore, Store, StoredPlanView
from fhir_bonemet.store.write_behind import WriteBehind

__all__ = ["PlanViews"]

log = logging.getLogger("fhir_bonemet.plan_page")


class _RenderedOnce:
    """``render``, run on the first call only; later calls return what it gave (the view's JSON, as text or
    UTF-8 bytes).

    functools.cache did the same, but making its wrapper (copying the function's name, doc and attributes)
    cost more per hook call than the rest of :meth:`PlanViews.plan_put`.  Two threads calling at once (the
    writer, and a link opened at that moment) may both render: each gets the same text.
    """

    __slots__ = ("_render", "_text")

    def __init__(self, render: Callable[[], str | bytes]) -> None:
        self._render = render
        self._text: str | bytes | None = None

    def __call__(self) -> str | bytes:
        if self._text is None:
            self._text = self._render()
        return self._text


@dataclass(frozen=True, slots=True)
class _Pending:
    plan_id: str
    patient_key: str
    body_json: Callable[[], str | bytes]  # renders the view (once) when it is written or read
    expires_at: datetime


class PlanViews:
    """Plan views over ``store``: written in the background, read from the pending ones first."""

    def __init__(self, store: Store, *, linger: float = 0.05) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._pending: dict[str, _Pending] = {}
        self._behind: WriteBehind[_Pending] = WriteBehind(self._write, linger=linger, name="plan-view-writer")

    def plan_put(
        self, plan_id: str, patient_key: str, body_json: Callable[[], str | bytes], expires_at: datetime
    ) -> Callable[[], object]:
        """Keep the view until ``expires_at``; ``body_json`` renders it (JSON text, or its UTF-8 bytes as
        orjson writes them: the store takes those as they are) on the writer's thread, unless the caller
        renders it first with the callable returned (once; the writer then only writes it)."""
        rendered = _RenderedOnce(body_json)
        item = _Pending(plan_id, patient_key, rendered, expires_at)
        with self._lock:
            self._pending[plan_id] = item
        self._behind.submit(item)
        return rendered

    def plan_get(self, plan_id: str, now: datetime) -> StoredPlanView | None:
        """The view if it exists (pending or stored) and has not expired at ``now``."""
        with self._lock:
            pending = self._pending.get(plan_id)
        if pending is not None:
            if pending.expires_at <= now:
                return None
            body = pending.body_json()
            if isinstance(body, bytes):  # text, as a view read from the store is
                body = body.decode("utf-8")
            return StoredPlanView(pending.plan_id, pending.patient_key, body, pending.expires_at)
        return self._store.plan_get(plan_id, now)

    def plan_expiry(self, plan_id: str, now: datetime) -> tuple[str, datetime] | None:
        """The patient key and expiry of the view (pending or stored) if it has not expired at ``now``:
        what a retried hook call needs to give the same link, without rendering or reading the view."""
        with self._lock:
            pending = self._pending.get(plan_id)
        if pending is not None:
            return (pending.patient_key, pending.expires_at) if pending.expires_at > now else None
        return self._store.plan_expiry(plan_id, now)

    def flush(self) -> None:
        """Block until every view put so far is written (or its failure logged)."""
        self._behind.flush()

    def close(self) -> None:
        """Write the pending views and stop the writer.  Idempotent."""
        self._behind.close()

    def _write(self, batch: Sequence[_Pending]) -> None:
        rendered: list[tuple[_Pending, PlanViewToStore]] = []
        for item in batch:
            try:
                view = PlanViewToStore(item.plan_id, item.patient_key, item.body_json(), item.expires_at)
            except Exception as exc:
                # The link then leads to "Plan not found"; the cards, already sent, stay right.
                log.error("plan view not rendered", extra={"error_type": type(exc).__name__})
                self._done(item)
            else:
                rendered.append((item, view))
        try:
            self._store.plan_put_many([view for _, view in rendered])  # one transaction
        except Exception:
            # One view the store refuses must not cost the others theirs: each on its own.
            for _, view in rendered:
                try:
                    self._store.plan_put(view.plan_id, view.patient_key, view.body_json, view.expires_at)
                except Exception as exc:
                    log.error("plan view not stored", extra={"error_type": type(exc).__name__})
        for item, _ in rendered:
            self._done(item)

    def _done(self, item: _Pending) -> None:
        with self._lock:
            if self._pending.get(item.plan_id) is item:
                del self._pending[item.plan_id]
