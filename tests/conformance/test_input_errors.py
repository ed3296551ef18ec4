"""What ``fhir-bonemet validate`` cannot check is an error of the input, never a silent pass: entries without
a resource, a prefetch that is not an object, numbers JSON does not have."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fhir_bonemet.conformance.check import read_subjects


def _read(tmp_path: Path, text: str) -> tuple[int, list[tuple[str, str]]]:
    path = tmp_path / "input.json"
    path.write_text(text, encoding="utf-8")
    subjects, issues = read_subjects(path)
    return len(subjects), [(i.location, i.message) for i in issues]


def _json(value: Any) -> str:
    return json.dumps(value)


@pytest.mark.parametrize(
    ("text", "location"),
    [
        (_json({"resourceType": "Bundle", "entry": "x"}), "Bundle.entry"),
        (_json({"resourceType": "Bundle", "type": "collection", "entry": [None]}), "Bundle.entry[0]"),
        (_json({"resourceType": "Bundle", "type": "collection", "entry": [1]}), "Bundle.entry[0]"),
        (
            _json({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": "x"}]}),
            "Bundle.entry[0]",
        ),
        (_json({"hook": "patient-view", "prefetch": "x"}), "prefetch"),
        (_json({"hook": "patient-view", "prefetch": {"patient": "x"}}), "prefetch.patient"),
    ],
)
def test_content_that_is_not_a_resource_is_an_input_error(tmp_path: Path, text: str, location: str) -> None:
    count, issues = _read(tmp_path, text)
    assert count == 0
    assert [where for where, _ in issues] == [location]


def test_a_null_prefetch_key_and_a_transactions_delete_are_no_error(tmp_path: Path) -> None:
    request = {
        "hook": "patient-view",
        "prefetch": {"patient": {"resourceType": "Patient", "id": "p"}, "x": None},
    }
    assert _read(tmp_path, _json(request)) == (1, [])
    delete = {"resourceType": "Bundle", "type": "transaction", "entry": [{"request": {"method": "DELETE"}}]}
    assert _read(tmp_path, _json(delete)) == (0, [])


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_numbers_json_does_not_have_are_not_json(tmp_path: Path, number: str) -> None:
    count, issues = _read(
        tmp_path, '{"resourceType": "Observation", "valueQuantity": {"value": ' + number + "}}"
    )
    assert count == 0
    assert len(issues) == 1
    assert issues[0][1].startswith("not JSON")
