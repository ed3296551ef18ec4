"""Prefetch in the shapes real EHRs send, through the whole hook pipeline (no FHIR server): a ``patient``
read satisfied with a searchset Bundle, and searchsets carrying an OperationOutcome note beside their
results (``search.mode`` ``outcome``, as Epic and others add them).  The clinician must get the same cards
as for the plain request, and the answer must say what was sent, without calling it missing data.

The same shapes answered by the ``fhirServer`` are in tests/integration/test_ehr_bundle_shapes_fhir_server.py.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from example_app import example_client
from fhir_bonemet.cli.examples_runner import prefetched_request
from fhir_bonemet.workflow import READ_ISSUES_EXTENSION

RULES = "org.fhir-bonemet.rules"
PV = "/cds-services/bonemet-patient-view"
# Scenarios whose cards rest on the patient (age, sex), conditions, observations and medications.
SCENARIOS = ["thoracic-spine-sins14", "opioid-benzodiazepine", "nsaid-renal-impairment", "hypercalcaemia"]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with example_client(tmp_path_factory.mktemp("ehr-bundles")) as test_client:
        yield test_client


def answer(client: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(PV, json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def issues(result: dict[str, Any]) -> list[dict[str, str]]:
    found: list[dict[str, str]] = (result.get("extension") or {}).get(READ_ISSUES_EXTENSION, [])
    return found


def searchset(*resources: dict[str, Any]) -> dict[str, Any]:
    """A searchset as a FHIR server returns it, with fullUrl and search mode."""
    entries = [
        {
            "fullUrl": f"https://ehr.example.org/fhir/{r['resourceType']}/{r['id']}",
            "resource": r,
            "search": {"mode": "match"},
        }
        for r in resources
    ]
    return {"resourceType": "Bundle", "type": "searchset", "total": len(resources), "entry": entries}


def note_entry(severity: str) -> dict[str, Any]:
    return {
        "resource": {
            "resourceType": "OperationOutcome",
            "issue": [
                {
                    "severity": severity,
                    "code": "informational",
                    "details": {"text": "Some results may be restricted by the user's access"},
                }
            ],
        },
        "search": {"mode": "outcome"},
    }


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("note", [None, "information", "warning"])
def test_a_patient_sent_as_a_searchset_gives_the_same_cards(
    client: TestClient, scenario: str, note: str | None
) -> None:
    original = answer(client, prefetched_request(scenario))
    body = prefetched_request(scenario)
    body["prefetch"]["patient"] = searchset(body["prefetch"]["patient"])
    if note is not None:
        body["prefetch"]["patient"]["entry"].append(note_entry(note))
    result = answer(client, body)
    assert result["cards"] == original["cards"]
    (issue,) = issues(result)
    assert (issue["location"], issue["severity"]) == ("prefetch.patient", "information")
    assert "a Bundle holding the one Patient was sent for this read" in issue["message"]
    assert ("OperationOutcome note" in issue["message"]) == (note is not None)


@pytest.mark.parametrize(
    ("extra", "why"),
    [
        ("another patient", "holds 2 Patient resources, not one"),
        ("another id", "the Patient in the Bundle is not the one read (another id)"),
    ],
)
def test_a_patient_searchset_that_is_not_the_context_patient_is_a_clear_412(
    client: TestClient, extra: str, why: str
) -> None:
    body = prefetched_request("thoracic-spine-sins14")
    patient = body["prefetch"]["patient"]
    other = {**copy.deepcopy(patient), "id": "someone-else"}
    body["prefetch"]["patient"] = (
        searchset(patient, other) if extra == "another patient" else searchset(other)
    )
    response = client.post(PV, json=body)
    assert response.status_code == 412
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    messages = [i["diagnostics"] for i in outcome["issue"] if i["location"] == ["prefetch.patient"]]
    assert any(why in m for m in messages), messages
    assert "someone-else" not in json.dumps(outcome)
    assert patient["id"] not in json.dumps(outcome)


def _search_keys(scenario: str) -> list[str]:
    return [key for key in prefetched_request(scenario)["prefetch"] if key != "patient"]


@pytest.mark.parametrize("severity", ["information", "warning"])
@pytest.mark.parametrize("scenario", ["thoracic-spine-sins14", "opioid-benzodiazepine"])
def test_a_note_from_the_server_in_any_search_changes_no_card(
    client: TestClient, scenario: str, severity: str
) -> None:
    """Each key in turn (conditions, medications, procedures, every Observation group): the note is not
    read as a malformed resource, adds no "could not be read" line, and sinks nothing."""
    original = answer(client, prefetched_request(scenario))
    for key in _search_keys(scenario):
        body = prefetched_request(scenario)
        value = body["prefetch"][key]
        value.setdefault("entry", []).insert(0, note_entry(severity))
        result = answer(client, body)
        assert result["cards"] == original["cards"], key
        (issue,) = issues(result)
        assert issue["location"] == f"prefetch.{key}.entry[0].resource", key
        assert issue["severity"] == "information", key
        assert f"a note from the server about the search ({severity})" in issue["message"]


def test_notes_in_every_key_at_once_still_give_the_same_cards(client: TestClient) -> None:
    scenario = "opioid-benzodiazepine"
    original = answer(client, prefetched_request(scenario))
    body = prefetched_request(scenario)
    body["prefetch"]["patient"] = searchset(body["prefetch"]["patient"])
    for key in _search_keys(scenario):
        body["prefetch"][key].setdefault("entry", []).append(note_entry("warning"))
    result = answer(client, body)
    assert result["cards"] == original["cards"]
    assert {i["severity"] for i in issues(result)} == {"information"}
    assert len(issues(result)) == len(body["prefetch"])


@pytest.mark.parametrize("scenario", ["thoracic-spine-sins14", "opioid-benzodiazepine"])
def test_a_patient_searchset_that_found_nothing_is_a_data_gap_not_an_error(
    client: TestClient, scenario: str
) -> None:
    """``total`` 0, no entry: the EHR has no such patient.  Answered as for ``null`` (it was a 412): the
    cards say the birth date is missing and stay on the cautious side, the extension says why."""
    no_patient = prefetched_request(scenario)
    no_patient["prefetch"]["patient"] = None
    expected = answer(client, no_patient)
    body = prefetched_request(scenario)
    body["prefetch"]["patient"] = {"resourceType": "Bundle", "type": "searchset", "total": 0}
    result = answer(client, body)
    assert result["cards"] == expected["cards"]
    assert any("**Missing:** birth date" in card["detail"] for card in result["cards"])
    assert issues(result) == [
        {
            "location": "prefetch.patient",
            "message": "not found (an empty Bundle was sent for this read); no data",
            "severity": "warning",
        }
    ]


def error_entry() -> dict[str, Any]:
    return {
        "resource": {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": "exception", "diagnostics": "some results failed"}],
        },
        "search": {"mode": "outcome"},
    }


# What a clinician reads for each key: the data, not the key's name.
DATA_NAMES = {
    "conditions": "conditions",
    "medication-requests": "medication orders",
    "medication-statements": "medication statements",
    "procedures": "procedures",
    "observations-pain": "pain scores",
    "observations-labs": "laboratory results",
    "observations-scores": "performance status and lesion scores",
    "observations-flags": "red-flag symptoms",
    "observations-pregnancy": "pregnancy status",
}


PARTIAL_NOTE = "*Data may be incomplete:* the EHR reported an error with"
MEDICATIONS_MISSING = "the full medication list (not read, or read only in part)"


def names_medications_missing(card: dict[str, Any], key: str) -> bool:
    """A medication key's gap is said once a card: by its Missing note when the card names the list."""
    return key.startswith("medication-") and MEDICATIONS_MISSING in card["detail"]


