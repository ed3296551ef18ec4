"""Every fault a FHIR server can throw at the service, injected by a proxy in front of the real test
server: each one is answered within the hook's deadline (+300 ms), never with an exception, and the
result says what could not be read and why."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from fastapi.testclient import TestClient
from fault_proxy import Fault, FaultProxy
from fhir_fixtures import ids_of_type, patient_bundle

from fhir_bonemet.cli import examples_runner
from fhir_bonemet.client import (
    PrefetchLimits,
    PrefetchRequest,
    PrefetchResolver,
    PrefetchResult,
    ServerPolicy,
    Timeouts,
)
from fhir_bonemet.client.prefetch import PREFETCH_THREAD_PREFIX
from fhir_bonemet.main import build_app
from fhir_bonemet.settings import Settings
from fhir_bonemet.store.sqlite import SqliteStore
from fhir_bonemet.workflow import READ_ISSUES_EXTENSION
from fhir_bonemet.writeback import drain_configured

pytestmark = pytest.mark.integration

TEMPLATES = {
    "patient": "Patient/{{context.patientId}}",
    "conditions": "Condition?patient={{context.patientId}}&clinical-status=active",
    "painScores": "Observation?patient={{context.patientId}}&code=http://loinc.org|72514-3",
}
DEADLINE = 1.0
# A deadline that holds is answered just after it; one that does not outlives it by the fault's delay (a
# second and more).  The slack absorbs thread scheduling on a loaded machine (2.1-2.2 s answers against a
# 2.0 s deadline were seen at a load of 12 on 2 cores), not a slower service.
SLACK = 0.3


@pytest.fixture
def proxy(fresh_fhir: Any) -> Iterator[FaultProxy]:
    proxy = FaultProxy(fresh_fhir.base_url)
    yield proxy
    proxy.close()


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as http:
        http.trust_env = False
        yield http


@pytest.fixture
def patient_id(fresh_fhir: Any) -> str:
    created = fresh_fhir.created_ids(fresh_fhir.load(patient_bundle(3)))
    return ids_of_type(created, "Patient")[0]


def resolve_through(
    proxy: FaultProxy, session: requests.Session, patient_id: str
) -> tuple[PrefetchResult, float]:
    limits = PrefetchLimits(timeouts=Timeouts(1.0, 5.0), max_pages=5)
    resolver = PrefetchResolver(session, ServerPolicy([proxy.base_url]), limits)
    request = PrefetchRequest(
        hook_instance="5b1d2c3e-0000-4000-8000-00000000fa17",
        context={"patientId": patient_id},
        prefetch={},
        fhir_server=proxy.base_url,
    )
    started = time.monotonic()
    result = resolver.resolve(TEMPLATES, request, deadline=started + DEADLINE)
    return result, time.monotonic() - started


@pytest.mark.parametrize(
    ("fault", "wording"),
    [
        (Fault("drip", path="Observation", seconds=0.02), "overall deadline"),
        (Fault("slow", path="Observation", seconds=3.0), "before the overall deadline"),
        (Fault("status", path="Observation", status=503), "503"),
        (Fault("status", path="Observation", status=429, retry_after="30"), "429"),
        (Fault("drop", path="Observation"), "request failed"),
        (Fault("malformed", path="Observation"), "not JSON"),
        (Fault("huge", path="Observation"), "larger than 8388608 bytes"),
    ],
    ids=lambda value: value.mode if isinstance(value, Fault) else None,
)
def test_a_failing_key_is_reported_in_time_and_the_others_are_read(
    proxy: FaultProxy, session: requests.Session, patient_id: str, fault: Fault, wording: str
) -> None:
    proxy.add(fault)
    result, elapsed = resolve_through(proxy, session, patient_id)
    assert elapsed <= DEADLINE + SLACK, f"{fault.mode}: answered after {elapsed:.3f} s"
    assert result.unavailable == {"painScores"}
    assert result.data["patient"] is not None
    assert result.data["conditions"] is not None
    [issue] = [i for i in result.issues if i.location == "prefetch.painScores"]
    assert wording in issue.message
    assert_prefetch_threads_released()


_threads_before_test: set[threading.Thread] = set()


@pytest.fixture(autouse=True)
def _note_running_threads() -> None:
    """The fetch threads already running when a test starts belong to earlier tests, not to its hook call."""
    _threads_before_test.clear()
    _threads_before_test.update(threading.enumerate())


# How long a clipped read may take to let its thread go once the answer is out: the thread still has to be
# scheduled, which on a busy machine took more than half a second (a full test run beside other work on 2
# cores).  A read that was not clipped to the deadline outlives the answer by the fault's whole remaining
# delay (two seconds and more: a 3 s fault against a 1 s deadline), still beyond this.
RELEASE_WAIT = 1.2


def assert_prefetch_threads_released() -> None:
    """No fetch outlives the hook call it served: its reads are clipped to the same deadline."""
    give_up = time.monotonic() + RELEASE_WAIT
    while True:
        started_here = [
            t.name
            for t in threading.enumerate()
            if t.name.startswith(PREFETCH_THREAD_PREFIX) and t not in _threads_before_test
        ]
        if not started_here or time.monotonic() > give_up:
            break
        time.sleep(0.01)
    assert started_here == []


@pytest.mark.parametrize(
    ("mode", "wording"), [("loop-next", "repeats"), ("endless-next", "more than 5 pages")]
)
def test_looping_and_endless_next_links_stop_paging_and_say_so(
    proxy: FaultProxy, session: requests.Session, patient_id: str, mode: Any, wording: str
) -> None:
    proxy.add(Fault(mode, path="Observation"))
    result, elapsed = resolve_through(proxy, session, patient_id)
    assert elapsed <= DEADLINE + SLACK
    assert_prefetch_threads_released()
    assert "painScores" in result.truncated
    assert any(wording in issue.message for issue in result.issues if issue.location == "prefetch.painScores")


# -- whole hook calls ------------------------------------------------------------------------------------

EXAMPLES = examples_runner.default_examples_dir()
SCENARIO = "rib-blastic-ecog1"  # no red flag: a structured programme, so a CarePlan is planned
HOOK_DEADLINE = 2.0
PV = "/cds-services/bonemet-patient-view"


def hook_request(fhir_base: str, scope: str) -> dict[str, Any]:
    manifest = examples_runner.load_manifest(EXAMPLES)
    days = (datetime.now(UTC).date() - date.fromisoformat(manifest["anchorDate"])).days
    request: dict[str, Any] = examples_runner.shift_dates(
        json.loads((EXAMPLES / SCENARIO / "patient-view.json").read_text(encoding="utf-8")), days
    )
    request["fhirServer"] = fhir_base
    request["fhirAuthorization"] = {
        "access_token": "hook-access-token",
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": scope,
        "subject": "Practitioner/bm-demo-clinician",
    }
    return request


@pytest.fixture
def service(fresh_fhir: Any, proxy: FaultProxy, tmp_path: Path) -> Iterator[TestClient]:
    manifest = examples_runner.load_manifest(EXAMPLES)
    days = (datetime.now(UTC).date() - date.fromisoformat(manifest["anchorDate"])).days
    bundle = json.loads((EXAMPLES / SCENARIO / "bundle.json").read_text(encoding="utf-8"))
    fresh_fhir.load(examples_runner.shift_dates(bundle, days))
    settings = Settings(
        auth_required=False,
        data_dir=tmp_path,
        writeback_mode="write",
        fhir_server_allowlist=(proxy.base_url,),
        hook_deadline_seconds=HOOK_DEADLINE,
    )
    with TestClient(build_app(settings)) as client:
        yield client


def timed_hook(service: TestClient, request: dict[str, Any]) -> tuple[dict[str, Any], float]:
    started = time.monotonic()
    response = service.post(PV, json=request)
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body, elapsed


def test_a_dripping_write_back_is_queued_within_the_hook_deadline(
    service: TestClient, proxy: FaultProxy, fresh_fhir: Any
) -> None:
    proxy.add(Fault("drip", path="CarePlan", method="POST", seconds=0.05))
    body, elapsed = timed_hook(service, hook_request(proxy.base_url, "patient/*.read user/CarePlan.write"))
    assert elapsed <= HOOK_DEADLINE + SLACK, f"answered after {elapsed:.3f} s"
    exercise = next(c for c in body["cards"] if c["extension"]["org.fhir-bonemet.rules"][0].startswith("EX"))
    assert "queued" in exercise["detail"]
    assert_prefetch_threads_released()


def test_an_unreadable_key_is_named_in_the_answer_within_the_hook_deadline(
    service: TestClient, proxy: FaultProxy
) -> None:
    proxy.add(Fault("drip", path="Observation", seconds=0.05))
    body, elapsed = timed_hook(service, hook_request(proxy.base_url, "patient/*.read"))
    assert elapsed <= HOOK_DEADLINE + SLACK, f"answered after {elapsed:.3f} s"
    issues = body["extension"][READ_ISSUES_EXTENSION]
    assert any(
        issue["location"].startswith("prefetch.") and "before the overall deadline" in issue["message"]
        for issue in issues
    ), issues


def test_a_created_plan_whose_answer_is_unreadable_is_confirmed_not_offered_again(
    service: TestClient, proxy: FaultProxy, fresh_fhir: Any, tmp_path: Path
) -> None:
    proxy.add(Fault("garble", path="CarePlan", method="POST", count=1))
    body, _ = timed_hook(service, hook_request(proxy.base_url, "patient/*.read user/CarePlan.write"))
    exercise = next(c for c in body["cards"] if c["extension"]["org.fhir-bonemet.rules"][0].startswith("EX"))
    assert "queued" in exercise["detail"]
    actions = [a for s in exercise.get("suggestions", []) for a in s["actions"]]
    assert [a for a in actions if a.get("resource", {}).get("resourceType") == "CarePlan"] == []
    settings = Settings(data_dir=tmp_path, fhir_server_allowlist=(proxy.base_url,))
    store = SqliteStore(tmp_path / "bonemet.sqlite3")
    try:
        with requests.Session() as http:
            report = drain_configured(settings, store, http, datetime.now(UTC) + timedelta(minutes=5))
        assert report.written == 1
        [item] = store.outbox_list()
        assert item.status == "done"
        assert (item.location or "").startswith("CarePlan/")
    finally:
        store.close()
    found = requests.get(f"{fresh_fhir.base_url}/CarePlan", timeout=10).json()
    assert len(found.get("entry", [])) == 1


def test_an_outbox_retry_against_a_dripping_server_ends_within_its_budget(
    service: TestClient, proxy: FaultProxy, tmp_path: Path
) -> None:
    proxy.add(Fault("status", path="CarePlan", method="POST", status=503, count=1))
    timed_hook(service, hook_request(proxy.base_url, "patient/*.read user/CarePlan.write"))  # queued
    proxy.add(Fault("drip", path="CarePlan", method="POST", seconds=0.05))
    settings = Settings(
        data_dir=tmp_path,
        fhir_server_allowlist=(proxy.base_url,),
        fhir_connect_timeout_seconds=0.5,
        fhir_read_timeout_seconds=1.0,
    )
    store = SqliteStore(tmp_path / "bonemet.sqlite3")
    try:
        started = time.monotonic()
        with requests.Session() as http:
            report = drain_configured(settings, store, http, datetime.now(UTC) + timedelta(minutes=5))
        elapsed = time.monotonic() - started
        assert report.retrying == 1  # a timeout is transient: still queued, nothing lost
        assert elapsed <= 1.5 + SLACK, f"the retry held the worker for {elapsed:.2f} s"
        [item] = store.outbox_list("pending")
        assert "deadline" in (item.last_error or "")
    finally:
        store.close()


def test_a_uniformly_slow_server_costs_one_round_trip_not_one_per_batch_of_keys(
    service: TestClient, proxy: FaultProxy
) -> None:
    # Every request takes 1.2 s: fetched all at once, every key's request reaches the server within a
    # moment of the first; four at a time, the later ones would wait 1.2 s for a free slot (and miss the
    # 2 s deadline).  What is asserted is when the requests arrive, not when the upstream server finishes
    # them: on a busy machine it may take longer than the 0.8 s left, which is not what is tested here.
    proxy.add(Fault("slow", method="GET", seconds=1.2))
    request = hook_request(proxy.base_url, "patient/*.read")
    request.pop("prefetch", None)
    body, elapsed = timed_hook(service, request)
    assert elapsed <= HOOK_DEADLINE + SLACK
    assert body["cards"]
    gets = [at for (method, _), at in zip(proxy.seen, proxy.arrived, strict=True) if method == "GET"]
    first_round = [at for at in gets if at - gets[0] < 0.6]
    assert len(first_round) >= 7, f"{len(first_round)} of {len(gets)} requests sent at once"


@pytest.mark.parametrize(
    ("fault", "wording"),
    [
        (Fault("slow", method="GET", path="Observation", seconds=5.0), "overall deadline"),
        (Fault("status", method="GET", path="Observation", status=503), "503"),
        (Fault("status", method="GET", path="Observation", status=429, retry_after="30"), "429"),
        (Fault("drop", method="GET", path="Observation"), "request failed"),
        (Fault("malformed", method="GET", path="Observation"), "not JSON"),
        (Fault("huge", method="GET", path="Observation"), "larger than 8388608 bytes"),
        (Fault("drip", method="GET", path="Observation", seconds=0.05), "overall deadline"),
        (Fault("loop-next", method="GET", path="Observation"), "repeats"),
        (Fault("endless-next", method="GET", path="Observation"), "pages"),
    ],
    ids=lambda value: value.mode if isinstance(value, Fault) else None,
)
def test_every_fault_is_answered_within_the_hook_deadline_and_the_answer_says_what_was_not_read(
    service: TestClient, proxy: FaultProxy, fault: Fault, wording: str
) -> None:
    # The whole hook call, every Observation key fetched through the fault: 200 within the deadline (plus
    # the slack), the unread keys named with the reason, and the cards asking for what they could not see.
    proxy.add(fault)
    request = hook_request(proxy.base_url, "patient/*.read")
    request["prefetch"] = {
        key: value for key, value in request.get("prefetch", {}).items() if not key.startswith("observations")
    }
    body, elapsed = timed_hook(service, request)
    assert elapsed <= HOOK_DEADLINE + SLACK, f"{fault.mode}: answered after {elapsed:.3f} s"
    issues = body["extension"][READ_ISSUES_EXTENSION]
    named = [i for i in issues if i["location"].startswith("prefetch.observations")]
    assert named, issues
    assert any(wording in issue["message"] for issue in named), named
    text = " ".join(f"{card['summary']} {card.get('detail', '')}" for card in body["cards"])
    # Unread results: the cards ask for what they lack; partly read history: they say it may be incomplete.
    assert any(words in text.lower() for words in ("unknown", "missing", "incomplete")), text
    assert_prefetch_threads_released()


def test_a_retry_whose_answer_is_unreadable_stays_queued_until_the_plan_id_is_known(
    service: TestClient, proxy: FaultProxy, fresh_fhir: Any, tmp_path: Path
) -> None:
    proxy.add(Fault("garble", path="CarePlan", method="POST", count=2))  # the hook's write and one retry
    body, _ = timed_hook(service, hook_request(proxy.base_url, "patient/*.read user/CarePlan.write"))
    exercise = next(c for c in body["cards"] if c["extension"]["org.fhir-bonemet.rules"][0].startswith("EX"))
    assert "queued" in exercise["detail"]
    settings = Settings(data_dir=tmp_path, fhir_server_allowlist=(proxy.base_url,))
    store = SqliteStore(tmp_path / "bonemet.sqlite3")
    try:
        with requests.Session() as http:
            later = datetime.now(UTC) + timedelta(minutes=5)
            assert drain_configured(settings, store, http, later).retrying == 1  # taken, id still unknown
            [item] = store.outbox_list()
            assert (item.status, item.location) == ("pending", None)
            assert drain_configured(settings, store, http, later + timedelta(hours=1)).written == 1
        [item] = store.outbox_list()
        assert item.status == "done"
        assert (item.location or "").startswith("CarePlan/")
    finally:
        store.close()
    # The next hook call points its card at that plan.
    body, _ = timed_hook(service, hook_request(proxy.base_url, "patient/*.read user/CarePlan.write"))
    exercise = next(c for c in body["cards"] if c["extension"]["org.fhir-bonemet.rules"][0].startswith("EX"))
    assert "A draft CarePlan was written to the record" in exercise["detail"]
    found = requests.get(f"{fresh_fhir.base_url}/CarePlan", timeout=10).json()
    assert len(found.get("entry", [])) == 1
