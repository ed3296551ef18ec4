"""Values that arrive but cannot be read are said, never dropped in silence, and never make advice less
cautious: a malformed medication status, dose, frequency, result date or birth date, an impossible
(negative) laboratory value.  Each is fired through the HTTP app on the thoracic-spine example patient,
whose answer carries an acetaminophen 4 g/day warning, a pain score of 6 and a platelet count."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hook_answers import HookCase, answer, answer_raw, example_cases

from fhir_bonemet.cards.detail import plain
from fhir_bonemet.core.model.findings import shorten
from fhir_bonemet.workflow import READ_ISSUES_EXTENSION

Json = dict[str, Any]

ACETAMINOPHEN = "MedicationRequest/bm-thoracic-sins14-apap"
PAIN = "Observation/bm-thoracic-sins14-pain"
PLATELETS = "Observation/bm-thoracic-sins14-plt"
CALCIUM = "Observation/bm-thoracic-sins14-ca"


def _case() -> HookCase:
    return next(
        c for c in example_cases() if c.name == "example:thoracic-spine-sins14" and c.hook == "patient-view"
    )


def _resources(request: Json) -> Iterator[Json]:
    for slot in request["prefetch"].values():
        if isinstance(slot, dict) and slot.get("resourceType") == "Bundle":
            yield from (e["resource"] for e in slot.get("entry", []) if "resource" in e)
        elif isinstance(slot, dict):
            yield slot


def _resource(request: Json, ref: str) -> Json:
    kind, _, rid = ref.partition("/")
    return next(r for r in _resources(request) if r.get("resourceType") == kind and r.get("id") == rid)


def _fired(change: Callable[[Json], None]) -> tuple[str, list[Json]]:
    """The answer's whole text (cards, folded notes, suggestions) and its read issues, after ``change``."""
    case = _case()
    request = copy.deepcopy(case.request)
    change(request)
    body = answer(case, request)
    issues = (body.get("extension") or {}).get(READ_ISSUES_EXTENSION, [])
    return json.dumps(body["cards"], ensure_ascii=False), issues


def _issue_at(issues: list[Json], location: str) -> Json:
    found = [i for i in issues if i["location"] == location]
    assert found, f"no read issue at {location}: {issues}"
    return found[0]


def test_the_unchanged_example_has_the_cards_the_changes_act_on() -> None:
    text, issues = _fired(lambda request: None)
    assert "Acetaminophen 4 g/day" in text
    assert "NRS 6" in text
    assert issues == []


@pytest.mark.parametrize("status", [None, 7, "", "actve"])
def test_an_unreadable_medication_status_is_said_and_the_drug_still_counts(status: object) -> None:
    text, issues = _fired(lambda request: _resource(request, ACETAMINOPHEN).update(status=status))
    assert "counted as current" in _issue_at(issues, f"{ACETAMINOPHEN}.status")["message"]
    assert "Acetaminophen 4 g/day" in text  # the overdose check still runs


def test_a_dosage_that_is_not_a_list_of_dosage_is_said() -> None:
    text, issues = _fired(lambda request: _resource(request, ACETAMINOPHEN).update(dosageInstruction="x"))
    assert "dose not read" in _issue_at(issues, f"{ACETAMINOPHEN}.dosageInstruction")["message"]
    assert "dose(s) could not be read" in text  # the acetaminophen total is named as unknown


def test_the_acetaminophen_product_whose_dose_is_unknown_is_named_on_the_card() -> None:
    # The missing daily dose named the order by its reference, which card text turns into "medication
    # order": the clinician could not tell which acetaminophen product to check.
    text, _ = _fired(lambda request: _resource(request, ACETAMINOPHEN).update(dosageInstruction="x"))
    name = _resource(_case().request, ACETAMINOPHEN)["medicationCodeableConcept"]["text"]
    assert f"daily acetaminophen dose of {name}" in text
    assert "daily acetaminophen dose of medication order" not in text