@pytest.mark.parametrize(
    ("scenario", "key", "rule"),
    [
        ("opioid-benzodiazepine", "medication-requests", "P14"),  # opioid with a benzodiazepine
        ("thoracic-spine-sins14", "observations-scores", "R04"),  # SINS 14: spinal instability
        ("thoracic-spine-sins14", "conditions", "R04"),  # the metastasis itself (a required key)
    ],
)
def test_results_beside_an_error_from_the_ehr_keep_their_cards_and_every_card_says_so(
    client: TestClient, scenario: str, key: str, rule: str
) -> None:
    """An error outcome beside results, with no fhirServer to ask again: the results were thrown away, so
    the opioid-benzodiazepine warning or the spinal-instability red flag vanished (a required key was a
    412).  Now they are used, every card says the data may be incomplete, and nothing beyond them is
    assumed absent."""
    original = answer(client, prefetched_request(scenario))
    body = prefetched_request(scenario)
    body["prefetch"][key]["entry"].append(error_entry())
    result = answer(client, body)
    rules = [card["extension"][RULES] for card in result["cards"]]
    assert any(rule in ids for ids in rules)
    assert rules[0] == original["cards"][0]["extension"][RULES]  # the most severe concern still leads
    for card in result["cards"]:
        assert f"{PARTIAL_NOTE} the {DATA_NAMES[key]}" in card["detail"] or names_medications_missing(
            card, key
        ), card["summary"]
    located = [i for i in issues(result) if i["location"] == f"prefetch.{key}"]
    assert [i["severity"] for i in located] == ["warning"] * 3
    assert "incomplete" in located[-1]["message"]


