"""The application factory: ``create_app(settings)`` builds the whole HTTP service, checking its
configuration first (a service that cannot verify callers, or has malformed service definitions, does not
start)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import requests
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware

from fhir_bonemet import __version__
from fhir_bonemet.cds.problems import operation_outcome
from fhir_bonemet.cds.protocol import HookHandler, default_handler
from fhir_bonemet.cds.services import load_services
from fhir_bonemet.errors import AuthenticationError, ConfigurationError, Problem, RequestError
from fhir_bonemet.settings import Settings
from fhir_bonemet.store import open_store
from fhir_bonemet.store.base import Store, StoreError
from fhir_bonemet.web.auth import JwtVerifier, StoreReplayCache
from fhir_bonemet.web.deps import AppState
from fhir_bonemet.web.middleware import (
    BodyLimitMiddleware,
    ErrorGuardMiddleware,
    RequestLogMiddleware,
    loggable_path,
)
from fhir_bonemet.web.routes import router
from fhir_bonemet.writeback import start_outbox_worker

__all__ = ["create_app"]

log = logging.getLogger("fhir_bonemet.cds")

_HTTP_ISSUE_CODES = {404: "not-found", 405: "not-supported"}


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
    return _outcome(exc.status_code, problems)


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


def create_app(
    settings: Settings,
    *,
    hook_handler: HookHandler | None = None,
    store: Store | None = None,
    session: requests.Session | None = None,
) -> FastAPI:
    """Build the service.  ``hook_handler``, ``store`` and ``session`` replace the defaults (the workflow,
    the store named by the settings, a new ``requests.Session``); what this function opens it also closes
    at shutdown."""
    _check_auth_config(settings)
    catalogue = load_services(settings.services_dir)
    own_session = session is None
    http = session if session is not None else requests.Session()
    own_store = store is None
    db = store if store is not None else open_store(settings)
    verifier = JwtVerifier(settings, http, StoreReplayCache(db)) if settings.auth_required else None
    state = AppState(settings, catalogue, db, http, verifier, hook_handler or default_handler(settings))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # In write mode, plans whose first write failed wait in the outbox; retry them in the background.
        worker = (
            start_outbox_worker(settings, db, http, settings.outbox_retry_interval_seconds)
            if settings.writeback_mode == "write"
            else None
        )
        yield
        if worker is not None:
            worker.stop()
        if own_store:
            db.close()
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
    app.add_exception_handler(RequestError, _request_error)
    app.add_exception_handler(AuthenticationError, _authentication_error)
    app.add_exception_handler(StoreError, _store_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    # Added innermost first; see web/middleware.py for the resulting order.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(ErrorGuardMiddleware)
    origins = settings.effective_cors_origins
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(origins),
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type"],
            allow_credentials=False,
            max_age=600,
        )
    app.add_middleware(RequestLogMiddleware)
    return app
