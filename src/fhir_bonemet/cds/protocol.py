"""The seam between the HTTP layer and the clinical workflow.

The HTTP layer validates a hook call, then hands it to a :class:`HookHandler`::

    def handle_hook(service: ServiceDefinition, request: CDSRequest, deps: HookDeps) -> CDSResponse

(or a :class:`~fhir_bonemet.cds.response.WireResponse`, the same answer already as plain JSON: what the
production handler returns, its builders held to the CDSResponse model by the test suite).
``request.context`` is already the hook's own model (:class:`PatientViewContext`,
:class:`OrderSelectContext` or :class:`OrderSignContext`); ``request.prefetch`` is the JSON exactly as sent.
The handler runs in a worker thread when it may block on FHIR calls through ``deps.session`` (otherwise on
the event loop: a call with everything prefetched is computation only).  It signals
"required data unobtainable" by raising :class:`~fhir_bonemet.errors.PreconditionFailedError` (→ 412) and
other caller errors with the matching :class:`~fhir_bonemet.errors.RequestError`; anything else becomes a
500.  The HTTP layer records the issued cards (uuids, rule ids, indicators) in the store itself.

The production handler is :class:`fhir_bonemet.workflow.Workflow`; the composition root
(:mod:`fhir_bonemet.main`) builds it and hands it to the app factory.  This module names only the shapes
both sides agree on, so the HTTP layer never imports the workflow and the workflow never imports the HTTP
layer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import requests

from fhir_bonemet.cds.request import CDSRequest
from fhir_bonemet.cds.response import CDSResponse, WireResponse
from fhir_bonemet.cds.services import ServiceDefinition
from fhir_bonemet.settings import Settings
from fhir_bonemet.store.base import Store
from fhir_bonemet.store.plan_views import PlanViews

__all__ = ["ClientIdentity", "HookDeps", "HookHandler"]


@dataclass(frozen=True, slots=True)
class ClientIdentity:
    """Who called, as established by a verified JWT (see :mod:`fhir_bonemet.web.auth`).  Safe to log."""

    issuer: str
    tenant: str | None
    jti: str


@dataclass(frozen=True, slots=True)
class HookDeps:
    """What a hook handler may use.  Built per call; the members are shared, long-lived objects."""

    settings: Settings
    store: Store
    # The one outbound HTTP session (FHIR calls); timeouts in settings.fhir_timeouts.
    session: requests.Session
    # The verified caller; None when JWT verification is off (--no-auth).
    client: ClientIdentity | None
    # Where this service is reached (BONEMET_PUBLIC_BASE_URL, else the request's base URL): for plan links.
    base_url: str | None = None
    # Where plan views go (written in the background); None: no plan links.
    plan_views: PlanViews | None = None
    # Keeps what it is given alive until the answer has been sent: the handler's big intermediate data (the
    # read resources, the facts) would otherwise be freed before the answer goes out, and freeing the
    # data of a large chart takes milliseconds.  None: nothing to keep (freed as usual).
    hold: Callable[[object], None] | None = None
    # Runs what it is given once the answer has been sent, on the thread that sent it: work the answer does
    # not need (rendering the plan view behind its link) done while the EHR reads the answer, rather than
    # on a background thread, where it would hold the interpreter while the next call waits.  None: no
    # such moment (the background writer does that work instead).
    after_sent: Callable[[Callable[[], object]], None] | None = None
    # Adds fields (counts, never patient data) to the call's one request log line.  None: no such line (the
    # handler logs its own).
    log_fields: Callable[..., None] | None = None


class HookHandler(Protocol):
    def __call__(
        self, service: ServiceDefinition, request: CDSRequest, deps: HookDeps, /
    ) -> CDSResponse | WireResponse: ...
