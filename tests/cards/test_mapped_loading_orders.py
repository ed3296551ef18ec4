"""A hospital's own order codes, mapped by a ConceptMap onto the project concept "an order that may load the
bone" (``bone-loading-order``), are warned about at order entry exactly as a physiotherapy order named in
words is.  A ward drafts "PT-AMB" (its abbreviation for physiotherapy: ambulation) or a walking frame under
its own order catalogue code; no word of the name says what it is, so only the map can.  Fired through the
HTTP app on the rib example patient with the platelets at 15 (exercise on hold, EX04)."""

from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hook_answers import HookCase, example_cases

from fhir_bonemet.main import build_app
from fhir_bonemet.settings import Settings
from fhir_bonemet.workflow import Workflow

Json = dict[str, Any]
BONEMET = "http://fhir-bonemet.org/fhir/CodeSystem/bonemet"
ORDERS = "http://hospital.example.org/order-catalogue"
ORDER_MAP: Json = {
    "resourceType": "ConceptMap",
    "url": "http://hospital.example.org/fhir/ConceptMap/orders",
    "status": "active",
    "group": [
        {
            "source": ORDERS,
            "target": BONEMET,
            "element": [
                {"code": "PT-AMB", "target": [{"code": "bone-loading-order", "equivalence": "equivalent"}]},
                {"code": "TM-1", "target": [{"code": "bone-loading-order", "equivalence": "equivalent"}]},
            ],
        }
    ],
}


def _request(resource_type: str, code: str) -> tuple[HookCase, Json]:
    """The rib example on order-sign with platelets 15 and a draft ``resource_type`` coded only by the
    hospital's ``code`` (its text the same abbreviation)."""
    case = next(
        c for c in example_cases() if c.name == "example:rib-blastic-ecog1" and c.hook == "order-sign"
    )
    request = copy.deepcopy(case.request)
    for entry in request["prefetch"]["observations-labs"]["entry"]:
        if any(coding["code"] == "777-3" for coding in entry["resource"]["code"]["coding"]):
            entry["resource"]["valueQuantity"]["value"] = 15
    element = "code" if resource_type == "ServiceRequest" else "codeCodeableConcept"
    request["context"]["draftOrders"]["entry"].append(
        {
            "resource": {
                "resourceType": resource_type,
                "id": "local-order",
                "status": "draft",
                "intent": "order",
                element: {"coding": [{"system": ORDERS, "code": code}], "text": code},
                "subject": {"reference": f"Patient/{request['context']['patientId']}"},
            }
        }
    )
    return case, request


def _ex04(case: HookCase, request: Json, conceptmap_dirs: tuple[Path, ...]) -> list[Json]:
    settings = Settings(
        auth_required=False,
        data_dir=Path(tempfile.mkdtemp(prefix="bonemet-answers-")),
        conceptmap_dirs=conceptmap_dirs,
    )
    handler = Workflow.from_settings(settings, clock=lambda: case.today)
    response = TestClient(build_app(settings, handler=handler)).post(
        "/cds-services/bonemet-order-sign", json=request
    )
    assert response.status_code == 200, response.text[:300]
    cards: list[Json] = response.json()["cards"]
    return [c for c in cards if "EX04" in c.get("extension", {}).get("org.fhir-bonemet.rules", [])]


@pytest.mark.parametrize(("resource_type", "code"), [("ServiceRequest", "PT-AMB"), ("DeviceRequest", "TM-1")])
def test_a_local_order_code_mapped_as_loading_the_bone_gets_the_hold_card(
    tmp_path: Path, resource_type: str, code: str
) -> None:
    (tmp_path / "orders.json").write_text(json.dumps(ORDER_MAP), encoding="utf-8")
    (card,) = _ex04(*_request(resource_type, code), (tmp_path,))
    assert card["summary"].startswith("Exercise on hold (critical cytopenia; platelets 15 ×10⁹/L): defer")
    actions = [a for s in card.get("suggestions", []) for a in s["actions"] if a["type"] == "delete"]
    assert [a["resourceId"] for a in actions] == [f"{resource_type}/local-order"]


def test_the_same_local_order_code_without_a_map_is_read_by_its_name_only() -> None:
    """Without the map the abbreviation names nothing the service can read: this is the gap the map fills."""
    assert _ex04(*_request("ServiceRequest", "PT-AMB"), ()) == []


@pytest.mark.parametrize(("resource_type", "code"), [("ServiceRequest", "PT-AMB"), ("DeviceRequest", "TM-1")])
def test_the_example_conceptmaps_map_the_order_catalogue(resource_type: str, code: str) -> None:
    """The shipped example (examples/conceptmaps, the directory docs/integration.md starts the service
    with) shows the order group: with it alone, the ward's abbreviation gets the hold card and its cancel."""
    examples = Path(__file__).parents[2] / "examples" / "conceptmaps"
    (card,) = _ex04(*_request(resource_type, code), (examples,))
    actions = [a for s in card.get("suggestions", []) for a in s["actions"] if a["type"] == "delete"]
    assert [a["resourceId"] for a in actions] == [f"{resource_type}/local-order"]
