"""Every example patient and every FHIR vignette as CDS Hooks calls through the HTTP app.

Examples (``examples/<scenario>``) are fired on each hook with everything prefetched, dated as of today;
pain vignettes (``tests/data/vignettes/pain``) carry their own hook, prefetch and draft orders; exercise
vignettes (``tests/data/vignettes/exercise``) are Bundles fired on ``patient-view``.  The app is the real
one (``create_app`` with the real :class:`~fhir_bonemet.workflow.Workflow`), with its clock set to each
case's date so the dated records stay current.
"""

from __future__ import annotations

import json
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from fhir_bonemet.cli.examples_runner import load_manifest, prefetch_of, prefetched_request
from fhir_bonemet.core.model.hooks import Hook
from fhir_bonemet.main import build_app
from fhir_bonemet.project_dirs import EXAMPLES
from fhir_bonemet.settings import Settings
from fhir_bonemet.workflow import Workflow

ROOT = Path(__file__).resolve().parents[2]
VIGNETTES = ROOT / "tests" / "data" / "vignettes"
Json = dict[str, Any]


@dataclass(frozen=True)
class HookCase:
    name: str  # "example:hypercalcaemia", "pain:v01-…", "exercise:v01_…"
    hook: str
    today: date
    request: Json = field(repr=False)


def _bundle(resources: list[Json], kind: str = "searchset") -> Json:
    return {"resourceType": "Bundle", "type": kind, "entry": [{"resource": r} for r in resources]}


def _request(hook: str, patient_id: str, prefetch: Json, drafts: Json | None, selections: list[str]) -> Json:
    context: Json = {"userId": "Practitioner/example", "patientId": patient_id}
    if hook in ("order-select", "order-sign"):
        context["draftOrders"] = drafts or _bundle([], "collection")
    if hook == "order-select":
        context["selections"] = selections
    return {
        "hook": hook,
        "hookInstance": str(uuid.uuid5(uuid.NAMESPACE_URL, f"fhir-bonemet-tests:{hook}:{patient_id}")),
        "context": context,
        "prefetch": prefetch,
    }


def example_cases(today: date | None = None) -> Iterator[HookCase]:
    day = today or date.today()
    examples = EXAMPLES.default
    for scenario in load_manifest(examples)["scenarios"]:
        for hook in (h.value for h in Hook):
            if (examples / scenario["id"] / f"{hook}.json").is_file():
                yield HookCase(
                    f"example:{scenario['id']}",
                    hook,
                    day,
                    prefetched_request(scenario["id"], hook, today=day),
                )


def request_of_case(case: Json) -> Json:
    """The CDS Hooks request for a vignette file's content (hook, patient, prefetch resources, drafts)."""
    resources = [e["resource"] for e in case["prefetch"]["resources"].get("entry", [])]
    prefetch = prefetch_of([case["prefetch"]["patient"], *resources])
    return _request(
        case["hook"], case["patientId"], prefetch, case.get("draftOrders"), case.get("selections", [])
    )


def pain_vignette_cases() -> Iterator[HookCase]:
    for path in sorted((VIGNETTES / "pain").glob("v*.json")):
        case = json.loads(path.read_text(encoding="utf-8"))
        request = request_of_case(case)
        yield HookCase(f"pain:{path.stem}", case["hook"], date.fromisoformat(case["today"]), request)


def exercise_vignette_cases() -> Iterator[HookCase]:
    expected = json.loads((VIGNETTES / "exercise" / "expected.json").read_text(encoding="utf-8"))
    today = date.fromisoformat(expected["today"])
    for name in sorted(expected["vignettes"]):
        bundle = json.loads((VIGNETTES / "exercise" / f"{name}.json").read_text(encoding="utf-8"))
        resources = [e["resource"] for e in bundle["entry"]]
        request = _request("patient-view", expected["patient_id"], prefetch_of(resources), None, [])
        yield HookCase(f"exercise:{name}", "patient-view", today, request)


def all_cases() -> list[HookCase]:
    return [*example_cases(), *pain_vignette_cases(), *exercise_vignette_cases()]


@cache
def _client(today: date) -> TestClient:
    settings = Settings(auth_required=False, data_dir=Path(tempfile.mkdtemp(prefix="bonemet-cards-")))
    clock: Callable[[], date] = lambda: today  # noqa: E731 - the app's notion of "today" for this case
    return TestClient(build_app(settings, handler=Workflow.from_settings(settings, clock=clock)))


def answer(case: HookCase, request: Json | None = None) -> Json:
    """The whole response body for ``case`` (or for ``request``, fired on the case's date)."""
    body = request if request is not None else case.request
    response = _client(case.today).post(f"/cds-services/bonemet-{body['hook']}", json=body)
    assert response.status_code == 200, (case.name, response.status_code, response.text[:300])
    answered: Json = response.json()
    return answered


def answer_raw(case: HookCase, hook: str, raw: bytes) -> Json:
    """The whole response body for a request sent as ``raw`` bytes (JSON a dict cannot hold)."""
    headers = {"content-type": "application/json"}
    response = _client(case.today).post(f"/cds-services/bonemet-{hook}", content=raw, headers=headers)
    assert response.status_code == 200, (case.name, response.status_code, response.text[:300])
    answered: Json = response.json()
    return answered


def open_link(case: HookCase, url: str) -> str:
    """The page behind a link of an answer for ``case`` (the plan page), from the app that gave it."""
    response = _client(case.today).get(url.removeprefix("http://testserver"))
    assert response.status_code == 200, (case.name, url, response.status_code)
    return response.text


def fire(case: HookCase, request: Json | None = None) -> list[Json]:
    """The cards the service answers for ``case`` (or for ``request``, fired on the case's date)."""
    cards: list[Json] = answer(case, request)["cards"]
    return cards


PHYSIO_DRAFT = "ServiceRequest/draft-physio"


def draft_physio_order(request: Json, name: str, *, selected: bool = True) -> None:
    """Add to an order hook's ``request`` a drafted ServiceRequest named ``name`` (a physiotherapy order, or
    whatever ``name`` says), beside its drafted medicine; on order-select it is the selected order when
    ``selected``, else the medicine stays the one selected."""
    order = {
        "resourceType": "ServiceRequest",
        "id": PHYSIO_DRAFT.split("/")[1],
        "status": "draft",
        "intent": "order",
        "code": {"text": name},
        "subject": {"reference": f"Patient/{request['context']['patientId']}"},
    }
    request["context"]["draftOrders"]["entry"].append({"resource": order})
    if request["hook"] == "order-select" and selected:
        request["context"]["selections"] = [PHYSIO_DRAFT]
