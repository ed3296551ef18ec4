"""The hook answers are built as plain JSON, without the wire models (see ``WireResponse``): here every
example patient's answer on every hook, through the HTTP app, is held to those models instead.  Each must
validate as a :class:`CDSResponse` (every CDS Hooks response invariant: summary length, indicator,
selectionBehavior with suggestions, at most one recommended, unique uuids, delete actions, ...) and
serialise back to exactly what was sent (nothing ``null``, nothing empty, nothing the model would drop)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from fhir_bonemet.cds.response import CDSResponse
from fhir_bonemet.cli.examples_runner import prefetched_request
from fhir_bonemet.core.model.hooks import Hook
from fhir_bonemet.main import build_app
from fhir_bonemet.settings import Settings
from fhir_bonemet.workflow import Workflow
from test_answers_golden import ANCHOR, MANIFEST


@pytest.fixture(scope="module")
def answers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    settings = Settings(auth_required=False, data_dir=tmp_path_factory.mktemp("store"))
    app = build_app(settings, handler=Workflow.from_settings(settings, clock=lambda: ANCHOR))
    found: dict[str, dict[str, Any]] = {}
    with TestClient(app) as client:
        services = {entry["hook"]: entry["id"] for entry in client.get("/cds-services").json()["services"]}
        for scenario in (s["id"] for s in MANIFEST["scenarios"]):
            for hook in (h.value for h in Hook):
                request = prefetched_request(scenario, hook, today=ANCHOR)
                response = client.post(f"/cds-services/{services[hook]}", json=request)
                assert response.status_code == 200, f"{scenario} {hook}"
                found[f"{scenario} {hook}"] = response.json()
    return found


def test_every_answer_is_a_valid_cds_response_and_serialises_back_to_itself(
    answers: dict[str, dict[str, Any]],
) -> None:
    assert sum(len(answer["cards"]) for answer in answers.values()) > len(answers)  # real cards, many
    for key, answer in answers.items():
        assert CDSResponse.model_validate(answer).to_wire() == answer, key


def test_the_check_catches_a_card_the_model_would_refuse_or_change(
    answers: dict[str, dict[str, Any]],
) -> None:
    answer = next(a for a in answers.values() if any(c.get("suggestions") for c in a["cards"]))
    card = next(c for c in answer["cards"] if c.get("suggestions"))
    without_behaviour = {k: v for k, v in card.items() if k != "selectionBehavior"}
    with pytest.raises(ValueError, match="selectionBehavior"):
        CDSResponse.model_validate({"cards": [without_behaviour]})
    with_empty_links = {**card, "links": []}
    assert CDSResponse.model_validate({"cards": [with_empty_links]}).to_wire() != {
        "cards": [with_empty_links]
    }
