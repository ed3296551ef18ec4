"""The whole hook pipeline through the HTTP layer, with everything sent as prefetch (no FHIR server).

Prefetch → tolerant reader → facts → core → cards, with the real terminology, thresholds and rules, and a
fixed clock so the example patients' dates stay current.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from example_app import EXAMPLES_TODAY as ANCHOR
from example_app import example_client
from fhir_bonemet.cli.examples_runner import default_examples_dir, prefetched_request
from fhir_bonemet.cli.main import main
from fhir_bonemet.main import build_app
from fhir_bonemet.settings import Settings
from fhir_bonemet.workflow import READ_ISSUES_EXTENSION, Workflow

EXAMPLES = default_examples_dir()
RULES = "org.fhir-bonemet.rules"
PV = "/cds-services/bonemet-patient-view"
SIGN = "/cds-services/bonemet-order-sign"


def request_for(scenario: str, hook: str = "patient-view") -> dict[str, Any]:
    return prefetched_request(scenario, hook)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with example_client(tmp_path) as test_client:
        yield test_client


def rule_ids(response: Any) -> list[list[str]]:
    assert response.status_code == 200, response.text
    return [card["extension"][RULES] for card in response.json()["cards"]]


def test_cord_compression_comes_first_and_holds_exercise(client: TestClient) -> None:
    cards = rule_ids(client.post(PV, json=request_for("suspected-cord-compression")))
    assert "R01" in cards[0]
    response = client.post(PV, json=request_for("suspected-cord-compression")).json()
    first = response["cards"][0]
    assert first["indicator"] == "critical"
    exercise = next(c for c in response["cards"] if c["extension"][RULES][0].startswith("EX"))
    assert exercise["extension"]["org.fhir-bonemet.skeletal-risk"]["overall"] == "hold"


def test_brain_only_metastasis_gets_no_cards(client: TestClient) -> None:
    assert client.post(PV, json=request_for("brain-only-metastasis")).json() == {"cards": []}


def test_nsaid_draft_with_renal_impairment_on_order_sign_names_the_draft(client: TestClient) -> None:
    # The scenario's naproxen draft, signed (its order-select example carries the same draft).
    body = request_for("nsaid-renal-impairment", "order-select")
    body["hook"] = "order-sign"
    del body["context"]["selections"]
    response = client.post(SIGN, json=body)
    cards = response.json()["cards"]
    p16 = next(c for c in cards if "P16" in c["extension"][RULES])
    drafts = {
        f"{e['resource']['resourceType']}/{e['resource']['id']}"
        for e in body["context"]["draftOrders"]["entry"]
    }
    deletes = [
        action["resourceId"]
        for suggestion in p16.get("suggestions", [])
        for action in suggestion.get("actions", [])
        if action["type"] == "delete"
    ]
    assert deletes
    assert set(deletes) <= drafts


def test_a_malformed_resource_is_reported_and_the_rest_still_answers(client: TestClient) -> None:
    good = client.post(PV, json=request_for("thoracic-spine-sins14")).json()
    body = request_for("thoracic-spine-sins14")
    observations = body["prefetch"]["observations-scores"]["entry"]
    observations.insert(0, {"resource": {"resourceType": "Observation", "id": 17, "status": ["final"]}})
    observations.insert(1, "not a resource")
    response = client.post(PV, json=body)
    assert response.status_code == 200
    answer = response.json()
    assert [c["extension"][RULES] for c in answer["cards"]] == [c["extension"][RULES] for c in good["cards"]]
    locations = [issue["location"] for issue in answer["extension"][READ_ISSUES_EXTENSION]]
    assert "prefetch.observations-scores.entry[0].resource" in locations
    assert "prefetch.observations-scores.entry[1]" in locations


def test_unreadable_labs_make_the_advice_more_cautious_not_less(client: TestClient) -> None:
    full = client.post(PV, json=request_for("rib-blastic-ecog1")).json()
    body = request_for("rib-blastic-ecog1")
    for key in [key for key in body["prefetch"] if key.startswith("observations")]:
        body["prefetch"][key] = {"resourceType": "OperationOutcome", "issue": [{"severity": "error"}]}
    partial = client.post(PV, json=body).json()

    def tier(answer: dict[str, Any]) -> str:
        card = next(c for c in answer["cards"] if c["extension"][RULES][0].startswith("EX"))
        risk: str = card["extension"]["org.fhir-bonemet.skeletal-risk"]["overall"]
        return risk

    order = ["low", "moderate", "high", "adl-only", "hold"]
    assert order.index(tier(partial)) >= order.index(tier(full))
    assert "missing" in json.dumps(partial["cards"]).lower()


def test_required_data_unobtainable_is_412(client: TestClient) -> None:
    body = request_for("rib-blastic-ecog1")
    del body["prefetch"]["conditions"]  # absent, and no fhirServer to fetch it from
    response = client.post(PV, json=body)
    assert response.status_code == 412
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert "conditions" in json.dumps(outcome)
    assert "bm-rib-blastic" not in json.dumps(outcome)


def test_a_one_megabyte_prefetch_with_a_thousand_resources_is_answered(client: TestClient) -> None:
    body = request_for("opioid-benzodiazepine")
    key = next(k for k, v in body["prefetch"].items() if k.startswith("observations") and v.get("entry"))
    entries = body["prefetch"][key]["entry"]
    template = next(e["resource"] for e in entries if e["resource"]["code"]["coding"])
    for i in range(1000):
        extra = copy.deepcopy(template)
        extra["id"] = f"bulk-{i}"
        extra["note"] = [{"text": "x" * 900}]
        entries.append({"resource": extra})
    payload = json.dumps(body)
    assert len(payload) > 1_000_000
    response = client.post(PV, content=payload, headers={"Content-Type": "application/json"})
    assert response.status_code == 200
    assert response.json()["cards"]


def test_same_call_twice_gives_the_same_cards_and_uuids(client: TestClient) -> None:
    first = client.post(PV, json=request_for("opioid-benzodiazepine")).json()
    second = client.post(PV, json=request_for("opioid-benzodiazepine")).json()
    assert first == second


def test_example_request_command_prints_a_request_the_service_answers(
    client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["example-request", "hypercalcaemia", "--today", ANCHOR.isoformat()]) == 0
    body = json.loads(capsys.readouterr().out)
    assert "fhirServer" not in body
    cards = rule_ids(client.post(PV, json=body))
    assert any("R03" in ids for ids in cards)


def test_unusable_input_log_lines_carry_no_resource_ids(client: TestClient, caplog: Any) -> None:
    body = request_for("suspected-cord-compression")
    observation = body["prefetch"]["observations-flags"]["entry"][0]["resource"]
    observation["effectiveDateTime"] = 12  # unusable: skipped with an issue naming where
    observation["code"] = "not a CodeableConcept"
    body["prefetch"]["observations-flags"]["entry"].append(
        {"resource": {"resourceType": "Observation", "id": 7}}
    )
    with caplog.at_level("WARNING", logger="fhir_bonemet"):
        assert client.post(PV, json=body).status_code == 200
    skipped = [r for r in caplog.records if r.getMessage() == "unusable input skipped"]
    assert skipped
    logged = json.dumps([{"location": r.location, "reason": r.reason} for r in skipped])  # type: ignore[attr-defined]
    assert "Observation/{id}" in logged
    for identifier in ("bm-cord-compression", observation["id"]):
        assert identifier not in logged


def test_a_flood_of_malformed_entries_logs_a_bounded_number_of_lines(client: TestClient, caplog: Any) -> None:
    """One warning per malformed entry let a small body write a log line per entry (200,000 of them for
    600 kB) and hold a worker for seconds; the answer itself shows at most 50."""
    body = request_for("suspected-cord-compression")
    body["prefetch"]["observations-flags"]["entry"].extend([1] * 5000)
    with caplog.at_level("INFO", logger="fhir_bonemet"):
        assert client.post(PV, json=body).status_code == 200
    skipped = [r for r in caplog.records if r.getMessage() == "unusable input skipped"]
    assert 0 < len(skipped) <= 50
    [more] = [r for r in caplog.records if r.getMessage() == "more unusable input, not logged one by one"]
    assert more.more_skipped + len(skipped) == 5000  # type: ignore[attr-defined]


def test_a_hook_instance_that_is_not_an_identifier_is_never_logged(client: TestClient, caplog: Any) -> None:
    """The request log wrote "invalid" for it, but the workflow's and the prefetch's lines wrote it as sent:
    a client could put a patient's name into every line of the call."""
    body = request_for("suspected-cord-compression")
    body["hookInstance"] = "Jane Doe MRN 0042"
    body["prefetch"]["observations-flags"]["entry"].append(1)  # a read issue: one more line keyed by it
    with caplog.at_level("DEBUG", logger="fhir_bonemet"):
        assert client.post(PV, json=body).status_code == 200
    assert caplog.records
    for record in caplog.records:
        logged = record.getMessage() + json.dumps(vars(record), default=str)
        assert "Jane" not in logged, record.getMessage()


