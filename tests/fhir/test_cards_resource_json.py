"""The CarePlan and referral JSON in the cards is exactly what the typed R4B models would write.

The service validates every outbound resource as a typed ``fhir.resources.R4B`` object but sends the JSON
it validated rather than the model's (much slower) serialisation.  These tests hold that shortcut to its
promise for every example patient and hook: the JSON sent is byte for byte the model's own
``model_dump(mode="json", exclude_none=True)``, key order included, and the CarePlan identifier is the
digest of that serialisation.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B.careplan import CarePlan
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.servicerequest import ServiceRequest
from pydantic import ValidationError

from example_app import example_client
from fhir_bonemet.cli.examples_runner import default_examples_dir, load_manifest, prefetched_request
from fhir_bonemet.core.model.hooks import Hook
from fhir_bonemet.fhir.outbound.careplan import (
    BuiltCarePlan,
    CarePlanStatus,
    activated,
    content_digest,
    with_status,
)
from fhir_bonemet.fhir.outbound.elements import typed_element

EXAMPLES = default_examples_dir()
MANIFEST = load_manifest(EXAMPLES)
SCENARIOS = [s["id"] for s in MANIFEST["scenarios"]]


def canonical(model: type[CarePlan] | type[ServiceRequest], resource: dict[str, Any]) -> dict[str, Any]:
    dumped: dict[str, Any] = model.model_validate(resource).model_dump(mode="json", exclude_none=True)
    return dumped


def same_json(sent: dict[str, Any], expected: dict[str, Any]) -> bool:
    """Equal as text, so key order and number forms (1 vs 1.0) count too."""
    return json.dumps(sent, ensure_ascii=False) == json.dumps(expected, ensure_ascii=False)


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with tempfile.TemporaryDirectory() as data_dir, example_client(Path(data_dir)) as test_client:
        yield test_client


def service_ids(client: TestClient) -> dict[str, str]:
    services = client.get("/cds-services").json()["services"]
    return {s["hook"]: s["id"] for s in services}


def created(cards: list[dict[str, Any]], resource_type: str) -> list[dict[str, Any]]:
    return [
        action["resource"]
        for card in cards
        for suggestion in card.get("suggestions", [])
        for action in suggestion["actions"]
        if action["type"] == "create" and action["resource"]["resourceType"] == resource_type
    ]


def plan_from(resource: dict[str, Any]) -> BuiltCarePlan:
    identifier = resource["identifier"][0]
    return BuiltCarePlan(resource, identifier["system"], identifier["value"], (), False)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_sent_careplans_and_referrals_equal_the_models_serialisation(
    client: TestClient, scenario: str
) -> None:
    ids = service_ids(client)
    checked = 0
    for hook in Hook:
        response = client.post(f"/cds-services/{ids[hook]}", json=prefetched_request(scenario, hook))
        assert response.status_code == 200, response.text
        cards = response.json()["cards"]
        for referral in created(cards, "ServiceRequest"):
            assert same_json(referral, canonical(ServiceRequest, referral)), (hook, referral["code"])
            checked += 1
        for plan in created(cards, "CarePlan"):
            dumped = canonical(CarePlan, plan)
            # The identifier goes first, right after resourceType (it is added once the content is known).
            assert same_json(plan, {"resourceType": "CarePlan", "identifier": dumped["identifier"], **dumped})
            without_identifier = {k: v for k, v in dumped.items() if k != "identifier"}
            patient = plan["subject"]["reference"]
            assert plan["identifier"][0]["value"] == content_digest(patient, without_identifier)
            checked += 1
    if scenario != "brain-only-metastasis":
        assert checked > 0, "every in-population example proposes at least one resource"


@pytest.mark.parametrize("scenario", ["thoracic-spine-sins14", "opioid-benzodiazepine"])
def test_status_changes_and_activation_equal_the_models_serialisation(
    client: TestClient, scenario: str
) -> None:
    ids = service_ids(client)
    body = prefetched_request(scenario, "patient-view")
    cards = client.post(f"/cds-services/{ids['patient-view']}", json=body).json()["cards"]
    (resource,) = created(cards, "CarePlan")
    draft = with_status(plan_from(resource), CarePlanStatus.DRAFT)
    assert draft.resource["status"] == "draft"
    assert same_json(draft.resource, canonical(CarePlan, draft.resource))
    active = activated(draft.resource, "cp-7")
    assert (active["id"], active["status"]) == ("cp-7", "active")
    assert same_json(active, canonical(CarePlan, active))


def test_code_table_elements_are_validated_once_and_invalid_ones_still_rejected() -> None:
    concept = {"coding": [{"system": "http://example.org/cs", "code": "a", "display": "A"}], "text": "A"}
    first = typed_element(CodeableConcept, concept)
    assert isinstance(first, CodeableConcept)
    assert typed_element(CodeableConcept, dict(concept)) is first  # same JSON: the object validated before
    assert typed_element(CodeableConcept, {**concept, "text": "B"}) is not first
    with pytest.raises(ValidationError):
        typed_element(
            CodeableConcept, {"coding": [{"system": "http://example.org/cs", "code": "a"}], "bad": 1}
        )
    with pytest.raises(ValidationError):
        typed_element(CodeableConcept, {"coding": "not a list"})