def test_a_dose_unit_not_understood_is_said_once_on_the_card() -> None:
    # The acetaminophen line names the product and what the total may lack; the read issue about the same
    # order's dosage said the same gap again beside it ("medication order (dosage): dose unit not
    # recognised; not used") once that line stopped naming the order by its reference.
    def change(request: Json) -> None:
        dose = _dosage(request)["doseAndRate"][0]["doseQuantity"]
        dose.update(unit="xyz", code="{xyz}")
        del _dosage(request)["text"]

    text, issues = _fired(change)
    _issue_at(issues, f"{ACETAMINOPHEN}.dosageInstruction[0]")  # the response keeps the exact issue
    assert "dose unit xyz not understood; the total may be higher than shown" in text
    assert "dose unit not recognised" not in text


def _dosage(request: Json) -> Json:
    dosage: Json = _resource(request, ACETAMINOPHEN)["dosageInstruction"][0]
    return dosage


@pytest.mark.parametrize("frequency", ["four", 0, -4, True])
def test_an_unreadable_frequency_is_never_read_as_once_a_day(frequency: object) -> None:
    def change(request: Json) -> None:
        dosage = _dosage(request)
        dosage["timing"]["repeat"]["frequency"] = frequency
        del dosage["text"]  # "1 g every 6 hours" would otherwise give the rate

    text, issues = _fired(change)
    issue = _issue_at(issues, f"{ACETAMINOPHEN}.dosageInstruction[0]")
    assert "frequency is not a positive number" in issue["message"]
    assert "Acetaminophen 1 g/day" not in text
    assert "dose(s) could not be read" in text


@pytest.mark.parametrize(
    ("change", "exact", "said"),
    [
        (
            lambda request: _dosage(request)["timing"]["repeat"].update(frequency="four"),
            "timing.repeat.frequency is not a positive number",
            "dose frequency is not a positive number",
        ),
        (
            lambda request: _resource(request, ACETAMINOPHEN).update(dosageInstruction="x"),
            "not a list of Dosage",
            "not a list of dosage instructions",
        ),
    ],
)
def test_a_read_issue_is_said_on_the_card_in_clinical_words(
    change: Callable[[Json], None], exact: str, said: str
) -> None:
    """Read issues reached the card with FHIR element names ("timing.repeat.frequency", "Dosage"), which
    mean nothing at the bedside; the card says them in clinical words, and the response's read issues keep
    the exact FHIR location and message for whoever fixes the record."""
    text, issues = _fired(change)
    assert said in text
    assert exact not in text
    assert "Dosage" not in text
    assert "timing.repeat" not in text
    assert any(exact in issue["message"] for issue in issues)


@pytest.mark.parametrize("value", [-500, 0])
def test_a_dose_that_is_not_positive_is_not_used(value: float) -> None:
    def change(request: Json) -> None:
        dosage = _dosage(request)
        dosage["doseAndRate"][0]["doseQuantity"]["value"] = value
        del dosage["text"]

    text, issues = _fired(change)
    issue = _issue_at(issues, f"{ACETAMINOPHEN}.dosageInstruction[0]")
    assert "dose is not a positive number" in issue["message"]
    assert "dose(s) could not be read" in text


@pytest.mark.parametrize("when", ["yesterday", 20240101, "2026-13-45"])
def test_a_result_whose_date_cannot_be_read_is_received_not_missing(when: object) -> None:
    text, issues = _fired(lambda request: _resource(request, PAIN).update(effectiveDateTime=when))
    assert "not a date" in _issue_at(issues, f"{PAIN}.effectiveDateTime")["message"]
    # Never "no recent pain score": a score was received, and its date may be recent.
    assert "Pain score received but not read '6' (date not readable)" in text


def test_an_unreadable_date_with_a_readable_fallback_uses_the_fallback_and_says_so() -> None:
    def change(request: Json) -> None:
        pain = _resource(request, PAIN)
        pain["issued"] = pain["effectiveDateTime"]
        pain["effectiveDateTime"] = "yesterday"

    text, issues = _fired(change)
    assert _issue_at(issues, f"{PAIN}.effectiveDateTime")["message"] == "not a date; ignored"
    assert "NRS 6" in text


