"""Prefetch resolution per CDS Hooks 2.0, against a scripted transport (corner cases, concurrency,
deadlines).  The same paths run against the real FHIR server in tests/integration."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest
import requests
from fake_fhir_transport import BASE, FakeFhir, Reply, bundle, outcome

from fhir_bonemet.client import PrefetchLimits, PrefetchRequest, PrefetchResolver, ServerPolicy, Timeouts
from fhir_bonemet.client.prefetch import outbound_session
from fhir_bonemet.errors import PreconditionFailedError

TOKEN = "opaque-access-token-4711"
PATIENT_ID = "pat-123"
TEMPLATES = {
    "patient": "Patient/{{context.patientId}}",
    "conditions": "Condition?patient={{context.patientId}}",
}
PATIENT = {"resourceType": "Patient", "id": PATIENT_ID}
CONDITION = {"resourceType": "Condition", "id": "c1", "subject": {"reference": f"Patient/{PATIENT_ID}"}}
PATIENT_URL = f"{BASE}/Patient/{PATIENT_ID}"
CONDITIONS_URL = f"{BASE}/Condition?patient={PATIENT_ID}"


def request(prefetch: dict[str, Any] | None = None, **overrides: Any) -> PrefetchRequest:
    fields: dict[str, Any] = {
        "hook_instance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": {"patientId": PATIENT_ID, "userId": "Practitioner/prac-1"},
        "prefetch": prefetch,
        "fhir_server": BASE,
        "fhir_authorization": {
            "access_token": TOKEN,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "user/*.read",
            "subject": "bonemet",
        },
    }
    fields.update(overrides)
    return PrefetchRequest(**fields)


def resolver(fake: FakeFhir, **limits: Any) -> PrefetchResolver:
    return PrefetchResolver(fake.session(), ServerPolicy([BASE]), PrefetchLimits(**limits))


def server_with_data() -> FakeFhir:
    fake = FakeFhir()
    fake.add("GET", PATIENT_URL, Reply(json_body=PATIENT))
    fake.add("GET", CONDITIONS_URL, Reply(json_body=bundle(CONDITION)))
    return fake


def test_absent_keys_are_fetched_with_the_fhir_authorization_token() -> None:
    fake = server_with_data()
    result = resolver(fake).resolve(TEMPLATES, request(prefetch={}))
    assert result.data == {"patient": PATIENT, "conditions": bundle(CONDITION)}
    assert result.fetched == {"patient", "conditions"}
    assert not result.unavailable
    assert not result.issues
    assert sorted(seen.url for seen in fake.seen) == sorted([CONDITIONS_URL, PATIENT_URL])
    assert {seen.headers["Authorization"] for seen in fake.seen} == {f"Bearer {TOKEN}"}


def test_a_missing_prefetch_object_means_every_key_is_absent() -> None:
    result = resolver(server_with_data()).resolve(TEMPLATES, request(prefetch=None))
    assert result.fetched == {"patient", "conditions"}


def test_without_fhir_authorization_the_fetch_is_unauthenticated() -> None:
    fake = server_with_data()
    resolver(fake).resolve(TEMPLATES, request(prefetch={}, fhir_authorization=None))
    assert all("Authorization" not in seen.headers for seen in fake.seen)


def test_provided_values_are_used_and_null_is_never_re_queried() -> None:
    fake = server_with_data()
    result = resolver(fake).resolve(TEMPLATES, request(prefetch={"patient": PATIENT, "conditions": None}))
    assert result.data == {"patient": PATIENT, "conditions": None}
    assert fake.seen == []
    assert not result.fetched
    assert not result.issues


def test_a_key_the_service_did_not_ask_for_is_said_as_information_and_not_read() -> None:
    """CDS Hooks clients may send keys beside the service's own (a shared prefetch, a key renamed on one
    side): no error, but never passed over in silence either."""
    fake = server_with_data()
    sent = {"patient": PATIENT, "conditions": None, "labs": bundle(CONDITION), "<script>" * 20: None}
    result = resolver(fake).resolve(TEMPLATES, request(prefetch=sent))
    assert result.data == {"patient": PATIENT, "conditions": None}
    assert not result.unavailable
    assert fake.seen == []
    assert [(i.location, i.severity) for i in result.issues] == [
        ("prefetch", "information"),  # a key not shaped like a key name is not repeated
        ("prefetch.labs", "information"),
    ]
    assert all("not ask for" in i.message for i in result.issues)


def test_many_keys_the_service_did_not_ask_for_are_counted_not_listed_one_by_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A body of nothing but extra keys (a few MB holds hundreds of thousands) must not become one issue
    and one log line per key: the first ones are named, the rest counted in one note."""
    sent = {"patient": PATIENT, "conditions": bundle(CONDITION), **{f"extra{i:05d}": 0 for i in range(5000)}}
    with caplog.at_level(logging.INFO, logger="fhir_bonemet"):
        result = resolver(FakeFhir()).resolve(TEMPLATES, request(prefetch=sent))
    assert result.data == {"patient": PATIENT, "conditions": bundle(CONDITION)}
    assert all(i.severity == "information" for i in result.issues)
    assert len(result.issues) <= 51
    assert result.issues[0].location == "prefetch.extra00000"
    assert "4980 more prefetch keys" in result.issues[-1].message
    assert len(caplog.records) <= 52


