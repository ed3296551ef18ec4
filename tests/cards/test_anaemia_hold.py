"""An anaemia on record holds structured exercise, from the FHIR Condition to the card, the CarePlan and the
plan page (clinical-rules.md 2.5: "haemoglobin <7.0 g/dL, or symptomatic anaemia"; a service default).

The record is the exercise vignette ``v63_anaemia_condition_hold``: a skull metastasis, normal blood counts
(haemoglobin 11.2 g/dL) and an active Condition coded ICD-10-CM D63.0, "Anemia in neoplastic disease", with
its onset on 2025-05-20, fired on ``patient-view`` through the real app as an EHR would send it.
"""

from __future__ import annotations

import copy
import html
import json
from typing import Any

import pytest
from hook_answers import exercise_vignette_cases, fire, open_link

from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.fhir.terminology.lookup import Terminology
from fhir_bonemet.project_dirs import PROFILES

RULES = "org.fhir-bonemet.rules"
Json = dict[str, Any]
(CASE,) = (c for c in exercise_vignette_cases() if c.name == "exercise:v63_anaemia_condition_hold")


def _with_anaemia(**fields: Json) -> Json:
    """The vignette's request with the anaemia Condition's elements replaced by ``fields``."""
    request = copy.deepcopy(CASE.request)
    (condition,) = (
        e["resource"]
        for e in request["prefetch"]["conditions"]["entry"]
        if e["resource"]["id"] == "anaemia-1"
    )
    condition.update(fields)
    return request


def _exercise_card(cards: list[Json]) -> Json:
    (card,) = (c for c in cards if "EX01" in c["extension"][RULES])
    return card


def _careplan(card: Json) -> Json:
    (plan,) = (
        a["resource"]
        for s in card.get("suggestions", [])
        for a in s["actions"]
        if a.get("resource", {}).get("resourceType") == "CarePlan"
    )
    return plan


def test_the_exercise_card_holds_and_says_which_anaemia_despite_which_haemoglobin() -> None:
    card = _exercise_card(fire(CASE))
    assert card["summary"] == "Exercise on hold (anaemia on record): functional mobility only until reviewed"
    assert card["indicator"] == "warning"
    assert "EX02" in card["extension"][RULES]
    detail = card["detail"]
    line = (
        "Hold structured exercise: Anaemia on record (Anemia in neoplastic disease, 2025-05-20): "
        "hold despite haemoglobin 11.2 g/dL; medical review"
    )
    assert line in detail
    # A service default on codes not yet verified: the card says the advice awaits clinical review.
    assert "Parts of this advice await clinical review." in detail


def test_the_careplan_puts_every_structured_activity_on_hold_and_names_the_gate() -> None:
    plan = _careplan(_exercise_card(fire(CASE)))
    assert plan["description"] == "Skeletal-risk tier hold; structured exercise on hold"
    details = [a["detail"] for a in plan["activity"]]
    held = [d for d in details if d.get("doNotPerform")]
    assert len(held) == 8
    assert all("On hold: anaemia on record" in d["description"] for d in held)
    notes = [n["text"] for n in plan["note"]]
    assert (
        "Safety gates applied: Anaemia on record (Anemia in neoplastic disease, 2025-05-20): hold despite "
        "haemoglobin 11.2 g/dL; medical review (service default)."
    ) in notes
    assert "Parts of this plan rest on rules awaiting clinical review." in notes


def test_the_plan_page_shows_the_gate_and_the_condition_it_used() -> None:
    card = _exercise_card(fire(CASE))
    page = html.unescape(open_link(CASE, card["links"][0]["url"]))
    assert "Anaemia on record (Anemia in neoplastic disease, 2025-05-20): hold despite haemoglobin" in page
    assert "medical review (service default)" in page
    assert "Condition/anaemia-1" in page


CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"


@pytest.mark.parametrize(
    "fields",
    [
        {"verificationStatus": {"coding": [{"system": VERIFICATION, "code": "refuted"}]}},
        {"verificationStatus": {"coding": [{"system": VERIFICATION, "code": "entered-in-error"}]}},
        {"clinicalStatus": {"coding": [{"system": CLINICAL, "code": "resolved"}]}},
        {"clinicalStatus": {"coding": [{"system": CLINICAL, "code": "inactive"}]}},
    ],
    ids=["refuted", "entered-in-error", "resolved", "inactive"],
)
def test_an_anaemia_refuted_or_over_holds_nothing(fields: Json) -> None:
    card = _exercise_card(fire(CASE, _with_anaemia(**fields)))
    assert "on hold" not in card["summary"].lower()
    assert "EX02" not in card["extension"][RULES]
    assert "Anaemia" not in card["detail"]


def test_the_gate_awaits_review_because_every_anaemia_code_does() -> None:
    """The gate marks its advice as awaiting clinical review because no code of the anaemia ValueSet is
    verified (``core/exercise/gates.py``): this fails once one is, for that mark to be reconsidered."""
    valueset = json.loads((PROFILES.default / "valuesets" / "ValueSet-anaemia.json").read_text("utf-8"))
    terminology = Terminology.load()
    codes = [
        (inc["system"], concept["code"])
        for inc in valueset["compose"]["include"]
        for concept in inc["concept"]
    ]
    assert codes
    for system, code in codes:
        verdict = terminology.explain(system, code)
        assert verdict.understood == {c.ANAEMIA}, (system, code)
        assert verdict.unverified, f"{system}|{code} is verified: does the anaemia gate still await review?"
