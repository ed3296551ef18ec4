"""The service fetching an example chart from a real FHIR server that answers in the shapes real EHRs use:
the ``Patient`` read answered with a searchset Bundle (some EHRs and proxies do), and searches carrying an
OperationOutcome note beside their results (``search.mode`` ``outcome``, as Epic and others add them).
The clinician must get the same cards as from a plain server.

The server's own answers are reshaped by the test server's fault injection (a 200 with a given body), so
everything else (the search, paging, the token-free loopback) is the real exchange.  The same shapes sent
as prefetch are in tests/test_workflow_ehr_bundles.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import requests
from fastapi.testclient import TestClient

from fhir_bonemet.cli.examples_runner import default_examples_dir, load_manifest
from fhir_bonemet.main import build_app
from fhir_bonemet.settings import Settings
from fhir_bonemet.workflow import READ_ISSUES_EXTENSION, Workflow

pytestmark = pytest.mark.integration

EXAMPLES = default_examples_dir()
ANCHOR = date.fromisoformat(load_manifest(EXAMPLES)["anchorDate"])
SERVICE = "bonemet-patient-view"
SCENARIO = "opioid-benzodiazepine"  # age, conditions, observations and medications all shape its cards


@pytest.fixture
def service(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(auth_required=False, data_dir=tmp_path, fhir_server_allow_any=True)
    workflow = Workflow.from_settings(settings, clock=lambda: ANCHOR)
    with TestClient(build_app(settings, handler=workflow)) as client:
        yield client


@pytest.fixture
def chart(fresh_fhir: Any) -> str:
    """The scenario's chart loaded into the server; its patient id."""
    fresh_fhir.load_file(EXAMPLES / SCENARIO / "bundle.json")
    request = json.loads((EXAMPLES / SCENARIO / "patient-view.json").read_text(encoding="utf-8"))
    patient_id: str = request["context"]["patientId"]
    return patient_id


def _call(client: TestClient, fhir: Any, patient_id: str) -> Any:
    body = {
        "hookInstance": "7c1e9a52-3b7d-4f0e-9d51-5b8f2a6c0e11",
        "hook": "patient-view",
        "fhirServer": fhir.base_url,
        "context": {"userId": "Practitioner/bm-demo-clinician", "patientId": patient_id},
    }
    return client.post(f"/cds-services/{SERVICE}", json=body)


def _answer(client: TestClient, fhir: Any, patient_id: str) -> dict[str, Any]:
    response = _call(client, fhir, patient_id)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def _issues(answer: dict[str, Any]) -> list[dict[str, str]]:
    found: list[dict[str, str]] = (answer.get("extension") or {}).get(READ_ISSUES_EXTENSION, [])
    return found


def _get(fhir: Any, relative: str) -> dict[str, Any]:
    with requests.Session() as http:
        http.trust_env = False
        response = http.get(
            f"{fhir.base_url}/{relative}", headers={"Accept": "application/fhir+json"}, timeout=30
        )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _note(severity: str) -> dict[str, Any]:
    return {
        "resource": {
            "resourceType": "OperationOutcome",
            "issue": [
                {"severity": severity, "code": "suppressed", "diagnostics": "results may be restricted"}
            ],
        },
        "search": {"mode": "outcome"},
    }


def _answer_with(fhir: Any, path: str, body: dict[str, Any], query: str | None = None) -> None:
    """The next requests to ``path`` (and ``query``) answer 200 with ``body``."""
    fhir.inject_fault(status=200, path=path, query=query, body=json.dumps(body), count=-1)


@pytest.mark.parametrize("note", [None, "information", "warning"])
def test_a_patient_read_answered_with_a_searchset_gives_the_same_cards(
    fresh_fhir: Any, service: TestClient, chart: str, note: str | None
) -> None:
    original = _answer(service, fresh_fhir, chart)
    assert original["cards"]
    searchset = _get(fresh_fhir, f"Patient?_id={chart}")
    assert [e["resource"]["id"] for e in searchset["entry"]] == [chart]
    if note is not None:
        searchset["entry"].append(_note(note))
    _answer_with(fresh_fhir, f"Patient/{chart}", searchset)
    fresh_fhir.clear_requests()
    reshaped = _answer(service, fresh_fhir, chart)
    assert reshaped["cards"] == original["cards"]
    (issue,) = _issues(reshaped)
    assert (issue["location"], issue["severity"]) == ("prefetch.patient", "information")
    assert "a Bundle holding the one Patient was the server's answer" in issue["message"]
    patient_reads = [r for r in fresh_fhir.requests_seen() if r["path"].startswith("Patient")]
    assert [r["path"] for r in patient_reads] == [f"Patient/{chart}"]


def test_a_patient_read_answered_with_two_patients_is_a_412_that_says_why(
    fresh_fhir: Any, service: TestClient, chart: str
) -> None:
    searchset = _get(fresh_fhir, f"Patient?_id={chart}")
    other = {**searchset["entry"][0]["resource"], "id": "someone-else"}
    searchset["entry"].append({"resource": other, "search": {"mode": "match"}})
    _answer_with(fresh_fhir, f"Patient/{chart}", searchset)
    response = _call(service, fresh_fhir, chart)
    assert response.status_code == 412
    outcome = response.json()
    (issue,) = [i for i in outcome["issue"] if i["location"] == ["prefetch.patient"]]
    assert "the Bundle holds 2 Patient resources, not one" in issue["diagnostics"]
    assert chart not in json.dumps(outcome)
    assert "someone-else" not in json.dumps(outcome)


