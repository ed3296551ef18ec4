"""Heavy charts behind a server that pages: the newest results are used within the fetch budget, pages
already read are kept when a later one fails, and the cards say that older history may be incomplete."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from fastapi.testclient import TestClient
from fhir_fixtures import PAIN_SCORE, PATIENT_UUID, ids_of_type, patient_bundle

from fhir_bonemet.cds.prefetch_templates import observation_templates
from fhir_bonemet.client import PrefetchRequest, PrefetchResolver, ServerPolicy
from fhir_bonemet.client.prefetch import PrefetchLimits
from fhir_bonemet.fhir.terminology.lookup import Terminology
from fhir_bonemet.main import build_app
from fhir_bonemet.settings import Settings
from fhir_bonemet.workflow import READ_ISSUES_EXTENSION, Workflow

pytestmark = pytest.mark.integration

TODAY = date(2025, 6, 2)
NOW = datetime(2025, 6, 2, 8, 0, tzinfo=UTC)
SERVICE = "/cds-services/bonemet-patient-view"
# The test server answers a page of 100 out of 1,500 Observations in about 0.3 s (it has no indexes), so
# the budget here is larger than the service default of 300 ms: what is tested is that paging stops at
# the budget and keeps what it read, not how fast this server is.
BUDGET_MS = 1000
NOTE = "Older history may be incomplete"


def _pain(value: int, when: datetime) -> dict[str, Any]:
    return {
        "resource": {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": PAIN_SCORE[0], "code": PAIN_SCORE[1]}]},
            "subject": {"reference": PATIENT_UUID},
            "effectiveDateTime": when.isoformat(),
            "valueInteger": value,
        },
        "request": {"method": "POST", "url": "Observation"},
    }


def heavy_chart(observations: int = 1500) -> dict[str, Any]:
    """A patient with a bone metastasis and ``observations`` hourly pain scores: mild (2/10) for weeks,
    severe (9/10) in the newest one only."""
    bundle = patient_bundle(pain_scores=0)
    for hour in range(observations):
        bundle["entry"].append(_pain(9 if hour == 0 else 2, NOW - timedelta(hours=hour + 1)))
    return bundle


@pytest.fixture(scope="module")
def loaded_heavy_chart(fhir_server: Any) -> Iterator[tuple[Any, str]]:
    fhir_server.reset()
    created = fhir_server.created_ids(fhir_server.load(heavy_chart()))
    yield fhir_server, ids_of_type(created, "Patient")[0]
    fhir_server.reset()


@pytest.fixture
def service(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        auth_required=False, data_dir=tmp_path, fhir_server_allow_any=True, prefetch_page_budget_ms=BUDGET_MS
    )
    workflow = Workflow.from_settings(settings, clock=lambda: TODAY)
    with TestClient(build_app(settings, handler=workflow)) as client:
        yield client


def _call(client: TestClient, fhir: Any, patient_id: str) -> dict[str, Any]:
    body = {
        "hookInstance": "3f0c1d0e-8a8e-4f4e-9a39-2b1f8c6e1a55",
        "hook": "patient-view",
        "fhirServer": fhir.base_url,
        "context": {"userId": "Practitioner/p1", "patientId": patient_id},
    }
    response = client.post(SERVICE, json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def _pain_values(bundle: dict[str, Any] | None) -> Counter[int]:
    return Counter(e["resource"]["valueInteger"] for e in (bundle or {}).get("entry", []))


def _busy_server(fhir: Any) -> None:
    """Every later page takes 250 ms, as on a busy production server: 15 pages cannot fit the budget,
    however fast the test server happens to be on this machine."""
    fhir.clear_faults()
    fhir.inject_fault(delay_ms=250, path="Observation", query="_offset=", count=-1)


def _offset(path: str) -> int:
    return int(parse_qs(urlsplit(path).query).get("_offset", ["0"])[0])


def _incomplete_note_on_every_card(answer: dict[str, Any]) -> None:
    assert answer["cards"]
    for card in answer["cards"]:
        assert NOTE in card["detail"], card["summary"]


def test_paging_stops_at_the_fetch_budget_and_keeps_the_newest_results(
    loaded_heavy_chart: tuple[Any, str],
) -> None:
    fhir, patient_id = loaded_heavy_chart
    fhir.set_max_page_size(100)
    _busy_server(fhir)
    templates = {
        "observations-pain": observation_templates(Terminology.load().search_codes)["observations-pain"]
    }
    limits = PrefetchLimits(page_budget_seconds=BUDGET_MS / 1000, max_pages=100)
    with requests.Session() as http:
        http.trust_env = False
        resolver = PrefetchResolver(http, ServerPolicy([fhir.base_url]), limits)
        started = time.monotonic()
        result = resolver.resolve(
            templates,
            PrefetchRequest(
                hook_instance="budget",
                context={"patientId": patient_id},
                prefetch={},
                fhir_server=fhir.base_url,
            ),
        )
        elapsed = time.monotonic() - started
    # The page in flight when the budget ends is cut off by its clipped timeout: a little grace only.
    assert elapsed < BUDGET_MS / 1000 + 0.3
    assert result.truncated == {"observations-pain"}
    values = _pain_values(result.data["observations-pain"])
    read = sum(values.values())
    assert 100 <= read < 1500
    assert read % 100 == 0  # whole pages
    assert values[9] == 1  # the newest result is on the first page (sorted newest first)
    assert "fetch budget" in result.issues[0].message


def test_a_heavy_chart_answers_from_the_newest_results_and_says_history_may_be_incomplete(
    loaded_heavy_chart: tuple[Any, str], service: TestClient
) -> None:
    fhir, patient_id = loaded_heavy_chart
    fhir.set_max_page_size(100)
    _busy_server(fhir)
    started = time.monotonic()
    answer = _call(service, fhir, patient_id)
    elapsed = time.monotonic() - started
    assert elapsed < BUDGET_MS / 1000 + 2.0  # first pages of every key, then paging within the budget
    summaries = [card["summary"] for card in answer["cards"]]
    assert any("Severe pain (NRS 9)" in summary for summary in summaries), summaries
    _incomplete_note_on_every_card(answer)
    issues = answer["extension"][READ_ISSUES_EXTENSION]
    assert [i["location"] for i in issues] == ["prefetch.observations-pain"]


def test_when_page_3_fails_pages_1_and_2_are_used_and_the_cards_say_so(
    loaded_heavy_chart: tuple[Any, str], tmp_path: Path
) -> None:
    fhir, patient_id = loaded_heavy_chart
    fhir.set_max_page_size(100)
    fhir.clear_faults()
    fhir.inject_fault(status=500, path="Observation", query="_offset=200")
    settings = Settings(
        auth_required=False, data_dir=tmp_path, fhir_server_allow_any=True, prefetch_page_budget_ms=20000
    )
    workflow = Workflow.from_settings(settings, clock=lambda: TODAY)
    fhir.clear_requests()
    with TestClient(build_app(settings, handler=workflow)) as client:
        answer = _call(client, fhir, patient_id)
    seen = fhir.requests_seen()
    # The search by code pages; no panel search by default (BONEMET_PANEL_SEARCHES).
    pain = [r for r in seen if "72514-3" in r["path"]]
    pain_pages = [(_offset(r["path"]), r["status"]) for r in pain]
    assert not [r for r in seen if "component-code=" in r["path"]]
    assert pain_pages == [(0, 200), (100, 200), (200, 500)]
    issues = answer["extension"][READ_ISSUES_EXTENSION]
    assert len(issues) == 1
    assert issues[0]["location"] == "prefetch.observations-pain"
    assert "page 3 failed" in issues[0]["message"]
    assert "pages 1-2 were used" in issues[0]["message"]
    assert any("Severe pain (NRS 9)" in card["summary"] for card in answer["cards"])
    _incomplete_note_on_every_card(answer)


def test_conditions_whose_page_2_fails_still_answer_from_page_1(fresh_fhir: Any, service: TestClient) -> None:
    """Page 1 holds the bone metastasis: a failing page 2 is incomplete history, not a 412."""
    bundle = patient_bundle(pain_scores=3, first_day=TODAY - timedelta(days=3))
    for n in range(45):  # three pages at the server's default page size of 20
        bundle["entry"].append(
            {
                "resource": {
                    "resourceType": "Condition",
                    "code": {"coding": [{"system": "http://snomed.info/sct", "code": "38341003"}]},
                    "subject": {"reference": PATIENT_UUID},
                    "recordedDate": (TODAY - timedelta(days=400 + n)).isoformat(),
                },
                "request": {"method": "POST", "url": "Condition"},
            }
        )
    patient_id = ids_of_type(fresh_fhir.created_ids(fresh_fhir.load(bundle)), "Patient")[0]
    fresh_fhir.inject_fault(status=500, path="Condition", query="_offset=20")
    answer = _call(service, fresh_fhir, patient_id)
    assert answer["cards"]
    issues = answer["extension"][READ_ISSUES_EXTENSION]
    assert any(i["location"] == "prefetch.conditions" and "page 2 failed" in i["message"] for i in issues)
    _incomplete_note_on_every_card(answer)
