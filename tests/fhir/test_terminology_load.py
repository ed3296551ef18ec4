"""Start-up validation of profiles/: a malformed terminology file stops the service with a precise message."""

from __future__ import annotations

import importlib.util
import json
import shutil
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from fhir_bonemet.errors import TerminologyError
from fhir_bonemet.fhir.terminology.lookup import Terminology
from fhir_bonemet.project_dirs import PROFILES as PROFILE_DIRS

PROFILES = PROFILE_DIRS.default


@pytest.fixture
def profiles(tmp_path: Path) -> Path:
    """A private copy of the shipped profiles that a test may break."""
    target = tmp_path / "profiles"
    shutil.copytree(PROFILES, target, ignore=shutil.ignore_patterns("source", "*.py", "*.md", "*.toml"))
    return target


def _edit(path: Path, change: Any) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data), encoding="utf-8")


def _build_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("profiles_build", PROFILES / "build.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_shipped_profiles_load() -> None:
    terminology = Terminology.load()
    assert "bone-metastasis" in terminology.concept_ids


def test_committed_json_matches_the_source_tables() -> None:
    # The TOML tables are what reviewers read; the JSON is what the service loads.  They must agree.
    assert _build_module().main(["--check"]) == 0


def test_valuesets_are_named_after_their_concept(profiles: Path) -> None:
    for path in sorted((profiles / "valuesets").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        assert path.name == f"ValueSet-{data['name']}.json"
        assert data["url"] == f"http://fhir-bonemet.org/fhir/ValueSet/{data['name']}"
        assert all("concept" in include for include in data["compose"]["include"])


def test_malformed_json_names_the_file(profiles: Path) -> None:
    broken = profiles / "valuesets" / "ValueSet-ecog.json"
    broken.write_text('{"resourceType": "ValueSet", "name": ', encoding="utf-8")
    with pytest.raises(TerminologyError, match=r"ValueSet-ecog\.json: not valid JSON \(line 1"):
        Terminology.load(profiles)


def test_valueset_without_name(profiles: Path) -> None:
    _edit(profiles / "valuesets" / "ValueSet-kps.json", lambda d: d.pop("name"))
    with pytest.raises(TerminologyError, match=r"ValueSet-kps\.json: ValueSet\.name is missing"):
        Terminology.load(profiles)


def test_valueset_name_that_is_no_concept_suggests_one(profiles: Path) -> None:
    _edit(profiles / "valuesets" / "ValueSet-kps.json", lambda d: d.update(name="kpss"))
    with pytest.raises(TerminologyError, match=r"'kpss' is not a concept id.*did you mean 'kps'"):
        Terminology.load(profiles)


def test_concept_without_valueset(profiles: Path) -> None:
    (profiles / "valuesets" / "ValueSet-lab-inr.json").unlink()
    with pytest.raises(TerminologyError, match=r"no ValueSet for concept ids lab-inr"):
        Terminology.load(profiles)


def test_two_valuesets_with_one_name(profiles: Path) -> None:
    _edit(profiles / "valuesets" / "ValueSet-kps.json", lambda d: d.update(name="ecog"))
    with pytest.raises(TerminologyError, match=r"'ecog' is also defined in"):
        Terminology.load(profiles)


def test_local_code_missing_from_codesystem(profiles: Path) -> None:
    def rename(data: dict[str, Any]) -> None:
        data["compose"]["include"][0]["concept"][0]["code"] = "sins-totl"

    _edit(profiles / "valuesets" / "ValueSet-sins-total.json", rename)
    with pytest.raises(
        TerminologyError,
        match=r"ValueSet-sins-total\.json: ValueSet\.compose\.include\[0\]\.concept\[0\]: code 'sins-totl' "
        r"does not exist in the local CodeSystem",
    ):
        Terminology.load(profiles)


def test_filter_include_is_refused(profiles: Path) -> None:
    def filtered(data: dict[str, Any]) -> None:
        data["compose"]["include"][0] = {
            "system": "http://snomed.info/sct",
            "filter": [{"property": "concept", "op": "is-a", "value": "128462008"}],
        }

    _edit(profiles / "valuesets" / "ValueSet-bone-metastasis.json", filtered)
    with pytest.raises(TerminologyError, match=r"include\[0\]: must enumerate its codes"):
        Terminology.load(profiles)


def test_unknown_code_system(profiles: Path) -> None:
    _edit(
        profiles / "valuesets" / "ValueSet-ecog.json",
        lambda d: d["compose"]["include"][0].update(system="http://example.org/ecog"),
    )
    with pytest.raises(
        TerminologyError, match=r"ValueSet-ecog\.json: .*include\[0\]\.system .* not a known system"
    ):
        Terminology.load(profiles)


def test_bad_verification_marker(profiles: Path) -> None:
    def mark(data: dict[str, Any]) -> None:
        data["compose"]["include"][0]["concept"][0]["extension"][0]["valueCode"] = "probably"

    _edit(profiles / "valuesets" / "ValueSet-ecog.json", mark)
    with pytest.raises(TerminologyError, match=r"concept\[0\]: verification-status must be one of"):
        Terminology.load(profiles)


def test_codesystem_with_wrong_url(profiles: Path) -> None:
    _edit(profiles / "CodeSystem-bonemet.json", lambda d: d.update(url="http://example.org/cs"))
    with pytest.raises(TerminologyError, match=r"CodeSystem-bonemet\.json: CodeSystem\.url must be"):
        Terminology.load(profiles)


def test_alias_claimed_by_two_systems(profiles: Path) -> None:
    def clash(data: dict[str, Any]) -> None:
        data["systems"][1]["aliases"].append("urn:oid:2.16.840.1.113883.6.96")

    _edit(profiles / "systems.json", clash)
    with pytest.raises(
        TerminologyError, match=r"systems\.json: systems\[1\]: 'urn:oid:2\.16\.840\.1\.113883\.6\.96'"
    ):
        Terminology.load(profiles)


def test_product_with_unknown_ingredient(profiles: Path) -> None:
    def unknown(data: dict[str, Any]) -> None:
        data["products"][0]["strengths"][0]["ingredient"] = "unobtainium"

    _edit(profiles / "medications" / "rxnorm-products.json", unknown)
    with pytest.raises(TerminologyError, match=r"rxnorm-products\.json: products\[0\]\.strengths\[0\]"):
        Terminology.load(profiles)


def test_ingredient_classes_out_of_step_with_valuesets(profiles: Path) -> None:
    def drift(data: dict[str, Any]) -> None:
        row = next(r for r in data["ingredients"] if r["name"] == "tramadol")
        row["classes"] = ["opioid"]

    _edit(profiles / "medications" / "ingredients.json", drift)
    with pytest.raises(TerminologyError, match=r"ingredients\.json: tramadol \(RxCUI 10689\) has classes"):
        Terminology.load(profiles)


def test_brand_with_unknown_ingredient(profiles: Path) -> None:
    _edit(profiles / "medications" / "lexicon.json", lambda d: d["brands"].update(fakebrand=["nothing"]))
    with pytest.raises(TerminologyError, match=r"lexicon\.json: brands\.fakebrand"):
        Terminology.load(profiles)


def test_atc_combination_with_unknown_ingredient(profiles: Path) -> None:
    _edit(
        profiles / "medications" / "lexicon.json", lambda d: d["atc_combinations"].update(N02AJ99=["nothing"])
    )
    with pytest.raises(TerminologyError, match=r"lexicon\.json: atc_combinations\.N02AJ99"):
        Terminology.load(profiles)


def test_missing_profiles_directory(tmp_path: Path) -> None:
    with pytest.raises(TerminologyError, match=r"profiles directory not found"):
        Terminology.load(tmp_path / "nowhere")


def test_outbound_local_codes_exist_in_the_codesystem() -> None:
    """Every local code the service writes (profiles/outbound-codes.toml) is defined in the CodeSystem."""
    outbound_file = PROFILES / "outbound-codes.toml"
    if not outbound_file.exists():
        pytest.skip("no outbound-codes.toml in this tree")
    outbound = tomllib.loads(outbound_file.read_text(encoding="utf-8"))
    codesystem = json.loads((PROFILES / "CodeSystem-bonemet.json").read_text(encoding="utf-8"))
    defined: set[str] = set()

    def walk(concepts: list[dict[str, Any]]) -> None:
        for concept in concepts:
            defined.add(concept["code"])
            walk(concept.get("concept", []))

    walk(codesystem["concept"])
    written = (
        set(outbound["topics"]) | set(outbound["override_reasons"]) | set(outbound["careplan_categories"])
    )
    written |= set(outbound["activities"])
    written |= {ref["local"] for ref in outbound["referrals"].values()}
    assert written - defined == set()
