"""The prefetch templates the services publish in discovery (cds_hooks/*.json) run as written against a
real FHIR server: every key resolves, and the searches find the patient's data.  The test server answers
an unknown search parameter with 400, so a misspelt parameter fails here instead of silently finding
nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from fhir_fixtures import PATIENT_UUID, ids_of_type, patient_bundle

from fhir_bonemet.cds.prefetch_templates import observation_templates
from fhir_bonemet.cds.services import load_services
from fhir_bonemet.client import PrefetchRequest, PrefetchResolver, ServerPolicy
from fhir_bonemet.fhir.terminology.lookup import Terminology

pytestmark = pytest.mark.integration

SERVICE_FILES = sorted((Path(__file__).parents[2] / "cds_hooks").glob("*.json"))


def _medication_and_procedure_entries() -> list[dict[str, Any]]:
    subject = {"reference": PATIENT_UUID}
    resources = [
        {
            "resourceType": "MedicationRequest",
            "status": "active",
            "intent": "order",
            "medicationCodeableConcept": {
                "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "7052"}]
            },
            "subject": subject,
        },
        {
            "resourceType": "MedicationStatement",
            "status": "active",
            "medicationCodeableConcept": {
                "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "161"}]
            },
            "subject": subject,
        },
        {
            "resourceType": "Procedure",
            "status": "completed",
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "1287742003"}]},
            "subject": subject,
            "performedDateTime": "2024-01-05",
        },
    ]
    return [{"resource": r, "request": {"method": "POST", "url": r["resourceType"]}} for r in resources]


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as http:
        http.trust_env = False
        yield http


def test_services_publish_templates() -> None:
    assert len(SERVICE_FILES) >= 3
    assert all(json.loads(path.read_text())["prefetch"] for path in SERVICE_FILES)


@pytest.mark.parametrize("service_file", SERVICE_FILES, ids=lambda path: path.stem)
def test_published_templates_resolve_against_a_real_server(
    fresh_fhir: Any, session: requests.Session, service_file: Path
) -> None:
    # The templates as discovery publishes them: the files plus the Observation searches generated from
    # the terminology at start-up.
    loaded = load_services(service_file.parent, observation_templates(Terminology.load().search_codes))
    definition = next(s for s in loaded.services if s.hook == service_file.stem)
    service = definition.discovery_entry()
    bundle = patient_bundle(pain_scores=3)
    bundle["entry"].extend(_medication_and_procedure_entries())
    created = fresh_fhir.created_ids(fresh_fhir.load(bundle))
    patient_id = ids_of_type(created, "Patient")[0]
    fresh_fhir.clear_requests()

    resolver = PrefetchResolver(session, ServerPolicy([fresh_fhir.base_url]))
    request = PrefetchRequest(
        hook_instance="0d5f1c5e-7b1b-4c1e-9d55-5a3f3c2a0b01",
        context={"patientId": patient_id, "userId": "Practitioner/prac-1"},
        prefetch={},
        fhir_server=fresh_fhir.base_url,
    )
    required = frozenset(service.get("extension", {}).get("org.fhir-bonemet.required-prefetch", []))
    result = resolver.resolve(service["prefetch"], request, required)

    assert not result.unavailable, result.issues
    assert result.fetched == set(service["prefetch"])
    assert {request["status"] for request in fresh_fhir.requests_seen()} == {200}
    found = {key: len((value or {}).get("entry", [])) for key, value in result.data.items()}
    assert result.data["patient"] is not None
    assert result.data["patient"]["id"] == patient_id
    # What the fixture holds for this patient, key by key (the resolved Condition too: history counts).
    expected = {
        "conditions": 2,
        "observations-pain": 3,
        "medication-requests": 1,
        "medication-statements": 1,
        "procedures": 1,
    }
    checked = {key: count for key, count in expected.items() if key in service["prefetch"]}
    assert {"conditions", "observations-pain"} <= checked.keys()
    assert {key: found[key] for key in checked} == checked
