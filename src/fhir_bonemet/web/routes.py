"""The CDS Hooks endpoints: discovery, hook calls, feedback; and the health probe."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from fhir_bonemet.cds.feedback import CDSFeedback
from fhir_bonemet.cds.problems import validation_failure
from fhir_bonemet.cds.protocol import HookDeps
from fhir_bonemet.cds.request import CONTEXT_MODELS, parse_request
from fhir_bonemet.cds.response import RULES_EXTENSION, Card, CDSResponse, WireResponse
from fhir_bonemet.cds.services import ServiceCatalogue
from fhir_bonemet.client.prefetch import fetch_needed
from fhir_bonemet.errors import HookMismatchError, InvalidRequestError, Problem, UnknownServiceError
from fhir_bonemet.log_keys import safe_hook_instance
from fhir_bonemet.store.base import IssuedCard
from fhir_bonemet.web.deps import CatalogueDep, ClientDep, StoreDep, authenticated_client, get_state
from fhir_bonemet.web.json_body import check_body_headers, json_object
from fhir_bonemet.web.json_response import FastJSONResponse
from fhir_bonemet.web.middleware import LOG_STATE_KEY

__all__ = [
    "AFTER_SENT_KEY",
    "HELD_KEY",
    "do_after_sent",
    "hold_until_sent",
    "issued_cards",
    "release_held",
    "router",
    "run_after_sent",
]

log = logging.getLogger("fhir_bonemet.cds")
router = APIRouter()


# scope["state"][HELD_KEY]: what a hook call keeps alive until its answer has been sent.
HELD_KEY = "bonemet_held_until_sent"


def hold_until_sent(request: Request, value: object) -> None:
    """Keep ``value`` alive until :func:`release_held` runs, after the answer is sent.

    Freeing a parsed prefetch is work too: a megabyte of JSON is some hundred thousand objects, and freeing
    them took a tenth of a heavy call.  Held here, they are freed once the answer is on its way.
    """
    request.scope.setdefault("state", {}).setdefault(HELD_KEY, []).append(value)


def release_held(scope: Mapping[str, Any]) -> None:
    """Free what :func:`hold_until_sent` kept (the hook dispatch calls it once the answer is sent)."""
    state = scope.get("state")
    if state is not None:
        state.pop(HELD_KEY, None)


# scope["state"][AFTER_SENT_KEY]: what a hook call asked to have done once its answer has been sent.
AFTER_SENT_KEY = "bonemet_after_sent"


def do_after_sent(request: Request, work: Callable[[], object]) -> None:
    """Run ``work`` once the answer has been sent (see :attr:`HookDeps.after_sent`)."""
    request.scope.setdefault("state", {}).setdefault(AFTER_SENT_KEY, []).append(work)


def run_after_sent(scope: Mapping[str, Any]) -> None:
    """Run what :func:`do_after_sent` was given (the hook dispatch calls it once the answer is sent).

    The work is of the kind a background writer would otherwise do, and does again if it fails here (the
    plan view writer renders a view that is not rendered yet, and logs why it cannot): a failure here is
    not the answer's, which has gone out."""
    state = scope.get("state")
    for work in state.pop(AFTER_SENT_KEY, ()) if state is not None else ():
        with contextlib.suppress(Exception):
            work()


def _log_fields(request: Request, **fields: Any) -> None:
    request.scope.setdefault("state", {}).setdefault(LOG_STATE_KEY, {}).update(fields)


async def _json_object(request: Request) -> dict[str, Any]:
    headers = request.headers
    check_body_headers(headers.get("content-type"), headers.getlist("content-encoding"))
    return json_object(await request.body())


def _known_service(catalogue: ServiceCatalogue, service_id: str) -> None:
    if not catalogue.has_id(service_id):
        raise UnknownServiceError(
            "No CDS service with this id; GET /cds-services lists them.",
            (Problem("url", "No CDS service with this id; GET /cds-services lists them.", "not-found"),),
        )


@router.api_route("/cds-services", methods=["GET", "HEAD"])
async def discovery(catalogue: CatalogueDep, _client: ClientDep) -> JSONResponse:
    return JSONResponse(catalogue.discovery())


