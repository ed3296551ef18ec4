"""Who the service speaks for, read from the Patient resource: fired through the HTTP app on the
thoracic-spine example patient (a SINS 14 lesion, so a critical card whenever the service speaks)."""

from __future__ import annotations

import copy
from datetime import date, timedelta
from typing import Any

import pytest
from hook_answers import HookCase, answer, example_cases

from fhir_bonemet.workflow import READ_ISSUES_EXTENSION

Json = dict[str, Any]


def _case(hook: str = "patient-view") -> HookCase:
    return next(c for c in example_cases() if c.name == "example:thoracic-spine-sins14" and c.hook == hook)


def _answer(patient: Json, hook: str = "patient-view") -> Json:
    case = _case(hook)
    request = copy.deepcopy(case.request)
    request["prefetch"]["patient"].update(patient)
    return answer(case, request)


@pytest.mark.parametrize("hook", ["patient-view", "order-sign"])
def test_a_patient_recorded_as_deceased_gets_no_card(hook: str) -> None:
    """An MRI tonight, a referral or an exercise plan for a patient recorded as dead is noise at best;
    the service spoke for them as for the living."""
    three_days_ago = (_case(hook).today - timedelta(days=3)).isoformat()
    for deceased in ({"deceasedBoolean": True}, {"deceasedDateTime": three_days_ago}):
        assert _answer(deceased, hook)["cards"] == [], deceased


def test_only_a_clear_statement_of_death_silences_the_service() -> None:
    """deceasedBoolean false, a date of death after today (a contradiction) or a value that cannot be
    read are read as alive: silence for a living patient would hide the cord-compression red flag."""
    tomorrow = (_case().today + timedelta(days=1)).isoformat()
    for alive in ({"deceasedBoolean": False}, {"deceasedDateTime": tomorrow}):
        assert _answer(alive)["cards"], alive
    case = _case()
    request = copy.deepcopy(case.request)
    request["prefetch"]["patient"]["deceasedBoolean"] = "yes"
    body = answer(case, request)
    assert body["cards"]
    issues = (body.get("extension") or {}).get(READ_ISSUES_EXTENSION, [])
    assert any(i["location"].endswith(".deceasedBoolean") for i in issues), issues


def test_a_birth_date_after_today_is_an_unknown_age_and_the_cards_say_so() -> None:
    """A typing error ("2062" for "1962") made the age negative, read as a minor: the service fell silent
    for an adult with an unstable spine.  It now speaks, as for an unknown age, and says why."""
    next_year = (_case().today + timedelta(days=366)).isoformat()
    cards = _answer({"birthDate": next_year})["cards"]
    assert cards
    assert cards[0]["indicator"] == "critical"
    for card in cards:
        assert "**Received but not read:** birth date (the date recorded is after today)" in card["detail"]


def _with_metastasis_verified_as(code: str) -> Json:
    case = _case()
    request = copy.deepcopy(case.request)
    for entry in request["prefetch"]["conditions"]["entry"]:
        if entry["resource"]["id"] == "bm-thoracic-sins14-met":
            entry["resource"]["verificationStatus"] = {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": code}
                ]
            }
    return answer(case, request)


@pytest.mark.parametrize("code", ["provisional", "differential", "unconfirmed"])
def test_a_bone_metastasis_not_confirmed_is_spoken_for_and_every_card_says_so(code: str) -> None:
    """A suspected metastasis keeps its red flags and a cautious exercise plan, but the cards (with a
    bone-modifying agent folded in) read as for a confirmed one and never said the diagnosis was open."""
    cards = _with_metastasis_verified_as(code)["cards"]
    assert cards
    assert cards[0]["indicator"] == "critical"
    for card in cards:
        assert f"confirmation of the bone metastasis (recorded as {code})" in card["detail"], card["summary"]


def test_a_confirmed_verification_adds_nothing_and_refuted_is_silent() -> None:
    confirmed = _with_metastasis_verified_as("confirmed")["cards"]
    assert "confirmation of the bone metastasis" not in str(confirmed)
    assert _with_metastasis_verified_as("refuted")["cards"] == []