def test_one_malformed_entry_does_not_discard_the_good_ones() -> None:
    # The reader skips and reports the bad entry; the key itself is usable and is not re-queried.
    fake = server_with_data()
    value = {"resourceType": "Bundle", "type": "searchset", "entry": ["not an object", {"resource": "text"}]}
    value["entry"].append({"resource": CONDITION})
    result = resolver(fake).resolve(TEMPLATES, request(prefetch={"patient": PATIENT, "conditions": value}))
    assert result.data["conditions"] == value
    assert fake.seen == []
    assert not result.unavailable


@pytest.mark.parametrize(
    "bad_value",
    [
        outcome("EHR could not run the query"),
        bundle(CONDITION, outcome()),
        "Condition?patient=pat-123",
        ["not", "an", "object"],
        {"resourceType": "Bundle", "type": "searchset", "entry": {"resource": CONDITION}},
        CONDITION,  # a resource where the search template asked for a Bundle
        {"entry": []},
    ],
)
def test_failed_or_malformed_prefetch_values_are_re_fetched(bad_value: Any) -> None:
    fake = server_with_data()
    result = resolver(fake).resolve(
        TEMPLATES, request(prefetch={"patient": PATIENT, "conditions": bad_value})
    )
    assert result.data["conditions"] == bundle(CONDITION)
    assert result.fetched == {"conditions"}
    assert [seen.url for seen in fake.seen] == [CONDITIONS_URL]
    (issue,) = result.issues
    assert issue.location == "prefetch.conditions"
    assert issue.severity == "warning"
    assert "fetching it instead" in issue.message


@pytest.mark.parametrize("severity", ["information", "warning"])
def test_a_searchset_with_an_informational_outcome_beside_its_results_is_used(severity: str) -> None:
    """Servers note things about a search in an OperationOutcome entry (``search.mode`` outcome), such as
    "some results may be restricted": the results are data, the note a read issue for the reader."""
    note = {
        "resourceType": "OperationOutcome",
        "issue": [
            {"severity": severity, "code": "informational", "diagnostics": "results may be restricted"}
        ],
    }
    value = bundle(CONDITION, note)
    fake = server_with_data()
    result = resolver(fake).resolve(TEMPLATES, request(prefetch={"patient": PATIENT, "conditions": value}))
    assert result.data["conditions"] == value
    assert fake.seen == []
    assert not result.issues


@pytest.mark.parametrize(
    "issues",
    [
        [{"severity": "error", "code": "exception"}],
        [{"severity": "information"}, {"severity": "fatal"}],
        [],
        "x",
    ],
)
def test_an_outcome_reporting_an_error_or_nothing_readable_fails_the_search(issues: Any) -> None:
    value = bundle(CONDITION, {"resourceType": "OperationOutcome", "issue": issues})
    fake = server_with_data()
    result = resolver(fake).resolve(TEMPLATES, request(prefetch={"patient": PATIENT, "conditions": value}))
    assert result.data["conditions"] == bundle(CONDITION)
    assert result.fetched == {"conditions"}


