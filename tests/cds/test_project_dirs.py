"""The data directories (service definitions, terminology profiles, examples): found in the source tree by
default, moved by BONEMET_SERVICES_DIR / BONEMET_PROFILES_DIR, and a missing one names the setting."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fhir_bonemet.cli.examples_runner import default_examples_dir, load_manifest
from fhir_bonemet.errors import ConfigurationError, TerminologyError
from fhir_bonemet.fhir.terminology.lookup import Terminology
from fhir_bonemet.main import build_app
from fhir_bonemet.project_dirs import EXAMPLES, PROFILES, SERVICES, SOURCE_TREE
from fhir_bonemet.settings import Settings
from fhir_bonemet.workflow import Workflow


def test_an_editable_install_finds_every_directory_in_the_source_tree() -> None:
    assert (SOURCE_TREE / "pyproject.toml").is_file()
    settings = Settings()
    assert settings.services_dir == SOURCE_TREE / "cds_hooks" == SERVICES.require()
    assert settings.profiles_dir == SOURCE_TREE / "profiles" == PROFILES.require() == PROFILES.default
    assert default_examples_dir() == SOURCE_TREE / "examples" == EXAMPLES.require()
    assert (settings.services_dir / "patient-view.json").is_file()
    assert (settings.profiles_dir / "outbound-codes.toml").is_file()


def test_the_environment_moves_the_directories(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BONEMET_SERVICES_DIR", str(tmp_path / "services"))
    monkeypatch.setenv("BONEMET_PROFILES_DIR", str(tmp_path / "profiles"))
    settings = Settings()
    assert settings.services_dir == tmp_path / "services"
    assert settings.profiles_dir == tmp_path / "profiles"


def test_the_service_reads_the_profiles_it_is_pointed_at(tmp_path: Path) -> None:
    profiles = tmp_path / "profiles"
    shutil.copytree(PROFILES.default, profiles)
    codes = profiles / "outbound-codes.toml"
    codes.write_text(
        codes.read_text(encoding="utf-8").replace('pain = "Pain management"', 'pain = "Pain (moved)"'),
        encoding="utf-8",
    )
    workflow = Workflow.from_settings(Settings(profiles_dir=profiles))
    assert workflow.codes.topics["pain"] == "Pain (moved)"
    (profiles / "systems.json").unlink()
    with pytest.raises(TerminologyError, match=r"systems\.json"):
        Workflow.from_settings(Settings(profiles_dir=profiles))


def test_a_missing_profiles_directory_names_its_setting(tmp_path: Path) -> None:
    with pytest.raises(TerminologyError, match=r"profiles directory not found: .*BONEMET_PROFILES_DIR"):
        Workflow.from_settings(Settings(profiles_dir=tmp_path / "nowhere"))
    with pytest.raises(TerminologyError, match="BONEMET_PROFILES_DIR"):
        Terminology.load(tmp_path / "nowhere")


def test_a_missing_services_directory_names_its_setting(tmp_path: Path) -> None:
    settings = Settings(auth_required=False, data_dir=tmp_path, services_dir=tmp_path / "nowhere")
    with pytest.raises(
        ConfigurationError, match=r"service definitions directory not found: .*BONEMET_SERVICES_DIR"
    ):
        build_app(settings)


def test_a_file_is_not_a_directory(tmp_path: Path) -> None:
    stray = tmp_path / "profiles"
    stray.write_text("not a directory", encoding="utf-8")
    with pytest.raises(TerminologyError, match="is not a directory"):
        PROFILES.require(stray)


def test_missing_examples_say_they_ship_with_the_source_tree(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"example patients directory not found.*source tree"):
        load_manifest(tmp_path / "nowhere")