def test_a_medication_list_beside_an_error_is_not_taken_as_complete(client: TestClient) -> None:
    """Beyond the results sent, medications are unknown, not absent: the cards that read medications say
    the list could not be read in full, as for a medication list that could not be read at all."""
    body = prefetched_request("opioid-benzodiazepine")
    body["prefetch"]["medication-requests"]["entry"].append(error_entry())
    result = answer(client, body)
    assert "medication list (could not be read" in json.dumps(result["cards"])


def test_an_error_from_the_ehr_with_no_result_is_reported_as_a_failed_fetch(client: TestClient) -> None:
    body = prefetched_request("opioid-benzodiazepine")
    body["prefetch"]["medication-requests"] = {"resourceType": "Bundle", "type": "searchset"}
    body["prefetch"]["medication-requests"]["entry"] = [error_entry()]
    result = answer(client, body)
    assert "the full medication list (not read, or read only in part)" in json.dumps(result["cards"])
    assert PARTIAL_NOTE not in json.dumps(result["cards"])
    assert [i["severity"] for i in issues(result) if i["location"] == "prefetch.medication-requests"] == [
        "warning",
        "error",
    ]


def test_a_patient_with_another_id_is_answered_as_no_patient_and_the_answer_says_why(
    client: TestClient,
) -> None:
    """Sent as the Patient itself (not in a Bundle, which is a 412): it is not read, as before, and now
    the answer says so instead of only missing the birth date: the same concerns as with no Patient, and
    the cards say the birth date came on another patient's record."""
    no_patient = prefetched_request("opioid-benzodiazepine")
    no_patient["prefetch"]["patient"] = None
    expected = answer(client, no_patient)
    body = prefetched_request("opioid-benzodiazepine")
    body["prefetch"]["patient"]["id"] = "someone-else"
    result = answer(client, body)
    assert [c["summary"] for c in result["cards"]] == [c["summary"] for c in expected["cards"]]
    assert any("**Missing:** birth date" in card["detail"] for card in expected["cards"])
    received = "**Received but not read:** birth date (sent on a Patient record that is not this patient's)"
    assert all(received in card["detail"] for card in result["cards"])
    assert issues(result) == [
        {
            "location": "prefetch.patient",
            "message": "a Patient other than context.patientId (another id or none); not read",
            "severity": "warning",
        }
    ]