def test_results_sent_beside_an_error_outcome_are_used_when_they_cannot_be_re_fetched() -> None:
    """A failed query (CDS Hooks 2.0) that still sent results: without fhirServer they were thrown away
    (and a required key was a 412); the results are used, and the key is *partial*: beyond them its facts
    are unknown, not absent."""
    value = bundle(CONDITION, outcome("some conditions could not be returned"))
    result = resolver(FakeFhir()).resolve(
        TEMPLATES,
        request(prefetch={"patient": PATIENT, "conditions": value}, fhir_server=None),
        required=frozenset(TEMPLATES),
    )
    assert result.data["conditions"] == value
    assert result.partial == {"conditions"}
    assert not result.unavailable
    assert not result.truncated
    assert [(i.location, i.severity) for i in result.issues] == [("prefetch.conditions", "warning")] * 3
    assert "fetching it instead" in result.issues[0].message
    assert "no fhirServer" in result.issues[1].message
    assert result.issues[2].message.startswith("incomplete: the results sent beside the OperationOutcome")


def test_results_sent_beside_an_error_outcome_are_used_when_the_re_fetch_fails() -> None:
    fake = FakeFhir()
    fake.add("GET", CONDITIONS_URL, Reply(500, outcome()))
    value = bundle(CONDITION, outcome())
    result = resolver(fake).resolve(TEMPLATES, request(prefetch={"patient": PATIENT, "conditions": value}))
    assert [seen.url for seen in fake.seen] == [CONDITIONS_URL]  # the failed query is asked again first
    assert result.data["conditions"] == value
    assert result.partial == {"conditions"}
    assert not result.unavailable
    assert "500" in result.issues[1].message


def test_an_error_outcome_with_no_result_beside_it_stays_a_failed_prefetch() -> None:
    result = resolver(FakeFhir()).resolve(
        TEMPLATES,
        request(prefetch={"patient": PATIENT, "conditions": bundle(outcome())}, fhir_server=None),
    )
    assert result.unavailable == {"conditions"}
    assert not result.partial
    assert "conditions" not in result.data


def test_a_fetched_search_with_an_error_beside_its_results_is_partial_not_discarded() -> None:
    fake = FakeFhir()
    fake.add("GET", PATIENT_URL, Reply(json_body=PATIENT))
    fake.add("GET", CONDITIONS_URL, Reply(json_body=bundle(CONDITION, outcome())))
    result = resolver(fake).resolve(TEMPLATES, request(prefetch={}), required=frozenset(TEMPLATES))
    assert result.data["conditions"] == bundle(CONDITION, outcome())
    assert result.partial == {"conditions"}
    assert result.fetched == {"patient", "conditions"}
    assert not result.unavailable
    (issue,) = result.issues
    assert (issue.location, issue.severity) == ("prefetch.conditions", "warning")
    assert issue.message.startswith(
        "incomplete: the Bundle contains 1 OperationOutcome entry reporting an error beside the results "
        "of page 1"
    )


def test_a_fetched_search_that_is_only_an_error_outcome_is_unavailable() -> None:
    fake = FakeFhir()
    fake.add("GET", PATIENT_URL, Reply(json_body=PATIENT))
    fake.add("GET", CONDITIONS_URL, Reply(json_body=bundle(outcome())))
    result = resolver(fake).resolve(TEMPLATES, request(prefetch={}))
    assert result.unavailable == {"conditions"}
    assert not result.partial
    assert "OperationOutcome entry reporting an error" in result.issues[0].message


def test_a_fetched_search_with_an_error_inside_a_bundle_in_its_results_is_partial() -> None:
    # A Bundle within the results (a batch answered inside a searchset) is judged as the search itself:
    # its error leaves results missing, so the key is partial, never whole.
    fake = FakeFhir()
    fake.add("GET", PATIENT_URL, Reply(json_body=PATIENT))
    fake.add("GET", CONDITIONS_URL, Reply(json_body=bundle(bundle(CONDITION, outcome()))))
    result = resolver(fake).resolve(TEMPLATES, request(prefetch={}))
    assert result.partial == {"conditions"}
    assert not result.unavailable
    (issue,) = result.issues
    assert "1 error within a Bundle inside its results" in issue.message


