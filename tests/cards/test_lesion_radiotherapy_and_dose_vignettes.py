"""Per-lesion radiotherapy, acetaminophen overdose and the limits of MME, through the HTTP app.

Each behaviour has a vignette where it must show and a close case where it must not
(``tests/data/vignettes/pain/v-rt-*``, ``v-apap-*``, ``v-mme-*``):

* radiotherapy to one lesion does not hide the radiotherapy referral for another lesion (the other femur,
  another vertebral level), and does hide it for the lesion it treated (a field "L3-L5" treats L4);
* a daily acetaminophen total above the short-term maximum is critical with the total in the summary,
  "stop and assess for hepatotoxicity" when liver enzymes are raised; a draft that pushes the total over
  is reduced by an update that really lowers it, and accepting it clears the card;
* every MME figure says it is a risk estimate, not a conversion; methadone gets its own caveat; the
  figure stays on the card when the records it was computed from fill the "Based on" line.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest
from hook_answers import HookCase, example_cases, fire, pain_vignette_cases

Json = dict[str, Any]
CASES = {case.name.removeprefix("pain:"): case for case in pain_vignette_cases()}
RADIATION_REFERRAL = "Order referral to radiation oncology"
RULES = "org.fhir-bonemet.rules"
PV = "patient-view"
UCUM = "http://unitsofmeasure.org"


def _labels(cards: list[Json]) -> list[str]:
    return [s["label"] for card in cards for s in card.get("suggestions", [])]


def _text(cards: list[Json]) -> str:
    return "\n".join(f"{card['summary']}\n{card['detail']}" for card in cards)


# --- radiotherapy matched per lesion ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fires", "close", "lesion", "treated"),
    [
        (
            "v-rt-left-femur-pain-right-femur-treated",
            "v-rt-left-femur-pain-left-femur-treated",
            "left femur",
            "right femur",
        ),
        ("v-rt-l4-pain-t4-treated", "v-rt-l4-pain-l3-l5-treated", "L4", "T4"),
    ],
)
def test_radiotherapy_to_another_lesion_does_not_hide_the_referral(
    fires: str, close: str, lesion: str, treated: str
) -> None:
    cards = fire(CASES[fires])
    assert RADIATION_REFERRAL in _labels(cards)
    text = _text(cards)
    assert f"consider radiotherapy referral ({lesion})" in text
    assert f"radiotherapy referral ({treated})" not in text

    close_cards = fire(CASES[close])
    assert RADIATION_REFERRAL not in _labels(close_cards)
    assert "radiotherapy referral" not in _text(close_cards)


# --- acetaminophen overdose ------------------------------------------------------------------------------


def test_acetaminophen_overdose_with_raised_alt_is_critical_with_the_total() -> None:
    cards = fire(CASES["v-apap-8g-three-products-alt-150"])
    (card,) = [c for c in cards if "Acetaminophen" in c["summary"]]
    assert card["indicator"] == "critical"
    assert "8.2 g/day (3 products)" in card["summary"]
    assert "ALT 150" in card["summary"]
    assert "stop and assess for hepatotoxicity" in card["summary"]
    assert len(card["summary"]) < 140


def test_below_the_maximum_with_raised_alt_is_the_liver_ceiling_not_an_overdose() -> None:
    cards = fire(CASES["v-apap-3900mg-three-products-alt-150"])
    (card,) = [c for c in cards if "Acetaminophen" in c["summary"]]
    assert card["indicator"] == "warning"
    assert "3.9 g/day" in card["summary"]
    assert "cap at 2 g/day" in card["summary"]
    assert "hepatotoxicity" not in _text(cards)
    assert all(c["indicator"] != "critical" for c in cards)


def _accept(case: HookCase, suggestion: Json) -> Json:
    follow_up = copy.deepcopy(case.request)
    follow_up["hookInstance"] = str(uuid.uuid4())
    (action,) = suggestion["actions"]
    assert action["type"] == "update"
    drafts = follow_up["context"]["draftOrders"]["entry"]
    new = action["resource"]
    follow_up["context"]["draftOrders"]["entry"] = [
        {"resource": new} if e["resource"]["id"] == new["id"] else e for e in drafts
    ]
    return follow_up


def test_a_draft_over_the_maximum_is_really_reduced_and_the_card_clears() -> None:
    case = CASES["v-apap-draft-over-maximum-order-sign"]
    (card,) = fire(case)
    assert card["indicator"] == "critical"
    assert "6.6 g/day (2 products)" in card["summary"]
    (suggestion,) = card["suggestions"]
    assert suggestion["isRecommended"] is True
    assert suggestion["label"] == "Reduce acetaminophen to 1 g/day (1000 mg once a day)"
    dosage = suggestion["actions"][0]["resource"]["dosageInstruction"][0]
    assert dosage["timing"]["repeat"] == {"frequency": 1, "period": 1, "periodUnit": "d"}
    assert dosage["doseAndRate"][0]["doseQuantity"]["value"] == 2  # same tablets, fewer times a day

    # 2600 mg/day of Percocet + 1000 mg/day: under the maximum, so no acetaminophen card comes back.
    again = fire(case, _accept(case, suggestion))
    assert not [c for c in again if "cetaminophen" in c["summary"]]


def test_a_combination_draft_taken_fewer_times_a_day_is_labelled_as_the_product() -> None:
    """The Percocet is the draft (and the plain acetaminophen active, 2000 mg/day): its label named the
    first word of the order, "Reduce oxycodone to 1.95 g/day (650 mg 3 times a day)"."""
    case = CASES["v-apap-draft-over-maximum-order-sign"]
    request = copy.deepcopy(case.request)
    entries = request["prefetch"]["medication-requests"]["entry"]
    (percocet,) = [e["resource"] for e in entries if e["resource"]["id"] == "perc-1"]
    plain = copy.deepcopy(request["context"]["draftOrders"]["entry"][0]["resource"])
    plain.update(id="apap-1", status="active")
    plain["dosageInstruction"][0]["timing"]["repeat"]["frequency"] = 2
    draft = {**copy.deepcopy(percocet), "id": "draft-perc", "status": "draft"}
    draft["medicationCodeableConcept"]["text"] = "Oxycodone hydrochloride 5 mg / acetaminophen 325 mg tablet"
    entries[:] = [e for e in entries if e["resource"]["id"] != "perc-1"] + [{"resource": plain}]
    request["context"]["draftOrders"]["entry"] = [{"resource": draft}]
    (card,) = fire(case, request)
    (suggestion,) = card["suggestions"]
    assert (
        suggestion["label"] == "Reduce acetaminophen / oxycodone to 3 doses a day (acetaminophen 1.95 g/day)"
    )
    assert suggestion["actions"][0]["resource"]["dosageInstruction"][0]["timing"]["repeat"]["frequency"] == 3


def test_a_draft_within_the_maximum_gets_no_card() -> None:
    assert fire(CASES["v-apap-draft-within-maximum-order-sign"]) == []


@pytest.mark.parametrize(
    "dose_quantity",
    [
        {"value": 1e308, "unit": "tablet", "system": "http://unitsofmeasure.org", "code": "{tablet}"},
        {"value": -4, "unit": "tablet", "system": "http://unitsofmeasure.org", "code": "{tablet}"},
        {"value": "two", "unit": "tablet"},
        {"value": 2, "unit": "x" * 5000, "code": "{" + "y" * 5000 + "}"},
        {"value": 2},
    ],
)
def test_absurd_or_unreadable_draft_doses_never_fail_the_call(dose_quantity: Json) -> None:
    case = CASES["v-apap-draft-over-maximum-order-sign"]
    request = copy.deepcopy(case.request)
    draft = request["context"]["draftOrders"]["entry"][0]["resource"]
    draft["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"] = dose_quantity
    fire(case, request)  # asserts HTTP 200


def test_a_draft_without_a_known_strength_is_never_a_failure() -> None:
    case = CASES["v-apap-draft-over-maximum-order-sign"]
    request = copy.deepcopy(case.request)
    draft = request["context"]["draftOrders"]["entry"][0]["resource"]
    draft["medicationCodeableConcept"] = {"text": "Paracetamol tablets"}  # no code: no strength
    fire(case, request)  # asserts HTTP 200


# --- MME with its limits ---------------------------------------------------------------------------------


def test_mme_says_it_is_for_risk_and_methadone_gets_its_own_caveat() -> None:
    text = _text(fire(CASES["v-mme-methadone-pain-7"]))
    assert "141 MME/day; a risk estimate, not for dose conversion or opioid rotation" in text
    assert "methadone converts non-linearly" in text


def test_mme_without_methadone_has_no_methadone_caveat() -> None:
    text = _text(fire(CASES["v-mme-oxycodone-pain-7"]))
    assert "30 MME/day; a risk estimate, not for dose conversion or opioid rotation" in text
    assert "methadone" not in text.lower()


def test_an_absurd_total_is_shown_as_a_number_and_stays_critical() -> None:
    case = CASES["v-apap-draft-over-maximum-order-sign"]
    request = copy.deepcopy(case.request)
    draft = request["context"]["draftOrders"]["entry"][0]["resource"]
    draft["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"] = 1e308
    (card,) = fire(case, request)
    assert card["indicator"] == "critical"
    assert "inf" not in card["summary"]
    assert "e+" not in card["summary"]
    assert [s["label"] for s in card["suggestions"]] == ["Cancel acetaminophen 500 mg order"]


def test_the_mme_stays_on_the_opioid_benzodiazepine_card_with_two_opioids_active() -> None:
    """The "Based on" line keeps a few records; the MME computed from them is what the card rests on and
    stayed off it once two opioids and the benzodiazepine filled the line (with one opioid it showed)."""
    (example,) = (c for c in example_cases() if c.name == "example:opioid-benzodiazepine" and c.hook == PV)
    request = copy.deepcopy(example.request)
    entries = request["prefetch"]["medication-requests"]["entry"]
    oxycodone = next(e["resource"] for e in entries if e["resource"]["id"].endswith("-oxy"))
    morphine = copy.deepcopy(oxycodone)
    morphine["id"] = "bm-opioid-benzo-morphine"
    morphine["medicationCodeableConcept"] = {
        "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "7052"}],
        "text": "Morphine 10 mg oral tablet",
    }
    morphine["dosageInstruction"] = [
        {
            "text": "10 mg every 4 hours as needed",
            "asNeededBoolean": True,
            "timing": {"repeat": {"frequency": 1, "period": 4, "periodUnit": "h"}},
            "doseAndRate": [{"doseQuantity": {"value": 10, "unit": "mg", "system": UCUM, "code": "mg"}}],
        }
    ]
    entries.append({"resource": morphine})
    (card,) = (c for c in fire(example, request) if "P14" in c["extension"][RULES])
    based_on = card["detail"].split("Based on:", 1)[1].split("\n", 1)[0]
    assert "Daily oral morphine equivalents 90 MME/day" in based_on  # 2 x 10 x 1.5 + 6 x 10
    for drug in ("Morphine", "Oxycodone", "Lorazepam"):
        assert drug in based_on  # no record gave its place to the figure
