"""A medicine recorded under a code this service does not know, with no name (a hospital formulary code no
ConceptMap maps yet), is named on the cards of the rules that check medicines: it may be the opioid or the
benzodiazepine the card is about, so "none seen" must not read as "none taken".  Fired through the HTTP app
on the opioid-benzodiazepine example with its oxycodone and lorazepam sent as formulary codes only."""

from __future__ import annotations

import copy
from typing import Any

from hook_answers import answer, example_cases

Json = dict[str, Any]
FORMULARY = "http://hospital.example.org/formulary"


def _with_formulary_codes() -> tuple[Any, Json]:
    case = next(
        c for c in example_cases() if c.name == "example:opioid-benzodiazepine" and c.hook == "patient-view"
    )
    request = copy.deepcopy(case.request)
    for entry in request["prefetch"]["medication-requests"]["entry"]:
        medication = entry["resource"]["medicationCodeableConcept"]
        rxnorm = medication["coding"][0]["code"]
        entry["resource"]["medicationCodeableConcept"] = {"coding": [{"system": FORMULARY, "code": rxnorm}]}
    return case, request


def test_unclassified_medicines_are_named_on_the_cards_that_check_medicines() -> None:
    """The patient takes oxycodone: "start a strong opioid" must say that two medicines were not known."""
    case, request = _with_formulary_codes()
    cards: list[Json] = answer(case, request)["cards"]
    by_summary = {c["summary"]: c["detail"] for c in cards}
    opioid = next(d for s, d in by_summary.items() if "start a titrated strong opioid" in s)
    agent = next(d for s, d in by_summary.items() if "without a bone-modifying agent" in s)
    for detail in (opioid, agent):
        assert "2 medicines under a code this service does not know, with no name" in detail


def test_cards_that_check_no_medicine_do_not_carry_the_line() -> None:
    case, request = _with_formulary_codes()
    cards: list[Json] = answer(case, request)["cards"]
    (sins,) = [c for c in cards if c["summary"].startswith("SINS 9 at L3")]
    assert "does not know" not in sins["detail"]
