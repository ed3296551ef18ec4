"""Observation prefetch templates generated from the ValueSets and the ConceptMaps' source codes."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
from fastapi.testclient import TestClient

from fhir_bonemet.cds.prefetch_templates import (
    OBSERVATION_GROUPS,
    URL_LIMIT,
    encoded_url_length,
    generated_prefetch,
    observation_templates,
    panel_key,
)
from fhir_bonemet.cds.services import load_services
from fhir_bonemet.cli.examples_runner import prefetched_request
from fhir_bonemet.errors import ConfigurationError
from fhir_bonemet.fhir.intake.observations import VALUE_CONCEPTS
from fhir_bonemet.fhir.terminology.lookup import Terminology
from fhir_bonemet.main import build_app
from fhir_bonemet.project_dirs import SERVICES
from fhir_bonemet.settings import Settings
from fhir_bonemet.workflow import Workflow

FLAGS_SYSTEM = "http://hospital.example.org/nursing-screen"


def _codes(template: str, parameter: str = "code") -> list[str]:
    query = template.split("?", 1)[1]
    return next(value for name, value in parse_qsl(query) if name == parameter).split(",")


def _big_map(directory: Path, count: int) -> Path:
    """A nursing screen with ``count`` local rows, all of them limb-weakness variants."""
    directory.mkdir(parents=True, exist_ok=True)
    elements = [
        {
            "code": f"NEURO-SCREEN-ROW-{n:04d}",
            "target": [{"code": "rf-limb-weakness", "equivalence": "equivalent"}],
        }
        for n in range(count)
    ]
    cmap = {
        "resourceType": "ConceptMap",
        "url": "http://hospital.example.org/fhir/ConceptMap/neuro-screen",
        "group": [
            {
                "source": FLAGS_SYSTEM,
                "target": "http://fhir-bonemet.org/fhir/CodeSystem/bonemet",
                "element": elements,
            }
        ],
    }
    path = directory / "ConceptMap-neuro-screen.json"
    path.write_text(json.dumps(cmap), encoding="utf-8")
    return directory


def test_every_observation_concept_the_reader_knows_is_in_one_group() -> None:
    grouped = [concept for group in OBSERVATION_GROUPS for concept in group.concepts]
    assert len(grouped) == len(set(grouped))
    assert set(VALUE_CONCEPTS) <= set(grouped)


def test_templates_stay_in_the_recommended_subset_and_under_the_url_limit() -> None:
    templates = observation_templates(Terminology.load().search_codes, panels=True)
    groups = [group.key for group in OBSERVATION_GROUPS]
    assert list(templates) == groups + [panel_key(key) for key in groups]
    for group in OBSERVATION_GROUPS:
        by_code, in_panels = templates[group.key], templates[panel_key(group.key)]
        assert by_code.startswith("Observation?patient={{context.patientId}}&code=")
        assert in_panels.startswith("Observation?patient={{context.patientId}}&component-code=")
        assert _codes(in_panels, "component-code") == _codes(by_code)
        for template in (by_code, in_panels):
            assert template.endswith(f"&_sort=-date&_count={group.count}")
            assert encoded_url_length(template) <= URL_LIMIT
    # Checked exactly like written templates (tokens, parameters, modifiers) when the services load.
    catalogue = load_services(SERVICES.default, templates)
    assert all(set(templates) <= set(service.prefetch or {}) for service in catalogue.services)


def test_conceptmap_source_codes_are_requested(tmp_path: Path) -> None:
    terminology = Terminology.load(conceptmap_dirs=[_big_map(tmp_path, 3)])
    flags = observation_templates(terminology.search_codes)["observations-flags"]
    assert f"{FLAGS_SYSTEM}|NEURO-SCREEN-ROW-0002" in _codes(flags)
    assert "http://fhir-bonemet.org/fhir/CodeSystem/bonemet|rf-limb-weakness" in _codes(flags)


def test_a_long_code_list_is_split_over_several_keys_within_the_limit(tmp_path: Path) -> None:
    terminology = Terminology.load(conceptmap_dirs=[_big_map(tmp_path, 120)])
    templates = observation_templates(terminology.search_codes)
    split = [key for key in templates if key.startswith("observations-flags")]
    assert split[:2] == ["observations-flags", "observations-flags-2"]
    assert len(split) >= 3
    requested = [code for key in split for code in _codes(templates[key])]
    assert len(requested) == len(set(requested))  # each code asked for once
    assert {f"{FLAGS_SYSTEM}|NEURO-SCREEN-ROW-{n:04d}" for n in range(120)} <= set(requested)
    for key in split:
        assert encoded_url_length(templates[key]) <= URL_LIMIT


def test_a_smaller_limit_splits_sooner() -> None:
    codes = Terminology.load().search_codes
    assert len(observation_templates(codes, url_limit=1000)) > len(observation_templates(codes))


def test_generated_keys_cannot_also_be_written_in_a_service_file(tmp_path: Path) -> None:
    data: dict[str, Any] = json.loads((SERVICES.default / "patient-view.json").read_text(encoding="utf-8"))
    data["prefetch"]["observations-pain"] = "Observation?patient={{context.patientId}}"
    (tmp_path / "patient-view.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(
        ConfigurationError, match=r"patient-view\.json: prefetch keys \['observations-pain'\] are generated"
    ):
        load_services(tmp_path, observation_templates(Terminology.load().search_codes))


def test_a_broken_conceptmap_stops_the_generation_at_start_up(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"broken\.json: not valid JSON"):
        generated_prefetch(Settings(auth_required=False, conceptmap_dirs=(tmp_path,)))


def test_the_hook_reads_every_split_key(tmp_path: Path) -> None:
    """An EHR answers each split key on its own; the limb weakness sent under the last one still counts."""
    settings = Settings(
        auth_required=False, data_dir=tmp_path, conceptmap_dirs=(_big_map(tmp_path / "maps", 120),)
    )
    workflow = Workflow.from_settings(settings, clock=lambda: date(2025, 6, 2))
    original = prefetched_request("suspected-cord-compression")
    body = prefetched_request("suspected-cord-compression")
    flags = body["prefetch"]["observations-flags"]["entry"]
    weakness = next(e for e in flags if e["resource"]["code"]["coding"][0]["code"] == "rf-limb-weakness")
    flags.remove(weakness)
    weakness["resource"]["code"]["coding"] = [{"system": FLAGS_SYSTEM, "code": "NEURO-SCREEN-ROW-0119"}]
    with TestClient(build_app(settings, handler=workflow)) as client:
        prefetch = client.get("/cds-services").json()["services"][0]["prefetch"]
        last = [key for key in prefetch if key.startswith("observations-flags")][-1]
        assert last != "observations-flags"
        assert f"{FLAGS_SYSTEM}|NEURO-SCREEN-ROW-0119" in _codes(prefetch[last])
        for key in prefetch.keys() - original["prefetch"].keys():  # the other split keys: nothing there
            original["prefetch"][key] = body["prefetch"][key] = None
        body["prefetch"][last] = {"resourceType": "Bundle", "type": "searchset", "entry": [weakness]}
        expected = client.post("/cds-services/bonemet-patient-view", json=original).json()
        answer = client.post("/cds-services/bonemet-patient-view", json=body).json()
    rules = [card["extension"]["org.fhir-bonemet.rules"] for card in answer["cards"]]
    assert "R01" in rules[0]
    assert rules == [card["extension"]["org.fhir-bonemet.rules"] for card in expected["cards"]]


def test_panel_searches_split_within_the_limit_and_can_be_left_out(tmp_path: Path) -> None:
    """A local code a ConceptMap adds is asked for in panels too, split like the search by code; the service
    publishes the panel searches only when asked to (``BONEMET_PANEL_SEARCHES=true``)."""
    terminology = Terminology.load(conceptmap_dirs=[_big_map(tmp_path, 120)])
    templates = observation_templates(terminology.search_codes, panels=True)
    panels = [key for key in templates if key.startswith("observation-panels-flags")]
    assert panels[:2] == ["observation-panels-flags", "observation-panels-flags-2"]
    requested = [code for key in panels for code in _codes(templates[key], "component-code")]
    assert {f"{FLAGS_SYSTEM}|NEURO-SCREEN-ROW-{n:04d}" for n in range(120)} <= set(requested)
    assert all(encoded_url_length(templates[key]) <= URL_LIMIT for key in panels)

    without = observation_templates(terminology.search_codes, panels=False)
    assert not [key for key in without if key.startswith("observation-panels")]
    assert "observation-panels-labs" not in generated_prefetch(Settings(auth_required=False))
    with_panels = generated_prefetch(Settings(auth_required=False, panel_searches=True))
    assert "observation-panels-labs" in with_panels
