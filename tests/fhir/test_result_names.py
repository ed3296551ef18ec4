"""A result under a code the service does not understand is named by its words, conservatively: the words
must hold a name the service gives the concept (its card label, its ValueSet's title, a code's display),
whole words in order.  Only the name is kept: the value is never read under a code guessed from words."""

from __future__ import annotations

import pytest
from reader_fixtures import coding, facts_of, observation, quantity, terminology

from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.fhir.intake.result_names import NAME_SHOWN_MAX, ResultNames

HOSPITAL_LAB = "http://hospital.example/lab"


def _named(text: str | None, display: str | None = None) -> tuple[frozenset[str], str | None]:
    code: dict[str, object] = {"coding": [coding(HOSPITAL_LAB, "X-1", display)]}
    if text is not None:
        code["text"] = text
    return ResultNames(terminology()).named(code)


@pytest.mark.parametrize(
    ("text", "display", "concepts"),
    [
        ("Calcium", "Calcium, serum", {c.LAB_CALCIUM}),
        (None, "CALCIUM, SERUM", {c.LAB_CALCIUM}),  # case does not matter
        ("Ionized calcium", None, {c.LAB_CALCIUM_IONISED}),  # the longer name wins; US spelling read
        ("Calcium corrected for albumin", None, {c.LAB_CALCIUM_CORRECTED}),  # not albumin as well
        ("Corrected calcium", None, {c.LAB_CALCIUM_CORRECTED}),
        ("Platelet count, blood", None, {c.LAB_PLATELETS}),
        ("Creatinine clearance", None, {c.LAB_CRCL}),  # not creatinine as well
        ("Hemoglobin", None, {c.LAB_HAEMOGLOBIN}),
    ],
)
def test_a_name_holding_a_concepts_name_names_that_concept(
    text: str | None, display: str | None, concepts: set[str]
) -> None:
    assert _named(text, display)[0] == concepts


@pytest.mark.parametrize(
    ("text", "display"),
    [
        ("Ca serum", None),  # "ca" is no name of calcium: an abbreviation is not guessed
        ("Calciums", None),  # whole words only
        ("Hypercalcaemia screen", None),  # a word containing a name is not that name
        ("Vitamin B12", "Cobalamin, serum"),
        (None, None),
        ("", "   "),
    ],
)
def test_a_name_without_a_concepts_name_names_nothing(text: str | None, display: str | None) -> None:
    assert _named(text, display) == (frozenset(), None)


def test_the_words_shown_are_the_first_that_named_a_concept_shortened() -> None:
    assert _named("Lab result 42", "Calcium, serum")[1] == "Calcium, serum"  # the text named nothing
    long = "Calcium " + "total serum level measured on the morning ward round " * 3
    shown = _named(long)[1]
    assert shown is not None
    assert len(shown) <= NAME_SHOWN_MAX
    assert shown.endswith("…")


def _local(obs_id: str, code: str, display: str, text: str | None = None) -> dict[str, object]:
    """A result of 13.2 mg/dL under the hospital's own code, with its display (and text)."""
    resource = observation(obs_id, HOSPITAL_LAB, code, "2026-12-04T09:00:00Z", **quantity(13.2, "mg/dL"))
    resource["code"] = {"coding": [coding(HOSPITAL_LAB, code, display)]}
    if text is not None:
        resource["code"]["text"] = text
    return resource


def test_a_named_result_is_kept_by_name_and_its_value_is_never_read() -> None:
    facts = facts_of(_local("ca", "CA-S", "Calcium, serum", "Calcium"))
    (named,) = facts.named_unread
    assert (named.ref, named.concepts, named.name) == ("Observation/ca", {c.LAB_CALCIUM}, "Calcium")
    assert named.effective is not None
    assert named.effective.date().isoformat() == "2026-12-04"
    assert facts.observations == ()
    assert facts.unreadable == ()
    # The read issue is as before: the code is still not understood, and the log names no code.
    assert [i.location for i in facts.issues] == ["Observation/ca.code"]


def test_a_result_whose_name_names_nothing_stays_in_the_read_issues_only() -> None:
    facts = facts_of(_local("b12", "B12", "Vitamin B12"))
    assert facts.named_unread == ()
    assert [i.location for i in facts.issues] == ["Observation/b12.code"]
