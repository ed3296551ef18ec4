"""A value the EHR reports inside a panel (an Observation ``component``) reaches the cards through the FHIR
search, whether the EHR prefetches by executing the templates the service publishes in discovery or the
service fetches for itself from ``fhirServer``.

The reader always took values from components, but the searches named codes with ``code=``, which matches
only an Observation's own code: a pain score inside a pain-assessment panel was never fetched, and the card
asked for a pain score the chart had.  The ``observation-panels-*`` searches (``component-code=``) find it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from ehr_prefetch import discovery_templates, ehr_prefetch
from fastapi.testclient import TestClient

from fhir_bonemet.cli.examples_runner import default_examples_dir, load_manifest
from fhir_bonemet.main import build_app
from fhir_bonemet.settings import Settings
from fhir_bonemet.workflow import Workflow

pytestmark = pytest.mark.integration

EXAMPLES = default_examples_dir()
ANCHOR = date.fromisoformat(load_manifest(EXAMPLES)["anchorDate"])
RULES = "org.fhir-bonemet.rules"
SERVICE = "bonemet-patient-view"
SCENARIO = "thoracic-spine-sins14"  # pain score 6 among SINS 14, a lytic T9 lesion
PAIN = "bm-thoracic-sins14-pain"
PANEL_CODE = {"system": "http://hospital.example.org/flowsheet", "code": "PAIN-ASSESSMENT", "display": "Pain"}


def _chart() -> tuple[dict[str, Any], str]:
    bundle = json.loads((EXAMPLES / SCENARIO / "bundle.json").read_text(encoding="utf-8"))
    request = json.loads((EXAMPLES / SCENARIO / "patient-view.json").read_text(encoding="utf-8"))
    return bundle, request["context"]["patientId"]


def _in_a_panel(bundle: dict[str, Any]) -> dict[str, Any]:
    """The chart with its pain score moved into a component of a pain-assessment panel whose own code is the
    hospital's (no project code), as flowsheet exports report it."""
    panelled = copy.deepcopy(bundle)
    pain = next(e["resource"] for e in panelled["entry"] if e["resource"].get("id") == PAIN)
    component = {"code": pain["code"], "valueInteger": pain.pop("valueInteger")}
    pain["code"] = {"coding": [PANEL_CODE]}
    pain["component"] = [component]
    return panelled


def _service(tmp_path: Path, **settings: Any) -> TestClient:
    configured = Settings(auth_required=False, data_dir=tmp_path, fhir_server_allow_any=True, **settings)
    return TestClient(build_app(configured, handler=Workflow.from_settings(configured, clock=lambda: ANCHOR)))


@pytest.fixture
def service(tmp_path: Path) -> Iterator[TestClient]:
    with _service(tmp_path, panel_searches=True) as client:
        yield client


def _answer(client: TestClient, patient_id: str, *, prefetch: Any = None, fhir: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hookInstance": "7c1e2f0a-1b2c-4d3e-8f40-5a6b7c8d9e01",
        "hook": "patient-view",
        "context": {"userId": "Practitioner/bm-demo-clinician", "patientId": patient_id},
    }
    if prefetch is not None:
        body["prefetch"] = prefetch
    if fhir is not None:
        body["fhirServer"] = fhir.base_url
    response = client.post(f"/cds-services/{SERVICE}", json=body)
    assert response.status_code == 200, response.text
    answered: dict[str, Any] = response.json()
    return answered


def _seen(answer: dict[str, Any]) -> list[Any]:
    """What a clinician sees, rule by rule: the rules, the urgency, the summary and the risk tier."""
    return [
        (
            c["extension"][RULES],
            c["indicator"],
            c["summary"],
            c["extension"].get("org.fhir-bonemet.skeletal-risk"),
        )
        for c in answer["cards"]
    ]


def _load(fhir: Any, bundle: dict[str, Any]) -> None:
    fhir.reset()
    fhir.load(bundle)


def test_a_pain_score_in_a_panel_gives_the_same_cards_as_on_its_own(
    fresh_fhir: Any, service: TestClient
) -> None:
    bundle, patient_id = _chart()
    templates = discovery_templates(service, SERVICE)
    assert templates["observation-panels-pain"].startswith(
        "Observation?patient={{context.patientId}}&component-code="
    )

    _load(fresh_fhir, bundle)
    expected = _seen(_answer(service, patient_id, prefetch=ehr_prefetch(fresh_fhir, templates, patient_id)))
    assert expected

    _load(fresh_fhir, _in_a_panel(bundle))
    by_ehr = _answer(service, patient_id, prefetch=ehr_prefetch(fresh_fhir, templates, patient_id))
    by_service = _answer(service, patient_id, fhir=fresh_fhir)
    assert _seen(by_ehr) == expected
    assert _seen(by_service) == expected
    # The score was read from the panel the search found, and said so on the pain card.
    for answered in (by_ehr, by_service):
        assert "no pain score in the recent record" not in json.dumps(answered["cards"])
    assert any("component-code=" in r["path"] for r in fresh_fhir.requests_seen())


def test_without_the_panel_searches_the_panelled_pain_score_is_never_fetched(
    fresh_fhir: Any, tmp_path: Path
) -> None:
    """The comparison above can fail: with the panel searches off (the default), the service
    fetches by ``code=`` only, never sees the panel, and asks for a pain score the chart has."""
    bundle, patient_id = _chart()
    _load(fresh_fhir, _in_a_panel(bundle))
    with _service(tmp_path) as client:
        assert not [
            key for key in discovery_templates(client, SERVICE) if key.startswith("observation-panels")
        ]
        answered = _answer(client, patient_id, fhir=fresh_fhir)
    assert "no pain score in the recent record" in json.dumps(answered["cards"])
