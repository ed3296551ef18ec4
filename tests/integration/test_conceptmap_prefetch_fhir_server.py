"""A chart kept in the hospital's own codes, with a ConceptMap, gives the same cards as the same chart in
the project's codes — whether the EHR prefetches by executing the templates the service publishes in
discovery, or the service fetches for itself from ``fhirServer``.

The templates are generated at start-up from the ValueSets and the loaded ConceptMaps' source codes; before
that, the Observation searches named only the project's codes, so a local SINS, Mirels, lesion type, red
flag or surgical review was never sent and the cards came out wrong.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from ehr_prefetch import discovery_templates, ehr_prefetch
from fastapi.testclient import TestClient
from local_codes import EXAMPLE_MAP, in_local_codes, project_codes_left

from fhir_bonemet.cli.examples_runner import default_examples_dir, load_manifest
from fhir_bonemet.main import build_app
from fhir_bonemet.settings import Settings
from fhir_bonemet.workflow import Workflow

pytestmark = pytest.mark.integration

EXAMPLES = default_examples_dir()
ANCHOR = date.fromisoformat(load_manifest(EXAMPLES)["anchorDate"])
RULES = "org.fhir-bonemet.rules"
SERVICE = "bonemet-patient-view"


def _scenario(name: str) -> tuple[dict[str, Any], str]:
    bundle = json.loads((EXAMPLES / name / "bundle.json").read_text(encoding="utf-8"))
    request = json.loads((EXAMPLES / name / "patient-view.json").read_text(encoding="utf-8"))
    return bundle, request["context"]["patientId"]


def _with_surgical_review(bundle: dict[str, Any], patient_id: str, lesion_id: str) -> dict[str, Any]:
    """The opioid-benzodiazepine chart plus a surgical review of its L3 lesion after the SINS score."""
    lesion = next(e["resource"] for e in bundle["entry"] if e["resource"].get("id") == lesion_id)
    review = {
        "resourceType": "Procedure",
        "id": f"{patient_id}-surgical-review",
        "status": "completed",
        "code": {
            "coding": [
                {"system": "http://fhir-bonemet.org/fhir/CodeSystem/bonemet", "code": "surgical-review-done"}
            ]
        },
        "subject": {"reference": f"Patient/{patient_id}"},
        "performedDateTime": "2025-05-30T10:00:00Z",
        "bodySite": lesion["bodySite"],
        "reasonReference": [{"reference": f"Condition/{lesion_id}"}],
    }
    entry = {"resource": review, "request": {"method": "PUT", "url": f"Procedure/{review['id']}"}}
    return {**bundle, "entry": [*bundle["entry"], entry]}


def charts() -> dict[str, tuple[dict[str, Any], str]]:
    sins, sins_patient = _scenario("thoracic-spine-sins14")  # SINS 14, lytic lesion
    mirels, mirels_patient = _scenario("proximal-femur-mirels9")  # Mirels 9, lytic lesion
    cord, cord_patient = _scenario("suspected-cord-compression")  # limb weakness, walking, thoracic pain
    opioid, opioid_patient = _scenario("opioid-benzodiazepine")  # SINS 9: settled by a surgical review
    reviewed = _with_surgical_review(opioid, opioid_patient, "bm-opioid-benzo-met")
    return {
        "sins": (sins, sins_patient),
        "mirels": (mirels, mirels_patient),
        "red-flags": (cord, cord_patient),
        "surgical-review": (reviewed, opioid_patient),
    }


@pytest.fixture
def service(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        auth_required=False,
        data_dir=tmp_path,
        conceptmap_dirs=(EXAMPLE_MAP.parent,),
        fhir_server_allow_any=True,
    )
    workflow = Workflow.from_settings(settings, clock=lambda: ANCHOR)
    with TestClient(build_app(settings, handler=workflow)) as client:
        yield client


def _cards(client: TestClient, patient_id: str, *, prefetch: Any = None, fhir: Any = None) -> list[Any]:
    body: dict[str, Any] = {
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "hook": "patient-view",
        "context": {"userId": "Practitioner/bm-demo-clinician", "patientId": patient_id},
    }
    if prefetch is not None:
        body["prefetch"] = prefetch
    if fhir is not None:
        body["fhirServer"] = fhir.base_url
    response = client.post(f"/cds-services/{SERVICE}", json=body)
    assert response.status_code == 200, response.text
    # What a clinician sees, rule by rule: the rules, the urgency, the summary and the risk tier.
    return [
        (
            c["extension"][RULES],
            c["indicator"],
            c["summary"],
            c["extension"].get("org.fhir-bonemet.skeletal-risk"),
        )
        for c in response.json()["cards"]
    ]


def _load(fhir: Any, bundle: dict[str, Any]) -> None:
    fhir.reset()
    fhir.load(bundle)


@pytest.mark.parametrize("chart", ["sins", "mirels", "red-flags", "surgical-review"])
def test_a_chart_in_local_codes_gives_the_same_cards_as_in_project_codes(
    fresh_fhir: Any, service: TestClient, chart: str
) -> None:
    bundle, patient_id = charts()[chart]
    local, changed = in_local_codes(bundle)
    assert changed >= 3
    assert project_codes_left(local) == []
    templates = discovery_templates(service, SERVICE)

    _load(fresh_fhir, bundle)
    expected = _cards(service, patient_id, prefetch=ehr_prefetch(fresh_fhir, templates, patient_id))
    assert expected, "the chart in project codes must give cards"

    _load(fresh_fhir, local)
    by_ehr = _cards(service, patient_id, prefetch=ehr_prefetch(fresh_fhir, templates, patient_id))
    by_service = _cards(service, patient_id, fhir=fresh_fhir)
    assert by_ehr == expected
    assert by_service == expected


def test_the_charts_are_told_apart_by_the_data_the_map_carries(fresh_fhir: Any, service: TestClient) -> None:
    """The comparison above can fail: the mapped data change the cards.  Without the surgical review the
    SINS 9 lesion stays a warning for spine surgery; with it (sent in local codes) the card changes."""
    opioid, patient_id = _scenario("opioid-benzodiazepine")
    reviewed, _ = charts()["surgical-review"]
    templates = discovery_templates(service, SERVICE)
    _load(fresh_fhir, in_local_codes(opioid)[0])
    without = _cards(service, patient_id, prefetch=ehr_prefetch(fresh_fhir, templates, patient_id))
    _load(fresh_fhir, in_local_codes(reviewed)[0])
    with_review = _cards(service, patient_id, prefetch=ehr_prefetch(fresh_fhir, templates, patient_id))
    assert without != with_review
    _load(fresh_fhir, in_local_codes(charts()["red-flags"][0])[0])
    cord = _cards(service, charts()["red-flags"][1], fhir=fresh_fhir)
    assert "R01" in cord[0][0]


def test_without_the_conceptmap_the_local_chart_loses_its_red_flag(fresh_fhir: Any, tmp_path: Path) -> None:
    """The same local chart, with no ConceptMap loaded: the limb weakness is not understood (and the
    templates do not ask for it), so R01 is missing — the gap the generated templates close."""
    settings = Settings(auth_required=False, data_dir=tmp_path, fhir_server_allow_any=True)
    workflow = Workflow.from_settings(settings, clock=lambda: ANCHOR)
    bundle, patient_id = charts()["red-flags"]
    with TestClient(build_app(settings, handler=workflow)) as client:
        templates = discovery_templates(client, SERVICE)
        assert "RF-LEG-WEAK" not in json.dumps(templates)
        _load(fresh_fhir, in_local_codes(bundle)[0])
        cards = _cards(client, patient_id, fhir=fresh_fhir)
    assert all("R01" not in rules for rules, *_ in cards)
