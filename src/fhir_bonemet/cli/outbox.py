"""``fhir-bonemet outbox [--json] [--all] [--retry [--force]]``: pending and failed CarePlan writes.

The listing shows what is waiting, how often it was tried, when it is tried next and the last error; never
the resource itself (it holds patient data).  ``--retry`` puts failed items back in the queue and drains
the queue once, with the service's write-back credential for each FHIR server (``BONEMET_WRITEBACK_TOKENS``)
or none; ``--force`` also tries pending items whose backoff has not run out yet.  The exit status is 1 when a
retried write failed.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import requests

from fhir_bonemet.store.base import OutboxItem

__all__ = ["outbox_rows", "register"]


def _ts(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat(timespec="seconds") if value is not None else None


def outbox_rows(items: Sequence[OutboxItem]) -> list[dict[str, Any]]:
    return [
        {
            "key": item.key,
            "status": item.status,
            "resourceType": item.resource_type,
            "fhirBase": item.fhir_base,
            "ifNoneExist": item.if_none_exist,
            "attempts": item.attempts,
            "nextAttemptAt": _ts(item.next_attempt_at),
            "lastError": item.last_error,
            "location": item.location,
            "createdAt": _ts(item.created_at),
            "updatedAt": _ts(item.updated_at),
        }
        for item in items
    ]


def _table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "outbox is empty: no pending or failed writes"
    header = ("key", "status", "type", "attempts", "next attempt", "FHIR server", "last error")
    lines = [
        (
            r["key"][:12],
            r["status"],
            r["resourceType"],
            str(r["attempts"]),
            r["nextAttemptAt"] or "-",
            r["fhirBase"],
            r["lastError"] or "-",
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line[:-1], widths, strict=True)) + "  " + line[-1]
        for line in [header, *lines]
    )


def _run(args: argparse.Namespace) -> int:
    if getattr(args, "force", False) and not args.retry:
        print("--force only makes sense with --retry")
        return 2
    from fhir_bonemet.settings import Settings
    from fhir_bonemet.store import open_store
    from fhir_bonemet.writeback import drain_configured, requeue_failed

    settings = Settings()
    store = open_store(settings)
    failed = 0
    try:
        if args.retry:
            now = datetime.now(UTC)
            requeued = requeue_failed(store, now)
            forced = store.outbox_make_due(now) if args.force else 0
            with requests.Session() as session:
                report = drain_configured(settings, store, session, now, limit=1000)
            print(
                f"retry: {requeued} failed item(s) re-queued, {forced} waiting item(s) brought forward; "
                f"written {report.written}, "
                f"retrying later {report.retrying}, failed {report.failed}"
            )
            failed = report.failed
        items = (
            store.outbox_list() if args.all else store.outbox_list("pending") + store.outbox_list("failed")
        )
    finally:
        store.close()
    rows = outbox_rows(sorted(items, key=lambda i: (i.created_at, i.key)))
    print(json.dumps({"items": rows}, indent=2) if args.json else _table(rows))
    return 1 if failed else 0  # a retry that failed writes must not read as success to a script


def register(subparsers: Any) -> None:
    """Add ``outbox`` to the ``fhir-bonemet`` command line."""
    parser = subparsers.add_parser(
        "outbox",
        help="show pending and failed CarePlan write-backs (--retry to retry now)",
        description="CarePlan writes waiting to reach the FHIR server, or failed; no patient data is shown.",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--all", action="store_true", help="also list completed writes")
    parser.add_argument(
        "--retry", action="store_true", help="re-queue failed writes and try every due write once now"
    )
    parser.add_argument(
        "--force", action="store_true", help="with --retry: also try pending writes not yet due for a retry"
    )
    parser.set_defaults(func=_run)