@router.post("/cds-services/{service_id}")
async def call_service(service_id: str, request: Request) -> JSONResponse:
    # The state and the caller's identity are got here, in the order the dependencies would give them
    # (the JWT is verified before anything else is looked at), rather than declared as dependencies:
    # FastAPI's solving of them cost more per call than the work they do.
    state = await get_state(request)
    client = await authenticated_client(request, state)
    catalogue, settings, store = state.catalogue, state.settings, state.store
    _known_service(catalogue, service_id)
    _log_fields(request, service=service_id)
    body = await _json_object(request)
    hold_until_sent(request, body)
    _log_fields(request, hookInstance=safe_hook_instance(body.get("hookInstance")))
    hook = body.get("hook")
    if not isinstance(hook, str) or not hook:
        raise InvalidRequestError(
            "hook is required", (Problem("hook", "hook: a hook name is required", "required"),)
        )
    service = catalogue.get(service_id, hook)
    if service is None:
        served = ", ".join(catalogue.hooks_of(service_id))
        message = f"hook: this service serves only {served}"
        raise HookMismatchError(message, (Problem("hook", message, "not-supported"),))
    _log_fields(request, hook=hook)
    cds_request = parse_request(body, CONTEXT_MODELS[hook])
    base_url = settings.public_base_url or str(request.base_url).rstrip("/")
    deps = HookDeps(
        settings,
        store,
        state.session,
        client,
        base_url=base_url,
        plan_views=state.plan_views,
        hold=partial(hold_until_sent, request),
        after_sent=partial(do_after_sent, request),
        log_fields=partial(_log_fields, request),
    )
    if settings.writeback_mode == "write" or fetch_needed(
        service.prefetch or {}, cds_request.prefetch, cds_request.fhirServer
    ):
        response = await run_in_threadpool(state.handler, service, cds_request, deps)
    else:
        # Everything is in the request and nothing is written to a FHIR server: the call is computation
        # only, answered here rather than handed to a worker thread and back.
        response = state.handler(service, cds_request, deps)
    if not isinstance(response, CDSResponse | WireResponse):
        raise TypeError("the hook handler must return a CDSResponse or a WireResponse")
    wire = response.to_wire()
    _log_fields(request, cards=len(wire["cards"]))
    if wire["cards"]:
        # Recorded so that feedback can be joined to rule ids; written in the background (web/audit.py).
        state.audit.submit(service_id, hook, cds_request.hookInstance, issued_cards(wire["cards"]))
    return FastJSONResponse(wire)


def issued_cards(cards: Sequence[Card | Mapping[str, Any]]) -> list[IssuedCard]:
    """The audit records of what was proposed (no patient data), for ``Store.record_issued_cards``."""
    records = []
    for card in cards:
        wire = card.to_wire() if isinstance(card, Card) else card
        records.append(
            IssuedCard(
                uuid=wire["uuid"],
                rule_ids=tuple((wire.get("extension") or {}).get(RULES_EXTENSION, ())),
                indicator=wire["indicator"],
                suggestion_uuids=tuple(s["uuid"] for s in wire.get("suggestions") or ()),
            )
        )
    return records


@router.post("/cds-services/{service_id}/feedback")
async def feedback(
    service_id: str, request: Request, catalogue: CatalogueDep, store: StoreDep, _client: ClientDep
) -> JSONResponse:
    _known_service(catalogue, service_id)
    _log_fields(request, service=service_id)
    body = await _json_object(request)
    try:
        parsed = CDSFeedback.model_validate(body)
    except ValidationError as exc:
        raise validation_failure("The feedback", exc) from exc
    items = parsed.to_items()
    stored = await run_in_threadpool(store.save_feedback, service_id, items)
    _log_fields(request, feedback=len(items), feedback_new=stored)
    return JSONResponse({})


@router.api_route("/health", methods=["GET", "HEAD"])
async def health(store: StoreDep) -> JSONResponse:
    """Liveness (the process answers) and readiness (the store answers): 503 when not ready."""
    try:
        await run_in_threadpool(store.ping)
    except Exception as exc:
        log.warning("store not ready", extra={"error_type": type(exc).__name__})
        return JSONResponse(
            {"status": "unavailable", "live": True, "ready": False, "store": "unavailable"}, 503
        )
    return JSONResponse({"status": "ok", "live": True, "ready": True, "store": "ok"})