@pytest.mark.parametrize("days", [1, 400])
def test_a_metastasis_with_no_clinical_status_and_an_abatement_still_to_come_is_active(days: int) -> None:
    """FHIR reads an abated Condition as gone, but an abatement after today has not happened: with no
    clinical status to say otherwise the metastasis counts.  It was read as inactive and the service fell
    silent for a patient with an unstable spine."""
    case = _case()
    request = copy.deepcopy(case.request)
    for entry in request["prefetch"]["conditions"]["entry"]:
        if entry["resource"]["id"] == "bm-thoracic-sins14-met":
            entry["resource"].pop("clinicalStatus")
            entry["resource"]["abatementDateTime"] = (case.today + timedelta(days=days)).isoformat()
    body = answer(case, request)
    assert body["cards"]
    assert body["cards"][0]["indicator"] == "critical"
    issues = (body.get("extension") or {}).get(READ_ISSUES_EXTENSION, [])
    assert any(i["location"].endswith("-met.abatement[x]") for i in issues), issues


def test_a_metastasis_with_no_clinical_status_abated_before_today_is_still_gone() -> None:
    case = _case()
    request = copy.deepcopy(case.request)
    for entry in request["prefetch"]["conditions"]["entry"]:
        if entry["resource"]["id"] == "bm-thoracic-sins14-met":
            entry["resource"].pop("clinicalStatus")
            entry["resource"]["abatementDateTime"] = (case.today - timedelta(days=1)).isoformat()
    assert answer(case, request)["cards"] == []


def test_a_birth_date_that_came_but_could_not_be_used_is_said_as_received_not_missing() -> None:
    """An unreadable birth date, or one on another patient's record, was named on the cards as missing,
    as if the EHR had none: the clinician was sent to record a date that is there, not to correct it."""
    unreadable = _answer({"birthDate": "unknown"})["cards"]
    case = _case()
    request = copy.deepcopy(case.request)
    request["prefetch"]["patient"]["id"] = "someone-else"
    another = answer(case, request)["cards"]
    for cards, reason in (
        (unreadable, "birth date (recorded, but not a date)"),
        (another, "birth date (sent on a Patient record that is not this patient's)"),
    ):
        assert cards
        for card in cards:
            assert f"**Received but not read:** {reason}" in card["detail"], card["summary"]
            assert "**Missing:** birth date" not in card["detail"], card["summary"]


def test_a_birth_date_giving_an_implausible_age_is_an_unknown_age_and_the_cards_say_so() -> None:
    """A birth date of "1800-01-01" (a placeholder, a typing error) was read as 226 years: the cards
    showed "Age 226 years" as a fact.  It is read as an unknown age, as an unreadable birth date is, and
    said as one."""
    for born in ("1800-01-01", "1800"):
        cards = _answer({"birthDate": born})["cards"]
        assert cards
        assert cards[0]["indicator"] == "critical"
        for card in cards:
            assert (
                "**Received but not read:** birth date (the age it gives, over 120 years, is not plausible)"
                in card["detail"]
            ), card["summary"]
            assert "years" not in card["detail"].replace("over 120 years", ""), card["detail"]
    # A great age that is possible is read as recorded.
    old = (_case().today.replace(year=_case().today.year - 104)).isoformat()
    for card in _answer({"birthDate": old})["cards"]:
        assert "not plausible" not in card["detail"]


def _with_metastasis_onset(onset: str) -> Json:
    case = _case()
    request = copy.deepcopy(case.request)
    for entry in request["prefetch"]["conditions"]["entry"]:
        if entry["resource"]["id"] == "bm-thoracic-sins14-met":
            entry["resource"]["onsetDateTime"] = onset
    return answer(case, request)


def test_a_bone_metastasis_with_an_onset_after_today_counts_and_the_date_is_a_read_issue() -> None:
    """An onset still to come was taken in silence, and the cards showed it as when the metastasis began.
    The metastasis still counts (the cautious reading), the date is not used, and the read issues say so."""
    today = _case().today
    future = (today + timedelta(days=200)).isoformat()
    body = _with_metastasis_onset(future)
    assert body["cards"]
    assert body["cards"][0]["indicator"] == "critical"
    issues = (body.get("extension") or {}).get(READ_ISSUES_EXTENSION, [])
    (issue,) = [i for i in issues if i["location"].endswith("-met.onset[x]")]
    assert issue["severity"] == "information"
    assert "onset after today" in issue["message"]
    shown = date.fromisoformat(future)
    day = f"{shown.day} {shown.strftime('%b')} {shown.year}"
    assert all(day not in card["detail"] for card in body["cards"])
    # A partial onset whose first day has come ("this month") is no error.
    this_month = _with_metastasis_onset(today.isoformat()[:7])
    notes = (this_month.get("extension") or {}).get(READ_ISSUES_EXTENSION, [])
    assert not [i for i in notes if i["location"].endswith("onset[x]")]
