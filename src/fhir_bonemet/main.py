"""The composition root: the one place that builds the running service from its parts.

    settings → store, HTTP session → workflow (terminology, thresholds, evidence, rule catalogue)
             → outbox worker (write mode) → :func:`fhir_bonemet.web.app.create_app`

``fhir-bonemet serve`` calls :func:`build_app`; so do the tests and benchmarks that exercise the whole
service.  Nothing else in the package imports this module (an import-linter contract in ``pyproject.toml``
says so): the layers below receive what they need as arguments instead of finding it themselves.
"""

from __future__ import annotations

from collections.abc import Callable

import requests
from fastapi import FastAPI

from fhir_bonemet.cds.protocol import HookHandler
from fhir_bonemet.client.policy import server_policy
from fhir_bonemet.client.prefetch import outbound_session
from fhir_bonemet.settings import Settings
from fhir_bonemet.store import open_store
from fhir_bonemet.store.base import Store
from fhir_bonemet.web.app import BackgroundWorker, create_app
from fhir_bonemet.workflow import Workflow
from fhir_bonemet.writeback import start_outbox_worker

__all__ = ["build_app"]


def build_app(
    settings: Settings,
    *,
    handler: HookHandler | None = None,
    store: Store | None = None,
    session: requests.Session | None = None,
) -> FastAPI:
    """The service as configured by ``settings``.

    ``handler``, ``store`` and ``session`` replace the production parts (the clinical workflow, the store
    the settings name, a new ``requests.Session``); what this function opens is closed when the app shuts
    down.  Building the workflow loads and cross-checks every knowledge file and the rule catalogue, so a
    broken file stops the service (``ConfigurationError``) before it accepts a request.
    """
    # The FHIR-server allowlist is applied per call; an entry that is not a base URL stops start-up here.
    server_policy(settings)
    hook_handler = handler if handler is not None else Workflow.from_settings(settings)
    on_shutdown: list[Callable[[], None]] = []
    http = session
    if http is None:
        http = outbound_session()
        on_shutdown.append(http.close)
    db = store
    if db is None:
        db = open_store(settings)
        on_shutdown.append(db.close)
    workers: list[Callable[[], BackgroundWorker]] = []
    if settings.writeback_mode == "write":
        # Plans whose first write failed wait in the outbox; retry them in the background.
        outbox_store, outbox_session = db, http
        workers.append(
            lambda: start_outbox_worker(
                settings, outbox_store, outbox_session, settings.outbox_retry_interval_seconds
            )
        )
    try:
        return create_app(
            settings, handler=hook_handler, store=db, session=http, workers=workers, on_shutdown=on_shutdown
        )
    except BaseException:
        for close in on_shutdown:
            close()
        raise