def test_an_unreadable_birth_date_is_said_and_age_counts_as_unknown() -> None:
    text, issues = _fired(lambda request: request["prefetch"]["patient"].update(birthDate="1950-13-45"))
    assert "age unknown" in _issue_at(issues, "Patient/bm-thoracic-sins14.birthDate")["message"]
    assert "age unknown" in text  # the lower acetaminophen ceiling applies


def test_an_unreadable_birth_date_is_named_once_on_a_card() -> None:
    # Every card names it with why ("birth date (recorded, but not a date)"); the card that searched the
    # patient record named the same birth date a second time from its read issue.
    text, issues = _fired(lambda request: request["prefetch"]["patient"].update(birthDate="1950-13-45"))
    _issue_at(issues, "Patient/bm-thoracic-sins14.birthDate")  # the response keeps the exact issue
    assert "birth date (recorded, but not a date)" in text
    assert "patient record (birth date)" not in text


@pytest.mark.parametrize("birth_date", ["1950-13-45", "2999-01-01", "1800-01-01"])
def test_a_birth_date_recorded_but_not_usable_is_asked_to_be_corrected_not_recorded(birth_date: str) -> None:
    # A birth date that is there but cannot be used (not a date, after today, an age no one reaches):
    # "suggest recording: birth date" told the clinician to record what the record already holds.
    text, _ = _fired(lambda request: request["prefetch"]["patient"].update(birthDate=birth_date))
    assert "suggest recording: a usable birth date" in text
    assert "suggest recording: birth date" not in text


def test_a_partial_birth_date_that_may_make_the_patient_a_minor_is_said_on_every_card() -> None:
    """Born in the year 18 years ago: 18 if born on 1 January, 17 if born after today's date.  Read at its
    first day, it gave adult cards that never said the age was uncertain."""
    today = _case().today
    if (today.month, today.day) == (12, 31):
        pytest.skip("on 31 December every birth date of that year makes the patient 18")
    case = _case()
    request = copy.deepcopy(case.request)
    request["prefetch"]["patient"]["birthDate"] = str(today.year - 18)
    cards = answer(case, request)["cards"]
    assert cards
    for card in cards:
        assert "full birth date (the partial date recorded may make the patient under 18)" in card["detail"]


@pytest.mark.parametrize("birth_date", [None, "1950-13-45"])
def test_a_missing_or_unreadable_birth_date_is_named_on_every_card(birth_date: str | None) -> None:
    """The service speaks for an unknown age (silence would hide red flags), and says so on every card:
    only the exercise cards named the birth date as missing."""
    case = next(
        c
        for c in example_cases()
        if c.name == "example:suspected-cord-compression" and c.hook == "patient-view"
    )
    request = copy.deepcopy(case.request)
    request["prefetch"]["patient"].pop("birthDate")
    if birth_date is not None:
        request["prefetch"]["patient"]["birthDate"] = birth_date
    cards = answer(case, request)["cards"]
    assert len(cards) >= 2
    for card in cards:
        assert card["detail"].count("birth date") >= 1, card["summary"]


def test_a_lesion_type_answer_not_recognised_is_named_as_received_not_missing() -> None:
    """A coded answer that came but could not be understood is not "no lesion type": the card says what
    was received, beside the cautious reading it leads to."""

    def change(request: Json) -> None:
        lesion_type = _resource(request, "Observation/bm-thoracic-sins14-lesion-type")
        lesion_type["valueCodeableConcept"] = {
            "coding": [{"system": "http://hospital.example.org/radiology", "code": "IND"}],
            "text": "indeterminate",
        }

    text, issues = _fired(change)
    location = "Observation/bm-thoracic-sins14-lesion-type.value"
    assert "not recognised" in _issue_at(issues, location)["message"]
    assert "Lesion type 'indeterminate' (answer not recognised" in text
    assert "lesion type unknown in a weight-bearing bone" in text  # still read as the cautious lytic


