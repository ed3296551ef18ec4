"""Request wire models: the spec's example requests validate; each malformed part is reported where it is."""

from __future__ import annotations

from typing import Any

import pytest
from cds_helpers import deep, example

from fhir_bonemet.cds.models import (
    CONTEXT_MODELS,
    CDSRequest,
    OrderSelectContext,
    OrderSignContext,
    PatientViewContext,
    parse_request,
)
from fhir_bonemet.errors import InvalidRequestError

UNSAVED = "urn:uuid:0c3a5f5e-7a36-4a4f-9d61-1f3e7c1b2a90"  # the fullUrl of a draft order not saved yet


def parse(body: dict[str, Any]) -> CDSRequest:
    return parse_request(body, CONTEXT_MODELS[body["hook"]])


def problems(body: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(InvalidRequestError) as info:
        parse(body)
    return {problem.location: problem.message for problem in info.value.problems}


class TestSpecExamples:
    def test_patient_view(self) -> None:
        request = parse(example("patient-view.request.json"))
        assert isinstance(request.context, PatientViewContext)
        assert (request.context.userId, request.context.patientId, request.context.encounterId) == (
            "Practitioner/example",
            "1288992",
            "89284",
        )
        assert request.hookInstance == "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea"
        assert request.fhirServer == "http://hooks.smarthealthit.org:9080"
        assert request.prefetch is not None
        assert request.prefetch["patientToGreet"]["birthDate"] == "1925-12-23"
        assert request.fhirAuthorization is not None
        assert request.fhirAuthorization.subject == "cds-service4"

    def test_order_select(self) -> None:
        request = parse(example("order-select.request.json"))
        assert isinstance(request.context, OrderSelectContext)
        assert request.context.selections == [
            "NutritionOrder/pureeddiet-simple",
            "MedicationRequest/smart-MedicationRequest-103",
        ]
        assert request.context.draftOrders["entry"][1]["resource"]["id"] == "smart-MedicationRequest-103"
        assert request.context.userId == "PractitionerRole/123"

    def test_order_sign(self) -> None:
        request = parse(example("order-sign.request.json"))
        assert isinstance(request.context, OrderSignContext)
        assert not isinstance(request.context, OrderSelectContext)
        assert request.context.draft_order_refs() == {
            "NutritionOrder/pureeddiet-simple",
            "MedicationRequest/smart-MedicationRequest-103",
        }


class TestEnvelope:
    @pytest.mark.parametrize("field", ["hookInstance", "context"])
    def test_required_fields(self, field: str) -> None:
        body = example("patient-view.request.json")
        del body[field]
        assert problems(body)[field].endswith("Field required")

    def test_only_hook_instance_hook_and_context_are_required(self) -> None:
        body = example("patient-view.request.json")
        for optional in ("fhirServer", "fhirAuthorization", "prefetch"):
            del body[optional]
        assert parse(body).prefetch is None

    def test_unknown_fields_and_extensions_are_accepted_everywhere(self) -> None:
        body = example("order-select.request.json")
        body["extension"] = {
            "com.example.timestamp": "2017-11-27T22:13:25Z",
            "com.cds-hooks.sandbox.myextension-practitionerspecialty": "gastroenterology",
        }
        body["user"] = "Practitioner/example"  # pre-1.0 clients sent a top-level user
        body["futureField"] = {"x": 1}
        body["context"]["futureContextField"] = [1, 2]
        request = parse(body)
        assert request.extension == body["extension"]
        assert not hasattr(request, "futureField")

    def test_cds_r_1_fhir_authorization_needs_fhir_server(self) -> None:
        body = example("patient-view.request.json")
        del body["fhirServer"]
        assert "cds-r-1" in problems(body)["fhirAuthorization"]

    def test_fhir_server_must_be_an_absolute_url(self) -> None:
        body = example("patient-view.request.json")
        body["fhirServer"] = "hooks.smarthealthit.org/fhir"
        assert "absolute" in problems(body)["fhirServer"]

    @pytest.mark.parametrize(
        ("field", "value"), [("token_type", "MAC"), ("access_token", ""), ("expires_in", -1)]
    )
    def test_fhir_authorization_fields(self, field: str, value: Any) -> None:
        body = example("patient-view.request.json")
        body["fhirAuthorization"][field] = value
        assert f"fhirAuthorization.{field}" in problems(body)

    def test_expires_in_may_be_missing_as_the_sandbox_sometimes_sends(self) -> None:
        body = example("patient-view.request.json")
        del body["fhirAuthorization"]["expires_in"]
        assert parse(body).fhirAuthorization is not None

    def test_access_token_never_prints(self) -> None:
        request = parse(example("patient-view.request.json"))
        assert request.fhirAuthorization is not None
        assert "some-opaque-fhir-access-token" not in repr(request)
        assert "some-opaque-fhir-access-token" not in request.model_dump_json()
        assert request.fhirAuthorization.access_token.get_secret_value() == "some-opaque-fhir-access-token"

    def test_prefetch_values_pass_through_unchanged_including_null(self) -> None:
        body = example("patient-view.request.json")
        body["prefetch"] = {
            "patient": None,
            "conditions": {"resourceType": "Bundle", "type": "searchset"},
            "odd": "123",
        }
        assert parse(body).prefetch == body["prefetch"]

    def test_context_must_be_an_object(self) -> None:
        body = example("patient-view.request.json")
        body["context"] = ["Practitioner/example"]
        assert "JSON object" in problems(body)["context"]

    def test_all_problems_are_reported_together(self) -> None:
        body = example("patient-view.request.json")
        body["hookInstance"] = ""
        body["context"]["patientId"] = "bad id!"
        body["fhirServer"] = "not a url"
        assert set(problems(body)) == {"hookInstance", "context.patientId", "fhirServer"}


class TestContexts:
    @pytest.mark.parametrize(
        "user", ["Practitioner/abc", "PractitionerRole/123", "Patient/1288992", "RelatedPerson/r1"]
    )
    def test_patient_view_users(self, user: str) -> None:
        body = example("patient-view.request.json")
        body["context"]["userId"] = user
        assert parse(body).context.userId == user

    @pytest.mark.parametrize("hook_file", ["order-select.request.json", "order-sign.request.json"])
    @pytest.mark.parametrize(
        "user", ["Patient/1288992", "RelatedPerson/r1", "Device/d1", "abc", "Practitioner/"]
    )
    def test_order_hooks_accept_only_practitioners(self, hook_file: str, user: str) -> None:
        body = example(hook_file)
        body["context"]["userId"] = user
        assert "context.userId" in problems(body)

    def test_patient_id_is_a_fhir_id(self) -> None:
        body = example("patient-view.request.json")
        body["context"]["patientId"] = "Patient/1288992"
        assert "context.patientId" in problems(body)

    def test_encounter_id_is_optional(self) -> None:
        body = example("patient-view.request.json")
        del body["context"]["encounterId"]
        assert parse(body).context.encounterId is None

    def test_missing_patient_id(self) -> None:
        body = example("order-sign.request.json")
        del body["context"]["patientId"]
        assert problems(body)["context.patientId"] == "context.patientId: Field required"

    def test_each_selection_must_be_in_draft_orders(self) -> None:
        body = example("order-select.request.json")
        body["context"]["selections"].append("MedicationRequest/not-in-the-bundle")
        found = problems(body)
        assert set(found) == {"context.selections[2]"}
        assert "draftOrders" in found["context.selections[2]"]

    @pytest.mark.parametrize(
        ("full_url", "selection"),
        [
            (None, "https://ehr.example/fhir/MedicationRequest/smart-MedicationRequest-103"),
            (
                "https://ehr.example/fhir/MedicationRequest/smart-MedicationRequest-103",
                "https://ehr.example/fhir/MedicationRequest/smart-MedicationRequest-103",
            ),
            (UNSAVED, UNSAVED),
        ],
        ids=["absolute URL", "absolute fullUrl", "urn:uuid fullUrl"],
    )
    def test_a_selection_may_name_a_draft_by_its_full_url(self, full_url: str | None, selection: str) -> None:
        body = example("order-select.request.json")
        entry = body["context"]["draftOrders"]["entry"][1]
        if full_url is not None:
            entry["fullUrl"] = full_url
        if full_url is not None and full_url.startswith("urn:"):
            del entry["resource"]["id"]  # an order not saved yet
        body["context"]["selections"][1] = selection
        assert parse(body).context.selections[1] == selection  # type: ignore[attr-defined]

    @pytest.mark.parametrize(
        "selection",
        [
            "https://ehr.example/fhir/MedicationRequest/not-in-the-bundle",
            "MedicationRequest/not-in-the-bundle/_history/2",
            UNSAVED,
            "https://ehr.example/fhir",
        ],
    )
    def test_a_selection_naming_no_draft_is_refused_where_it_is(self, selection: str) -> None:
        body = example("order-select.request.json")
        body["context"]["selections"].append(selection)
        found = problems(body)
        assert set(found) == {"context.selections[2]"}
        assert "draftOrders" in found["context.selections[2]"]

    def test_selections_are_required_non_empty_references(self) -> None:
        body = example("order-select.request.json")
        body["context"]["selections"] = []
        assert "context.selections" in problems(body)
        body["context"]["selections"] = ["smart-MedicationRequest-103"]
        assert "context.selections[0]" in problems(body)
        del body["context"]["selections"]
        assert "context.selections" in problems(body)

    @pytest.mark.parametrize("hook_file", ["order-select.request.json", "order-sign.request.json"])
    def test_draft_orders_must_be_a_bundle(self, hook_file: str) -> None:
        body = example(hook_file)
        body["context"]["draftOrders"] = {"resourceType": "MedicationRequest", "id": "x"}
        assert "Bundle" in problems(body)["context.draftOrders"]
        body["context"]["draftOrders"] = {"resourceType": "Bundle", "entry": {"resource": {}}}
        assert "entry" in problems(body)["context.draftOrders"]
        del body["context"]["draftOrders"]
        assert "context.draftOrders" in problems(body)

    def test_a_malformed_draft_order_does_not_sink_the_request(self) -> None:
        body = example("order-sign.request.json")
        body["context"]["draftOrders"]["entry"].append({"resource": "not an object"})
        body["context"]["draftOrders"]["entry"].append(42)
        request = parse(body)
        assert len(request.context.draftOrders["entry"]) == 4  # type: ignore[attr-defined]

    def test_bundle_type_is_not_required(self) -> None:
        body = deep(example("order-sign.request.json"))
        assert "type" not in body["context"]["draftOrders"]
        assert parse(body)

    def test_validation_messages_never_echo_submitted_values(self) -> None:
        body = example("order-select.request.json")
        body["context"]["patientId"] = "Jane Doe 1955-02-01"
        body["context"]["userId"] = "Patient/secret-user-id"
        body["context"]["selections"] = ["MedicationRequest/oxycodone-for-jane"]
        text = " ".join(problems(body).values())
        for value in ("Jane Doe", "1955-02-01", "secret-user-id", "oxycodone-for-jane"):
            assert value not in text