def test_a_patient_read_answered_with_an_empty_searchset_is_answered_as_a_404(
    fresh_fhir: Any, service: TestClient, chart: str
) -> None:
    """A server that answers an unknown id with a searchset of nothing: the patient is not found, no data
    (it was a 412, the Bundle being "unusable"), exactly as when the read answers 404."""
    fresh_fhir.inject_fault(status=404, path=f"Patient/{chart}", count=-1)
    not_found = _answer(service, fresh_fhir, chart)
    fresh_fhir.clear_faults()
    empty = _get(fresh_fhir, "Patient?_id=nobody-here")
    assert empty.get("total") == 0
    assert "entry" not in empty
    _answer_with(fresh_fhir, f"Patient/{chart}", empty)
    result = _answer(service, fresh_fhir, chart)
    assert result["cards"] == not_found["cards"]
    assert any("**Missing:** birth date" in card["detail"] for card in result["cards"])
    (issue,) = _issues(result)
    assert (issue["location"], issue["severity"]) == ("prefetch.patient", "warning")
    assert issue["message"] == "not found (the server answered with an empty Bundle); no data"


# Each search key as the server is asked for it: (path, a query fragment only its request has).
SEARCHES = {
    "conditions": ("Condition", None),
    "medication-requests": ("MedicationRequest", None),
    "medication-statements": ("MedicationStatement", None),
    "procedures": ("Procedure", None),
    "observations-pain": ("Observation", "72514-3"),
    "observations-scores": ("Observation", "89247-1"),
    "observations-labs": ("Observation", "_count=300"),
}


def _template(client: TestClient, key: str) -> str:
    services = client.get("/cds-services").json()["services"]
    template: str = next(s for s in services if s["id"] == SERVICE)["prefetch"][key]
    return template


@pytest.mark.parametrize("key", sorted(SEARCHES))
def test_a_note_from_the_server_beside_search_results_changes_no_card(
    fresh_fhir: Any, service: TestClient, chart: str, key: str
) -> None:
    original = _answer(service, fresh_fhir, chart)
    path, query = SEARCHES[key]
    searchset = _get(fresh_fhir, _template(service, key).replace("{{context.patientId}}", chart))
    assert not any(link["relation"] == "next" for link in searchset.get("link", []))
    searchset.setdefault("entry", []).insert(0, _note("warning"))
    _answer_with(fresh_fhir, path, searchset, query)
    reshaped = _answer(service, fresh_fhir, chart)
    assert reshaped["cards"] == original["cards"]
    (issue,) = _issues(reshaped)
    assert issue["location"] == f"prefetch.{key}.entry[0].resource"
    assert issue["severity"] == "information"
    assert "a note from the server about the search (warning)" in issue["message"]


@pytest.mark.parametrize(
    ("key", "rule", "data"),
    [("medication-requests", "P14", "medication orders"), ("conditions", "R04", "conditions")],
)
def test_results_the_server_sends_beside_an_error_keep_their_cards_and_every_card_says_so(
    fresh_fhir: Any, service: TestClient, chart: str, key: str, rule: str, data: str
) -> None:
    """A search answered with its results and an OperationOutcome reporting an error: the results were
    discarded (the opioid-benzodiazepine card vanished; for conditions, a 412).  Now they are used, and
    every card says the data may be incomplete."""
    original = _answer(service, fresh_fhir, chart)
    path, query = SEARCHES[key]
    searchset = _get(fresh_fhir, _template(service, key).replace("{{context.patientId}}", chart))
    assert searchset["entry"]
    error = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "exception"}]}
    searchset["entry"].append({"resource": error, "search": {"mode": "outcome"}})
    _answer_with(fresh_fhir, path, searchset, query)
    result = _answer(service, fresh_fhir, chart)
    rules = [card["extension"]["org.fhir-bonemet.rules"] for card in result["cards"]]
    assert any(rule in ids for ids in rules)
    assert rules[0] == original["cards"][0]["extension"]["org.fhir-bonemet.rules"]
    for card in result["cards"]:
        # A card whose Missing note names the medication list already says it there, once.
        said_as_missing = key.startswith("medication-") and "the full medication list" in card["detail"]
        assert f"*Data may be incomplete:* the EHR reported an error with the {data}" in card["detail"] or (
            said_as_missing
        )
    (issue,) = [i for i in _issues(result) if i["location"] == f"prefetch.{key}"]
    assert issue["severity"] == "warning"
    assert "OperationOutcome entry reporting an error beside the results of page 1" in issue["message"]


def test_a_red_flag_search_the_server_fails_is_named_on_every_card(
    fresh_fhir: Any, service: TestClient, chart: str
) -> None:
    """observations-flags answers 500: red-flag symptoms cannot be seen, so every card says that key
    could not be read (before, no card changed, as if none had been recorded)."""
    fresh_fhir.inject_fault(status=500, path="Observation", query="rf-", count=-1)
    result = _answer(service, fresh_fhir, chart)
    assert result["cards"]
    for card in result["cards"]:
        assert "*Data may be incomplete:* the red-flag symptoms could not be read" in card["detail"]
    assert any(i["location"] == "prefetch.observations-flags" for i in _issues(result))
