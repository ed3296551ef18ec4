"""``Extraction.observation_code_display``: the same answer as ``observation_code`` and ``codeable_display``,
whether a code's reading is remembered (one coding, no text) or not, and whichever is asked first."""

from __future__ import annotations

from typing import Any

import pytest
from reader_fixtures import terminology

from fhir_bonemet.fhir.intake.context import Extraction
from fhir_bonemet.fhir.intake.read import Item, ReadResult
from fhir_bonemet.fhir.intake.values import codeable_display

_LOINC = "http://loinc.org"
CODES: list[Any] = [
    {"coding": [{"system": _LOINC, "code": "17861-6", "display": "Calcium"}]},
    {"coding": [{"system": _LOINC, "code": "17861-6", "display": "Calcium [Mass/volume] in Serum"}]},
    {"coding": [{"system": _LOINC, "code": "17861-6"}]},
    {"coding": [{"system": _LOINC, "code": "17861-6", "display": ""}]},
    {"coding": [{"system": _LOINC, "code": "17861-6", "display": "Calcium"}], "text": "Ca"},
    {"coding": [{"system": _LOINC, "code": "777-3", "display": "Platelets"}, {"code": "x"}]},
    {"coding": [{"system": _LOINC, "code": ["17861-6"], "display": "Calcium"}]},  # unhashable code
    {"coding": [{"system": _LOINC, "code": "17861-6", "display": {"no": "text"}}]},  # unhashable display
    {"coding": ["not an object"]},
    {"coding": [{"system": "urn:local", "code": "CA"}]},
    {"text": "Calcium"},
    "not a CodeableConcept",
    None,
]


def _item(position: int, code: Any) -> Item:
    data = {"resourceType": "Observation", "id": f"o{position}"}
    if code is not None:
        data["code"] = code
    return Item(f"Observation/o{position}", data, f"entry[{position}]")


@pytest.mark.parametrize("display_first", [True, False])
def test_same_as_code_and_display(display_first: bool) -> None:
    terms = terminology()
    items = [_item(position, code) for position, code in enumerate(CODES * 2)]  # each code read twice
    expected = Extraction(terminology=terms, payload=ReadResult(), patient_id=None)
    extraction = Extraction(terminology=terms, payload=ReadResult(), patient_id=None)
    for item in items:
        code, concepts = expected.observation_code(item)
        if display_first:
            found = extraction.observation_code_display(item)
            assert extraction.observation_code(item) == found[:2]
        else:
            assert extraction.observation_code(item) == (code, concepts)
            found = extraction.observation_code_display(item)
        assert found == (code, concepts, codeable_display(code))
        # A usable code is the resource's own object (the short way checks it by identity).
        assert (found[0] is item.data.get("code")) == (code is item.data.get("code"))
