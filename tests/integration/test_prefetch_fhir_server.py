"""Prefetch resolution against the real FHIR test server: absent, null, OperationOutcome, paged and
failing keys, with and without a bearer token."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from fhir_fixtures import ids_of_type, patient_bundle

from fhir_bonemet.client import (
    FhirClient,
    PrefetchLimits,
    PrefetchRequest,
    PrefetchResolver,
    PrefetchResult,
    ServerPolicy,
    Timeouts,
)
from fhir_bonemet.errors import PreconditionFailedError

pytestmark = pytest.mark.integration

TEMPLATES = {
    "patient": "Patient/{{context.patientId}}",
    "conditions": "Condition?patient={{context.patientId}}&clinical-status=active",
    "painScores": "Observation?patient={{context.patientId}}&code=http://loinc.org|72514-3&_sort=-date",
}
TOKEN = "bearer-for-this-hook-call"
OUTCOME = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "timeout"}]}


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as http:
        http.trust_env = False
        yield http


class Loaded:
    def __init__(self, fresh_fhir: Any, pain_scores: int) -> None:
        created = fresh_fhir.created_ids(fresh_fhir.load(patient_bundle(pain_scores)))
        self.patient_id = ids_of_type(created, "Patient")[0]
        self.condition_ids = ids_of_type(created, "Condition")
        self.pain_score_ids = ids_of_type(created, "Observation")
        fresh_fhir.clear_requests()


def resolve(
    fresh_fhir: Any,
    session: requests.Session,
    patient_id: str,
    prefetch: dict[str, Any] | None = None,
    *,
    token: str | None = None,
    required: frozenset[str] = frozenset(),
    **limits: Any,
) -> PrefetchResult:
    options: dict[str, Any] = {"timeouts": Timeouts(2.0, 3.0), "deadline_seconds": 10.0}
    options.update(limits)
    resolver = PrefetchResolver(session, ServerPolicy([fresh_fhir.base_url]), PrefetchLimits(**options))
    authorization = (
        None
        if token is None
        else {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "user/*.read",
            "subject": "bonemet",
        }
    )
    request = PrefetchRequest(
        hook_instance="5b1d2c3e-0000-4000-8000-000000000001",
        context={"patientId": patient_id, "userId": "Practitioner/prac-1"},
        prefetch=prefetch,
        fhir_server=fresh_fhir.base_url,
        fhir_authorization=authorization,
    )
    return resolver.resolve(TEMPLATES, request, required)


def entry_ids(result: PrefetchResult, key: str) -> list[str]:
    data = result.data[key]
    assert data is not None
    return [entry["resource"]["id"] for entry in data.get("entry", [])]


def test_absent_keys_are_fetched_from_an_open_server(fresh_fhir: Any, session: requests.Session) -> None:
    loaded = Loaded(fresh_fhir, pain_scores=3)
    result = resolve(fresh_fhir, session, loaded.patient_id, prefetch={})
    assert not result.unavailable
    assert result.fetched == set(TEMPLATES)
    assert result.data["patient"] is not None
    assert result.data["patient"]["id"] == loaded.patient_id
    assert entry_ids(result, "conditions") == [loaded.condition_ids[0]]  # the active one only
    assert sorted(entry_ids(result, "painScores")) == sorted(loaded.pain_score_ids)
    seen = fresh_fhir.requests_seen()
    assert sorted(request["path"].split("?")[0] for request in seen) == [
        "Condition",
        "Observation",
        "Patient/" + loaded.patient_id,
    ]
    assert {request["auth"] for request in seen} == {"none"}


def test_absent_keys_are_fetched_with_the_bearer_token(fresh_fhir: Any, session: requests.Session) -> None:
    loaded = Loaded(fresh_fhir, pain_scores=2)
    fresh_fhir.set_token(TOKEN)
    result = resolve(fresh_fhir, session, loaded.patient_id, prefetch={"patient": None}, token=TOKEN)
    assert not result.unavailable
    assert len(entry_ids(result, "painScores")) == 2
    seen = fresh_fhir.requests_seen()
    assert len(seen) == 2
    assert {(request["auth"], request["status"]) for request in seen} == {("valid", 200)}


def test_a_wrong_token_makes_required_data_unobtainable_412(
    fresh_fhir: Any, session: requests.Session
) -> None:
    loaded = Loaded(fresh_fhir, pain_scores=1)
    fresh_fhir.set_token(TOKEN)
    with pytest.raises(PreconditionFailedError) as raised:
        resolve(
            fresh_fhir,
            session,
            loaded.patient_id,
            prefetch={},
            token="expired-token",
            required=frozenset({"conditions"}),
        )
    error = raised.value
    assert error.status_code == 412
    assert [problem.location for problem in error.problems] == ["prefetch.conditions"]
    assert "401" in error.problems[0].message
    assert "expired-token" not in str(error.problems)
    assert loaded.patient_id not in str(error.problems)
    assert {(request["auth"], request["status"]) for request in fresh_fhir.requests_seen()} == {
        ("invalid", 401)
    }


def test_no_token_against_a_protected_server_leaves_optional_keys_unavailable(
    fresh_fhir: Any, session: requests.Session
) -> None:
    loaded = Loaded(fresh_fhir, pain_scores=1)
    fresh_fhir.set_token(TOKEN)
    result = resolve(fresh_fhir, session, loaded.patient_id, prefetch={})
    assert result.unavailable == set(TEMPLATES)
    assert result.data == {}
    assert {request["auth"] for request in fresh_fhir.requests_seen()} == {"missing"}


def test_null_keys_are_never_re_queried(fresh_fhir: Any, session: requests.Session) -> None:
    loaded = Loaded(fresh_fhir, pain_scores=2)
    result = resolve(fresh_fhir, session, loaded.patient_id, prefetch=dict.fromkeys(TEMPLATES))
    assert result.data == dict.fromkeys(TEMPLATES)
    assert not result.fetched
    assert fresh_fhir.requests_seen() == []


def test_only_the_absent_key_is_fetched(fresh_fhir: Any, session: requests.Session) -> None:
    loaded = Loaded(fresh_fhir, pain_scores=2)
    patient = {"resourceType": "Patient", "id": loaded.patient_id}
    result = resolve(
        fresh_fhir, session, loaded.patient_id, prefetch={"patient": patient, "conditions": None}
    )
    assert result.fetched == {"painScores"}
    assert [request["path"].split("?")[0] for request in fresh_fhir.requests_seen()] == ["Observation"]


@pytest.mark.parametrize(
    "failed_value",
    [OUTCOME, {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": OUTCOME}]}],
    ids=["operation-outcome", "bundle-with-operation-outcome"],
)
def test_operation_outcome_values_are_re_fetched(
    fresh_fhir: Any, session: requests.Session, failed_value: Any
) -> None:
    loaded = Loaded(fresh_fhir, pain_scores=1)
    prefetch = {"patient": None, "painScores": None, "conditions": failed_value}
    result = resolve(fresh_fhir, session, loaded.patient_id, prefetch=prefetch)
    assert entry_ids(result, "conditions") == [loaded.condition_ids[0]]
    assert result.fetched == {"conditions"}
    assert result.issues[0].severity == "warning"
    assert [request["path"].split("?")[0] for request in fresh_fhir.requests_seen()] == ["Condition"]


def test_a_malformed_value_is_re_fetched(fresh_fhir: Any, session: requests.Session) -> None:
    loaded = Loaded(fresh_fhir, pain_scores=1)
    prefetch = {"patient": "Patient/123", "painScores": None, "conditions": None}
    result = resolve(fresh_fhir, session, loaded.patient_id, prefetch=prefetch)
    assert result.data["patient"] is not None
    assert result.data["patient"]["id"] == loaded.patient_id
    assert "a string" in result.issues[0].message


def test_a_paged_searchset_is_read_to_the_end(fresh_fhir: Any, session: requests.Session) -> None:
    loaded = Loaded(fresh_fhir, pain_scores=45)  # server page size 20: pages of 20, 20, 5
    result = resolve(fresh_fhir, session, loaded.patient_id, prefetch={"patient": None, "conditions": None})
    ids = entry_ids(result, "painScores")
    assert sorted(ids) == sorted(loaded.pain_score_ids)
    assert len(ids) == 45
    dates = [entry["resource"]["effectiveDateTime"] for entry in result.data["painScores"]["entry"]]  # type: ignore[index]
    assert dates == sorted(dates, reverse=True)  # _sort=-date holds across pages
    assert result.data["painScores"]["total"] == 45  # type: ignore[index]
    assert not result.truncated
    assert len(fresh_fhir.requests_seen()) == 3


def test_the_page_cap_is_respected_and_reported(fresh_fhir: Any, session: requests.Session) -> None:
    loaded = Loaded(fresh_fhir, pain_scores=45)
    result = resolve(
        fresh_fhir, session, loaded.patient_id, prefetch={"patient": None, "conditions": None}, max_pages=2
    )
    assert len(entry_ids(result, "painScores")) == 40
    assert result.truncated == {"painScores"}
    assert "more than 2 pages" in result.issues[0].message
    assert len(fresh_fhir.requests_seen()) == 2


def test_a_prefetched_first_page_is_completed_from_the_server(
    fresh_fhir: Any, session: requests.Session
) -> None:
    loaded = Loaded(fresh_fhir, pain_scores=25)
    rendered = f"Observation?patient={loaded.patient_id}&code=http://loinc.org|72514-3&_sort=-date&_count=10"
    first_page = FhirClient(session, fresh_fhir.base_url, policy=ServerPolicy([fresh_fhir.base_url])).get(
        rendered
    )
    assert len(first_page["entry"]) == 10
    fresh_fhir.clear_requests()
    result = resolve(
        fresh_fhir,
        session,
        loaded.patient_id,
        prefetch={"patient": None, "conditions": None, "painScores": first_page},
    )
    assert sorted(entry_ids(result, "painScores")) == sorted(loaded.pain_score_ids)
    assert [request["path"].count("_offset=") for request in fresh_fhir.requests_seen()] == [1, 1]


def test_a_read_of_an_unknown_patient_is_no_data(fresh_fhir: Any, session: requests.Session) -> None:
    Loaded(fresh_fhir, pain_scores=1)
    result = resolve(fresh_fhir, session, "no-such-patient", prefetch={}, required=frozenset({"patient"}))
    assert result.data["patient"] is None
    assert not result.unavailable
    assert result.data["conditions"] == {"resourceType": "Bundle", "type": "searchset", "total": 0}
    assert [
        request["status"] for request in fresh_fhir.requests_seen() if request["path"].startswith("Patient")
    ] == [404]


def test_a_server_error_makes_the_key_unavailable_and_required_412(
    fresh_fhir: Any, session: requests.Session
) -> None:
    loaded = Loaded(fresh_fhir, pain_scores=1)
    fresh_fhir.inject_fault(status=500, path="Condition")
    result = resolve(fresh_fhir, session, loaded.patient_id, prefetch={"patient": None, "painScores": None})
    assert result.unavailable == {"conditions"}
    assert "500" in result.issues[0].message
    fresh_fhir.inject_fault(status=500, path="Condition")
    with pytest.raises(PreconditionFailedError):
        resolve(
            fresh_fhir,
            session,
            loaded.patient_id,
            prefetch={"patient": None, "painScores": None},
            required=frozenset({"conditions"}),
        )


def test_a_transient_503_is_retried_once(fresh_fhir: Any, session: requests.Session) -> None:
    loaded = Loaded(fresh_fhir, pain_scores=1)
    fresh_fhir.inject_fault(status=503, path="Condition")
    result = resolve(fresh_fhir, session, loaded.patient_id, prefetch={"patient": None, "painScores": None})
    assert entry_ids(result, "conditions") == [loaded.condition_ids[0]]
    assert [request["status"] for request in fresh_fhir.requests_seen()] == [503, 200]
    fresh_fhir.inject_fault(status=503, path="Condition", count=2)
    result = resolve(fresh_fhir, session, loaded.patient_id, prefetch={"patient": None, "painScores": None})
    assert result.unavailable == {"conditions"}


def test_a_server_that_does_not_answer_in_time_makes_the_key_unavailable(
    fresh_fhir: Any, session: requests.Session
) -> None:
    loaded = Loaded(fresh_fhir, pain_scores=1)
    fresh_fhir.inject_fault(delay_ms=3000, path="Observation")
    started = time.monotonic()
    result = resolve(fresh_fhir, session, loaded.patient_id, prefetch={}, timeouts=Timeouts(1.0, 0.5))
    assert time.monotonic() - started < 2.5
    assert result.unavailable == {"painScores"}
    assert "no answer within" in result.issues[0].message
    assert result.data["patient"] is not None


def test_the_overall_deadline_cuts_slow_fetches(fresh_fhir: Any, session: requests.Session) -> None:
    loaded = Loaded(fresh_fhir, pain_scores=1)
    fresh_fhir.inject_fault(delay_ms=3000, count=-1)
    started = time.monotonic()
    result = resolve(
        fresh_fhir, session, loaded.patient_id, prefetch={}, deadline_seconds=0.8, timeouts=Timeouts(1.0, 5.0)
    )
    assert time.monotonic() - started < 2.0
    assert result.unavailable == set(TEMPLATES)
    fresh_fhir.clear_faults()


def test_an_unknown_search_parameter_is_a_failure_not_an_empty_result(
    fresh_fhir: Any, session: requests.Session
) -> None:
    loaded = Loaded(fresh_fhir, pain_scores=1)
    resolver = PrefetchResolver(session, ServerPolicy([fresh_fhir.base_url]))
    request = PrefetchRequest(
        hook_instance="h",
        context={"patientId": loaded.patient_id},
        prefetch={},
        fhir_server=fresh_fhir.base_url,
    )
    result = resolver.resolve(
        {"meds": "MedicationRequest?patient={{context.patientId}}&statuss=active"}, request
    )
    assert result.unavailable == {"meds"}
    assert "400" in result.issues[0].message


def test_a_body_that_is_not_json_makes_the_key_unavailable(
    fresh_fhir: Any, session: requests.Session
) -> None:
    loaded = Loaded(fresh_fhir, pain_scores=1)
    fresh_fhir.inject_fault(
        status=200, body="<html>maintenance</html>", content_type="text/html", path="Patient"
    )
    result = resolve(
        fresh_fhir, session, loaded.patient_id, prefetch={"conditions": None, "painScores": None}
    )
    assert result.unavailable == {"patient"}
    assert "not JSON" in result.issues[0].message


def test_a_server_off_the_allowlist_receives_nothing(fresh_fhir: Any, session: requests.Session) -> None:
    loaded = Loaded(fresh_fhir, pain_scores=1)
    resolver = PrefetchResolver(session, ServerPolicy(["https://ehr.example.org/fhir"]))
    request = PrefetchRequest(
        hook_instance="h",
        context={"patientId": loaded.patient_id},
        prefetch={},
        fhir_server=fresh_fhir.base_url,
    )
    result = resolver.resolve(TEMPLATES, request)
    assert result.unavailable == set(TEMPLATES)
    assert fresh_fhir.requests_seen() == []