@pytest.mark.parametrize(
    "key",
    [
        "medication-requests",
        "medication-statements",
        "procedures",
        "observations-pain",
        "observations-labs",
        "observations-scores",
        "observations-flags",
        "observations-pregnancy",
    ],
)
def test_every_card_names_an_optional_key_that_could_not_be_read(client: TestClient, key: str) -> None:
    """A failed query with nothing beside the error, and no fhirServer to ask again: the key is
    unavailable.  Red-flag symptoms or a pregnancy in observations-flags / -pregnancy then changed no
    card at all, and the clinician could not tell "none recorded" from "not read"; every card now says
    which key could not be read."""
    body = prefetched_request("thoracic-spine-sins14")
    body["prefetch"][key] = {"resourceType": "Bundle", "type": "searchset", "entry": [error_entry()]}
    result = answer(client, body)
    assert result["cards"]
    for card in result["cards"]:
        assert (
            f"*Data may be incomplete:* the {DATA_NAMES[key]} could not be read, so nothing in them is on "
            "these cards" in (card["detail"])
        ) or names_medications_missing(card, key), card["summary"]


def test_a_partial_key_and_an_unread_one_share_one_line_on_each_card(client: TestClient) -> None:
    body = prefetched_request("opioid-benzodiazepine")
    body["prefetch"]["medication-requests"]["entry"].append(error_entry())
    body["prefetch"]["observations-flags"] = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error"}],
    }
    result = answer(client, body)
    line = (
        "*Data may be incomplete:* the EHR reported an error with the medication orders, and what it sent "
        "was used; the red-flag symptoms could not be read, so nothing in them is on these cards (see the "
        "response's read issues)."
    )
    named_once = (
        "*Data may be incomplete:* the red-flag symptoms could not be read, so nothing in them is on these "
        "cards (see the response's read issues)."
    )
    for card in result["cards"]:
        assert card["detail"].count("*Data may be incomplete:*") == 1
        if names_medications_missing(card, "medication-requests"):
            assert named_once in card["detail"]
        else:
            assert line in card["detail"]


@pytest.mark.parametrize("issue", [5, True, [{"severity": ["warning"]}], [{"severity": {"text": "warning"}}]])
@pytest.mark.parametrize("where", ["search", "patient"])
def test_a_malformed_operationoutcome_among_results_is_read_as_an_error_never_a_500(
    client: TestClient, issue: object, where: str
) -> None:
    # OperationOutcome.issue that is not an array, or a severity that is not a string, raised (int not
    # iterable, unhashable list): the whole answer became a 500.  It is no readable note, so it is read as
    # an error: the search's results are partial; the Patient read is not used (a clear 412).
    body = prefetched_request("thoracic-spine-sins14")
    bad = {"resource": {"resourceType": "OperationOutcome", "issue": issue}, "search": {"mode": "outcome"}}
    if where == "patient":
        body["prefetch"]["patient"] = searchset(body["prefetch"]["patient"])
        body["prefetch"]["patient"]["entry"].append(bad)
        response = client.post(PV, json=body)
        assert response.status_code == 412, response.text
        assert response.json()["resourceType"] == "OperationOutcome"
        return
    key = _search_keys("thoracic-spine-sins14")[0]
    body["prefetch"][key]["entry"].append(bad)
    result = answer(client, body)
    assert result["cards"]
    assert any(i["location"].startswith(f"prefetch.{key}") for i in issues(result))


