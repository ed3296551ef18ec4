"""An order that may load the bone while the exercise plan is on hold or ADL-only (EX04,
docs/clinical-model.md#hooks).

The plan is shown on patient-view only.  Before a physiotherapy, exercise, rehabilitation or mobility order
in focus on order-select / order-sign, one warning says the plan is on hold (or ADL-only) and why, names the
order, and offers to cancel that draft; a blood test, a medicine or an order not in focus goes ahead without
it.  Fired through the HTTP app on the rib example patient (a blastic rib lesion, ECOG 1, normal blood
counts), with the blood count, a fever or the performance status changed and a physiotherapy order drafted
beside the example's medicine."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import pytest
from hook_answers import PHYSIO_DRAFT, HookCase, answer, draft_physio_order, example_cases

Json = dict[str, Any]

PHYSIO_NAME = "Physiotherapy: progressive resistance exercise"
PLATELETS, HAEMOGLOBIN, CALCIUM = "777-3", "718-7", "17861-6"


def _case(hook: str) -> HookCase:
    return next(c for c in example_cases() if c.name == "example:rib-blastic-ecog1" and c.hook == hook)


def _lab(request: Json, loinc: str, value: float, unit: str | None = None) -> None:
    for entry in request["prefetch"]["observations-labs"]["entry"]:
        resource = entry["resource"]
        if any(coding["code"] == loinc for coding in resource["code"]["coding"]):
            resource["valueQuantity"]["value"] = value
            if unit is not None:
                resource["valueQuantity"].update(unit=unit, code=unit)
            return
    raise AssertionError(f"no {loinc} result in the example")


def _ecog(request: Json, value: int) -> None:
    for entry in request["prefetch"]["observations-scores"]["entry"]:
        resource = entry["resource"]
        if any(coding["code"] == "89247-1" for coding in resource["code"]["coding"]):
            resource["valueInteger"] = value
            return
    raise AssertionError("no ECOG in the example")


def _fever(request: Json, today: date) -> None:
    request["prefetch"]["conditions"].setdefault("entry", []).append(
        {
            "resource": {
                "resourceType": "Condition",
                "id": "fever",
                "clinicalStatus": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                            "code": "active",
                        }
                    ]
                },
                "code": {
                    "coding": [{"system": "http://snomed.info/sct", "code": "386661006", "display": "Fever"}]
                },
                "subject": {"reference": f"Patient/{request['context']['patientId']}"},
                "onsetDateTime": today.isoformat(),
            }
        }
    )


def _request(
    hook: str,
    *,
    platelets: float | None = None,
    order_name: str | None = PHYSIO_NAME,
    selected: bool = True,
) -> tuple[HookCase, Json]:
    """The example's request on ``hook``, with the platelet count changed when given and a draft order named
    ``order_name`` beside the example's medicine (none when ``order_name`` is None)."""
    case = _case(hook)
    request = copy.deepcopy(case.request)
    if platelets is not None:
        _lab(request, PLATELETS, platelets)
    if order_name is not None and hook != "patient-view":
        draft_physio_order(request, order_name, selected=selected)
    return case, request


def _ex04(case: HookCase, request: Json) -> list[Json]:
    cards: list[Json] = answer(case, request)["cards"]
    return [c for c in cards if "EX04" in c.get("extension", {}).get("org.fhir-bonemet.rules", [])]


def _cancellations(card: Json) -> list[Json]:
    return [s for s in card.get("suggestions", []) if any(a["type"] == "delete" for a in s["actions"])]


@pytest.mark.parametrize("hook", ["order-sign", "order-select"])
def test_an_exercise_order_while_exercise_is_on_hold_gets_one_card_offering_to_cancel_it(
    hook: str,
) -> None:
    case, request = _request(hook, platelets=15)
    (card,) = _ex04(case, request)
    assert card["indicator"] == "warning"  # the critical cytopenia card beside it interrupts
    assert (
        card["summary"] == f"Exercise on hold (critical cytopenia; platelets 15 ×10⁹/L): defer {PHYSIO_NAME}"
    )
    assert "- Platelets 15 ×10⁹/L: hold; functional mobility only" in card["detail"]
    assert f"Draft order ({PHYSIO_NAME}) may load the bone" in card["detail"]
    (cancel,) = _cancellations(card)
    assert cancel["label"] == "Cancel physiotherapy: progressive resistance exercise order"
    assert cancel["isRecommended"] is True
    (action,) = cancel["actions"]
    assert action["resourceId"] == PHYSIO_DRAFT
    assert "exercise on hold" in action["description"]
    assert not [s for s in card.get("suggestions", []) if "CarePlan" in s["label"]]  # not while ordering


