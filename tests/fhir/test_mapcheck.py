"""``fhir-bonemet map-check``: what an integrator sees before go-live."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fhir_bonemet.cli.main import main
from fhir_bonemet.mapcheck.check import REQUIRED_EXIT
from fhir_bonemet.project_dirs import PROFILES

EXAMPLE_MAPS = PROFILES.default.parent / "examples" / "conceptmaps"
SCT = "http://snomed.info/sct"
FLOWSHEET = "http://hospital.example.org/flowsheet"


def _bone_met(status: str = "confirmed") -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": "met",
        "verificationStatus": {"coding": [{"code": status}]},
        "code": {"coding": [{"system": SCT, "code": "94222008"}]},
        "bodySite": [{"coding": [{"system": SCT, "code": "71341001", "display": "Femur"}]}],
    }


def _pain(code: str = "PAIN-NRS") -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": "pain",
        "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": "survey"}]}],
        "code": {"coding": [{"system": FLOWSHEET, "code": code, "display": "Pain score 0-10"}]},
        "valueInteger": 7,
    }  # fmt: skip


def _patient() -> dict[str, Any]:
    return {"resourceType": "Patient", "id": "p1", "name": [{"family": "Doe", "given": ["Jane"]}],
            "birthDate": "1950-03-04"}  # fmt: skip


def _bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["map-check", *args])
    return code, capsys.readouterr().out


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code, out = _run(capsys, *args, "--json")
    return code, json.loads(out)


def _entry(report: dict[str, Any], code: str) -> dict[str, Any]:
    return next(e for e in report["codes"] if e["code"] == code)


@pytest.fixture
def bundle_file(tmp_path: Path) -> Path:
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(_bundle(_patient(), _bone_met(), _pain())), encoding="utf-8")
    return path


def test_unmapped_pain_code_is_unknown_with_the_rules_that_needed_it(
    capsys: pytest.CaptureFixture[str], bundle_file: Path
) -> None:
    code, report = _json(capsys, str(bundle_file))
    assert code == 0
    pain = _entry(report, "PAIN-NRS")
    assert pain["status"] == "unknown"
    assert pain["relevant"] is True
    assert pain["likely"] == ["pain-score"]
    assert {"P01", "P04", "R05"} <= set(pain["rules"])
    assert pain["places"] == ["Observation.code.coding"]
    assert pain["examples"] == [f"{bundle_file}#entry[2]: Observation.code.coding[0]"]
    coverage = {tuple(c["concepts"]): c["present"] for c in report["coverage"]}
    assert coverage[("bone-metastasis",)] is True
    assert coverage[("pain-score",)] is False


def test_mapped_pain_code_is_reported_with_its_conceptmap(
    capsys: pytest.CaptureFixture[str], bundle_file: Path
) -> None:
    code, report = _json(capsys, str(bundle_file), "--conceptmaps", str(EXAMPLE_MAPS))
    assert code == 0
    pain = _entry(report, "PAIN-NRS")
    assert pain["status"] == "mapped"
    assert pain["concepts"] == ["pain-score"]
    assert pain["mapped_via"] == "http://hospital.example.org/fhir/ConceptMap/local-flowsheets"
    assert "P01" in pain["rules"]
    coverage = {tuple(c["concepts"]): c["present"] for c in report["coverage"]}
    assert coverage[("pain-score",)] is True


def test_json_shape(capsys: pytest.CaptureFixture[str], bundle_file: Path) -> None:
    _, report = _json(capsys, str(bundle_file))
    assert set(report) == {
        "files", "resources", "codings", "summary", "codes", "coverage", "problems",
        "not_applied", "conceptmap_notes", "exit_code",
    }  # fmt: skip
    assert report["resources"] == 3
    assert report["summary"]["unknown_relevant"] == 1
    femur = _entry(report, "71341001")
    assert femur["status"] == "understood"
    assert femur["concepts"] == ["site-femur"]
    assert set(femur) >= {"system", "code", "display", "count", "places", "examples", "rules", "unverified"}
    category = _entry(report, "survey")
    assert category["status"] == "unknown"
    assert category["relevant"] is False
    assert category["rules"] == []


def test_report_carries_codes_not_patient_data(capsys: pytest.CaptureFixture[str], bundle_file: Path) -> None:
    _, text = _run(capsys, str(bundle_file))
    _, as_json = _run(capsys, str(bundle_file), "--json")
    for out in (text, as_json):
        assert "Jane" not in out
        assert "Doe" not in out
        assert "1950" not in out


def test_human_table(capsys: pytest.CaptureFixture[str], bundle_file: Path) -> None:
    code, text = _run(capsys, str(bundle_file))
    assert code == 0
    assert "UNKNOWN codes where the rules look" in text
    line = next(x for x in text.splitlines() if "PAIN-NRS" in x)
    assert "pain-score" in line
    assert "P01" in line
    assert "Result: OK (exit 0)" in text


def test_no_bone_metastasis_exits_with_status_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "nomet.json"
    path.write_text(json.dumps(_bundle(_pain("72514-3"))), encoding="utf-8")
    code, text = _run(capsys, str(path))
    assert code == REQUIRED_EXIT == 2
    assert "REQUIRED DATA MISSING" in text


def test_entered_in_error_metastasis_is_not_usable(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "eie.json"
    path.write_text(json.dumps(_bundle(_bone_met("entered-in-error"))), encoding="utf-8")
    assert _run(capsys, str(path))[0] == 2


def test_mcode_secondary_malignancy_with_bone_site_counts(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    condition = _bone_met()
    condition["code"] = {"coding": [{"system": SCT, "code": "128462008"}]}
    path = tmp_path / "mcode.json"
    path.write_text(json.dumps(condition), encoding="utf-8")
    assert _run(capsys, str(path))[0] == 0
    condition["bodySite"] = []  # a brain or liver metastasis without a bone site: not a bone metastasis
    path.write_text(json.dumps(condition), encoding="utf-8")
    assert _run(capsys, str(path))[0] == 2


def test_ndjson_array_and_hook_request_inputs(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    ndjson = tmp_path / "Observation.ndjson"
    ndjson.write_text("\n".join(json.dumps(r) for r in (_pain(), _pain("ECOG"))) + "\n", encoding="utf-8")
    array = tmp_path / "array.json"
    array.write_text(json.dumps([_bone_met()]), encoding="utf-8")
    hook = tmp_path / "hook.json"
    request = {
        "hook": "patient-view",
        "hookInstance": "x",
        "context": {},
        "prefetch": {"met": _bundle(_bone_met())},
    }
    hook.write_text(json.dumps(request), encoding="utf-8")
    code, report = _json(capsys, str(ndjson), str(array), str(hook))
    assert code == 0
    assert report["resources"] == 4
    assert _entry(report, "ECOG")["examples"] == [f"{ndjson}:2: Observation.code.coding[0]"]
    assert _entry(report, "94222008")["count"] == 2


def test_contained_medication_is_checked(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    medication = {
        "resourceType": "Medication",
        "id": "m",
        "code": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "1049221"}]},
    }
    request = {
        "resourceType": "MedicationRequest",
        "id": "rx",
        "status": "active",
        "medicationReference": {"reference": "#m"},
        "contained": [medication],
    }
    path = tmp_path / "rx.json"
    path.write_text(json.dumps(_bundle(_bone_met(), request)), encoding="utf-8")
    _, report = _json(capsys, str(path))
    entry = _entry(report, "1049221")
    assert entry["concepts"] == ["acetaminophen", "opioid", "strong-opioid"]
    assert entry["places"] == ["Medication.code.coding"]


def test_unreadable_input_exits_with_status_1(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"resourceType": "Bundle", "entry": [', encoding="utf-8")
    code, report = _json(capsys, str(broken))
    assert code == 1
    assert report["problems"][0]["location"] == str(broken)
    assert "not valid JSON" in report["problems"][0]["message"]


def test_invalid_conceptmap_is_reported_not_raised(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, bundle_file: Path
) -> None:
    maps = tmp_path / "maps"
    maps.mkdir()
    (maps / "bad.json").write_text('{"resourceType": "ConceptMap"}', encoding="utf-8")
    code = main(["map-check", str(bundle_file), "--conceptmaps", str(maps)])
    captured = capsys.readouterr()
    assert code == 1
    assert "bad.json: ConceptMap.group is missing" in captured.err


def _one_element_map(code: str, equivalence: str | None) -> dict[str, Any]:
    target = [] if equivalence is None else [{"code": "72514-3", "equivalence": equivalence}]
    return {"resourceType": "ConceptMap", "url": "http://example.org/cm", "group": [
        {"source": FLOWSHEET, "target": "http://loinc.org", "element": [{"code": code, "target": target}]}
    ]}  # fmt: skip


@pytest.mark.parametrize(
    ("equivalence", "reason"),
    [
        ("narrower", "target http://loinc.org|72514-3 is 'narrower' than the local code: not applied"),
        ("relatedto", "target http://loinc.org|72514-3 is only 'relatedto' the local code: not applied"),
        ("disjoint", "has only 'disjoint' targets: it maps nothing"),
        (None, "has no target: it maps nothing"),
    ],
)
def test_conceptmap_element_not_applied_is_listed_and_fails(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    bundle_file: Path,
    equivalence: str | None,
    reason: str,
) -> None:
    maps = tmp_path / "maps"
    maps.mkdir()
    (maps / "m.json").write_text(json.dumps(_one_element_map("PAIN-NRS", equivalence)), encoding="utf-8")
    code, report = _json(capsys, str(bundle_file), "--conceptmaps", str(maps))
    assert code == 4
    (skipped,) = report["not_applied"]
    assert (skipped["system"], skipped["code"]) == (FLOWSHEET, "PAIN-NRS")
    assert skipped["where"].endswith("m.json: ConceptMap.group[0].element[0]" + ("" if equivalence in (
        None, "disjoint") else ".target[0]"))  # fmt: skip
    assert skipped["reason"].startswith(reason)
    assert _entry(report, "PAIN-NRS")["status"] == "unknown"  # the service does not apply it either
    code, text = _run(capsys, str(bundle_file), "--conceptmaps", str(maps))
    assert code == 4
    assert "ConceptMap elements NOT APPLIED" in text
    assert f"{FLOWSHEET}|PAIN-NRS at " in text
    assert "Result: CONCEPTMAP ELEMENTS NOT APPLIED (exit 4)" in text


def test_broken_ndjson_line_is_reported_and_the_rest_checked(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "export.ndjson"
    path.write_text(
        json.dumps(_bone_met()) + "\n{broken\n" + json.dumps(_pain("ECOG")) + "\n", encoding="utf-8"
    )
    code, report = _json(capsys, str(path))
    assert code == 1
    [problem] = report["problems"]
    assert problem["location"] == f"{path}:2"
    assert problem["message"].startswith("not valid JSON")
    assert report["resources"] == 2
    assert _entry(report, "ECOG")["status"] == "unknown"


def test_unknown_body_site_names_the_lesion_rules(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    condition = _bone_met()
    condition["bodySite"] = [
        {"coding": [{"system": "http://ehr.example/sites", "code": "FEM-L", "display": "Femur"}]}
    ]
    path = tmp_path / "site.json"
    path.write_text(json.dumps(condition), encoding="utf-8")
    _, report = _json(capsys, str(path))
    site = _entry(report, "FEM-L")
    assert site["status"] == "unknown"
    assert site["likely"] == ["site-femur"]
    assert {"EX01", "R04", "P06"} <= set(site["rules"])


@pytest.mark.parametrize(
    ("display", "likely"),
    [
        # A plain "Calcium" is a total calcium: suggesting the ionised concept (whose title is shorter)
        # would have an integrator read total calcium against the ionised bands.
        ("Calcium", ["lab-calcium"]),
        ("Calcium, serum", ["lab-calcium"]),
        ("Ionised calcium", ["lab-calcium-ionised"]),
        ("Calcium ionized", ["lab-calcium-ionised"]),
        ("Adjusted calcium", ["lab-calcium-corrected"]),
        ("Pain score", ["pain-score"]),
        # Laboratory abbreviations and spellings: the concept behind them, not nothing.
        ("eGFR", ["lab-egfr"]),
        ("CrCl (measured)", ["lab-creatinine-clearance"]),
        ("Vitamin D", ["lab-vitamin-d"]),
        ("Vit D 25-OH", ["lab-vitamin-d"]),
        ("Hgb", ["lab-haemoglobin"]),
        ("Hemoglobin", ["lab-haemoglobin"]),
    ],
)
def test_looks_like_prefers_the_plain_concept_matching_the_display(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, display: str, likely: list[str]
) -> None:
    lab = {"resourceType": "Observation", "id": "lab", "status": "final",
           "code": {"coding": [{"system": "http://ehr.example/lab", "code": "LAB1", "display": display}]},
           "valueQuantity": {"value": 2.4, "unit": "mmol/L"}}  # fmt: skip
    path = tmp_path / "lab.json"
    path.write_text(json.dumps(_bundle(_patient(), _bone_met(), lab)), encoding="utf-8")
    _, report = _json(capsys, str(path))
    assert _entry(report, "LAB1")["likely"] == likely


def test_a_mapped_local_answer_code_is_counted_as_mapped_with_its_answer(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """An answer map shows in the report as a mapped code saying which answer it gives (and which rules
    read it); without the map the same code is not understood."""
    bonemet = "http://fhir-bonemet.org/fhir/CodeSystem/bonemet"
    radiology = "http://hospital.example.org/radiology-values"
    lesion_type = {
        "resourceType": "Observation",
        "id": "lt",
        "status": "final",
        "code": {"coding": [{"system": bonemet, "code": "lesion-type"}]},
        "valueCodeableConcept": {"coding": [{"system": radiology, "code": "R-17"}]},
    }
    export = tmp_path / "export.json"
    export.write_text(json.dumps(_bundle(_patient(), _bone_met(), lesion_type)), encoding="utf-8")
    maps = tmp_path / "maps"
    maps.mkdir()
    element = {"code": "R-17", "target": [{"code": "lytic", "equivalence": "equivalent"}]}
    cmap = {"resourceType": "ConceptMap", "url": "http://hospital.example.org/cm/answers",
            "group": [{"source": radiology, "target": bonemet, "element": [element]}]}  # fmt: skip
    (maps / "answers.json").write_text(json.dumps(cmap), encoding="utf-8")

    code, report = _json(capsys, str(export), "--conceptmaps", str(maps))
    assert code == 0
    entry = _entry(report, "R-17")
    assert (entry["status"], entry["answers"], entry["mapped_via"]) == (
        "mapped",
        ["lesion-type: lytic"],
        "http://hospital.example.org/cm/answers",
    )
    assert entry["rules"]  # the lesion rules that read a lesion type
    assert entry["fetched"] is None  # a value rides on its Observation, fetched for its own code
    assert report["summary"]["mapped_answers"] == 1
    _, text = _run(capsys, str(export), "--conceptmaps", str(maps))
    assert "mapped 1 (1 answer codes)" in text
    assert "answer lesion-type: lytic" in text

    _, unmapped = _json(capsys, str(export))
    assert _entry(unmapped, "R-17")["status"] == "unknown"
    assert unmapped["summary"]["mapped_answers"] == 0


@pytest.mark.parametrize(
    ("resource_type", "element"), [("ServiceRequest", "code"), ("DeviceRequest", "codeCodeableConcept")]
)
def test_unknown_draft_order_code_names_the_rules_that_warn_before_a_loading_order(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, resource_type: str, element: str
) -> None:
    """An order catalogue code the service does not know may be the physiotherapy order the loading
    warnings are about: the integrator must see those rules (taken from the rule declarations) to know what
    an unmapped order code costs."""
    from fhir_bonemet.core.rulebook import CATALOGUE

    order = {"resourceType": resource_type, "id": "o", "status": "draft", "intent": "order",
             element: {"coding": [{"system": "http://hospital.example.org/order-catalogue",
                                   "code": "PT-AMB"}]}}  # fmt: skip
    path = tmp_path / "order.json"
    path.write_text(json.dumps(_bundle(_patient(), _bone_met(), order)), encoding="utf-8")
    _, report = _json(capsys, str(path))
    entry = _entry(report, "PT-AMB")
    assert entry["status"] == "unknown"
    loading = {rid for rid, spec in CATALOGUE.items() if spec.on_loading_orders}
    assert loading  # R04 and the other red flags that restrict loading
    assert {"EX04", *loading} <= set(entry["rules"])
    _, text = _run(capsys, str(path))
    line = next(x for x in text.splitlines() if "PT-AMB" in x)
    assert "EX04" in line
    assert "R04" in line


def test_retired_map_is_listed_as_not_applied_and_a_draft_map_is_named(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, bundle_file: Path
) -> None:
    maps = tmp_path / "maps"
    maps.mkdir()
    retired = _one_element_map("PAIN-NRS", "equivalent")
    retired["status"] = "retired"
    (maps / "retired.json").write_text(json.dumps(retired), encoding="utf-8")
    code, report = _json(capsys, str(bundle_file), "--conceptmaps", str(maps))
    assert code == 4
    (skipped,) = report["not_applied"]
    assert (skipped["code"], skipped["where"]) == (
        "PAIN-NRS",
        f"{maps / 'retired.json'}: ConceptMap.group[0].element[0]",
    )
    assert "'retired'" in skipped["reason"]
    assert _entry(report, "PAIN-NRS")["status"] == "unknown"
    (note,) = report["conceptmap_notes"]
    assert (note["kind"], note["where"]) == ("retired", f"{maps / 'retired.json'}: ConceptMap")

    draft = _one_element_map("PAIN-NRS", "equivalent")
    draft["status"] = "draft"
    (maps / "retired.json").unlink()
    (maps / "draft.json").write_text(json.dumps(draft), encoding="utf-8")
    code, report = _json(capsys, str(bundle_file), "--conceptmaps", str(maps))
    assert code == 0  # applied: the integrator may be testing it
    assert _entry(report, "PAIN-NRS")["status"] == "mapped"
    (note,) = report["conceptmap_notes"]
    assert note["kind"] == "draft"
    assert "is a draft: applied" in note["message"]
    _, text = _run(capsys, str(bundle_file), "--conceptmaps", str(maps))
    assert f"{maps / 'draft.json'}: ConceptMap: ConceptMap http://example.org/cm is a draft" in text


def test_a_bundle_holding_no_conceptmap_is_named(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, bundle_file: Path
) -> None:
    maps = tmp_path / "maps"
    maps.mkdir()
    (maps / "empty.json").write_text(
        json.dumps({"resourceType": "Bundle", "type": "collection"}), encoding="utf-8"
    )
    code, report = _json(capsys, str(bundle_file), "--conceptmaps", str(maps))
    assert code == 0
    (note,) = report["conceptmap_notes"]
    assert (note["kind"], note["where"]) == ("no-conceptmap", str(maps / "empty.json"))
    assert note["message"] == "a Bundle with no entry: nothing loaded from it"
    _, text = _run(capsys, str(bundle_file), "--conceptmaps", str(maps))
    assert f"{maps / 'empty.json'}: a Bundle with no entry: nothing loaded from it" in text
