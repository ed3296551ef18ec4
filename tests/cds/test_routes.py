"""The HTTP surface with JWT verification off (``--no-auth``): discovery, hook calls, errors, size limit."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from cds_helpers import RecordingHandler, assert_outcome, example, preflight
from fastapi.testclient import TestClient

from fhir_bonemet.cds.models import (
    Action,
    Card,
    CDSResponse,
    OrderSelectContext,
    OrderSignContext,
    PatientViewContext,
    Source,
    Suggestion,
    rules_extension,
)
from fhir_bonemet.errors import ConfigurationError, PreconditionFailedError, Problem
from fhir_bonemet.main import build_app
from fhir_bonemet.project_dirs import SERVICES
from fhir_bonemet.settings import Settings
from fhir_bonemet.store.base import IssuedCard, StoreError
from fhir_bonemet.store.sqlite import SqliteStore
from fhir_bonemet.web.app import create_app

PV = "/cds-services/bonemet-patient-view"
OSEL = "/cds-services/bonemet-order-select"
OSIGN = "/cds-services/bonemet-order-sign"


class TestDiscovery:
    def test_lists_the_three_services(self, client: TestClient) -> None:
        response = client.get("/cds-services")
        assert response.status_code == 200
        services = response.json()["services"]
        assert [(s["id"], s["hook"]) for s in services] == [
            ("bonemet-order-select", "order-select"),
            ("bonemet-order-sign", "order-sign"),
            ("bonemet-patient-view", "patient-view"),
        ]
        for service in services:
            assert {"id", "hook", "description", "title"} <= set(service)

    def test_other_methods_answer_with_an_operation_outcome(self, client: TestClient) -> None:
        assert_outcome(client.post("/cds-services", json={}), 405, "url")
        assert_outcome(client.get("/no-such-path"), 404, "url")

    @pytest.mark.parametrize("path", ["/cds-services", "/health"])
    def test_head_answers_wherever_get_does(self, client: TestClient, path: str) -> None:
        """RFC 9110: HEAD is allowed wherever GET is; it gets the headers of the GET, without a body."""
        head, get = client.head(path), client.get(path)
        assert head.status_code == get.status_code == 200
        assert head.headers["content-type"] == get.headers["content-type"]
        assert head.content == b""


class TestHookCalls:
    def test_patient_view_spec_example(
        self, client: TestClient, handler: RecordingHandler, patient_view_body: dict[str, Any]
    ) -> None:
        response = client.post(PV, json=patient_view_body)
        assert response.status_code == 200
        assert response.json() == {"cards": []}
        [(service, request, deps)] = handler.calls
        assert (service.id, service.hook) == ("bonemet-patient-view", "patient-view")
        assert isinstance(request.context, PatientViewContext)
        assert request.context.patientId == "1288992"
        assert request.prefetch == patient_view_body["prefetch"]
        assert deps.client is None  # verification off
        assert deps.settings.auth_required is False

    def test_order_select_spec_example(
        self, client: TestClient, handler: RecordingHandler, order_select_body: dict[str, Any]
    ) -> None:
        assert client.post(OSEL, json=order_select_body).json() == {"cards": []}
        [(service, request, _)] = handler.calls
        assert service.hook == "order-select"
        assert isinstance(request.context, OrderSelectContext)
        assert request.context.selections[1] == "MedicationRequest/smart-MedicationRequest-103"

    def test_order_sign_spec_example(
        self, client: TestClient, handler: RecordingHandler, order_sign_body: dict[str, Any]
    ) -> None:
        assert client.post(OSIGN, json=order_sign_body).json() == {"cards": []}
        [(service, request, _)] = handler.calls
        assert service.hook == "order-sign"
        assert isinstance(request.context, OrderSignContext)

    def test_unknown_fields_and_extension_are_accepted(
        self, client: TestClient, patient_view_body: dict[str, Any]
    ) -> None:
        patient_view_body["extension"] = {"com.example.timestamp": "2017-11-27T22:13:25Z"}
        patient_view_body["somethingNew"] = [1, {"a": None}]
        assert client.post(PV, json=patient_view_body).status_code == 200

    def test_cards_are_sent_with_empty_fields_omitted_and_recorded_for_audit(
        self,
        client: TestClient,
        handler: RecordingHandler,
        store: SqliteStore,
        patient_view_body: dict[str, Any],
    ) -> None:
        card = Card(
            summary="Suspected spinal cord compression: contact acute oncology now",
            indicator="critical",
            source=Source(label="fhir-bonemet"),
            suggestions=[Suggestion(label="Refer to the MSCC coordinator")],
            selectionBehavior="at-most-one",
            links=[],
            extension=rules_extension(["R01"]),
        )
        handler.response = CDSResponse(cards=[card])
        body = client.post(PV, json=patient_view_body).json()
        assert body == {"cards": [card.to_wire()]}
        assert "links" not in body["cards"][0]
        client.app.state.bonemet.audit.flush()  # the audit is written in the background
        [issued] = store.issued_cards()
        assert (issued.service_id, issued.hook, issued.hook_instance) == (
            "bonemet-patient-view",
            "patient-view",
            "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        )
        assert issued.card == IssuedCard(
            uuid=card.uuid,
            rule_ids=("R01",),
            indicator="critical",
            suggestion_uuids=(card.suggestions[0].uuid,) if card.suggestions else (),
        )

    def test_an_audit_failure_never_withholds_the_cards(
        self, open_settings: Settings, tmp_path: Any, patient_view_body: dict[str, Any]
    ) -> None:
        class AuditDown(SqliteStore):
            def record_issued_batch(self, *args: Any, **kwargs: Any) -> None:
                raise StoreError("SQLite store: OperationalError: disk I/O error")

        card = Card(summary="Check calcium", indicator="warning", source=Source(label="fhir-bonemet"))
        handler = RecordingHandler(response=CDSResponse(cards=[card]))
        app = create_app(open_settings, handler=handler, store=AuditDown(tmp_path / "audit.sqlite3"))
        response = TestClient(app).post(PV, json=patient_view_body)
        assert response.status_code == 200
        assert response.json()["cards"][0]["uuid"] == card.uuid

    def test_a_one_megabyte_prefetch_with_1000_resources_is_answered(
        self, client: TestClient, handler: RecordingHandler, patient_view_body: dict[str, Any]
    ) -> None:
        entries = [
            {
                "fullUrl": f"https://fhir.example.org/Observation/obs-{n}",
                "resource": {
                    "resourceType": "Observation",
                    "id": f"obs-{n}",
                    "status": "final",
                    "code": {"coding": [{"system": "http://loinc.org", "code": "72514-3"}]},
                    "subject": {"reference": "Patient/1288992"},
                    "effectiveDateTime": "2026-03-01T10:00:00Z",
                    "valueInteger": n % 11,
                    "note": [{"text": "x" * 820}],
                },
            }
            for n in range(1000)
        ]
        patient_view_body["prefetch"]["observations"] = {
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": entries,
        }
        payload = json.dumps(patient_view_body).encode()
        assert 1_000_000 <= len(payload) < 2_000_000
        response = client.post(PV, content=payload, headers={"content-type": "application/json"})
        assert response.status_code == 200
        [(_, request, _)] = handler.calls
        assert request.prefetch is not None
        assert len(request.prefetch["observations"]["entry"]) == 1000


class TestErrors:
    def test_unknown_service_is_404(self, client: TestClient, patient_view_body: dict[str, Any]) -> None:
        assert_outcome(client.post("/cds-services/no-such-service", json=patient_view_body), 404, "url")
        assert_outcome(client.post("/cds-services/no-such-service/feedback", json={}), 404, "url")

    def test_hook_not_served_by_the_id_is_400(
        self, client: TestClient, order_sign_body: dict[str, Any]
    ) -> None:
        [issue] = assert_outcome(client.post(PV, json=order_sign_body), 400, "hook")
        assert "patient-view" in issue["diagnostics"]
        assert issue["code"] == "not-supported"

    @pytest.mark.parametrize("hook", [None, "", 7])
    def test_missing_hook_is_400(
        self, client: TestClient, patient_view_body: dict[str, Any], hook: Any
    ) -> None:
        patient_view_body["hook"] = hook
        assert_outcome(client.post(PV, json=patient_view_body), 400, "hook")

    @pytest.mark.parametrize(
        "raw", [b"{", b"", b"[1, 2]", b'"text"', b'{"hook": NaN}', b"\xff\xfe{}", b"null"]
    )
    def test_malformed_bodies_are_400(self, client: TestClient, raw: bytes) -> None:
        response = client.post(PV, content=raw, headers={"content-type": "application/json"})
        [issue] = assert_outcome(response, 400, "$this")
        assert issue["code"] == "structure"

    @pytest.mark.parametrize(
        "content_type",
        [
            None,
            "application/json",
            "application/json; charset=utf-8",
            'Application/JSON;charset="UTF-8"',
            "application/fhir+json",
            "application/x-www-form-urlencoded",  # curl -d
            "text/plain;charset=UTF-8",  # a browser's fetch with a string body
        ],
    )
    def test_json_media_types_and_none_are_read(
        self,
        client: TestClient,
        handler: RecordingHandler,
        patient_view_body: dict[str, Any],
        content_type: str | None,
    ) -> None:
        headers = {} if content_type is None else {"content-type": content_type}
        raw = json.dumps(patient_view_body).encode()
        assert client.post(PV, content=raw, headers=headers).status_code == 200
        assert len(handler.calls) == 1

    @pytest.mark.parametrize(
        "content_type", ["application/json; charset=utf-16", "text/plain; charset=iso-8859-1"]
    )
    def test_a_body_declared_in_another_charset_than_utf8_is_415(
        self,
        client: TestClient,
        handler: RecordingHandler,
        patient_view_body: dict[str, Any],
        content_type: str,
    ) -> None:
        raw = json.dumps(patient_view_body).encode()
        response = client.post(PV, content=raw, headers={"content-type": content_type})
        [issue] = assert_outcome(response, 415, "header.Content-Type")
        assert issue["code"] == "not-supported"
        assert handler.calls == []
        feedback = client.post(
            PV + "/feedback", content=b'{"feedback": []}', headers={"content-type": content_type}
        )
        assert_outcome(feedback, 415, "header.Content-Type")

    @pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "identity, gzip"])
    def test_a_content_encoded_body_is_415_not_invalid_json(
        self, client: TestClient, handler: RecordingHandler, patient_view_body: dict[str, Any], encoding: str
    ) -> None:
        raw = gzip.compress(json.dumps(patient_view_body).encode())
        headers = {"content-type": "application/json", "content-encoding": encoding}
        response = client.post(PV, content=raw, headers=headers)
        [issue] = assert_outcome(response, 415, "header.Content-Encoding")
        assert "not valid JSON" not in issue["diagnostics"]
        assert response.headers["accept-encoding"] == "identity"
        assert handler.calls == []

    def test_a_leading_utf8_byte_order_mark_is_ignored(
        self, client: TestClient, handler: RecordingHandler, patient_view_body: dict[str, Any]
    ) -> None:
        # RFC 8259 §8.1: a parser may ignore a BOM; Windows tools often write one.  It was "not valid JSON".
        bom = b"\xef\xbb\xbf"
        headers = {"content-type": "application/json"}
        assert (
            client.post(PV, content=bom + json.dumps(patient_view_body).encode(), headers=headers).status_code
            == 200
        )
        assert len(handler.calls) == 1
        feedback = {
            "feedback": [{"card": "c1", "outcome": "overridden", "outcomeTimestamp": "2026-01-01T00:00:00Z"}]
        }
        response = client.post(PV + "/feedback", content=bom + json.dumps(feedback).encode(), headers=headers)
        assert response.status_code == 200

    def test_identity_content_encoding_is_the_body_as_it_is(
        self, client: TestClient, patient_view_body: dict[str, Any]
    ) -> None:
        raw = json.dumps(patient_view_body).encode()
        headers = {"content-type": "application/json", "content-encoding": "identity"}
        assert client.post(PV, content=raw, headers=headers).status_code == 200

    def test_validation_problems_are_listed_with_locations_and_no_patient_data(
        self, client: TestClient, order_select_body: dict[str, Any]
    ) -> None:
        order_select_body["context"]["userId"] = "Patient/jane-doe"
        order_select_body["context"]["selections"].append("MedicationRequest/morphine-for-jane-doe")
        order_select_body["hookInstance"] = ""
        response = client.post(OSEL, json=order_select_body)
        issues = assert_outcome(response, 400)
        assert {issue["location"][0] for issue in issues} == {
            "context.userId",
            "context.selections[2]",
            "hookInstance",
        }
        assert "jane" not in response.text.lower()
        assert "morphine" not in response.text.lower()

    def test_required_data_unavailable_is_412(
        self, client: TestClient, handler: RecordingHandler, patient_view_body: dict[str, Any]
    ) -> None:
        handler.error = PreconditionFailedError(
            "conditions could be neither prefetched nor fetched",
            (
                Problem(
                    "prefetch.conditions",
                    "prefetch.conditions: not prefetched and no FHIR server access",
                    "not-found",
                ),
            ),
        )
        [issue] = assert_outcome(client.post(PV, json=patient_view_body), 412, "prefetch.conditions")
        assert issue["code"] == "not-found"

    def test_an_unexpected_failure_is_a_bare_500(
        self, client: TestClient, handler: RecordingHandler, patient_view_body: dict[str, Any]
    ) -> None:
        handler.error = KeyError("Jane Doe's creatinine 2.4 mg/dL")
        response = client.post(PV, json=patient_view_body)
        [issue] = assert_outcome(response, 500, "$this")
        assert issue["code"] == "exception"
        assert "Jane" not in response.text
        assert "creatinine" not in response.text

    def test_a_handler_returning_something_else_is_a_500(
        self, client: TestClient, handler: RecordingHandler, patient_view_body: dict[str, Any]
    ) -> None:
        handler.response = {"cards": []}  # type: ignore[assignment]
        assert_outcome(client.post(PV, json=patient_view_body), 500, "$this")


class TestBodyLimit:
    @pytest.fixture
    def small_client(self, tmp_path: Any, handler: RecordingHandler, store: SqliteStore) -> TestClient:
        settings = Settings(auth_required=False, data_dir=tmp_path, max_body_bytes=64 * 1024)
        return TestClient(create_app(settings, handler=handler, store=store))

    def oversized(self) -> bytes:
        body = example("patient-view.request.json")
        body["prefetch"]["padding"] = {"resourceType": "Basic", "text": "x" * 70_000}
        return json.dumps(body).encode()

    def test_declared_length_over_the_limit_is_413(
        self, small_client: TestClient, handler: RecordingHandler
    ) -> None:
        response = small_client.post(
            PV, content=self.oversized(), headers={"content-type": "application/json"}
        )
        [issue] = assert_outcome(response, 413, "$this")
        assert issue["code"] == "too-long"
        assert "65536" in issue["diagnostics"]
        assert handler.calls == []

    def test_streamed_body_over_the_limit_is_413(
        self, small_client: TestClient, handler: RecordingHandler
    ) -> None:
        data = self.oversized()

        def chunks() -> Iterator[bytes]:
            for start in range(0, len(data), 8192):
                yield data[start : start + 8192]

        response = small_client.post(PV, content=chunks(), headers={"content-type": "application/json"})
        assert "content-length" not in response.request.headers
        assert_outcome(response, 413, "$this")
        assert handler.calls == []

    def test_feedback_is_limited_too(self, small_client: TestClient) -> None:
        body = {
            "feedback": [
                {"card": "c" * 70_000, "outcome": "overridden", "outcomeTimestamp": "2020-12-11T00:00:00Z"}
            ]
        }
        assert_outcome(small_client.post(f"{PV}/feedback", json=body), 413, "$this")

    def test_a_body_within_the_limit_passes(
        self, small_client: TestClient, patient_view_body: dict[str, Any]
    ) -> None:
        assert small_client.post(PV, json=patient_view_body).status_code == 200


class TestHealth:
    def test_ready_when_the_store_answers(self, client: TestClient) -> None:
        response = client.get("/health")
        assert response.status_code == 200
        assert response.json() == {"status": "ok", "live": True, "ready": True, "store": "ok"}

    def test_not_ready_when_the_store_is_down(self, client: TestClient, store: SqliteStore) -> None:
        store.close()
        response = client.get("/health")
        assert response.status_code == 503
        assert response.json() == {
            "status": "unavailable",
            "live": True,
            "ready": False,
            "store": "unavailable",
        }


class TestCors:
    def test_any_origin_without_auth(self, client: TestClient) -> None:
        response = client.get("/cds-services", headers={"Origin": "http://localhost:8080"})
        assert response.headers["access-control-allow-origin"] == "*"

    def test_preflight_is_answered_for_the_sandbox_headers(self, client: TestClient) -> None:
        response = preflight(client, PV)
        assert response.status_code == 200
        assert "POST" in response.headers["access-control-allow-methods"]
        allowed = response.headers["access-control-allow-headers"].lower()
        assert "authorization" in allowed
        assert "content-type" in allowed

    def test_error_answers_carry_cors_headers_too(
        self, client: TestClient, handler: RecordingHandler, patient_view_body: dict[str, Any]
    ) -> None:
        handler.error = RuntimeError("boom")
        response = client.post(PV, json=patient_view_body, headers={"Origin": "http://localhost:8080"})
        assert response.status_code == 500
        assert response.headers["access-control-allow-origin"] == "*"


class TestDispatch:
    def test_one_id_serving_two_hooks_dispatches_on_the_hook(
        self,
        tmp_path: Any,
        handler: RecordingHandler,
        store: SqliteStore,
        patient_view_body: dict[str, Any],
        order_sign_body: dict[str, Any],
    ) -> None:
        services = tmp_path / "services"
        services.mkdir()
        for hook in ("patient-view", "order-sign"):
            data = json.loads((SERVICES.default / f"{hook}.json").read_text())
            data["id"] = "bonemet"
            (services / f"{hook}.json").write_text(json.dumps(data))
        settings = Settings(auth_required=False, data_dir=tmp_path, services_dir=services)
        client = TestClient(create_app(settings, handler=handler, store=store))
        assert client.post("/cds-services/bonemet", json=order_sign_body).status_code == 200
        assert client.post("/cds-services/bonemet", json=patient_view_body).status_code == 200
        assert [service.hook for service, _, _ in handler.calls] == ["order-sign", "patient-view"]
        patient_view_body["hook"] = "order-select"
        [issue] = assert_outcome(client.post("/cds-services/bonemet", json=patient_view_body), 400, "hook")
        assert "order-sign, patient-view" in issue["diagnostics"]

    def test_the_handler_gets_the_shared_session_and_store(
        self, open_settings: Settings, store: SqliteStore, patient_view_body: dict[str, Any]
    ) -> None:
        session = requests.Session()
        handler = RecordingHandler()
        client = TestClient(create_app(open_settings, handler=handler, store=store, session=session))
        client.post(PV, json=patient_view_body)
        client.post(PV, json=patient_view_body)
        assert all(deps.session is session and deps.store is store for _, _, deps in handler.calls)

    def test_a_hook_url_answers_other_methods_with_405(self, client: TestClient) -> None:
        response = client.get(PV)
        assert_outcome(response, 405, "url")
        assert response.headers["allow"] == "POST"

    def test_a_hook_call_behind_a_proxy_prefix_is_answered(
        self,
        open_settings: Settings,
        handler: RecordingHandler,
        store: SqliteStore,
        patient_view_body: dict[str, Any],
    ) -> None:
        client = TestClient(create_app(open_settings, handler=handler, store=store), root_path="/cds")
        assert client.post(f"/cds{PV}", json=patient_view_body).json() == {"cards": []}
        [(service, _, deps)] = handler.calls
        assert service.id == "bonemet-patient-view"
        assert deps.base_url == "http://testserver/cds"

    def test_paths_below_a_hook_url_are_not_hook_calls(
        self, client: TestClient, handler: RecordingHandler, patient_view_body: dict[str, Any]
    ) -> None:
        assert_outcome(client.post(f"{PV}/more", json=patient_view_body), 404, "url")
        assert_outcome(client.post("/cds-services/", json=patient_view_body), 404, "url")
        assert handler.calls == []

    def test_system_actions_are_sent(
        self, client: TestClient, handler: RecordingHandler, patient_view_body: dict[str, Any]
    ) -> None:
        action = Action(
            type="delete", description="Withdraw the superseded plan", resourceId="CarePlan/old-1"
        )
        handler.response = CDSResponse(cards=[], systemActions=[action])
        assert client.post(PV, json=patient_view_body).json() == {
            "cards": [],
            "systemActions": [action.to_wire()],
        }


class TestDefaultHandler:
    """Without an injected handler the service runs the clinical workflow, built at start-up."""

    def test_the_workflow_answers_a_patient_outside_the_population(
        self, open_settings: Settings, store: SqliteStore, patient_view_body: dict[str, Any]
    ) -> None:
        client = TestClient(build_app(open_settings, store=store))
        body = dict(patient_view_body)
        # No FHIR server and the required keys sent as null: the EHR has no data, so nobody to speak for.
        body["prefetch"] = {"patient": None, "conditions": None}
        body.pop("fhirServer", None)
        body.pop("fhirAuthorization", None)
        answer = client.post(PV, json=body).json()
        assert answer["cards"] == []
        # The keys it could not fetch are still reported: an empty answer is not "all data was read".
        issues = answer["extension"]["org.fhir-bonemet.read-issues"]
        assert {issue["location"] for issue in issues} >= {
            "prefetch.observations-labs",
            "prefetch.procedures",
        }

    def test_a_broken_conceptmap_stops_the_service_at_start_up(
        self, open_settings: Settings, store: SqliteStore, tmp_path: Path
    ) -> None:
        (tmp_path / "ConceptMap-broken.json").write_text('{"resourceType": "ConceptMap", "group": 3}')
        settings = open_settings.model_copy(update={"conceptmap_dirs": (tmp_path,)})
        with pytest.raises(ConfigurationError, match=r"ConceptMap-broken\.json"):
            build_app(settings, store=store)