def test_a_number_beyond_a_double_in_one_result_costs_only_that_result() -> None:
    """1e400 is valid JSON that no double holds: the request was refused whole, every card lost."""
    case = _case()
    request = copy.deepcopy(case.request)
    _resource(request, PLATELETS)["valueQuantity"]["value"] = 123456.75  # replaced in the text below
    raw = json.dumps(request).encode().replace(b"123456.75", b"1e400")
    body = answer_raw(case, request["hook"], raw)
    issues = (body.get("extension") or {}).get(READ_ISSUES_EXTENSION, [])
    assert "not a number" in _issue_at(issues, f"{PLATELETS}.valueQuantity.value")["message"]
    text = json.dumps(body["cards"], ensure_ascii=False)
    assert "Acetaminophen 4 g/day" in text  # the rest of the chart is read


def test_an_integer_beyond_a_double_in_one_result_costs_only_that_result() -> None:
    """The same number written out in full (some encoders write 1e400 so) was refused whole."""
    case = _case()
    request = copy.deepcopy(case.request)
    _resource(request, PLATELETS)["valueQuantity"]["value"] = 123456.75  # replaced in the text below
    raw = json.dumps(request).encode().replace(b"123456.75", b"1" + b"0" * 400)
    body = answer_raw(case, request["hook"], raw)
    issues = (body.get("extension") or {}).get(READ_ISSUES_EXTENSION, [])
    assert "not a number" in _issue_at(issues, f"{PLATELETS}.valueQuantity.value")["message"]
    text = json.dumps(body["cards"], ensure_ascii=False)
    assert "Acetaminophen 4 g/day" in text  # the rest of the chart is read


@pytest.mark.parametrize("value", [-999999, -0.5])
def test_a_negative_laboratory_value_is_impossible_never_a_critical_finding(value: float) -> None:
    def change(request: Json) -> None:
        _resource(request, PLATELETS)["valueQuantity"]["value"] = value

    text, issues = _fired(change)
    assert "outside the possible range" in _issue_at(issues, f"{PLATELETS}.value")["message"]
    assert "Critical cytopenia" not in text
    assert f"Platelets '{value:g}'" in text  # named as received, not as missing


def test_a_hold_names_its_red_flags_and_its_lab_gate() -> None:
    """A critical red flag and a platelet hold together: the summary said "(;; platelets 15)" once the
    rule ids were stripped from "red flag R04; red flag R08; platelets 15"."""

    def change(request: Json) -> None:
        _resource(request, PLATELETS)["valueQuantity"]["value"] = 15

    text, _ = _fired(change)
    cards = json.loads(text)
    hold = next(card["summary"] for card in cards if card["summary"].startswith("Exercise on hold"))
    assert hold.startswith(
        "Exercise on hold (pathological or impending fracture; critical cytopenia; platelets 15 ×10⁹/L)"
    )


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (
            "Exercise on hold (red flag R04; red flag R08; platelets 15): stop",
            "Exercise on hold (platelets 15): stop",
        ),
        ("On hold (R04, R08)", "On hold"),
        ("Exercise on hold (red flag R01; red flag R03): stop", "Exercise on hold: stop"),
    ],
)
def test_removing_rule_ids_from_a_list_leaves_no_empty_items(text: str, shown: str) -> None:
    assert plain(text) == shown


def test_shortening_cuts_at_a_word_unless_one_word_fills_the_room() -> None:
    assert shorten("Cancel ibuprofen 400 mg tablet order", 20) == "Cancel ibuprofen…"
    assert shorten("Cancel " + "N" * 130 + " order", 40) == "Cancel " + "N" * 32 + "…"
    assert len(shorten("x" * 500, 139)) == 139
    assert shorten("short", 10) == "short"


@pytest.mark.parametrize("value", [1e9, 250_000])
def test_a_laboratory_value_no_living_patient_has_is_not_used_as_normal(value: float) -> None:
    """250,000 "×10⁹/L" is a count per µL sent with the wrong unit: it was read as a normal count."""
    text, issues = _fired(lambda request: _resource(request, PLATELETS)["valueQuantity"].update(value=value))
    assert "outside the possible range" in _issue_at(issues, f"{PLATELETS}.value")["message"]
    assert f"Platelets '{value:g}'" in text