def test_a_batch_request_that_failed_with_only_a_warning_outcome_makes_the_key_partial() -> None:
    # A failed request (404) whose OperationOutcome words itself as a warning is still a failed request:
    # its results are missing, whatever the outcome's severity, so the key is never whole.
    warning = {"resourceType": "OperationOutcome", "issue": [{"severity": "warning", "code": "not-found"}]}
    batch = {
        "resourceType": "Bundle",
        "type": "batch-response",
        "entry": [
            {"resource": CONDITION, "response": {"status": "200 OK"}},
            {"resource": warning, "response": {"status": "404 Not Found"}},
        ],
    }
    fake = FakeFhir()
    fake.add("GET", PATIENT_URL, Reply(json_body=PATIENT))
    fake.add("GET", CONDITIONS_URL, Reply(json_body=bundle(batch)))
    result = resolver(fake).resolve(TEMPLATES, request(prefetch={}))
    assert result.partial == {"conditions"}


def test_a_search_whose_inner_bundle_holds_only_an_error_is_a_failed_search() -> None:
    fake = FakeFhir()
    fake.add("GET", PATIENT_URL, Reply(json_body=PATIENT))
    fake.add("GET", CONDITIONS_URL, Reply(json_body=bundle(bundle(outcome()))))
    result = resolver(fake).resolve(TEMPLATES, request(prefetch={}))
    assert result.unavailable == {"conditions"}


def test_a_bundle_with_further_pages_inside_the_results_makes_the_key_truncated() -> None:
    inner = {**bundle(CONDITION), "link": [{"relation": "next", "url": f"{CONDITIONS_URL}&page=2"}]}
    result = resolver(FakeFhir()).resolve(
        TEMPLATES, request(prefetch={"patient": PATIENT, "conditions": bundle(inner)})
    )
    assert result.truncated == {"conditions"}
    assert result.data["conditions"] == bundle(inner)
    (issue,) = result.issues
    assert (issue.location, issue.severity) == ("prefetch.conditions", "warning")


def test_failed_prefetch_without_a_fhir_server_makes_the_key_unavailable() -> None:
    result = resolver(FakeFhir()).resolve(
        TEMPLATES, request(prefetch={"patient": PATIENT, "conditions": outcome()}, fhir_server=None)
    )
    assert result.data == {"patient": PATIENT}
    assert result.unavailable == {"conditions"}
    assert [issue.severity for issue in result.issues] == ["warning", "error"]
    assert "no fhirServer" in result.issues[-1].message


@pytest.mark.parametrize("fhir_server", [None, BASE])
def test_a_read_key_sent_as_a_bundle_of_that_one_resource_is_that_resource(fhir_server: str | None) -> None:
    """Some EHRs answer the read template ``Patient/{{context.patientId}}`` with a searchset holding the
    Patient: the data is in the request (it was a 412 without fhirServer, a needless fetch with one)."""
    fake = server_with_data()
    result = resolver(fake).resolve(
        TEMPLATES,
        request(
            prefetch={"patient": bundle(PATIENT), "conditions": bundle(CONDITION)}, fhir_server=fhir_server
        ),
        required=frozenset(TEMPLATES),
    )
    assert result.data == {"patient": PATIENT, "conditions": bundle(CONDITION)}
    assert fake.seen == []
    assert not result.fetched
    assert not result.unavailable
    (issue,) = result.issues
    assert (issue.location, issue.severity) == ("prefetch.patient", "information")
    assert "a Bundle holding the one Patient" in issue.message
    assert PATIENT_ID not in issue.message


