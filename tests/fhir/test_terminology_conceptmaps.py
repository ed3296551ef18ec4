"""Integrator ConceptMaps: applied when reading, validated at start-up."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.errors import TerminologyError
from fhir_bonemet.fhir.terminology.answers import LOCAL_ANSWERS
from fhir_bonemet.fhir.terminology.lookup import Terminology
from fhir_bonemet.project_dirs import PROFILES
from fhir_bonemet.settings import Settings
from fhir_bonemet.workflow import Workflow

EXAMPLES = PROFILES.default.parent / "examples" / "conceptmaps"
FLOWSHEET = "http://hospital.example.org/flowsheet"
EXAMPLE_URL = "http://hospital.example.org/fhir/ConceptMap/local-flowsheets"
SCT = "http://snomed.info/sct"


@pytest.fixture(scope="module")
def mapped() -> Terminology:
    return Terminology.load(conceptmap_dirs=[EXAMPLES])


def _write(directory: Path, name: str, resource: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(json.dumps(resource), encoding="utf-8")
    return path


def _map(
    source: str, target_system: str, code: str, target: str, equivalence: str = "equivalent"
) -> dict[str, Any]:
    return {
        "resourceType": "ConceptMap",
        "url": "http://example.org/cm",
        "group": [
            {
                "source": source,
                "target": target_system,
                "element": [{"code": code, "target": [{"code": target, "equivalence": equivalence}]}],
            }
        ],
    }


def test_local_pain_code_becomes_pain_score(mapped: Terminology) -> None:
    assert mapped.concepts_for({"coding": [{"system": FLOWSHEET, "code": "PAIN-NRS"}]}) == {c.PAIN_SCORE}
    verdict = mapped.explain(FLOWSHEET, "PAIN-NRS")
    assert verdict.understood == {c.PAIN_SCORE}
    assert verdict.mapped_via == EXAMPLE_URL
    assert verdict.direct == frozenset()


def test_example_map_covers_ecog_labs_and_local_targets(mapped: Terminology) -> None:
    assert mapped.concepts_for_coding(FLOWSHEET, "ECOG") == {c.ECOG}
    assert mapped.concepts_for_coding(FLOWSHEET, "SPINE-SINS") == {c.SINS_TOTAL}
    assert mapped.concepts_for_coding("http://hospital.example.org/lab", "PLT") == {c.LAB_PLATELETS}


def test_unmatched_elements_are_not_applied(mapped: Terminology) -> None:
    assert mapped.explain(FLOWSHEET, "PAIN-FACES").unknown


def test_without_the_map_the_code_is_unknown() -> None:
    assert Terminology.load().explain(FLOWSHEET, "PAIN-NRS").unknown


def test_mapped_formulary_code_is_classified_as_its_target_product(mapped: Terminology) -> None:
    med = mapped.classify_medication(
        {"coding": [{"system": "http://hospital.example.org/formulary", "code": "OXYIR5"}]}
    )
    assert med.ingredients == ("oxycodone",)
    assert c.STRONG_OPIOID in med.classes


def test_target_system_alias_is_accepted(tmp_path: Path) -> None:
    _write(
        tmp_path, "m.json", _map("http://ehr.example/obs", "urn:oid:2.16.840.1.113883.6.1", "WT", "29463-7")
    )
    term = Terminology.load(conceptmap_dirs=[tmp_path])
    assert term.concepts_for_coding("http://ehr.example/obs", "WT") == {c.BODY_WEIGHT}


def test_bundle_of_conceptmaps(tmp_path: Path) -> None:
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": _map("http://ehr.example/obs", "http://loinc.org", "HB", "718-7")}
    ]}  # fmt: skip
    _write(tmp_path, "bundle.json", bundle)
    assert Terminology.load(conceptmap_dirs=[tmp_path]).concepts_for_coding(
        "http://ehr.example/obs", "HB"
    ) == {c.LAB_HAEMOGLOBIN}


def test_target_outside_every_valueset_stops_start_up(tmp_path: Path) -> None:
    _write(tmp_path, "bad.json", _map("http://ehr.example/obs", "http://loinc.org", "X", "8867-4"))
    with pytest.raises(
        TerminologyError,
        match=r"bad\.json: ConceptMap\.group\[0\]\.element\[0\]\.target\[0\]: "
        r"target http://loinc\.org\|8867-4 is in no project ValueSet",
    ):
        Terminology.load(conceptmap_dirs=[tmp_path])


def test_unknown_equivalence(tmp_path: Path) -> None:
    _write(tmp_path, "eq.json", _map("http://ehr.example/obs", "http://loinc.org", "X", "718-7", "similar"))
    with pytest.raises(TerminologyError, match=r"eq\.json: .*target\[0\]\.equivalence 'similar'"):
        Terminology.load(conceptmap_dirs=[tmp_path])


def test_group_without_source_system(tmp_path: Path) -> None:
    cmap = _map("http://ehr.example/obs", "http://loinc.org", "X", "718-7")
    del cmap["group"][0]["source"]
    _write(tmp_path, "nosource.json", cmap)
    with pytest.raises(TerminologyError, match=r"nosource\.json: ConceptMap\.group\[0\]\.source"):
        Terminology.load(conceptmap_dirs=[tmp_path])


def test_malformed_conceptmap_file(tmp_path: Path) -> None:
    tmp_path.joinpath("broken.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(TerminologyError, match=r"broken\.json: not valid JSON"):
        Terminology.load(conceptmap_dirs=[tmp_path])


def test_not_a_conceptmap(tmp_path: Path) -> None:
    _write(tmp_path, "patient.json", {"resourceType": "Patient"})
    with pytest.raises(TerminologyError, match=r"patient\.json: not a ConceptMap"):
        Terminology.load(conceptmap_dirs=[tmp_path])


def test_missing_conceptmap_directory(tmp_path: Path) -> None:
    with pytest.raises(TerminologyError, match=r"ConceptMap directory does not exist"):
        Terminology.load(conceptmap_dirs=[tmp_path / "absent"])


def test_one_local_code_mapped_to_two_concepts_stops_start_up(tmp_path: Path) -> None:
    two = _map("http://ehr.example/obs", "http://loinc.org", "SCORE", "72514-3")
    two["group"][0]["element"][0]["target"].append({"code": "89247-1", "equivalence": "equivalent"})
    _write(tmp_path, "two.json", two)
    with pytest.raises(
        TerminologyError,
        match=r"two\.json: ConceptMap\.group\[0\]\.element\[0\]\.target\[1\]: "
        r"http://ehr\.example/obs\|SCORE is mapped to \['ecog'\] here but to \['pain-score'\] at .*two\.json",
    ):
        Terminology.load(conceptmap_dirs=[tmp_path])


def test_the_same_local_code_in_two_files_must_keep_its_meaning(tmp_path: Path) -> None:
    _write(tmp_path, "a.json", _map("http://ehr.example/obs", "http://loinc.org", "S", "72514-3"))
    _write(tmp_path, "b.json", _map("http://ehr.example/obs", "http://loinc.org", "S", "89247-1"))
    with pytest.raises(TerminologyError, match=r"b\.json: .*mapped to \['ecog'\] here.*a\.json"):
        Terminology.load(conceptmap_dirs=[tmp_path])


def test_two_targets_with_one_meaning_are_accepted(tmp_path: Path) -> None:
    same = _map("http://ehr.example/obs", "http://loinc.org", "NRS", "72514-3")
    same["group"][0]["element"][0]["target"].append({"code": "38208-5", "equivalence": "equivalent"})
    _write(tmp_path, "same.json", same)
    terminology = Terminology.load(conceptmap_dirs=[tmp_path])
    assert terminology.concepts_for_coding("http://ehr.example/obs", "NRS") == {c.PAIN_SCORE}


@pytest.mark.parametrize(
    ("code", "concept"),
    [
        ("SPINE-SINS", c.SINS_TOTAL),
        ("MIRELS", c.MIRELS_TOTAL),
        ("LESION-TYPE", c.LESION_TYPE),
        ("RF-LEG-WEAK", c.RF_LIMB_WEAKNESS),
        ("RF-BLADDER", c.RF_BLADDER_BOWEL),
        ("ORTHO-REVIEW", c.SURGICAL_REVIEW),
    ],
)
def test_example_map_covers_lesion_scores_red_flags_and_review(
    mapped: Terminology, code: str, concept: str
) -> None:
    assert concept in mapped.concepts_for_coding(FLOWSHEET, code)


@pytest.mark.parametrize("equivalence", ["narrower", "specializes", "inexact", "relatedto"])
def test_target_narrower_or_uncertain_is_not_applied_but_listed(tmp_path: Path, equivalence: str) -> None:
    # A local "metastatic disease, any site" mapped narrower onto bone metastasis would bring every
    # metastatic patient into the population.
    _write(tmp_path, "m.json", _map("http://ehr.example/dx", SCT, "METS-ANY", "94222008", equivalence))
    term = Terminology.load(conceptmap_dirs=[tmp_path])
    assert term.concepts_for_coding("http://ehr.example/dx", "METS-ANY") == frozenset()
    assert term.explain("http://ehr.example/dx", "METS-ANY").unknown
    (skipped,) = term.skipped_mappings
    assert skipped.code == "METS-ANY"
    assert skipped.where.endswith("m.json: ConceptMap.group[0].element[0].target[0]")
    assert f"'{equivalence}'" in skipped.reason
    assert "not applied" in skipped.reason


def test_service_start_logs_each_element_it_does_not_apply(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The integrator reads the start-up log to learn that a mapping they wrote is not used: it must name
    # the file, the element and why, and the service must still start.
    maps = tmp_path / "maps"
    _write(maps, "m.json", _map("http://ehr.example/dx", SCT, "METS-ANY", "94222008", "narrower"))
    settings = Settings(auth_required=False, data_dir=tmp_path, conceptmap_dirs=(maps,))
    with caplog.at_level(logging.WARNING, logger="fhir_bonemet.workflow"):
        Workflow.from_settings(settings)
    (record,) = [r for r in caplog.records if r.getMessage() == "ConceptMap element not applied"]
    assert record.levelno == logging.WARNING
    assert record.where.endswith("m.json: ConceptMap.group[0].element[0].target[0]")
    assert "'narrower'" in record.reason


@pytest.mark.parametrize("equivalence", ["wider", "subsumes", "equal", "equivalent"])
def test_local_code_at_least_as_specific_as_the_target_is_applied(tmp_path: Path, equivalence: str) -> None:
    _write(tmp_path, "m.json", _map("http://ehr.example/obs", "http://loinc.org", "HB", "718-7", equivalence))
    term = Terminology.load(conceptmap_dirs=[tmp_path])
    assert term.concepts_for_coding("http://ehr.example/obs", "HB") == {c.LAB_HAEMOGLOBIN}
    assert term.skipped_mappings == ()


def test_element_that_maps_nothing_is_listed(tmp_path: Path) -> None:
    cmap = _map("http://ehr.example/obs", "http://loinc.org", "X", "718-7", "disjoint")
    cmap["group"][0]["element"] += [{"code": "Y"}, {"code": "Z", "target": [{"equivalence": "unmatched"}]}]
    _write(tmp_path, "m.json", cmap)
    term = Terminology.load(conceptmap_dirs=[tmp_path])
    assert term.concepts_for_coding("http://ehr.example/obs", "X") == frozenset()
    assert [(s.code, s.where.split(": ")[-1]) for s in term.skipped_mappings] == [
        ("X", "ConceptMap.group[0].element[0]"),
        ("Y", "ConceptMap.group[0].element[1]"),
    ]  # "unmatched" is the R4 way to say "no map" on purpose: not listed
    assert "maps nothing" in term.skipped_mappings[0].reason
    assert "no target" in term.skipped_mappings[1].reason


def test_reversed_map_is_refused_with_a_hint(tmp_path: Path) -> None:
    _write(tmp_path, "rev.json", _map("http://loinc.org", "http://ehr.example/obs", "718-7", "HB"))
    with pytest.raises(
        TerminologyError,
        match=r"rev\.json: .*target http://ehr\.example/obs\|HB is in no project ValueSet; .*"
        r"the map looks reversed: the source http://loinc\.org\|718-7 is a project code",
    ):
        Terminology.load(conceptmap_dirs=[tmp_path])


def test_project_code_mapped_to_another_concept_stops_start_up(tmp_path: Path) -> None:
    # Total calcium re-targeted to albumin would make every calcium result an albumin as well.
    _write(tmp_path, "ca.json", _map("http://loinc.org", "http://loinc.org", "17861-6", "1751-7"))
    with pytest.raises(
        TerminologyError,
        match=r"ca\.json: ConceptMap\.group\[0\]\.element\[0\]\.target\[0\]: the source "
        r"http://loinc\.org\|17861-6 is a project code meaning \['lab-calcium'\]; mapping it to "
        r"\['lab-albumin'\] would give it a second meaning",
    ):
        Terminology.load(conceptmap_dirs=[tmp_path])


def test_project_code_mapped_to_its_own_meaning_is_accepted(tmp_path: Path) -> None:
    _write(tmp_path, "ca.json", _map("http://loinc.org", "http://loinc.org", "17861-6", "49765-1"))
    term = Terminology.load(conceptmap_dirs=[tmp_path])
    assert term.concepts_for_coding("http://loinc.org", "17861-6") == {c.LAB_CALCIUM}


# ----------------------------------------------------------------------------------------- answer codes

BONEMET = "http://fhir-bonemet.org/fhir/CodeSystem/bonemet"
RADIOLOGY = "http://hospital.example.org/radiology-values"
YES_NO = "http://hospital.example.org/yes-no"


def test_local_answer_code_mapped_onto_a_project_answer_is_loaded_and_explained(tmp_path: Path) -> None:
    _write(tmp_path, "lt.json", _map(RADIOLOGY, BONEMET, "LYT", "lytic"))
    term = Terminology.load(conceptmap_dirs=[tmp_path])
    verdict = term.explain(RADIOLOGY, "LYT")
    assert verdict.answer == {"lesion-type: lytic"}
    assert verdict.answer_mapped
    assert verdict.mapped_via == "http://example.org/cm"
    assert not verdict.unknown
    # An answer is no question: the local code does not make a record a lesion-type Observation.
    assert term.concepts_for_coding(RADIOLOGY, "LYT") == frozenset()
    assert term.with_mapped_answers({"coding": [{"system": RADIOLOGY, "code": "LYT"}]}) == {
        "coding": [{"system": RADIOLOGY, "code": "LYT"}, {"system": BONEMET, "code": "lytic"}]
    }


def test_an_answer_code_no_map_names_is_left_as_received(tmp_path: Path) -> None:
    _write(tmp_path, "lt.json", _map(RADIOLOGY, BONEMET, "LYT", "lytic"))
    term = Terminology.load(conceptmap_dirs=[tmp_path])
    value = {"coding": [{"system": RADIOLOGY, "code": "IND"}]}
    assert term.with_mapped_answers(value) is value
    assert Terminology.load().explain(RADIOLOGY, "LYT").unknown


def test_an_answer_target_that_is_no_project_answer_stops_start_up(tmp_path: Path) -> None:
    _write(tmp_path, "lt.json", _map(RADIOLOGY, BONEMET, "IND", "indeterminate"))
    with pytest.raises(
        TerminologyError, match=r"lt\.json: .*bonemet\|indeterminate is in no project ValueSet"
    ):
        Terminology.load(conceptmap_dirs=[tmp_path])


def test_a_project_answer_code_mapped_onto_another_answer_stops_start_up(tmp_path: Path) -> None:
    # LOINC "No" re-targeted to SNOMED CT |Yes| would turn every "no" into a red flag.
    _write(tmp_path, "no.json", _map("http://loinc.org", SCT, "LA32-8", "373066001"))
    with pytest.raises(
        TerminologyError,
        match=r"no\.json: .*the source http://loinc\.org\|LA32-8 is a project code meaning \['answer no'\]; "
        r"mapping it to \['answer yes'\] would give it a second meaning",
    ):
        Terminology.load(conceptmap_dirs=[tmp_path])


def test_a_project_question_code_mapped_onto_an_answer_stops_start_up(tmp_path: Path) -> None:
    _write(tmp_path, "q.json", _map(BONEMET, BONEMET, "lesion-type", "lytic"))
    with pytest.raises(TerminologyError, match=r"is a project code meaning \['lesion-type'\]"):
        Terminology.load(conceptmap_dirs=[tmp_path])


def test_one_local_answer_code_mapped_onto_two_answers_stops_start_up(tmp_path: Path) -> None:
    _write(tmp_path, "a.json", _map(RADIOLOGY, BONEMET, "L", "lytic"))
    _write(tmp_path, "b.json", _map(RADIOLOGY, BONEMET, "L", "blastic"))
    with pytest.raises(
        TerminologyError,
        match=r"b\.json: .*is mapped to \['answer lesion-type: blastic'\] here but to "
        r"\['answer lesion-type: lytic'\] at .*a\.json",
    ):
        Terminology.load(conceptmap_dirs=[tmp_path])


def test_one_local_yes_mapped_onto_snomed_and_loinc_yes_is_one_answer(tmp_path: Path) -> None:
    _write(tmp_path, "a.json", _map(YES_NO, SCT, "Y", "373066001"))
    _write(tmp_path, "b.json", _map(YES_NO, "http://loinc.org", "Y", "LA33-6"))
    term = Terminology.load(conceptmap_dirs=[tmp_path])
    assert term.explain(YES_NO, "Y").answer == {"yes"}


def test_an_answer_mapped_narrower_is_not_applied(tmp_path: Path) -> None:
    _write(tmp_path, "lt.json", _map(RADIOLOGY, BONEMET, "LYT", "lytic", "narrower"))
    term = Terminology.load(conceptmap_dirs=[tmp_path])
    value = {"coding": [{"system": RADIOLOGY, "code": "LYT"}]}
    assert term.with_mapped_answers(value) is value
    (skipped,) = term.skipped_mappings
    assert skipped.code == "LYT"


def test_the_project_answer_codes_are_the_answers_of_the_codesystem() -> None:
    """A map target accepted as an answer is a code the CodeSystem defines under its question."""
    codesystem = json.loads((PROFILES.default / "CodeSystem-bonemet.json").read_text(encoding="utf-8"))
    children = {
        concept["code"]: {child["code"] for child in concept.get("concept", [])}
        for concept in codesystem["concept"]
    }
    for question, answers in LOCAL_ANSWERS.items():
        assert set(answers) == children[question], question


def test_a_conditional_target_is_not_applied_but_listed(tmp_path: Path) -> None:
    # R4 dependsOn makes a target hold only when another element has a given value ("CA" is a serum
    # calcium only when the specimen is serum): the service cannot check that condition, so applying the
    # target to every record of the local code would misread the others.
    cmap = _map("http://ehr.example/lab", "http://loinc.org", "CA", "17861-6")
    cmap["group"][0]["element"][0]["target"][0]["dependsOn"] = [
        {"property": "http://ehr.example/specimen", "value": "SER"}
    ]
    _write(tmp_path, "m.json", cmap)
    term = Terminology.load(conceptmap_dirs=[tmp_path])
    assert term.concepts_for_coding("http://ehr.example/lab", "CA") == frozenset()
    (skipped,) = term.skipped_mappings
    assert skipped.where.endswith("m.json: ConceptMap.group[0].element[0].target[0]")
    assert "dependsOn" in skipped.reason
    assert "not applied" in skipped.reason


def test_an_r5_relationship_is_named_in_the_start_up_error(tmp_path: Path) -> None:
    cmap = _map("http://ehr.example/lab", "http://loinc.org", "CA", "17861-6")
    target = cmap["group"][0]["element"][0]["target"][0]
    target["relationship"] = target.pop("equivalence")
    _write(tmp_path, "m.json", cmap)
    with pytest.raises(TerminologyError, match=r"R5 'relationship'.*R4 'equivalence'"):
        Terminology.load(conceptmap_dirs=[tmp_path])


def test_a_retired_map_is_not_applied_and_named_once_at_start_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A retired map is withdrawn: applying it would read records by a mapping the hospital took back.  It
    # is not held against the map that replaced it (the same code onto another concept).
    maps = tmp_path / "maps"
    old = _map("http://ehr.example/obs", "http://loinc.org", "HB", "777-3")  # wrongly onto platelets
    old["status"] = "retired"
    old["group"][0]["element"].append({"code": "PLT", "target": [{"code": "777-3", "equivalence": "equal"}]})
    _write(maps, "a-old.json", old)
    new = _map("http://ehr.example/obs", "http://loinc.org", "HB", "718-7")
    new["status"] = "active"
    _write(maps, "b-new.json", new)
    term = Terminology.load(conceptmap_dirs=[maps])
    assert term.concepts_for_coding("http://ehr.example/obs", "HB") == {c.LAB_HAEMOGLOBIN}
    assert term.explain("http://ehr.example/obs", "PLT").unknown
    assert [(s.code, s.where.split(": ")[-1]) for s in term.skipped_mappings] == [
        ("HB", "ConceptMap.group[0].element[0]"),
        ("PLT", "ConceptMap.group[0].element[1]"),
    ]
    assert all("'retired'" in s.reason and "not applied" in s.reason for s in term.skipped_mappings)

    settings = Settings(auth_required=False, data_dir=tmp_path, conceptmap_dirs=(maps,))
    with caplog.at_level(logging.WARNING, logger="fhir_bonemet.workflow"):
        Workflow.from_settings(settings)
    (record,) = [r for r in caplog.records if "ConceptMap" in r.getMessage()]  # one line, not one per row
    assert record.getMessage() == "ConceptMap retired: not applied"
    assert record.where.endswith("a-old.json: ConceptMap")
    assert "none of its 2 element(s) is applied" in record.reason


def test_a_draft_map_is_applied_and_flagged_at_start_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    maps = tmp_path / "maps"
    draft = _map("http://ehr.example/obs", "http://loinc.org", "HB", "718-7")
    draft["status"] = "draft"
    _write(maps, "m.json", draft)
    term = Terminology.load(conceptmap_dirs=[maps])
    assert term.concepts_for_coding("http://ehr.example/obs", "HB") == {c.LAB_HAEMOGLOBIN}
    assert term.skipped_mappings == ()
    settings = Settings(auth_required=False, data_dir=tmp_path, conceptmap_dirs=(maps,))
    with caplog.at_level(logging.WARNING, logger="fhir_bonemet.workflow"):
        Workflow.from_settings(settings)
    (record,) = [r for r in caplog.records if "ConceptMap" in r.getMessage()]
    assert record.getMessage() == "ConceptMap in draft applied"
    assert record.where.endswith("m.json: ConceptMap")
    assert "http://example.org/cm is a draft" in record.reason


@pytest.mark.parametrize("status", [["retired"], {"code": "retired"}])
def test_a_status_that_is_not_a_string_is_refused_naming_the_file(tmp_path: Path, status: object) -> None:
    # An array or object is no publication status either: start-up names the file, never a TypeError.
    cmap = _map("http://ehr.example/obs", "http://loinc.org", "X", "718-7")
    cmap["status"] = status
    _write(tmp_path, "m.json", cmap)
    with pytest.raises(TerminologyError, match=r"m.json: ConceptMap.status .* is not an R4"):
        Terminology.load(conceptmap_dirs=[tmp_path])


def test_a_status_that_is_no_publication_status_is_refused(tmp_path: Path) -> None:
    cmap = _map("http://ehr.example/obs", "http://loinc.org", "HB", "718-7")
    cmap["status"] = "retierd"  # a misspelt "retired" must not be applied as if active
    _write(tmp_path, "m.json", cmap)
    with pytest.raises(TerminologyError, match=r"m.json: ConceptMap.status 'retierd' is not an R4"):
        Terminology.load(conceptmap_dirs=[tmp_path])


def test_a_file_holding_no_conceptmap_is_named_at_start_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A map exported as a Bundle of something else, or saved under another extension, loads nothing: the
    # integrator must hear which file, or the map is taken to be in use.
    maps = tmp_path / "maps"
    valueset = {"resourceType": "ValueSet", "id": "v", "status": "active"}
    _write(
        maps,
        "bundle.json",
        {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": valueset}]},
    )
    _write(maps, "maps.JSON", _map("http://ehr.example/obs", "http://loinc.org", "HB", "718-7"))
    term = Terminology.load(conceptmap_dirs=[maps])
    assert term.explain("http://ehr.example/obs", "HB").unknown
    settings = Settings(auth_required=False, data_dir=tmp_path, conceptmap_dirs=(maps,))
    with caplog.at_level(logging.WARNING, logger="fhir_bonemet.workflow"):
        Workflow.from_settings(settings)
    records = [r for r in caplog.records if "ConceptMap" in r.getMessage()]
    assert [(r.getMessage(), Path(r.where).name) for r in records] == [
        ("ConceptMap file holds no ConceptMap: nothing loaded", "bundle.json"),
        ("ConceptMap file holds no ConceptMap: nothing loaded", "maps.JSON"),
    ]
    assert "1 entries, none a ConceptMap" in records[0].reason
    assert "not a .json file" in records[1].reason
