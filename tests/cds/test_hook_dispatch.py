"""Which requests the hook-call dispatch answers itself (the rest go on to FastAPI's router)."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_bonemet.web.hook_dispatch import hook_service_id


def _scope(method: str, path: str, root_path: str = "", kind: str = "http") -> dict[str, Any]:
    return {"type": kind, "method": method, "path": path, "root_path": root_path}


@pytest.mark.parametrize(
    ("scope", "service_id"),
    [
        (_scope("POST", "/cds-services/bonemet-patient-view"), "bonemet-patient-view"),
        (_scope("POST", "/proxy/cds-services/svc", root_path="/proxy"), "svc"),
        (_scope("POST", "/cds-services/svc/feedback"), None),  # feedback is FastAPI's
        (_scope("POST", "/cds-services/"), None),
        (_scope("POST", "/cds-services"), None),
        (_scope("POST", "/other/cds-services/svc"), None),
        (_scope("GET", "/cds-services/svc"), None),  # the router answers 405
        (_scope("OPTIONS", "/cds-services/svc"), None),
    ],
)
def test_only_a_post_to_one_service_url_is_a_hook_call(scope: dict[str, Any], service_id: str | None) -> None:
    assert hook_service_id(scope) == service_id


def test_websockets_pass_through() -> None:
    assert hook_service_id({"type": "websocket", "path": "/cds-services/svc"}) is None
