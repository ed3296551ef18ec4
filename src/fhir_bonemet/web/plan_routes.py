"""The plan pages behind the signed links of the cards: the clinician page, the handout and its PDF.

Every response is ``Cache-Control: no-store`` with a strict Content-Security-Policy: the pages load only
the service's own stylesheet, run no script, and cannot be framed.  An altered or expired link gets a plain
403 page, a valid link whose plan is gone a plain 404 page; neither shows any patient data.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from importlib import resources
from typing import Literal

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from fhir_bonemet.plan_page.handout import render_handout
from fhir_bonemet.plan_page.layout import ASSET_PATH, ICON_PATH, error_document
from fhir_bonemet.plan_page.page import render_plan_page
from fhir_bonemet.plan_page.pdf import handout_pdf
from fhir_bonemet.plan_page.publish import plan_path, signer_for
from fhir_bonemet.plan_page.view import PLAN_VIEW_VERSION, PlanView
from fhir_bonemet.store.base import StoredPlanView
from fhir_bonemet.store.plan_views import PlanViews
from fhir_bonemet.web.deps import PlanViewsDep, SettingsDep

__all__ = ["CONTENT_SECURITY_POLICY", "plan_router"]

plan_router = APIRouter()

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
_STATIC = resources.files("fhir_bonemet.plan_page").joinpath("static")
# Plan views are written in the background, within a fraction of a second of the answer; another worker
# process may receive the click before that.  A link issued this recently is looked up again for this long
# before the page says "not found".
_FRESH_LINK_SECONDS = 5.0
_FRESH_LINK_WAIT_SECONDS = 1.0
_STYLESHEET = _STATIC.joinpath("plan.css").read_text("utf-8")
_ICON = _STATIC.joinpath("icon.svg").read_text("utf-8")


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def _refusal(exc: _Refused) -> HTMLResponse:
    return HTMLResponse(error_document(exc.status, exc.message), status_code=exc.status, headers=_HEADERS)


def _stored(views: PlanViews, plan_id: str, now: datetime, issued_at: float) -> StoredPlanView | None:
    stored = views.plan_get(plan_id, now)
    give_up = time.monotonic() + _FRESH_LINK_WAIT_SECONDS
    while stored is None and now.timestamp() - issued_at < _FRESH_LINK_SECONDS and time.monotonic() < give_up:
        time.sleep(0.05)
        stored = views.plan_get(plan_id, now)
    return stored


def _load(token: str, settings: SettingsDep, views: PlanViews) -> PlanView:
    now = datetime.now(UTC)
    signer = signer_for(settings)
    claims = signer.verify(token, now)
    if claims is None:
        raise _Refused(403, "This link has expired or is not valid")
    stored = _stored(views, claims.plan_id, now, claims.expires - settings.plan_link_ttl_seconds)
    if stored is None or stored.patient_key != claims.patient_key:
        raise _Refused(404, "Plan not found")
    view: PlanView = json.loads(stored.body_json)
    if view.get("version") != PLAN_VIEW_VERSION:
        raise _Refused(404, "Plan not found")
    return view


@plan_router.api_route(ASSET_PATH, methods=["GET", "HEAD"])
async def stylesheet() -> Response:
    headers = {**_HEADERS, "Cache-Control": "public, max-age=3600"}
    return Response(_STYLESHEET, media_type="text/css; charset=utf-8", headers=headers)


@plan_router.api_route(ICON_PATH, methods=["GET", "HEAD"])
async def icon() -> Response:
    headers = {**_HEADERS, "Cache-Control": "public, max-age=86400"}
    return Response(_ICON, media_type="image/svg+xml", headers=headers)


@plan_router.api_route("/plan/{token}", methods=["GET", "HEAD"])
async def plan_page(token: str, settings: SettingsDep, views: PlanViewsDep) -> Response:
    try:
        view = await run_in_threadpool(_load, token, settings, views)
    except _Refused as exc:
        return _refusal(exc)
    base = plan_path(token)
    html = render_plan_page(view, handout_href=f"{base}/handout", pdf_href=f"{base}/handout.pdf")
    return HTMLResponse(html, headers=_HEADERS)


@plan_router.api_route("/plan/{token}/handout", methods=["GET", "HEAD"])
async def handout_page(token: str, settings: SettingsDep, views: PlanViewsDep) -> Response:
    try:
        view = await run_in_threadpool(_load, token, settings, views)
    except _Refused as exc:
        return _refusal(exc)
    return HTMLResponse(render_handout(view, pdf_href=f"{plan_path(token)}/handout.pdf"), headers=_HEADERS)


@plan_router.api_route("/plan/{token}/handout.pdf", methods=["GET", "HEAD"])
async def handout_pdf_file(
    token: str, settings: SettingsDep, views: PlanViewsDep, paper: Literal["A4", "Letter"] = "A4"
) -> Response:
    try:
        view = await run_in_threadpool(_load, token, settings, views)
    except _Refused as exc:
        return _refusal(exc)
    pdf = await run_in_threadpool(handout_pdf, view, paper)
    headers = {**_HEADERS, "Content-Disposition": 'inline; filename="exercise-and-pain-plan.pdf"'}
    return Response(pdf, media_type="application/pdf", headers=headers)
