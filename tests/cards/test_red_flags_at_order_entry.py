"""Red flags at order entry (docs/clinical-model.md#hooks): critical cards interrupt any order; the warnings
of the red flags that restrict loading (R01's unread symptom, R02, R04, R05) speak when a draft in focus may
load the bone (a non-medication order named as exercise, physiotherapy, rehabilitation or mobility, or with
no name to read); a medicine, a blood test or a scan loads no bone.

An impending-fracture answer that could not be read is read by the exercise plan on patient-view (its lesion
HIGH, not loaded until verified, the record named).  The plan is not shown while ordering, so R04 says it
there, as a warning, before such an order.  Fired through the HTTP app on the rib example patient (a blastic
rib lesion, nothing else skeletal) and, for a borderline score, the opioid-benzodiazepine one (SINS 9 at L3,
no surgical review)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hook_answers import HookCase, answer, draft_physio_order, example_cases

Json = dict[str, Any]

RECEIVED = "Impending fracture 'unclear' (answer not recognised"


def _case(hook: str, scenario: str) -> HookCase:
    return next(c for c in example_cases() if c.name == f"example:{scenario}" and c.hook == hook)


def _fired(
    hook: str,
    *,
    physio: bool,
    select_physio: bool = True,
    scenario: str = "rib-blastic-ecog1",
    unclear: str | None = "impending-fracture",
    order_name: str = "Physiotherapy: progressive resistance exercise",
    no_answer: str | None = None,
) -> list[Json]:
    """The cards for the example patient with an answer to the local finding ``unclear`` sent as a local code
    ("unclear"), and with a physiotherapy order beside the example's drafted medicine when ``physio``."""
    case = _case(hook, scenario)
    request = copy.deepcopy(case.request)
    patient = request["context"]["patientId"]
    answered = {
        "resourceType": "Observation",
        "id": "answer-unclear",
        "status": "final",
        "code": {"coding": [{"system": "http://fhir-bonemet.org/fhir/CodeSystem/bonemet", "code": unclear}]},
        "subject": {"reference": f"Patient/{patient}"},
        "effectiveDateTime": case.today.isoformat(),
        "valueCodeableConcept": {
            "coding": [{"system": "http://hospital.example.org/ortho", "code": "U"}],
            "text": "unclear",
        },
    }
    if no_answer is not None:  # recorded with no answer instead of an unreadable one
        del answered["valueCodeableConcept"]
        answered["dataAbsentReason"] = {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/data-absent-reason", "code": no_answer}
            ]
        }
    if unclear is not None:
        request["prefetch"]["observations-flags"].setdefault("entry", []).append({"resource": answered})
    if physio and hook != "patient-view":
        draft_physio_order(request, order_name, selected=select_physio)
    cards: list[Json] = answer(case, request)["cards"]
    return cards


def _rules(card: Json) -> list[str]:
    rules: list[str] = card.get("extension", {}).get("org.fhir-bonemet.rules", [])
    return rules


@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_an_order_that_may_load_the_bone_gets_the_cautious_reading_as_a_warning(hook: str) -> None:
    cards = _fired(hook, physio=True)
    (card,) = [c for c in cards if "R04" in _rules(c)]
    assert card["indicator"] == "warning"
    assert card["summary"].startswith("Impending-fracture answer not readable (right 6th rib lesion)")
    assert "no loading of the site" in card["summary"]
    # The record is named as received but not read, with the reading applied, not as a missing answer.
    assert "**Received but not read:** " + RECEIVED in card["detail"]
    assert "read as an impending fracture: no loading of the site until verified" in card["detail"]
    assert "Physiotherapy: progressive resistance exercise" in card["detail"]  # the order it concerns
    assert card.get("suggestions", []) == []  # verify first: no referral for a fracture not known


def test_an_impending_fracture_recorded_with_no_answer_is_named_as_unknown_not_unreadable() -> None:
    cards = _fired("order-sign", physio=True, no_answer="asked-unknown")
    (card,) = [c for c in cards if "R04" in _rules(c)]
    assert card["indicator"] == "warning"
    assert card["summary"].startswith("Impending-fracture answer unknown")
    assert "with no answer (asked-unknown)" in card["detail"]
    assert "Record the answer once it is known." in card["detail"]
    assert "could not be read" not in card["detail"]


@pytest.mark.parametrize(
    "order_name",
    ["Inpatient rehabilitation", "Mobilise with assistance", "Gait training with a walking frame"],
)
def test_a_mobility_or_rehabilitation_order_may_load_the_bone(order_name: str) -> None:
    cards = _fired("order-sign", physio=True, order_name=order_name)
    assert [c["indicator"] for c in cards if "R04" in _rules(c)] == ["warning"]