def test_a_note_from_the_server_is_logged_as_a_note_not_as_input_skipped(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    """Nothing was lost: an operator scanning warnings for skipped input must not see the server's notes."""
    body = prefetched_request("thoracic-spine-sins14")
    body["prefetch"]["conditions"]["entry"].insert(0, note_entry("information"))
    with caplog.at_level("INFO", logger="fhir_bonemet"):
        answer(client, body)
    notes = [r for r in caplog.records if r.getMessage() == "input note"]
    assert [r.levelname for r in notes] == ["INFO"]
    assert not [r for r in caplog.records if r.getMessage() == "unusable input skipped"]


def test_a_card_that_names_the_missing_medication_list_does_not_say_it_twice(client: TestClient) -> None:
    """Medication keys that could not be read: a card whose Missing notes (its own or its folded advice's)
    name the medication list does not repeat it in the data-may-be-incomplete line; any other card names
    the orders there."""
    body = prefetched_request("thoracic-spine-sins14")
    for key in ("medication-requests", "medication-statements", "observations-flags"):
        body["prefetch"].pop(key)
    cards = answer(client, body)["cards"]
    listed = "the full medication list (not read, or read only in part)"
    with_list = [c for c in cards if listed in c["detail"]]
    assert with_list
    for card in with_list:
        assert "*Data may be incomplete:* the red-flag symptoms could not be read" in card["detail"]
        assert "medication orders" not in card["detail"]
    for card in (c for c in cards if c not in with_list):
        assert (
            "medication orders, medication statements and red-flag symptoms could not be read"
            in (card["detail"])
        )


def nested(results: dict[str, Any], *, bundle_type: str) -> dict[str, Any]:
    """The key's results wrapped one level down: a searchset whose one entry is a Bundle holding them (a
    batch answered inside the results, or a searchset of searchsets)."""
    inner = {key: value for key, value in results.items() if key != "total"}
    inner["type"] = bundle_type
    if bundle_type == "batch-response":
        # A batch answers each of its requests in an entry with a response.
        inner["entry"] = [{**entry, "response": {"status": "200 OK"}} for entry in inner.get("entry", [])]
    return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": inner}]}


@pytest.mark.parametrize("bundle_type", ["searchset", "batch-response"])
def test_an_error_inside_a_bundle_within_the_results_is_said_on_every_card(
    client: TestClient, bundle_type: str
) -> None:
    """An error outcome one Bundle down was reported as a read issue, but the key passed for whole: the
    cards did not say the data may be incomplete although part of the results was missing."""
    body = prefetched_request("opioid-benzodiazepine")
    inner = body["prefetch"]["medication-requests"]
    inner["entry"].append(error_entry())
    body["prefetch"]["medication-requests"] = nested(inner, bundle_type=bundle_type)
    result = answer(client, body)
    assert any("P14" in card["extension"][RULES] for card in result["cards"])  # the results are still used
    for card in result["cards"]:
        assert f"{PARTIAL_NOTE} the medication orders" in card["detail"] or names_medications_missing(
            card, "medication-requests"
        ), card["summary"]
    located = [i for i in issues(result) if i["location"] == "prefetch.medication-requests"]
    assert located
    assert "incomplete" in located[-1]["message"]


def test_a_failed_request_in_a_batch_within_the_results_is_said_on_every_card(client: TestClient) -> None:
    body = prefetched_request("opioid-benzodiazepine")
    wrapped = nested(body["prefetch"]["medication-requests"], bundle_type="batch-response")
    wrapped["entry"][0]["resource"]["entry"].append({"response": {"status": "500 Internal Server Error"}})
    body["prefetch"]["medication-requests"] = wrapped
    result = answer(client, body)
    assert any("P14" in card["extension"][RULES] for card in result["cards"])
    for card in result["cards"]:
        assert f"{PARTIAL_NOTE} the medication orders" in card["detail"] or names_medications_missing(
            card, "medication-requests"
        ), card["summary"]


def test_unread_pages_of_a_bundle_within_the_results_are_said_on_every_card(client: TestClient) -> None:
    """A Bundle inside the results with a next page: the pages after it are never read (the resolver pages
    the value sent, not the Bundles inside it), so the key is read only in part and the cards say so."""
    body = prefetched_request("thoracic-spine-sins14")
    wrapped = nested(body["prefetch"]["conditions"], bundle_type="searchset")
    next_page = {"relation": "next", "url": "https://ehr.example.org/fhir/Condition?page=2"}
    wrapped["entry"][0]["resource"]["link"] = [next_page]
    body["prefetch"]["conditions"] = wrapped
    result = answer(client, body)
    assert any("R04" in card["extension"][RULES] for card in result["cards"])
    for card in result["cards"]:
        assert "*Older history may be incomplete:* only the newest conditions" in card["detail"], card[
            "summary"
        ]
    located = [i for i in issues(result) if i["location"] == "prefetch.conditions"]
    assert [i["severity"] for i in located] == ["warning"]
