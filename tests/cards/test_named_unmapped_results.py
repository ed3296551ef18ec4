"""A result received under a code the service does not understand, whose name says what it is, is named on
the cards where they would say that result is missing: a hospital's serum calcium under its own unmapped
code is "received but not read", never "no calcium".  Its value is never read: the hypercalcaemia red flag
of the example patient (corrected calcium 13.8 mg/dL) is not raised from it.  A result whose name names
nothing changes no card.  Fired through the HTTP app on the hypercalcaemia example patient, whose plan
page says the same as its cards."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from example_app import PUBLIC, example_client
from fhir_bonemet.cards.build import PLAN_LINK_LABEL
from fhir_bonemet.cli.examples_runner import prefetched_request

Json = dict[str, Any]
CALCIUM = "bm-hypercalcaemia-ca"
RECEIVED = "**Received but not read:** Result named 'Calcium' (code not understood, "


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with example_client(tmp_path, public_base_url=PUBLIC) as test_client:
        yield test_client


def _with_calcium(code: Json | None) -> Json:
    """The example's request with the calcium result under ``code``, or without it (None)."""
    request = copy.deepcopy(prefetched_request("hypercalcaemia"))
    for slot in request["prefetch"].values():
        entries = slot.get("entry", []) if isinstance(slot, dict) else []
        for entry in list(entries):
            if entry.get("resource", {}).get("id") == CALCIUM:
                if code is None:
                    entries.remove(entry)
                else:
                    entry["resource"]["code"] = code
                return request
    raise AssertionError("the example has no calcium result")


def _local(display: str, text: str) -> Json:
    return {
        "coding": [{"system": "http://hospital.example/lab", "code": "CA-S", "display": display}],
        "text": text,
    }


def _cards(client: TestClient, request: Json) -> list[Json]:
    response = client.post("/cds-services/bonemet-patient-view", json=request)
    assert response.status_code == 200, response.text[:300]
    cards: list[Json] = response.json()["cards"]
    return cards


def _text(cards: list[Json]) -> str:
    return json.dumps(cards, ensure_ascii=False)


def _exercise(cards: list[Json]) -> Json:
    return next(c for c in cards if "EX01" in c["extension"]["org.fhir-bonemet.rules"])


def _plan_page(client: TestClient, cards: list[Json]) -> str:
    """The plan page the exercise card links to: it lists every gap, where a card names three at most."""
    link = _exercise(cards)["links"][0]
    assert link["label"] == PLAN_LINK_LABEL
    return client.get(link["url"].removeprefix(PUBLIC)).text


def test_a_calcium_under_a_local_code_is_named_as_received_not_as_missing(client: TestClient) -> None:
    cards = _cards(client, _with_calcium(_local("Calcium, serum", "Calcium")))
    # Never read: the red flag a calcium of 13.2 mg/dL raises is not raised from a code guessed from words.
    assert not [c for c in cards if c["indicator"] == "critical"]
    assert "Hypercalcaemia" not in _text(cards)
    detail = _exercise(cards)["detail"]
    assert RECEIVED in detail
    assert "): value not read; not assumed normal; verify it." in detail.split(RECEIVED, 1)[1]
    page = _plan_page(client, cards)
    assert "Result named &#x27;Calcium&#x27; (code not understood, " in page
    assert "calcium within the lab lookback" not in page  # no longer said to be missing


def test_without_the_calcium_it_is_said_to_be_missing(client: TestClient) -> None:
    cards = _cards(client, _with_calcium(None))
    assert "calcium within the lab lookback" in _plan_page(client, cards)
    assert "Result named" not in _text(cards)


def test_a_result_under_a_local_code_whose_name_names_nothing_changes_no_card(client: TestClient) -> None:
    unrelated = _text(_cards(client, _with_calcium(_local("Vitamin B12", "B12"))))
    absent = _text(_cards(client, _with_calcium(None)))
    assert unrelated == absent