@pytest.mark.parametrize("order_name", ["Walking frame", "Elbow crutches", "Rollator"])
@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_a_walking_aid_gives_the_protected_weight_bearing_asked_for_and_is_not_deferred(
    hook: str, order_name: str
) -> None:
    """Impending fracture (Mirels 9, left proximal femur): the critical card asks for protected
    weight-bearing; a walking aid is how it is given, so no card asks to defer or cancel it."""
    case = _case(hook, "proximal-femur-mirels9")
    request = copy.deepcopy(case.request)
    aid = {
        "resourceType": "DeviceRequest",
        "id": "draft-aid",
        "status": "draft",
        "intent": "order",
        "codeCodeableConcept": {"text": order_name},
        "subject": {"reference": f"Patient/{request['context']['patientId']}"},
    }
    request["context"]["draftOrders"]["entry"] = [{"resource": aid}]
    if hook == "order-select":
        request["context"]["selections"] = ["DeviceRequest/draft-aid"]
    cards: list[Json] = answer(case, request)["cards"]
    assert cards[0]["indicator"] == "critical"
    assert "protected weight-bearing" in cards[0]["detail"]
    assert [c["summary"] for c in cards if "EX04" in _rules(c)] == []
    assert "DeviceRequest/draft-aid" not in json.dumps(cards)  # nothing cancels the aid


@pytest.mark.parametrize(
    "order_name", ["Complete blood count", "MRI thoracic spine", "CT chest abdomen pelvis"]
)
@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_a_laboratory_or_imaging_order_goes_ahead_without_it(hook: str, order_name: str) -> None:
    """A warning before every blood test or scan would bury the one before the physiotherapy order."""
    cards = _fired(hook, physio=True, order_name=order_name)
    assert [c for c in cards if "R04" in _rules(c)] == []


@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_an_order_with_no_name_to_read_may_load_the_bone(hook: str) -> None:
    cards = _fired(hook, physio=True, order_name="  ")
    assert [c["indicator"] for c in cards if "R04" in _rules(c)] == ["warning"]


@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_a_medication_order_alone_goes_ahead_without_it(hook: str) -> None:
    cards = _fired(hook, physio=False)
    assert not [c for c in cards if "R04" in _rules(c)]
    assert RECEIVED not in json.dumps(cards)


def test_a_physiotherapy_order_beside_the_selected_medicine_is_not_in_focus() -> None:
    cards = _fired("order-select", physio=True, select_physio=False)
    assert not [c for c in cards if "R04" in _rules(c)]


def test_patient_view_reads_it_in_the_exercise_plan_not_on_a_card_of_its_own() -> None:
    cards = _fired("patient-view", physio=False)
    assert not [c for c in cards if "R04" in _rules(c)]
    plan = next(c for c in cards if c["summary"].startswith("High skeletal risk"))
    assert RECEIVED in plan["detail"]
    assert "read as an impending fracture: HIGH, site not loaded until verified" in plan["detail"]


@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_a_borderline_score_without_surgical_review_speaks_before_an_order_that_may_load_the_bone(
    hook: str,
) -> None:
    """The plan keeps the lesion HIGH on patient-view; while ordering, R04's warning is what says it."""
    summary = "SINS 9 at L3 lesion, no surgical review recorded"
    view = _fired("patient-view", physio=False, scenario="opioid-benzodiazepine", unclear=None)
    assert [c["indicator"] for c in view if c["summary"].startswith(summary)] == ["warning"]
    cards = _fired(hook, physio=True, scenario="opioid-benzodiazepine", unclear=None)
    assert [c["indicator"] for c in cards if c["summary"].startswith(summary)] == ["warning"]
    medicines = _fired(hook, physio=False, scenario="opioid-benzodiazepine", unclear=None)
    assert not [c for c in medicines if "R04" in _rules(c)]


@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_a_cord_compression_symptom_answer_not_read_speaks_before_an_order_that_may_load_the_bone(
    hook: str,
) -> None:
    """R01's warning (check the symptoms now, hold axial loading until checked): on patient-view beside the
    plan that restricts the spine, while ordering before an order that may load the bone, not before a
    medicine."""
    summary = "Limb weakness answer not readable: check now for cord-compression symptoms"
    for on, physio, shown in ((hook, True, True), (hook, False, False), ("patient-view", False, True)):
        cards = _fired(on, physio=physio, unclear="rf-limb-weakness")
        found = [c for c in cards if c["summary"].startswith(summary)]
        assert [c["indicator"] for c in found] == (["warning"] if shown else []), (on, physio)
        if shown:
            assert "**Received but not read:** Limb weakness 'unclear'" in found[0]["detail"]
