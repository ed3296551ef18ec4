"""An Observation whose code the service does not understand (in no project ValueSet, mapped by no
ConceptMap) is reported as received but not read, never dropped as if it had not come: a hospital's
calcium under its own unmapped code must not pass for "no calcium on record" without a word."""

from __future__ import annotations

from reader_fixtures import LOINC, facts_of, observation, quantity

HOSPITAL_LAB = "http://hospital.example.org/lab"


def _unknown_code_issues(*resources: dict[str, object]) -> list[tuple[str, str]]:
    facts = facts_of(*resources)
    return [(i.location, i.severity) for i in facts.issues if "code not understood" in i.message]


def test_an_observation_under_an_unmapped_local_code_is_reported_as_received_but_not_read() -> None:
    local = observation("ca", HOSPITAL_LAB, "CA-SI", **quantity(3.3, "mmol/L"))
    assert _unknown_code_issues(local) == [("Observation/ca.code", "warning")]


def test_the_message_says_how_to_fix_it_and_carries_no_data() -> None:
    (issue,) = facts_of(observation("ca", HOSPITAL_LAB, "CA-SI", **quantity(3.3, "mmol/L"))).issues
    assert "ConceptMap" in issue.message
    assert "CA-SI" not in issue.message
    assert "3.3" not in issue.message


def test_a_panel_read_through_its_components_is_not_reported() -> None:
    panel = observation("cbc", HOSPITAL_LAB, "CBC-PANEL")
    panel["component"] = [
        {"code": {"coding": [{"system": LOINC, "code": "777-3"}]}, **quantity(230, "10*9/L")}
    ]
    assert _unknown_code_issues(panel) == []


def test_a_project_code_is_not_reported() -> None:
    assert _unknown_code_issues(observation("ca", LOINC, "17861-6", **quantity(9.5, "mg/dL"))) == []
