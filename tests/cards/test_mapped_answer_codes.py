"""A hospital's own answer codes, mapped by a ConceptMap, are read as the project's answers: the lesion type a
radiology flowsheet sends as its own code reaches the exercise card as the lesion type it means.  Fired
through the HTTP app on the thoracic-spine example patient (SINS 14 at T9, a lytic lesion)."""

from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from hook_answers import HookCase, example_cases

from fhir_bonemet.main import build_app
from fhir_bonemet.settings import Settings
from fhir_bonemet.workflow import READ_ISSUES_EXTENSION, Workflow

Json = dict[str, Any]
BONEMET = "http://fhir-bonemet.org/fhir/CodeSystem/bonemet"
RADIOLOGY = "http://hospital.example.org/radiology-values"
LESION_TYPE = "Observation/bm-thoracic-sins14-lesion-type"
ANSWER_MAP: Json = {
    "resourceType": "ConceptMap",
    "url": "http://hospital.example.org/fhir/ConceptMap/radiology-answers",
    "status": "active",
    "group": [
        {
            "source": RADIOLOGY,
            "target": BONEMET,
            "element": [{"code": "R-17", "target": [{"code": "lytic", "equivalence": "equivalent"}]}],
        }
    ],
}


def _case() -> HookCase:
    return next(
        c for c in example_cases() if c.name == "example:thoracic-spine-sins14" and c.hook == "patient-view"
    )


def _with_local_lesion_type(request: Json) -> Json:
    """The request with the lesion type sent as the radiology system's code R-17, no display: only a map
    can say what it means."""
    changed = copy.deepcopy(request)
    for slot in changed["prefetch"].values():
        entries = slot.get("entry", []) if isinstance(slot, dict) else []
        for resource in (e.get("resource", {}) for e in entries):
            if f"Observation/{resource.get('id')}" == LESION_TYPE:
                resource["valueCodeableConcept"] = {"coding": [{"system": RADIOLOGY, "code": "R-17"}]}
                return changed
    raise AssertionError("the example has no lesion-type Observation")


def _answer(case: HookCase, request: Json, conceptmap_dirs: tuple[Path, ...]) -> tuple[str, list[Json]]:
    settings = Settings(
        auth_required=False,
        data_dir=Path(tempfile.mkdtemp(prefix="bonemet-answers-")),
        conceptmap_dirs=conceptmap_dirs,
    )
    handler = Workflow.from_settings(settings, clock=lambda: case.today)
    response = TestClient(build_app(settings, handler=handler)).post(
        "/cds-services/bonemet-patient-view", json=request
    )
    assert response.status_code == 200, response.text[:300]
    body = response.json()
    return json.dumps(body["cards"], ensure_ascii=False), body.get("extension", {}).get(
        READ_ISSUES_EXTENSION, []
    )


def test_a_mapped_local_lesion_type_reads_as_lytic_on_the_card(tmp_path: Path) -> None:
    (tmp_path / "answers.json").write_text(json.dumps(ANSWER_MAP), encoding="utf-8")
    case = _case()
    text, issues = _answer(case, _with_local_lesion_type(case.request), (tmp_path,))
    assert "lytic lesion in a weight-bearing bone" in text
    assert "answer not recognised" not in text
    assert not [i for i in issues if i["location"].startswith(LESION_TYPE)]


def test_without_the_map_the_local_lesion_type_is_received_but_unreadable() -> None:
    case = _case()
    text, issues = _answer(case, _with_local_lesion_type(case.request), ())
    # The code received is shown: it is what the record says, and what a clinician can look up.
    assert "Lesion type 'code R-17' (answer not recognised" in text
    assert (
        "lesion type unknown in a weight-bearing bone" in text
    )  # read as the cautious lytic, said as unknown
    assert "lytic lesion in a weight-bearing bone" not in text
    assert any(i["location"] == f"{LESION_TYPE}.value" for i in issues)