def test_read_issues_are_reported_even_when_no_card_is_shown(client: TestClient) -> None:
    # With its metastasis Condition unreadable the patient is not placed in the population, so no card:
    # the answer must still say that data could not be read, instead of looking like "nothing to say".
    body = request_for("suspected-cord-compression")
    for entry in body["prefetch"]["conditions"]["entry"]:
        entry["resource"]["id"] = 5
    answer = client.post(PV, json=body).json()
    assert answer["cards"] == []
    issues = answer["extension"][READ_ISSUES_EXTENSION]
    assert any(issue["location"].startswith("prefetch.conditions") for issue in issues), issues


def _unreadable_symptom_answers(body: dict[str, Any], answers: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``body`` with the named red-flag symptom Observations answered by values neither yes nor no."""
    for entry in body["prefetch"]["observations-flags"]["entry"]:
        resource = entry["resource"]
        for suffix, value in answers.items():
            if resource["id"].endswith(suffix):
                del resource["valueBoolean"]
                resource.update(value)
    return body


LOCAL_J = {"valueCodeableConcept": {"coding": [{"system": "urn:oid:1.2.3.4", "code": "J"}]}}


def test_an_unreadable_symptom_answer_is_named_on_the_cord_compression_card(client: TestClient) -> None:
    # Limb weakness answered "J"; difficulty walking is still a readable yes: R01 stays critical, one card.
    body = _unreadable_symptom_answers(
        request_for("suspected-cord-compression"), {"rf-limb-weakness": LOCAL_J}
    )
    cards = client.post(PV, json=body).json()["cards"]
    r01 = [card for card in cards if "R01" in card["extension"][RULES]]
    assert len(r01) == 1
    assert r01[0]["indicator"] == "critical"
    assert "**Received but not read:** Limb weakness 'code J'" in r01[0]["detail"]


def test_unreadable_neurological_answers_still_raise_r01_and_keep_the_spine_unloaded(
    client: TestClient,
) -> None:
    """With no readable neurological answer left, the cord-compression card must not vanish in silence."""
    body = _unreadable_symptom_answers(
        request_for("suspected-cord-compression"),
        {"rf-limb-weakness": LOCAL_J, "rf-walking-difficulty": {"valueString": "unclear"}},
    )
    answer = client.post(PV, json=body).json()
    first = answer["cards"][0]
    assert first["extension"][RULES][0] == "R01"
    assert first["indicator"] == "warning"  # not known to be present: check now, not an emergency
    assert "not readable: check now for cord-compression symptoms" in first["summary"]
    assert "Limb weakness 'code J'" in first["detail"]
    assert "Difficulty walking 'unclear'" in first["detail"]
    assert "**Received but not read:**" in first["detail"]
    exercise = next(c for c in answer["cards"] if c["extension"][RULES][0].startswith("EX"))
    risk = exercise["extension"]["org.fhir-bonemet.skeletal-risk"]["overall"]
    assert risk in ("high", "adl-only")  # no hold from a warning, but no loading of the spine either
    issues = [i["location"] for i in answer["extension"][READ_ISSUES_EXTENSION]]
    assert "Observation/bm-cord-compression-rf-limb-weakness.value" in issues


def _fever_answer(body: dict[str, Any], ident: str, when: str, **value: Any) -> dict[str, Any]:
    """``body`` with a fever finding (SNOMED 386661006) answered ``value`` added to its flag findings."""
    body["prefetch"]["observations-flags"]["entry"].append(
        {
            "resource": {
                "resourceType": "Observation",
                "id": ident,
                "status": "final",
                "code": {"coding": [{"system": "http://snomed.info/sct", "code": "386661006"}]},
                "subject": {"reference": f"Patient/{body['context']['patientId']}"},
                "effectiveDateTime": when,
                **value,
            }
        }
    )
    return body


def test_an_unreadable_fever_answer_holds_exercise_and_the_card_says_why(client: TestClient) -> None:
    """A fever answer "unclear" is not "no fever": the exercise card holds and names it once, with the
    reading it took (docs/clinical-model.md#unreadable-results); a newer "no" settles it."""
    body = _fever_answer(
        request_for("rib-blastic-ecog1"), "rib-fever", "2025-06-01T08:00:00Z", valueString="unclear"
    )
    answer = client.post(PV, json=body).json()
    exercise = next(c for c in answer["cards"] if c["extension"][RULES][0].startswith("EX"))
    assert "fever answer not readable" in exercise["summary"]
    assert exercise["extension"]["org.fhir-bonemet.skeletal-risk"]["overall"] == "hold"
    assert "**Received but not read:** Fever 'unclear'" in exercise["detail"]
    assert "read as fever: exercise held until assessed" in exercise["detail"]
    assert exercise["detail"].count("Fever 'unclear'") == 1  # once, though two findings name it
    issues = [i["location"] for i in answer["extension"][READ_ISSUES_EXTENSION]]
    assert "Observation/rib-fever.value" in issues

    settled = _fever_answer(body, "rib-no-fever", "2025-06-01T12:00:00Z", valueBoolean=False)
    answer = client.post(PV, json=settled).json()
    exercise = next(c for c in answer["cards"] if c["extension"][RULES][0].startswith("EX"))
    assert exercise["extension"]["org.fhir-bonemet.skeletal-risk"]["overall"] == "low"
    assert "Fever" not in exercise["detail"]


_DAR = "http://terminology.hl7.org/CodeSystem/data-absent-reason"


def _absent(code: str) -> dict[str, Any]:
    return {"dataAbsentReason": {"coding": [{"system": _DAR, "code": code}]}}


def test_neurological_answers_recorded_as_unknown_raise_the_r01_warning_naming_them(
    client: TestClient,
) -> None:
    """Asked but unknown is not "no symptom": the same check-now warning as an unreadable answer, naming
    each record as recorded with no answer, and no read issue (the records are correct)."""
    body = _unreadable_symptom_answers(
        request_for("suspected-cord-compression"),
        {"rf-limb-weakness": _absent("asked-unknown"), "rf-walking-difficulty": _absent("asked-declined")},
    )
    answer = client.post(PV, json=body).json()
    first = answer["cards"][0]
    assert first["extension"][RULES][0] == "R01"
    assert first["indicator"] == "warning"
    assert "unknown: check now for cord-compression symptoms" in first["summary"]
    # Nothing was misread: the heading says what they are, not "Received but not read".
    assert "**Recorded without an answer:** Limb weakness (asked-unknown, " in first["detail"]
    assert "; Difficulty walking (asked-declined, " in first["detail"]
    assert "Received but not read" not in first["detail"]
    assert "could not be read" not in first["detail"]
    issues = [i["location"] for i in (answer.get("extension") or {}).get(READ_ISSUES_EXTENSION, [])]
    assert not [i for i in issues if "rf-" in i]


def test_neurological_questions_not_asked_are_read_as_no_record(client: TestClient) -> None:
    """not-asked: the questions were never put, so the record says what no record would (no R01 card)."""
    body = _unreadable_symptom_answers(
        request_for("suspected-cord-compression"),
        {"rf-limb-weakness": _absent("not-asked"), "rf-walking-difficulty": _absent("not-asked")},
    )
    cards = client.post(PV, json=body).json()["cards"]
    assert not [card for card in cards if "R01" in card["extension"][RULES]]
    assert not [card for card in cards if "not-asked" in card["detail"]]


def test_a_fever_recorded_as_unknown_holds_exercise_and_the_card_says_so(client: TestClient) -> None:
    body = _fever_answer(
        request_for("rib-blastic-ecog1"), "rib-fever", "2025-06-01T08:00:00Z", **_absent("asked-unknown")
    )
    answer = client.post(PV, json=body).json()
    exercise = next(c for c in answer["cards"] if c["extension"][RULES][0].startswith("EX"))
    assert "fever answer unknown" in exercise["summary"]
    assert exercise["extension"]["org.fhir-bonemet.skeletal-risk"]["overall"] == "hold"
    assert (
        "**Recorded without an answer:** Fever (asked-unknown, 2025-06-01): read as fever"
        in exercise["detail"]
    )
    assert "Received but not read" not in exercise["detail"]

    settled = _fever_answer(body, "rib-no-fever", "2025-06-01T12:00:00Z", valueBoolean=False)
    answer = client.post(PV, json=settled).json()
    exercise = next(c for c in answer["cards"] if c["extension"][RULES][0].startswith("EX"))
    assert exercise["extension"]["org.fhir-bonemet.skeletal-risk"]["overall"] == "low"
    assert "Fever" not in exercise["detail"]


@pytest.mark.parametrize(
    "fhir_server", ["https://fhir.not-allowlisted.example/r4", "https://user:secret@fhir.example.org/r4"]
)
def test_write_mode_with_a_server_it_may_not_call_suggests_the_plan(tmp_path: Path, fhir_server: str) -> None:
    settings = Settings(
        auth_required=False,
        data_dir=tmp_path,
        writeback_mode="write",
        fhir_server_allowlist=("https://fhir.example.org/r4",),
        fhir_server_allow_any=False,
    )
    workflow = Workflow.from_settings(settings, clock=lambda: ANCHOR)
    body = request_for("rib-blastic-ecog1")
    body["fhirServer"] = fhir_server
    body["fhirAuthorization"] = {
        "access_token": "hook-token",
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "patient/*.read user/CarePlan.write",
        "subject": "Practitioner/bm-demo-clinician",
    }
    with TestClient(build_app(settings, handler=workflow)) as client:
        response = client.post(PV, json=body)
    assert response.status_code == 200, response.text
    exercise = next(c for c in response.json()["cards"] if c["extension"][RULES][0].startswith("EX"))
    actions = [a for s in exercise["suggestions"] for a in s["actions"]]
    assert any(a.get("resource", {}).get("resourceType") == "CarePlan" for a in actions)