def note(severity: str = "information") -> dict[str, Any]:
    """An OperationOutcome entry as Epic and other EHRs add it to search results: a note, no failure."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {"severity": severity, "code": "informational", "diagnostics": "results may be restricted"}
        ],
    }


def with_note(value: dict[str, Any], severity: str = "information") -> dict[str, Any]:
    entry = {"resource": note(severity), "search": {"mode": "outcome"}}
    return {**value, "entry": [*value.get("entry", []), entry]}


@pytest.mark.parametrize("severity", ["information", "warning"])
def test_a_patient_bundle_with_a_note_from_the_server_is_that_patient(severity: str) -> None:
    """Epic and others add an OperationOutcome note to a search: beside the one Patient it is not a failed
    prefetch (it was a 412 without fhirServer), and the issue names it rather than dropping it."""
    fake = server_with_data()
    result = resolver(fake).resolve(
        TEMPLATES,
        request(
            prefetch={"patient": with_note(bundle(PATIENT), severity), "conditions": bundle(CONDITION)},
            fhir_server=None,
        ),
        required=frozenset(TEMPLATES),
    )
    assert result.data["patient"] == PATIENT
    assert not result.unavailable
    (issue,) = result.issues
    assert (issue.location, issue.severity) == ("prefetch.patient", "information")
    assert "a Bundle holding the one Patient" in issue.message
    assert "1 OperationOutcome note beside it" in issue.message


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (bundle(PATIENT, {"resourceType": "Patient", "id": "someone-else"}), "holds 2 Patient resources"),
        (bundle({"resourceType": "Patient", "id": "someone-else"}), "not the one read (another id)"),
        (with_note(bundle({"resourceType": "Patient", "id": "someone-else"})), "not the one read"),
        (bundle({"resourceType": "Patient"}), "not the one read (another id)"),
        (bundle(CONDITION), "holds no Patient"),
        (bundle(PATIENT, CONDITION), "other resources beside the Patient"),
        ({**bundle(), "total": 3}, "holds no Patient"),
        (bundle(PATIENT, outcome()), "OperationOutcome entry reporting an error"),
        (bundle(PATIENT, next_url=f"{BASE}/Patient?_id={PATIENT_ID}&page=2"), "has a next page"),
        ({**bundle(PATIENT), "entry": [{"resource": PATIENT}, "x"]}, "a Bundle entry is not a resource"),
    ],
)
def test_any_other_bundle_for_a_read_key_stays_a_failed_prefetch(value: dict[str, Any], why: str) -> None:
    with pytest.raises(PreconditionFailedError) as raised:
        resolver(FakeFhir()).resolve(
            TEMPLATES,
            request(prefetch={"patient": value, "conditions": bundle(CONDITION)}, fhir_server=None),
            required=frozenset(TEMPLATES),
        )
    messages = [p.message for p in raised.value.problems if p.location == "prefetch.patient"]
    assert any("prefetched value unusable" in m and why in m for m in messages), messages
    assert not any("someone-else" in m for m in messages)


@pytest.mark.parametrize("fhir_server", [None, BASE])
@pytest.mark.parametrize("value", [bundle(), bundle(total=0), with_note(bundle(total=0), "warning")])
def test_a_patient_sent_as_an_empty_searchset_is_not_found_no_data(
    value: dict[str, Any], fhir_server: str | None
) -> None:
    """The EHR's search found no such patient: no data, as ``null`` or a 404 (it was a failed prefetch
    and a 412 without fhirServer); re-querying the same EHR would find nothing again."""
    fake = server_with_data()
    result = resolver(fake).resolve(
        TEMPLATES,
        request(prefetch={"patient": value, "conditions": bundle(CONDITION)}, fhir_server=fhir_server),
        required=frozenset(TEMPLATES),
    )
    assert result.data == {"patient": None, "conditions": bundle(CONDITION)}
    assert not result.unavailable
    assert fake.seen == []
    (issue,) = result.issues
    assert (issue.location, issue.severity) == ("prefetch.patient", "warning")
    assert issue.message == "not found (an empty Bundle was sent for this read); no data"


def test_a_read_the_server_answers_with_an_empty_searchset_is_not_found_like_a_404() -> None:
    fake = FakeFhir()
    fake.add("GET", PATIENT_URL, Reply(json_body=bundle(total=0)))
    fake.add("GET", CONDITIONS_URL, Reply(json_body=bundle(CONDITION)))
    result = resolver(fake).resolve(TEMPLATES, request(prefetch={}), required=frozenset(TEMPLATES))
    assert result.data["patient"] is None
    assert result.fetched == {"patient", "conditions"}
    assert not result.unavailable
    (issue,) = result.issues
    assert (issue.location, issue.severity) == ("prefetch.patient", "warning")
    assert issue.message == "not found (the server answered with an empty Bundle); no data"


@pytest.mark.parametrize(
    "answer", [bundle(PATIENT), with_note(bundle(PATIENT)), with_note(bundle(PATIENT), "warning")]
)
def test_a_read_the_server_answers_with_a_searchset_of_that_patient_is_that_patient(
    answer: dict[str, Any],
) -> None:
    """Some servers and proxies answer ``GET Patient/123`` with a searchset: it was a failed fetch (and a
    412, the patient being required); the Patient in it is what was read."""
    fake = FakeFhir()
    fake.add("GET", PATIENT_URL, Reply(json_body=answer))
    fake.add("GET", CONDITIONS_URL, Reply(json_body=bundle(CONDITION)))
    result = resolver(fake).resolve(TEMPLATES, request(prefetch={}), required=frozenset(TEMPLATES))
    assert result.data == {"patient": PATIENT, "conditions": bundle(CONDITION)}
    assert result.fetched == {"patient", "conditions"}
    assert not result.unavailable
    (issue,) = result.issues
    assert (issue.location, issue.severity) == ("prefetch.patient", "information")
    assert "a Bundle holding the one Patient was the server's answer" in issue.message
    assert ("OperationOutcome note" in issue.message) == (len(answer["entry"]) == 2)


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        (bundle(PATIENT, {"resourceType": "Patient", "id": "someone-else"}), "holds 2 Patient resources"),
        (bundle({"resourceType": "Patient", "id": "someone-else"}), "not the one read (another id)"),
        (bundle(PATIENT, outcome()), "OperationOutcome entry reporting an error"),
        (CONDITION, "expected a Patient, got a Condition"),
    ],
)
def test_a_read_answered_with_another_bundle_is_a_failed_fetch_that_says_why(
    answer: dict[str, Any], why: str
) -> None:
    fake = FakeFhir()
    fake.add("GET", PATIENT_URL, Reply(json_body=answer))
    fake.add("GET", CONDITIONS_URL, Reply(json_body=bundle(CONDITION)))
    with pytest.raises(PreconditionFailedError) as raised:
        resolver(fake).resolve(TEMPLATES, request(prefetch={}), required=frozenset(TEMPLATES))
    (problem,) = raised.value.problems
    assert problem.location == "prefetch.patient"
    assert problem.message.startswith("fetching Patient/{id} failed: response unusable: ")
    assert why in problem.message
    assert PATIENT_ID not in problem.message
    assert "someone-else" not in problem.message


@pytest.mark.parametrize("severity", ["information", "warning"])
def test_a_fetched_searchset_with_a_note_from_the_server_is_used_whole(severity: str) -> None:
    fake = FakeFhir()
    fake.add("GET", PATIENT_URL, Reply(json_body=PATIENT))
    fake.add("GET", CONDITIONS_URL, Reply(json_body=with_note(bundle(CONDITION), severity)))
    result = resolver(fake).resolve(TEMPLATES, request(prefetch={}))
    assert result.data["conditions"] == with_note(bundle(CONDITION), severity)
    assert not result.unavailable
    assert not result.truncated
    assert not result.issues  # the reader names the note (tests/fhir/test_read.py)


def test_required_key_unavailable_is_412_naming_the_key_without_patient_data() -> None:
    fake = FakeFhir()
    fake.add("GET", CONDITIONS_URL, Reply(401, outcome("bad token")))
    with pytest.raises(PreconditionFailedError) as raised:
        resolver(fake).resolve(
            TEMPLATES, request(prefetch={"patient": PATIENT}), required=frozenset({"conditions"})
        )
    error = raised.value
    assert error.status_code == 412
    assert "conditions" in error.message
    (problem,) = error.problems
    assert problem.location == "prefetch.conditions"
    assert problem.code == "incomplete"
    assert "401" in problem.message
    for secret in (TOKEN, PATIENT_ID, "fhir.example.org"):
        assert secret not in error.message
        assert secret not in problem.message


def test_a_required_key_sent_malformed_is_412_saying_what_was_wrong_with_it() -> None:
    """Not only "the request has no fhirServer": the value that was sent could not be used, and why."""
    with pytest.raises(PreconditionFailedError) as raised:
        resolver(FakeFhir()).resolve(
            TEMPLATES,
            request(prefetch={"patient": {"resourceType": "Observation", "id": "x"}}, fhir_server=None),
            required=frozenset({"patient"}),
        )
    messages = [p.message for p in raised.value.problems if p.location == "prefetch.patient"]
    assert any("prefetched value unusable" in m for m in messages)
    assert any("no fhirServer" in m for m in messages)


def test_optional_key_unavailable_is_reported_not_raised() -> None:
    fake = FakeFhir()
    fake.add("GET", CONDITIONS_URL, Reply(500, outcome()))
    result = resolver(fake).resolve(
        TEMPLATES, request(prefetch={"patient": PATIENT}), required=frozenset({"patient"})
    )
    assert result.unavailable == {"conditions"}
    assert "conditions" not in result.data
    assert result.issues[0].message.startswith("fetching Condition?patient=* failed")


def test_a_read_that_finds_nothing_is_no_data_not_a_failure() -> None:
    fake = FakeFhir()  # every route answers 404
    fake.add("GET", CONDITIONS_URL, Reply(json_body=bundle()))
    result = resolver(fake).resolve(TEMPLATES, request(prefetch={}), required=frozenset({"patient"}))
    assert result.data["patient"] is None
    assert not result.unavailable
    assert result.issues[0].severity == "warning"
    assert "404" in result.issues[0].message


def test_unresolvable_tokens_make_the_key_unavailable_without_a_request() -> None:
    fake = server_with_data()
    templates = {**TEMPLATES, "encounter": "Encounter/{{context.encounterId}}"}
    result = resolver(fake).resolve(templates, request(prefetch={}))
    assert result.unavailable == {"encounter"}
    assert "context.encounterId is absent" in result.issues[0].message
    assert all("Encounter" not in seen.url for seen in fake.seen)


def test_a_fhir_server_off_the_allowlist_is_never_called() -> None:
    fake = server_with_data()
    result = resolver(fake).resolve(
        TEMPLATES, request(prefetch={"patient": PATIENT}, fhir_server="https://evil.example.com/fhir")
    )
    assert fake.seen == []
    assert result.data == {"patient": PATIENT}
    assert result.unavailable == {"conditions"}
    assert "allowlist" in result.issues[0].message


def test_provided_first_page_is_completed_from_the_server() -> None:
    fake = FakeFhir()
    fake.add("GET", f"{BASE}/Condition?page=2", Reply(json_body=bundle({**CONDITION, "id": "c2"})))
    first_page = bundle(CONDITION, next_url=f"{BASE}/Condition?page=2")
    result = resolver(fake).resolve(
        TEMPLATES, request(prefetch={"patient": PATIENT, "conditions": first_page})
    )
    assert [entry["resource"]["id"] for entry in result.data["conditions"]["entry"]] == ["c1", "c2"]
    assert result.fetched == {"conditions"}
    assert not result.truncated


def test_provided_first_page_without_a_server_is_kept_and_marked_incomplete() -> None:
    first_page = bundle(CONDITION, next_url=f"{BASE}/Condition?page=2")
    result = resolver(FakeFhir()).resolve(
        TEMPLATES, request(prefetch={"patient": PATIENT, "conditions": first_page}, fhir_server=None)
    )
    assert result.data["conditions"] == first_page
    assert result.truncated == {"conditions"}
    assert not result.unavailable
    assert result.issues[0].severity == "warning"
    assert "incomplete" in result.issues[0].message


def test_a_failing_next_page_keeps_the_first_page_and_reports_it() -> None:
    fake = FakeFhir()
    fake.add("GET", f"{BASE}/Condition?page=2", Reply(503, outcome()))
    first_page = bundle(CONDITION, next_url=f"{BASE}/Condition?page=2")
    result = resolver(fake).resolve(
        TEMPLATES, request(prefetch={"patient": PATIENT, "conditions": first_page})
    )
    kept = result.data["conditions"]
    assert kept is not None
    assert kept["entry"] == first_page["entry"]
    assert result.truncated == {"conditions"}
    assert "503" in result.issues[0].message


def test_keys_are_fetched_concurrently() -> None:
    barrier = threading.Barrier(2, timeout=5)

    def wait_for_the_other(reply: Reply) -> Any:
        def handler(_: requests.PreparedRequest) -> Reply:
            barrier.wait()  # breaks (and the key fails) unless both requests are in flight together
            return reply

        return handler

    fake = FakeFhir()
    fake.add("GET", PATIENT_URL, wait_for_the_other(Reply(json_body=PATIENT)))
    fake.add("GET", CONDITIONS_URL, wait_for_the_other(Reply(json_body=bundle(CONDITION))))
    result = resolver(fake, deadline_seconds=10).resolve(TEMPLATES, request(prefetch={}))
    assert not result.unavailable
    assert result.fetched == {"patient", "conditions"}


def test_the_overall_deadline_bounds_the_whole_resolution() -> None:
    release = threading.Event()

    def hang(_: requests.PreparedRequest) -> Reply:
        release.wait(10)
        return Reply(json_body=bundle(CONDITION))

    fake = server_with_data()
    fake.add("GET", CONDITIONS_URL, hang)
    started = time.monotonic()
    try:
        result = resolver(fake, deadline_seconds=0.3, timeouts=Timeouts(1, 1)).resolve(
            TEMPLATES, request(prefetch={})
        )
    finally:
        release.set()
    assert time.monotonic() - started < 2
    assert result.data == {"patient": PATIENT}
    assert result.unavailable == {"conditions"}
    assert "deadline" in result.issues[0].message


def test_results_keep_template_order_whatever_finishes_first() -> None:
    fake = FakeFhir()
    templates = {f"k{n}": f"Condition?code={n}" for n in range(6)}
    result = resolver(fake).resolve(templates, request(prefetch={}))  # all 404: search failures
    assert [issue.location for issue in result.issues] == [f"prefetch.k{n}" for n in range(6)]


def test_required_keys_must_have_templates() -> None:
    with pytest.raises(ValueError, match="without a template"):
        resolver(FakeFhir()).resolve(TEMPLATES, request(), required=frozenset({"medications"}))


def test_logs_name_the_hook_instance_and_keys_but_never_tokens_or_patient_data(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = FakeFhir()
    fake.add("GET", CONDITIONS_URL, Reply(401, outcome()))
    caplog.set_level(logging.DEBUG, logger="fhir_bonemet")
    resolver(fake).resolve(TEMPLATES, request(prefetch={"patient": PATIENT}))
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea" in text
    assert "prefetch.conditions" in text
    for secret in (TOKEN, PATIENT_ID, "fhir.example.org"):
        assert secret not in text


def test_hook_instance_cannot_forge_log_lines(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="fhir_bonemet")
    resolver(FakeFhir()).resolve(
        TEMPLATES,
        request(
            prefetch={"patient": None, "conditions": None}, hook_instance="x\nprefetch hookInstance=forged"
        ),
    )
    assert all("\n" not in record.getMessage() for record in caplog.records)


def test_the_outbound_session_keeps_a_connection_for_every_concurrent_fetch() -> None:
    """Every Observation search and its panel twin are fetched at once: more than requests' default pool
    of 10, whose surplus connections would be opened and thrown away on every hook call."""
    with outbound_session() as session:
        for url in ("https://fhir.example.org/R4", "http://127.0.0.1:8080/fhir"):
            adapter = session.get_adapter(url)
            assert isinstance(adapter, requests.adapters.HTTPAdapter)
            assert adapter._pool_maxsize == PrefetchLimits().max_workers  # no public getter
