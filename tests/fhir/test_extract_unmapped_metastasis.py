"""A Condition under a code the service does not understand, whose name says it is a metastasis (a
hospital's problem-list code for bone metastases no ConceptMap maps yet), is reported as received but not
read: without it the patient is outside the population and gets no card at all, and the integrator must be
told why, not left with an empty answer."""

from __future__ import annotations

import pytest
from reader_fixtures import coding, condition, facts_of

HOSPITAL_DX = "http://hospital.example.org/dx"


def _issues(display: str | None, text: str | None = None) -> list[tuple[str, str, str]]:
    code: dict[str, object] = {"coding": [coding(HOSPITAL_DX, "MET-BONE", display)]}
    if text is not None:
        code["text"] = text
    facts = facts_of(condition("met", code))
    return [(i.location, i.severity, i.message) for i in facts.issues]


@pytest.mark.parametrize(
    ("display", "text"),
    [
        ("Secondary malignant neoplasm of bone", None),
        (None, "Bone metastases"),
        ("Metastatic disease, spine", None),
    ],
)
def test_an_unmapped_condition_named_as_a_metastasis_is_reported(
    display: str | None, text: str | None
) -> None:
    (issue,) = _issues(display, text)
    location, severity, message = issue
    assert (location, severity) == ("Condition/met.code", "warning")
    assert "metastasis" in message
    assert "ConceptMap" in message
    assert "MET-BONE" not in message  # no code or name in a logged message


@pytest.mark.parametrize(
    "display", ["Essential hypertension", "Secondary malignant neoplasm of brain", "Liver metastases"]
)
def test_an_unmapped_condition_of_another_kind_is_not_reported(display: str) -> None:
    # A metastasis elsewhere under an unmapped code keeps the patient outside the population rightly.
    assert _issues(display) == []
