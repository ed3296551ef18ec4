"""The tolerant reader: every shape of prefetch value, NDJSON, malformed input, deduplication."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fhir_bonemet.fhir.intake.read import (
    ReadResult,
    contained,
    read_draft_orders,
    read_ndjson,
    read_prefetch,
    searched_type,
)


def _obs(obs_id: str, **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": obs_id, "status": "final", **extra}


def _searchset(*resources: Any) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [
            {"fullUrl": f"http://ehr.example/fhir/x/{i}", "resource": r} for i, r in enumerate(resources)
        ],
    }


def _refs(result: ReadResult, resource_type: str) -> list[str]:
    return [item.ref for item in result.items(resource_type)]


def test_prefetch_accepts_resource_bundle_and_array() -> None:
    result = read_prefetch(
        {
            "patient": {"resourceType": "Patient", "id": "p1"},
            "observations": _searchset(_obs("o1"), _obs("o2")),
            "conditions": [
                {"resourceType": "Condition", "id": "c1"},
                _searchset({"resourceType": "Condition", "id": "c2"}),
            ],
        }
    )
    assert _refs(result, "Patient") == ["Patient/p1"]
    assert _refs(result, "Observation") == ["Observation/o1", "Observation/o2"]
    assert _refs(result, "Condition") == ["Condition/c1", "Condition/c2"]
    assert result.issues == []
    assert result.unavailable == set()


def test_malformed_entries_are_skipped_and_located_without_patient_data() -> None:
    bundle = _searchset(
        _obs("ok"),
        "not an object",
        {"id": "no-type", "status": "final", "valueString": "Jane Doe"},
        {"resourceType": "Observation", "id": 42},
        _obs("ok2"),
    )
    bundle["entry"].append("garbage entry")
    result = read_prefetch({"observations": bundle})
    assert _refs(result, "Observation") == ["Observation/ok", "Observation/ok2"]
    locations = [issue.location for issue in result.issues]
    assert locations == [
        "prefetch.observations.entry[1]",
        "prefetch.observations.entry[2].resource",
        "prefetch.observations.entry[3].resource",
        "prefetch.observations.entry[5]",
    ]
    assert all("Jane" not in issue.message for issue in result.issues)


def test_the_senders_text_in_a_type_or_id_is_never_repeated() -> None:
    """A resourceType of a megabyte, or holding a name, was repeated in the read issue (and so in the log
    and the answer); an id that is not a FHIR id went into references the same way."""
    huge = "X" * 1_000_000
    bundle = _searchset(
        {"resourceType": huge, "id": "a"},
        {"resourceType": "LEAKRT-Okafor", "id": "b"},
        _obs("Jane Doe 1950-01-01", valueString="x"),
    )
    result = read_prefetch({"observations": bundle})
    shown = json.dumps([(i.location, i.message) for i in result.issues]) + json.dumps(
        _refs(result, "Observation")
    )
    assert len(shown) < 2_000
    assert "Okafor" not in shown
    assert "Jane" not in shown
    assert [i.message for i in result.issues][:2] == ["resourceType is not a FHIR resource type; skipped"] * 2
    # The Observation is still read (its data count), under a reference of its position.
    assert _refs(result, "Observation") == ["Observation/#prefetch.observations.entry[2].resource"]


def test_unusable_prefetch_keys_make_the_source_unavailable() -> None:
    result = read_prefetch(
        {
            "medications": "oops",
            "observations": {"resourceType": "OperationOutcome", "issue": []},
            "patient": {"resourceType": "Patient", "id": "p1"},
        }
    )
    assert result.unavailable == {"medications", "observations"}
    assert {issue.severity for issue in result.issues} == {"error"}
    assert _refs(result, "Patient") == ["Patient/p1"]


def test_null_prefetch_key_means_no_data_not_a_problem() -> None:
    # CDS Hooks 2.0: the EHR sends null when it has no data for a key.
    result = read_prefetch({"conditions": None, "patient": {"resourceType": "Patient", "id": "p1"}})
    assert result.unavailable == frozenset()
    assert list(result.issues) == []
    assert result.items("Condition") == []


def test_non_object_prefetch_is_one_error_not_an_exception() -> None:
    result = read_prefetch(["not", "an", "object"])  # type: ignore[arg-type]
    assert result.count() == 0
    assert [issue.location for issue in result.issues] == ["prefetch"]


def test_same_resource_through_several_keys_is_kept_once_newest_copy_wins() -> None:
    old = _obs("dup", meta={"lastUpdated": "2024-01-01T00:00:00Z"}, valueInteger=3)
    new = _obs("dup", meta={"lastUpdated": "2024-02-01T00:00:00Z"}, valueInteger=6)
    result = read_prefetch({"a": _searchset(old), "b": [new], "c": old})
    items = result.items("Observation")
    assert len(items) == 1
    assert items[0].data["valueInteger"] == 6
    assert result.resolve("Observation/dup") is new


def test_two_different_resources_under_one_id_are_said_not_dropped_in_silence() -> None:
    first = _obs("dup", valueInteger=3)
    other = _obs("dup", valueInteger=9)
    result = read_prefetch({"a": _searchset(first, dict(first), other)})  # a copy of the first is no issue
    assert [item.data["valueInteger"] for item in result.items("Observation")] == [3]
    assert [(i.location, i.message) for i in result.issues] == [
        (
            "prefetch.a.entry[2].resource",
            "another Observation with the same id was read first; this one is not read",
        )
    ]
    assert read_draft_orders(_searchset(first, other)).issues  # two draft orders under one id


def test_search_outcome_entries_and_entries_without_resource_are_reported_not_used() -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [
            {"resource": {"resourceType": "OperationOutcome"}, "search": {"mode": "outcome"}},
            {"fullUrl": "urn:uuid:1"},
            {"resource": _obs("o1"), "search": {"mode": "match"}},
        ],
    }
    result = read_prefetch({"observations": bundle})
    assert list(result.by_type) == ["Observation"]
    assert [(i.location, i.message) for i in result.issues] == [
        (
            "prefetch.observations.entry[0].resource",
            "the server sent an OperationOutcome among the results: they may be incomplete",
        ),
        ("prefetch.observations.entry[1]", "Bundle entry has no resource; skipped"),
    ]


def test_a_bundle_type_that_is_not_a_string_is_no_data_type_and_raises_nothing() -> None:
    bundle = {"resourceType": "Bundle", "type": ["searchset"], "entry": [{}, {"resource": _obs("o1")}]}
    result = read_prefetch({"observations": bundle})
    assert _refs(result, "Observation") == ["Observation/o1"]
    assert result.issues == []


def test_entries_of_another_type_than_the_search_asked_for_are_reported() -> None:
    procedure = {"resourceType": "Procedure", "id": "p1", "status": "completed"}
    medication = {"resourceType": "Medication", "id": "m1"}
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [
            {"resource": procedure, "search": {"mode": "match"}},
            "not a resource",
            {"resource": medication, "search": {"mode": "include"}},  # asked for with _include: expected
            {"resource": {"resourceType": "Condition", "id": "c1"}},
        ],
    }
    searched = {"conditions": searched_type("Condition?patient={{context.patientId}}&clinical-status=active")}
    result = read_prefetch({"conditions": bundle}, searched)  # type: ignore[arg-type]
    assert [(i.location, i.message) for i in result.issues] == [
        (
            "prefetch.conditions.entry[0].resource",
            "a Procedure among the Condition results; read as a Procedure",
        ),
        ("prefetch.conditions.entry[1]", "Bundle entry is not a JSON object; skipped"),
    ]
    # Reported, and still read for what it is: one misplaced resource never sinks the others.
    assert sorted(result.by_type) == ["Condition", "Medication", "Procedure"]


def test_the_searched_type_comes_from_the_template() -> None:
    assert searched_type("Condition?patient={{context.patientId}}") == "Condition"
    assert searched_type("/Observation?code=x") == "Observation"
    assert searched_type("Patient/{{context.patientId}}") is None
    assert searched_type("{{context.userId}}") is None


def test_bundle_entry_not_an_array_is_reported() -> None:
    result = read_prefetch({"observations": {"resourceType": "Bundle", "entry": {"resource": _obs("x")}}})
    assert result.count() == 0
    assert result.issues[0].location == "prefetch.observations.entry"


def test_nested_bundles_are_followed_but_not_forever() -> None:
    inner: dict[str, Any] = {"resourceType": "Bundle", "entry": [{"resource": _obs("deep")}]}
    nested = inner
    for _ in range(10):
        nested = {"resourceType": "Bundle", "entry": [{"resource": nested}]}
    result = read_prefetch(
        {"doc": {"resourceType": "Bundle", "entry": [{"resource": inner}]}, "deep": nested}
    )
    assert _refs(result, "Observation") == ["Observation/deep"]
    assert any("nested too deeply" in issue.message for issue in result.issues)


def test_a_searchset_nested_in_the_results_is_read_and_its_unread_pages_are_said() -> None:
    """Some servers answer an _include or a batch with a Bundle inside the searchset: its resources are
    data like any other, and pages of it that were not read are reported, never taken as the whole."""
    inner = _searchset(_obs("in-1"), _obs("in-2"))
    inner["link"] = [{"relation": "next", "url": "http://ehr.example/fhir/Observation?page=2"}]
    result = read_prefetch({"labs": _searchset(_obs("top"), inner)}, {"labs": "Observation"})
    assert _refs(result, "Observation") == ["Observation/top", "Observation/in-1", "Observation/in-2"]
    assert [(i.location, i.severity) for i in result.issues] == [
        ("prefetch.labs.entry[1].resource", "warning")
    ]
    assert "further pages" in result.issues[0].message


def test_a_failed_request_in_a_batch_answer_is_reported_where_it_was() -> None:
    failed = {
        "response": {
            "status": "500 Internal Server Error",
            "outcome": {
                "resourceType": "OperationOutcome",
                "issue": [{"severity": "error", "code": "exception"}],
            },
        }
    }
    batch = {
        "resourceType": "Bundle",
        "type": "batch-response",
        "entry": [{"resource": _searchset(_obs("ok")), "response": {"status": "200 OK"}}, failed],
    }
    result = read_prefetch({"labs": _searchset(batch)})
    assert _refs(result, "Observation") == ["Observation/ok"]
    assert [i.location for i in result.issues] == ["prefetch.labs.entry[0].resource.entry[1]"]
    assert "failed (status 500)" in result.issues[0].message
    # A successful transaction-response entry carries no resource, and is no issue.
    created = {
        "resourceType": "Bundle",
        "type": "transaction-response",
        "entry": [{"response": {"status": "201"}}],
    }
    assert read_prefetch({"x": created}).issues == []


def test_a_failed_batch_request_is_no_note_whatever_its_outcome_says() -> None:
    """A failed request's results are missing: an OperationOutcome in its place that words itself as a
    warning, or an error outcome beside a 2xx status, must not pass for a note or a receipt."""
    warning = {"resourceType": "OperationOutcome", "issue": [{"severity": "warning", "code": "not-found"}]}
    error = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "exception"}]}
    batch = {
        "resourceType": "Bundle",
        "type": "batch-response",
        "entry": [
            {"resource": warning, "response": {"status": "404 Not Found"}},
            {"response": {"status": "200 OK", "outcome": error}},
        ],
    }
    result = read_prefetch({"labs": _searchset(batch)})
    assert [(i.location, i.severity) for i in result.issues] == [
        ("prefetch.labs.entry[0].resource.entry[0].resource", "warning"),
        ("prefetch.labs.entry[0].resource.entry[1]", "warning"),
    ]
    assert all("incomplete" in i.message or "missing" in i.message for i in result.issues)


def test_references_resolve_by_relative_absolute_and_fullurl() -> None:
    med = {"resourceType": "Medication", "id": "m1"}
    anonymous = {"resourceType": "Medication"}
    bundle = {
        "resourceType": "Bundle",
        "entry": [
            {"fullUrl": "http://ehr.example/fhir/Medication/m1", "resource": med},
            {"fullUrl": "urn:uuid:7f1c", "resource": anonymous},
        ],
    }
    result = read_prefetch({"meds": bundle})
    assert result.resolve("Medication/m1") is med
    assert result.resolve("https://other.example/fhir/Medication/m1/_history/3") is med
    assert result.resolve("urn:uuid:7f1c") is anonymous
    assert result.resolve("Medication/unknown") is None
    # A resource without id still gets a distinct, non-identifying reference.
    assert _refs(result, "Medication")[1] == "Medication/#prefetch.meds.entry[1].resource"


def test_ndjson_reads_good_lines_and_reports_bad_ones() -> None:
    lines = [json.dumps(_obs("a")), "{not json", "", json.dumps([1, 2]), json.dumps(_obs("b"))]
    result = read_ndjson("\n".join(lines).encode(), source="Observation.ndjson")
    assert _refs(result, "Observation") == ["Observation/a", "Observation/b"]
    assert [issue.location for issue in result.issues] == [
        "Observation.ndjson[line 2]",
        "Observation.ndjson[line 4]",
    ]


def test_draft_orders_bundle() -> None:
    draft = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": {"resourceType": "MedicationRequest", "id": "d1", "status": "draft"}},
            {"resource": {"resourceType": "ServiceRequest", "id": "s1", "status": "draft"}},
        ],
    }
    result = read_draft_orders(draft)
    assert _refs(result, "MedicationRequest") == ["MedicationRequest/d1"]
    assert result.items("ServiceRequest")[0].location == "context.draftOrders.entry[1].resource"
    assert read_draft_orders(None).count() == 0


def test_contained_lookup() -> None:
    request = {"contained": [{"resourceType": "Medication", "id": "med1"}, "junk"]}
    assert contained(request, "#med1") == {"resourceType": "Medication", "id": "med1"}
    assert contained(request, "#med2") is None
    assert contained({"contained": "junk"}, "#med1") is None


@pytest.mark.parametrize(
    ("issues", "severity", "message"),
    [
        (
            [{"severity": "information", "code": "informational"}],
            "information",
            "a note from the server about the search (information); not patient data, not read as data",
        ),
        (
            [{"severity": "information"}, {"severity": "warning", "code": "suppressed"}],
            "information",
            "a note from the server about the search (warning); not patient data, not read as data",
        ),
        (
            [{"severity": "warning"}, {"severity": "error"}],
            "warning",
            "the server sent an OperationOutcome among the results: they may be incomplete",
        ),
        ("x", "warning", "the server sent an OperationOutcome among the results: they may be incomplete"),
    ],
)
def test_a_note_from_the_server_among_search_results_is_said_as_a_note_not_as_missing_data(
    issues: object, severity: str, message: str
) -> None:
    """Epic and others add an OperationOutcome with information or a warning to search results: it is no
    patient data and says nothing is missing, so it must not read like a failure on the answer."""
    outcome = {"resourceType": "OperationOutcome", "issue": issues}
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": _obs("o1")}, {"resource": outcome, "search": {"mode": "outcome"}}],
    }
    result = read_prefetch({"observations": bundle}, {"observations": "Observation"})
    assert _refs(result, "Observation") == ["Observation/o1"]
    assert list(result.by_type) == ["Observation"]
    assert [(i.location, i.severity, i.message) for i in result.issues] == [
        ("prefetch.observations.entry[1].resource", severity, message)
    ]
