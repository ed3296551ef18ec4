"""The answers do not drift: every example patient's answer on every hook, through the HTTP app, equals the
recorded one in ``tests/data/golden/answers.json`` (modulo card, suggestion and resource uuids).

The recording was made from the service before the hot path was rebuilt on plain data (typed builders,
orjson, background audit writer), so this test is what shows that rebuild changed no card, no CarePlan and
no suggested resource.  A deliberate change of an answer re-records it:

    BONEMET_TEST_RECORD_GOLDEN=1 .venv/bin/pytest tests/test_answers_golden.py

and the diff of ``answers.json`` is then reviewed like any other change.
"""

from __future__ import annotations

import json
import os
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fhir_bonemet.cli.examples_runner import default_examples_dir, load_manifest, prefetched_request
from fhir_bonemet.core.model.hooks import Hook
from fhir_bonemet.main import build_app
from fhir_bonemet.settings import Settings
from fhir_bonemet.workflow import Workflow

GOLDEN = Path(__file__).parent / "data" / "golden" / "answers.json"
EXAMPLES = default_examples_dir()
MANIFEST = load_manifest(EXAMPLES)
ANCHOR = date.fromisoformat(MANIFEST["anchorDate"])
_PLAN_TOKEN = re.compile(r"/plan/[A-Za-z0-9_\-.]+")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _normalised(node: Any, seen: dict[str, str]) -> Any:
    """``node`` with each distinct uuid replaced by ``uuid-N`` in order of first appearance, so that the
    same uuid used twice (a card and the suggestion that refers to it) must still match twice."""
    if isinstance(node, dict):
        return {key: _normalised(value, seen) for key, value in node.items()}
    if isinstance(node, list):
        return [_normalised(value, seen) for value in node]
    if isinstance(node, str):
        # A plan link's signed token names a random plan id and an expiry: it differs on every run.
        node = _PLAN_TOKEN.sub("/plan/<signed-token>", node)
        return _UUID.sub(lambda m: seen.setdefault(m.group(0), f"uuid-{len(seen)}"), node)
    return node


def current_answers(data_dir: Path) -> dict[str, Any]:
    settings = Settings(auth_required=False, data_dir=data_dir)
    app = build_app(settings, handler=Workflow.from_settings(settings, clock=lambda: ANCHOR))
    answers: dict[str, Any] = {}
    with TestClient(app) as client:
        services = {entry["hook"]: entry["id"] for entry in client.get("/cds-services").json()["services"]}
        for scenario in (s["id"] for s in MANIFEST["scenarios"]):
            for hook in (h.value for h in Hook):
                response = client.post(
                    f"/cds-services/{services[hook]}", json=prefetched_request(scenario, hook, today=ANCHOR)
                )
                answers[f"{scenario} {hook}"] = {
                    "status": response.status_code,
                    "body": _normalised(response.json(), {}),
                }
    return answers


def test_every_example_answers_as_recorded(tmp_path: Path) -> None:
    answers = current_answers(tmp_path)
    if os.environ.get("BONEMET_TEST_RECORD_GOLDEN"):
        GOLDEN.write_text(json.dumps(answers, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        pytest.skip("recorded the golden answers")
    recorded = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert sorted(answers) == sorted(recorded)
    for key, answer in answers.items():
        assert answer == recorded[key], f"{key}: the answer changed"


def test_the_recording_covers_cards_and_careplans() -> None:
    """A golden file of empty answers would prove nothing: most examples carry cards and a CarePlan."""
    recorded = json.loads(GOLDEN.read_text(encoding="utf-8"))
    with_cards = [key for key, answer in recorded.items() if answer["body"].get("cards")]
    assert len(with_cards) >= 2 * len(MANIFEST["scenarios"])
    assert any('"CarePlan"' in json.dumps(answer) for answer in recorded.values())