def test_accepting_the_cancellation_removes_the_draft_and_the_card() -> None:
    case, request = _request("order-sign", platelets=15)
    (card,) = _ex04(case, request)
    (action,) = _cancellations(card)[0]["actions"]
    drafts = request["context"]["draftOrders"]["entry"]
    request["context"]["draftOrders"]["entry"] = [
        e for e in drafts if f"{e['resource']['resourceType']}/{e['resource']['id']}" != action["resourceId"]
    ]
    assert len(request["context"]["draftOrders"]["entry"]) == len(drafts) - 1
    assert _ex04(case, request) == []


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda r, _d: _lab(r, HAEMOGLOBIN, 6.5), "haemoglobin 6.5 g/dL"),
        (lambda r, _d: _lab(r, CALCIUM, 3.2, "mmol/L"), "hypercalcaemia"),
        (_fever, "fever"),
    ],
)
def test_each_hold_reason_is_named(change: Any, reason: str) -> None:
    case, request = _request("order-sign")
    change(request, case.today)
    (card,) = _ex04(case, request)
    assert card["summary"].startswith("Exercise on hold (")
    assert reason in card["summary"].split("): ")[0]
    assert [c["resourceId"] for s in _cancellations(card) for c in s["actions"]] == [PHYSIO_DRAFT]


def test_an_adl_only_plan_offers_the_cancellation_without_recommending_it() -> None:
    """ECOG 3-4 asks for ADL and mobility upkeep with PT/OT: the order may be just that."""
    case, request = _request("order-sign")
    _ecog(request, 3)
    (card,) = _ex04(case, request)
    assert card["indicator"] == "warning"
    assert card["summary"] == (
        f"Structured exercise not advised (ECOG 3): limit {PHYSIO_NAME} to ADL and mobility upkeep"
    )
    (cancel,) = _cancellations(card)
    assert "isRecommended" not in cancel


@pytest.mark.parametrize("order_name", ["PT eval and treat", "Ambulatory referral to PT", "Chair yoga class"])
@pytest.mark.parametrize("hook", ["order-sign", "order-select"])
def test_a_physiotherapy_order_by_its_catalogue_abbreviation_is_still_deferred(
    hook: str, order_name: str
) -> None:
    """Order catalogues name physiotherapy "PT": at a hold it gets the card and its cancellation."""
    case, request = _request(hook, platelets=15, order_name=order_name)
    (card,) = _ex04(case, request)
    assert card["summary"].endswith(f"defer {order_name}")
    assert [c["resourceId"] for s in _cancellations(card) for c in s["actions"]] == [PHYSIO_DRAFT]


@pytest.mark.parametrize("hook", ["order-sign", "order-select"])
def test_an_order_sent_with_a_code_and_no_name_is_named_by_its_code(hook: str) -> None:
    """A SNOMED-coded exercise-therapy order with no display: the card says which draft (its code) and that
    the code was not recognised, rather than an 'unnamed draft order' the clinician cannot place."""
    case, request = _request(hook, platelets=15)
    (draft,) = [
        e["resource"]
        for e in request["context"]["draftOrders"]["entry"]
        if e["resource"]["id"] in PHYSIO_DRAFT
    ]
    draft["code"] = {"coding": [{"system": "http://snomed.info/sct", "code": "229065009"}]}
    (card,) = _ex04(case, request)
    assert card["summary"].endswith("defer an unnamed draft order (SNOMED CT 229065009, not recognised)")
    assert "Draft order (SNOMED CT 229065009, not recognised) may load the bone" in card["detail"]
    (cancel,) = _cancellations(card)
    assert cancel["label"] == "Cancel the unnamed draft order (SNOMED CT 229065009)"
    assert [a["resourceId"] for a in cancel["actions"]] == [PHYSIO_DRAFT]


@pytest.mark.parametrize("order_name", ["Complete blood count", "MRI thoracic spine", "PT/INR"])
def test_a_blood_test_or_scan_while_exercise_is_on_hold_goes_ahead_without_it(order_name: str) -> None:
    assert _ex04(*_request("order-sign", platelets=15, order_name=order_name)) == []


@pytest.mark.parametrize("hook", ["order-sign", "order-select"])
def test_medication_drafts_alone_stay_silent(hook: str) -> None:
    assert _ex04(*_request(hook, platelets=15, order_name=None)) == []


def test_a_physiotherapy_order_not_selected_is_not_in_focus() -> None:
    assert _ex04(*_request("order-select", platelets=15, selected=False)) == []


def test_a_plan_that_is_not_on_hold_says_nothing_before_the_order() -> None:
    assert _ex04(*_request("order-sign")) == []


