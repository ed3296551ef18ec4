"""FastAPI dependencies, as ``Annotated`` aliases the routes declare in their signatures."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import requests
from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool

from fhir_bonemet.cds.protocol import ClientIdentity, HookHandler
from fhir_bonemet.cds.services import ServiceCatalogue
from fhir_bonemet.errors import AuthenticationError
from fhir_bonemet.settings import Settings
from fhir_bonemet.store.base import Store
from fhir_bonemet.store.plan_views import PlanViews
from fhir_bonemet.web.audit import IssuedCardWriter
from fhir_bonemet.web.auth import JwtVerifier, KeyDownloadNeeded

__all__ = [
    "AppState",
    "AuditDep",
    "CatalogueDep",
    "ClientDep",
    "HandlerDep",
    "PlanViewsDep",
    "SessionDep",
    "SettingsDep",
    "StateDep",
    "StoreDep",
    "authenticated_client",
    "get_state",
]


@dataclass(frozen=True, slots=True)
class AppState:
    """Everything built once at start-up (``app.state.bonemet``)."""

    settings: Settings
    catalogue: ServiceCatalogue
    store: Store
    session: requests.Session
    verifier: JwtVerifier | None  # None only when JWT verification is off (--no-auth)
    handler: HookHandler
    audit: IssuedCardWriter  # the issued-card records, written in the background
    plan_views: PlanViews  # the views behind plan links, written in the background


# The getters are ``async``: FastAPI runs a plain ``def`` dependency in a worker thread, and a thread
# hand-off per attribute read cost more than the read.
async def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.bonemet
    return state


StateDep = Annotated[AppState, Depends(get_state)]


async def get_settings(state: StateDep) -> Settings:
    return state.settings


async def get_store(state: StateDep) -> Store:
    return state.store


async def get_catalogue(state: StateDep) -> ServiceCatalogue:
    return state.catalogue


async def get_session(state: StateDep) -> requests.Session:
    return state.session


async def get_handler(state: StateDep) -> HookHandler:
    return state.handler


async def get_audit(state: StateDep) -> IssuedCardWriter:
    return state.audit


async def get_plan_views(state: StateDep) -> PlanViews:
    return state.plan_views


def endpoint_path(request: Request) -> str:
    """The path of the endpoint within the application (a proxy prefix belongs in public_base_url)."""
    path: str = request.scope["path"]
    root: str = request.scope.get("root_path") or ""
    return path[len(root) :] if root and path.startswith(root) else path


async def authenticated_client(request: Request, state: StateDep) -> ClientIdentity | None:
    """Verify the caller's JWT; None when verification is off.

    Verified here, in the event loop, when the issuer's key is at hand (configured, or downloaded and still
    fresh): the usual case, where a hand-off to a worker thread and back cost more than the check and its
    replay record in the store.  Only a check that must first download a JWK Set (an allowlisted ``jku``)
    runs in a worker thread, so a slow key server never holds up the loop."""
    if state.verifier is None:
        return None
    try:
        return _verified_client(request, state, may_download=False)
    except KeyDownloadNeeded:
        return await run_in_threadpool(_verified_client, request, state, may_download=True)


def _verified_client(request: Request, state: AppState, *, may_download: bool) -> ClientIdentity:
    assert state.verifier is not None
    values = request.headers.getlist("authorization")
    if len(values) > 1:
        # Which one counts would be a guess (a proxy may check the last, this service read the first):
        # a request with several credentials is refused whatever they hold.
        raise AuthenticationError("more than one Authorization header")
    scheme, _, token = (values[0] if values else "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("no bearer token")
    audience = f"{state.settings.public_base_url}{endpoint_path(request)}"
    return state.verifier.verify(token.strip(), audience, may_download=may_download)


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[Store, Depends(get_store)]
CatalogueDep = Annotated[ServiceCatalogue, Depends(get_catalogue)]
SessionDep = Annotated[requests.Session, Depends(get_session)]
HandlerDep = Annotated[HookHandler, Depends(get_handler)]
AuditDep = Annotated[IssuedCardWriter, Depends(get_audit)]
PlanViewsDep = Annotated[PlanViews, Depends(get_plan_views)]
ClientDep = Annotated[ClientIdentity | None, Depends(authenticated_client)]
