"""Every resource the service proposes conforms to its profile: 0 errors.

Each example patient is fired through the HTTP path (discovery, then every hook with its prefetch); every
resource in a card's suggestions (the CarePlan, the referral ServiceRequests, the new draft
MedicationRequests a card proposes and the EHR's drafts it changes) is validated, and so are the draft
and activated forms of each CarePlan that write mode sends.  All of them in one validator run.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fhir_bonemet.cli.examples_runner import default_examples_dir, load_manifest, prefetched_request
from fhir_bonemet.conformance.check import Subject, ValidatedResource, validate_subjects
from fhir_bonemet.core.model.hooks import Hook
from fhir_bonemet.fhir.outbound.careplan import BuiltCarePlan, CarePlanStatus, activated, with_status
from fhir_bonemet.main import build_app
from fhir_bonemet.settings import Settings
from fhir_bonemet.workflow import Workflow

MANIFEST = load_manifest(default_examples_dir())
SCENARIOS = [s["id"] for s in MANIFEST["scenarios"]]
ANCHOR = date.fromisoformat(MANIFEST["anchorDate"])
SD = "http://fhir-bonemet.org/fhir/StructureDefinition/"
# By resource type and by what the suggestion does with it (create a new resource, or update one).
EXPECTED_PROFILE = {
    ("CarePlan", "create"): SD + "bonemet-exercise-careplan",
    ("CarePlan", "update"): SD + "bonemet-exercise-careplan",
    ("ServiceRequest", "create"): SD + "bonemet-referral-servicerequest",
    ("MedicationRequest", "create"): SD + "bonemet-suggested-medicationrequest",
    ("MedicationRequest", "update"): SD + "bonemet-annotated-draft-medicationrequest",
}


def _suggested(cards: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for c, card in enumerate(cards):
        for s, suggestion in enumerate(card.get("suggestions", [])):
            for a, action in enumerate(suggestion["actions"]):
                if isinstance(action.get("resource"), dict):
                    where = f"cards[{c}].suggestions[{s}].actions[{a}]"
                    yield f"{where}.resource ({action['type']})", action["resource"]


def _action(result: ValidatedResource) -> str:
    """create or update: the action type in the subject's root, "update" for the write-mode forms."""
    root = result.subject.root
    return "create" if root.endswith("(create)") else "update"


def _write_mode_forms(plan: dict[str, Any], where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    identifier = plan["identifier"][0]
    built = BuiltCarePlan(plan, identifier["system"], identifier["value"], (), False)
    draft = with_status(built, CarePlanStatus.DRAFT).resource
    yield f"{where} (draft, write mode)", draft
    yield f"{where} (activated)", activated(draft, "written-1")


def _za_for_bone_metastases() -> dict[str, Any]:
    """The hypercalcaemia example's order-sign with its zoledronic acid draft ordered for the bone
    metastases: the CrCl table then applies and the card changes the EHR's draft (reduce to 3.5 mg), the
    one kind of changed draft no example shows as it stands (ordered with no reason during urgent
    hypercalcaemia, the 4 mg may be the hypercalcaemia dose, and the card gives both readings)."""
    request = prefetched_request("hypercalcaemia", Hook.ORDER_SIGN.value)
    for entry in request["context"]["draftOrders"]["entry"]:
        if entry["resource"]["resourceType"] == "MedicationRequest":
            entry["resource"]["reasonCode"] = [
                {"coding": [{"system": "http://snomed.info/sct", "code": "94222008"}]}
            ]
    return request


@pytest.fixture(scope="module")
def emitted() -> list[ValidatedResource]:
    subjects: list[Subject] = []
    requests = [
        (f"{scenario}/{hook}", hook, prefetched_request(scenario, hook))
        for scenario in SCENARIOS
        for hook in (h.value for h in Hook)
    ]
    requests.append(
        ("hypercalcaemia/order-sign, ZA for bone metastases", "order-sign", _za_for_bone_metastases())
    )
    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(auth_required=False, data_dir=Path(data_dir))
        app = build_app(settings, handler=Workflow.from_settings(settings, clock=lambda: ANCHOR))
        with TestClient(app) as client:
            services = {s["hook"]: s["id"] for s in client.get("/cds-services").json()["services"]}
            for source, hook, request in requests:
                response = client.post(f"/cds-services/{services[hook]}", json=request)
                assert response.status_code == 200, response.text
                for where, resource in _suggested(response.json()["cards"]):
                    subjects.append(Subject(source, where, resource))
                    if resource["resourceType"] == "CarePlan":
                        subjects += [Subject(source, w, r) for w, r in _write_mode_forms(resource, where)]
    return validate_subjects(subjects)


def test_every_emitted_resource_is_checked_against_its_project_profile(
    emitted: list[ValidatedResource],
) -> None:
    kinds = Counter((r.subject.resource["resourceType"], _action(r)) for r in emitted)
    # The examples exercise every kind: plans, referrals, proposed orders and changed draft orders.
    assert kinds["CarePlan", "create"] >= 7
    assert kinds["CarePlan", "create"] + kinds["CarePlan", "update"] >= 7 * 3
    assert kinds["ServiceRequest", "create"] >= 7
    assert kinds["MedicationRequest", "create"] >= 3
    assert kinds["MedicationRequest", "update"] >= 1
    for result in emitted:
        expected = EXPECTED_PROFILE[result.subject.resource["resourceType"], _action(result)]
        assert expected in result.profiles, result.subject.root


def test_emitted_resources_have_no_validation_errors(emitted: list[ValidatedResource]) -> None:
    errors = [
        f"{r.subject.source} {r.subject.root}: {i.location}: {i.message}" for r in emitted for i in r.errors
    ]
    assert errors == []


def test_avoided_domains_are_sent_as_do_not_perform_activities(emitted: list[ValidatedResource]) -> None:
    # The profile's bonemet-avoid-unscheduled invariant is only meaningful if such activities occur.
    avoided = [
        a
        for r in emitted
        if r.subject.resource["resourceType"] == "CarePlan"
        for a in r.subject.resource.get("activity", [])
        if a["detail"].get("doNotPerform") is True
    ]
    assert avoided
