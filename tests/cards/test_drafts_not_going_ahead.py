"""A draft order whose status says it is not going ahead (cancelled, stopped, completed, revoked, entered
in error) is no order the clinician is making: order-sign may re-send it beside the orders being signed,
and counted it raised combination, duplicate, dose and loading cards about a drug or a service that will
not be given.  It is left out and said, as a note in the response's read issues; ``draft``, ``active``,
``on-hold``, ``unknown`` or no status keep it counted.  Fired through the HTTP app on the example patients."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hook_answers import HookCase, answer, draft_physio_order, example_cases

Json = dict[str, Any]
READ_ISSUES = "org.fhir-bonemet.read-issues"


def _case(scenario: str, hook: str) -> HookCase:
    return next(c for c in example_cases() if c.name == f"example:{scenario}" and c.hook == hook)


def _rules(body: Json) -> set[str]:
    return {rule for card in body["cards"] for rule in card["extension"]["org.fhir-bonemet.rules"]}


def _gabapentin_drafted(hook: str, status: str | None) -> tuple[HookCase, Json]:
    """Gabapentin drafted for a patient on an opioid and a benzodiazepine, with the draft's status."""
    case = _case("opioid-benzodiazepine", hook)
    request = copy.deepcopy(case.request)
    [entry] = request["context"]["draftOrders"]["entry"]
    if status is None:
        del entry["resource"]["status"]
    else:
        entry["resource"]["status"] = status
    return case, request


@pytest.mark.parametrize("hook", ["order-sign", "order-select"])
@pytest.mark.parametrize("status", ["cancelled", "stopped", "completed", "entered-in-error"])
def test_a_medication_draft_not_going_ahead_raises_no_card_and_is_said(hook: str, status: str) -> None:
    case, request = _gabapentin_drafted(hook, status)
    body = answer(case, request)
    assert "R09" not in _rules(body)  # no opioid + benzodiazepine + gabapentinoid card
    assert {
        "location": "MedicationRequest/draft-gabapentin.status",
        "message": f"a draft order with status '{status}' is not going ahead; not counted as an order",
        "severity": "information",
    } in body["extension"][READ_ISSUES]


@pytest.mark.parametrize("status", ["draft", "active", "on-hold", "unknown", None])
def test_a_medication_draft_still_going_ahead_is_counted(status: str | None) -> None:
    case, request = _gabapentin_drafted("order-sign", status)
    assert "R09" in _rules(answer(case, request))


def _physio_with_low_platelets(status: str) -> tuple[HookCase, Json]:
    """A physiotherapy order drafted while the exercise plan is on hold (platelets 15 ×10⁹/L)."""
    case = _case("rib-blastic-ecog1", "order-sign")
    request = copy.deepcopy(case.request)
    for entry in request["prefetch"]["observations-labs"]["entry"]:
        if any(coding["code"] == "777-3" for coding in entry["resource"]["code"]["coding"]):
            entry["resource"]["valueQuantity"]["value"] = 15
    draft_physio_order(request, "Physiotherapy: progressive resistance exercise")
    request["context"]["draftOrders"]["entry"][-1]["resource"]["status"] = status
    return case, request


def test_a_revoked_service_order_is_not_a_loading_order_to_cancel() -> None:
    """EX04 offered to cancel a physiotherapy order that was already revoked."""
    case, request = _physio_with_low_platelets("revoked")
    body = answer(case, request)
    assert "EX04" not in _rules(body)
    assert {
        "location": "ServiceRequest/draft-physio.status",
        "message": "a draft order with status 'revoked' is not going ahead; not counted as an order",
        "severity": "information",
    } in body["extension"][READ_ISSUES]
    case, request = _physio_with_low_platelets("draft")
    assert "EX04" in _rules(answer(case, request))
