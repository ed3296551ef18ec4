"""The application factory: ``create_app(settings, handler=..., store=...)`` builds the HTTP service
around parts built elsewhere (by the composition root, :mod:`fhir_bonemet.main`), checking its configuration
first (a service that cannot verify callers, or has malformed service definitions, does not start).

The web layer knows the hook handler only as :class:`~fhir_bonemet.cds.protocol.HookHandler`: it never
imports the workflow, the rules or the cards."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Protocol

import requests
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response

from fhir_bonemet import __version__
from fhir_bonemet.cds.prefetch_templates import generated_prefetch
from fhir_bonemet.cds.problems import operation_outcome
from fhir_bonemet.cds.protocol import HookHandler
from fhir_bonemet.cds.services import load_services
from fhir_bonemet.client.prefetch import outbound_session
from fhir_bonemet.errors import AuthenticationError, ConfigurationError, Problem, RequestError
from fhir_bonemet.settings import Settings
from fhir_bonemet.store.base import Store, StoreError
from fhir_bonemet.store.plan_views import PlanViews
from fhir_bonemet.web.audit import IssuedCardWriter
from fhir_bonemet.web.auth import JwtVerifier, StoreReplayCache
from fhir_bonemet.web.deps import AppState
from fhir_bonemet.web.hook_dispatch import ExceptionHandlers, HookCallDispatch
from fhir_bonemet.web.middleware import (
    BodyLimitMiddleware,
    ErrorGuardMiddleware,
    RequestLogMiddleware,
    loggable_path,
)
from fhir_bonemet.web.plan_routes import plan_router
from fhir_bonemet.web.routes import router

__all__ = ["BackgroundWorker", "create_app"]

log = logging.getLogger("fhir_bonemet.cds")

_HTTP_ISSUE_CODES = {404: "not-found", 405: "not-supported"}


class BackgroundWorker(Protocol):
    """Something that runs beside the app while it serves (e.g. the outbox retry worker)."""

    def stop(self) -> None: ...


def _check_auth_config(settings: Settings) -> None:
    if not settings.auth_required:
        return
    if settings.public_base_url is None:
        raise ConfigurationError(
            "JWT verification needs BONEMET_PUBLIC_BASE_URL (the URL EHRs call, "
            "e.g. https://cds.example.org): the JWT audience is checked against it.  "
            "For local testing only: fhir-bonemet serve --no-auth"
        )
    if not settings.trusted_issuers:
        raise ConfigurationError(
            "JWT verification needs at least one trusted issuer (BONEMET_TRUSTED_ISSUERS or "
            "BONEMET_TRUSTED_ISSUERS_FILE).  For local testing only: fhir-bonemet serve --no-auth"
        )


def _outcome(
    status: int, problems: tuple[Problem, ...], headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(operation_outcome(problems), status_code=status, headers=headers)


async def _request_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestError)
    problems = tuple(p if p.location else Problem("$this", p.message, p.code) for p in exc.problems)
    return _outcome(exc.status_code, problems, dict(exc.headers) or None)


async def _authentication_error(request: Request, exc: Exception) -> JSONResponse:
    # The reason goes to the log only; the caller learns nothing about why (CDS Hooks best practice).
    log.warning(
        "authentication failed", extra={"reason": str(exc), "path": loggable_path(request.scope["path"])}
    )
    problem = Problem("header.Authorization", "Authentication required.", "login")
    return _outcome(401, (problem,), {"WWW-Authenticate": "Bearer"})


async def _store_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("store unavailable", extra={"error_type": type(exc).__name__})
    return _outcome(
        503, (Problem("$this", "The service's store is unavailable; try again later.", "transient"),)
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_ISSUE_CODES.get(exc.status_code, "processing")
    return _outcome(exc.status_code, (Problem("url", f"{exc.detail}.", code),), dict(exc.headers or {}))


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [Problem(".".join(str(part) for part in e["loc"]), f"{e['msg']}") for e in exc.errors()]
    return _outcome(400, tuple(problems) or (Problem("$this", "The request is invalid."),))


# The error answers of every route; the hook calls' dispatch (web/hook_dispatch.py) maps with the same.
_EXCEPTION_HANDLERS: ExceptionHandlers = {
    RequestError: _request_error,
    AuthenticationError: _authentication_error,
    StoreError: _store_error,
    StarletteHTTPException: _http_error,
    RequestValidationError: _validation_error,
}


class _OutcomeCORSMiddleware(CORSMiddleware):
    """Starlette's CORS handling, with a refused preflight answered like every other refusal: an
    OperationOutcome naming what was not allowed, not the plain text "Disallowed CORS method"."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code != 400:
            return response
        refused = bytes(response.body).decode("utf-8", "replace").removeprefix("Disallowed CORS ")
        message = f"Cross-origin request refused: {refused} not allowed."
        headers = {
            k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-type")
        }
        return JSONResponse(operation_outcome([Problem("$this", message, "forbidden")]), 400, headers=headers)


def create_app(
    settings: Settings,
    *,
    handler: HookHandler,
    store: Store,
    session: requests.Session | None = None,
    workers: Sequence[Callable[[], BackgroundWorker]] = (),
    on_shutdown: Sequence[Callable[[], None]] = (),
) -> FastAPI:
    """Build the service around ``handler`` (the clinical workflow in production) and ``store``.

    ``session`` is the one outbound HTTP session (JWKS, FHIR); without one the app opens its own and closes
    it at shutdown.  ``workers`` are started when the app starts and stopped when it stops; ``on_shutdown``
    runs after them (the caller closes there what it opened for this app)."""
    _check_auth_config(settings)
    catalogue = load_services(settings.services_dir, generated_prefetch(settings))
    own_session = session is None
    http = session if session is not None else outbound_session()
    verifier = JwtVerifier(settings, http, StoreReplayCache(store)) if settings.auth_required else None
    audit = IssuedCardWriter(store, linger=settings.audit_linger_seconds)
    plan_views = PlanViews(store, linger=settings.audit_linger_seconds)
    state = AppState(settings, catalogue, store, http, verifier, handler, audit, plan_views)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        running = [start() for start in workers]
        yield
        for worker in running:
            worker.stop()
        audit.close()  # the issued-card records still queued are written before the store closes
        plan_views.close()  # and so are the plan views not yet written
        for close in on_shutdown:
            close()
        if own_session:
            http.close()

    app = FastAPI(
        title="fhir-bonemet",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
        # No 307 to the slash-less URL: its Location would be built from the unauthenticated Host header.
        redirect_slashes=False,
    )
    app.state.bonemet = state
    app.include_router(router)
    app.include_router(plan_router)
    for exception_class, handler_fn in _EXCEPTION_HANDLERS.items():
        app.add_exception_handler(exception_class, handler_fn)
    # Added innermost first; see web/middleware.py for the resulting order.
    app.add_middleware(HookCallDispatch, handlers=_EXCEPTION_HANDLERS)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(ErrorGuardMiddleware)
    origins = settings.effective_cors_origins
    if origins:
        app.add_middleware(
            _OutcomeCORSMiddleware,
            allow_origins=list(origins),
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type"],
            allow_credentials=False,
            max_age=600,
        )
    app.add_middleware(RequestLogMiddleware)
    return app