def test_patient_view_shows_the_plan_not_this_card() -> None:
    case, request = _request("patient-view", platelets=15)
    cards = answer(case, request)["cards"]
    assert not [c for c in cards if "EX04" in c["extension"]["org.fhir-bonemet.rules"]]
    assert [c["summary"] for c in cards if "EX01" in c["extension"]["org.fhir-bonemet.rules"]] == [
        "Exercise on hold (critical cytopenia; platelets 15 ×10⁹/L): functional mobility only until reviewed"
    ]
    # The CarePlan offered beside it gives the count its unit too.
    (careplan,) = [
        action["resource"]
        for card in cards
        for suggestion in card.get("suggestions", [])
        for action in suggestion["actions"]
        if action.get("resource", {}).get("resourceType") == "CarePlan"
    ]
    held = [
        a["detail"]["description"] for a in careplan["activity"] if "On hold:" in a["detail"]["description"]
    ]
    assert held
    assert all("On hold: critical cytopenia (R08); platelets 15 ×10⁹/L." in d for d in held)


def _accepted_on_patient_view(ecog: int) -> list[Json]:
    """The resources of every create suggestion patient-view offers the example patient at ``ecog``: what a
    clinician who accepts them sends back among the draft orders."""
    case = _case("patient-view")
    request = copy.deepcopy(case.request)
    _ecog(request, ecog)
    cards: list[Json] = answer(case, request)["cards"]
    return [
        action["resource"]
        for card in cards
        for suggestion in card.get("suggestions", [])
        for action in suggestion["actions"]
        if action["type"] == "create"
    ]


def test_the_services_own_suggestions_accepted_and_signed_bring_no_warning_about_themselves() -> None:
    # ECOG 3: patient-view proposes a physiotherapy referral (ADL and mobility upkeep) and the CarePlan.
    # Signed, they must not come back as an order the plan advises against: they are the plan's own.
    accepted = _accepted_on_patient_view(3)
    kinds = sorted(r["resourceType"] for r in accepted)
    assert "CarePlan" in kinds
    assert any("physiotherapy" in r.get("code", {}).get("text", "").lower() for r in accepted)
    case, request = _request("order-sign", order_name=None)
    _ecog(request, 3)
    for number, resource in enumerate(accepted):
        request["context"]["draftOrders"]["entry"].append(
            {"resource": {**resource, "id": f"accepted-{number}"}}
        )
    cards: list[Json] = answer(case, request)["cards"]
    assert _ex04(case, request) == []
    assert [c for c in cards if "may load the bone" in c["detail"]] == []


def test_a_physiotherapy_order_placed_by_hand_for_the_same_patient_still_gets_the_card() -> None:
    case, request = _request("order-sign")
    _ecog(request, 3)
    assert len(_ex04(case, request)) == 1


def _calcium_hold(request: Json, _today: date) -> None:
    _lab(request, CALCIUM, 3.2, "mmol/L")


LONG_PHYSIO_NAME = f"{PHYSIO_NAME}, lower limbs"


@pytest.mark.parametrize("hook", ["order-sign", "order-select"])
@pytest.mark.parametrize(
    ("order_name", "changes", "named"),
    [
        # One calcium hold: "corrected Ca 3.20 mmol/L (12.8 mg/dL)" left no room for a longer order name.
        (LONG_PHYSIO_NAME, [_calcium_hold], "hypercalcaemia; corrected Ca 3.20 mmol/L"),
        # Two hold reasons and the calcium in mmol/L: the summary ended "...(12.8 mg/dL)): defer…".
        (
            PHYSIO_NAME,
            [_calcium_hold, lambda r, _d: _lab(r, HAEMOGLOBIN, 6.5)],
            "hypercalcaemia; critical cytopenia and 2 more",
        ),
        (
            PHYSIO_NAME,
            [_calcium_hold, _fever],
            "hypercalcaemia; fever; corrected Ca 3.20 mmol/L (12.8 mg/dL)",
        ),
    ],
)
def test_a_calcium_hold_in_mmol_per_litre_still_names_the_order_to_defer(
    hook: str, order_name: str, changes: list[Any], named: str
) -> None:
    """The summary says why in as few words as it must and always what to do; the detail names every gate
    that holds in full."""
    case, request = _request(hook, order_name=order_name)
    for change in changes:
        change(request, case.today)
    (card,) = _ex04(case, request)
    assert card["summary"] == f"Exercise on hold ({named}): defer {order_name}"
    assert len(card["summary"]) < 140
    assert "- Corrected calcium (computed from albumin) 3.20 mmol/L (12.8 mg/dL): hold" in card["detail"]


def test_the_plan_card_keeps_what_to_do_when_two_holds_fill_its_summary() -> None:
    case, request = _request("patient-view")
    _calcium_hold(request, case.today)
    _lab(request, HAEMOGLOBIN, 6.5)
    cards = answer(case, request)["cards"]
    (summary,) = [c["summary"] for c in cards if "EX01" in c["extension"]["org.fhir-bonemet.rules"]]
    assert summary.startswith("Exercise on hold (hypercalcaemia; critical cytopenia")
    assert summary.endswith("): functional mobility only until reviewed")
    assert len(summary) < 140