def test_an_impossible_count_that_is_critical_in_another_unit_asks_to_verify_now() -> None:
    """15,000 "×10⁹/L" is impossible; as a count per µL it is a critical thrombocytopenia."""
    text, _ = _fired(lambda request: _resource(request, PLATELETS)["valueQuantity"].update(value=15_000))
    cards = json.loads(text)
    assert cards[0]["indicator"] == "critical"
    assert any(
        card["summary"].startswith(
            "Verify now: platelets 15000: critical thrombocytopenia if the unit is /uL"
        )
        and card["summary"].endswith("(impossible in the unit received)")
        for card in cards
    )


@pytest.mark.parametrize(
    ("ref", "bound", "summary"),
    [
        (PLATELETS, {"comparator": "<", "value": 10}, "Verify now: platelets <10: critical thrombocytopenia"),
        (CALCIUM, {"comparator": ">", "value": 13}, "Verify now: calcium >13: hypercalcaemia needing urgent"),
        (CALCIUM, {"comparator": ">=", "value": 15}, "Verify now: calcium >=15: severe hypercalcaemia"),
    ],
)
def test_a_bound_already_in_a_dangerous_band_is_a_red_flag(ref: str, bound: Json, summary: str) -> None:
    """A platelet count "<10" ×10⁹/L or a calcium ">13" mg/dL lies in the band whatever its exact value: it
    was read as nothing (a comparator is not a value), and the answer had no red flag at all."""
    text, _ = _fired(lambda request: _resource(request, ref)["valueQuantity"].update(bound))
    flagged = [card for card in json.loads(text) if card["summary"].startswith(summary)]
    assert flagged, text
    assert flagged[0]["indicator"] == "critical"
    assert flagged[0]["summary"].endswith("(a bound, not a value)")


@pytest.mark.parametrize(
    ("ref", "bound"),
    [(PLATELETS, {"comparator": ">", "value": 100}), (CALCIUM, {"comparator": "<", "value": 10.5})],
)
def test_a_bound_on_the_safe_side_raises_no_alarm(ref: str, bound: Json) -> None:
    text, _ = _fired(lambda request: _resource(request, ref)["valueQuantity"].update(bound))
    assert "Verify now" not in text


def test_a_read_issue_on_a_card_names_the_record_in_clinical_words_not_its_reference() -> None:
    """ "Patient/bm-…: not a date; that part was not used" was on the card: a record id, which means
    nothing at the bedside.  The card names the kind of record; the read issue keeps the location."""

    def change(request: Json) -> None:
        # Old enough for the age to be read on the cards (the exercise tier), which names the Patient.
        request["prefetch"]["patient"].update(birthDate="1940-01-01", deceasedDateTime="yesterday")

    text, issues = _fired(change)
    assert "not a date" in _issue_at(issues, "Patient/bm-thoracic-sins14.deceasedDateTime")["message"]
    assert "patient record (date of death): not a date; not used" in text
    text, issues = _fired(lambda request: _resource(request, ACETAMINOPHEN).update(status="actve"))
    assert _issue_at(issues, f"{ACETAMINOPHEN}.status")
    assert "medication order (status): status missing or not a known code; not used" in text
    for changed in (change, lambda request: _resource(request, ACETAMINOPHEN).update(dosageInstruction="x")):
        cards = json.loads(_fired(changed)[0])
        prose = " ".join(card["summary"] + card.get("detail", "") for card in cards)
        assert "Patient/" not in prose
        assert "MedicationRequest/" not in prose


@pytest.mark.parametrize(
    ("text", "said"),
    [
        # A FHIR id may hold dots: the element is what follows the whole id, never a piece of it.
        (
            "MedicationRequest/apap.v2.dosageInstruction[0]: dose unit not recognised",
            "medication order (dosage): dose unit not recognised",
        ),
        ("Observation/lab.2024: no unit", "observation: no unit"),
        ("Patient/bm-1.birthDate: not a date", "patient record (birth date): not a date"),
        ("Observation/a.code: not understood", "observation (code): not understood"),
        ("as recorded on Patient/bm-1.", "as recorded on patient record."),
    ],
)
def test_a_record_reference_whose_id_holds_a_dot_is_named_whole(text: str, said: str) -> None:
    assert plain(text) == said
