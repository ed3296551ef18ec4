"""Accepting a card's suggestions changes what the service says: no card comes back unchanged.

Each example patient is fired on every hook through the HTTP app; every card's suggestions are accepted
(the recommended one where the card allows at most one), their actions applied as an EHR would, and the hook
fired again:

* on order-select / order-sign the actions change ``context.draftOrders``: *delete* removes the draft,
  *update* replaces it, *create* adds the new draft order (and selects it on order-select);
* when that cancels every selected order, the call that follows is order-sign for the other drafts;
* on patient-view the created drafts (referrals, the CarePlan) are the pending orders of the ``order-sign``
  call that follows when the clinician signs them.

A card whose suggestions were applied must not come back with the same summary, detail and suggestions.
The pain vignettes with draft orders are run the same way.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class
from hook_answers import HookCase, example_cases, fire, pain_vignette_cases

Json = dict[str, Any]
CASES = [*example_cases(), *(c for c in pain_vignette_cases() if c.hook != "patient-view")]


def _accepted(card: Json) -> list[Json]:
    suggestions: list[Json] = card.get("suggestions", [])
    if card.get("selectionBehavior") == "at-most-one" and suggestions:
        return [next((s for s in suggestions if s.get("isRecommended")), suggestions[0])]
    return suggestions


def _ref(resource: Json) -> str:
    return f"{resource['resourceType']}/{resource['id']}"


def _apply(request: Json, cards: list[Json]) -> Json:
    follow_up = copy.deepcopy(request)
    follow_up["hookInstance"] = str(uuid.uuid4())
    context = follow_up["context"]
    if request["hook"] == "patient-view":
        follow_up["hook"] = "order-sign"
        context["draftOrders"] = {"resourceType": "Bundle", "type": "collection", "entry": []}
    drafts: list[Json] = [e["resource"] for e in context["draftOrders"]["entry"]]
    selections: list[str] = context.get("selections", [])
    for card in cards:
        for suggestion in _accepted(card):
            for action in suggestion["actions"]:
                if action["type"] == "delete":
                    drafts = [d for d in drafts if _ref(d) != action["resourceId"]]
                    selections = [s for s in selections if s != action["resourceId"]]
                elif action["type"] == "update":
                    new = action["resource"]
                    drafts = [new if _ref(d) == _ref(new) else d for d in drafts]
                elif action["type"] == "create":
                    new = action["resource"]
                    get_fhir_model_class(new["resourceType"]).model_validate(new)
                    new = {"id": new.get("id") or str(uuid.uuid4()), **new}  # the EHR's id for the new draft
                    drafts.append(new)
                    selections.append(_ref(new))
    context["draftOrders"]["entry"] = [{"resource": d} for d in drafts]
    if "selections" in context:
        context["selections"] = selections
        if not selections:  # the selected order was cancelled: what follows is signing the rest
            follow_up["hook"] = "order-sign"
            del context["selections"]
    return follow_up


def _shown(card: Json) -> tuple[Any, ...]:
    labels = tuple(s["label"] for s in card.get("suggestions", []))
    return card["summary"], card["indicator"], card["detail"], labels


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.name}:{c.hook}")
def test_accepting_every_suggestion_never_brings_the_same_card_back(case: HookCase) -> None:
    cards = fire(case)
    acted = [c for c in cards if _accepted(c)]
    again = {_shown(c) for c in fire(case, _apply(case.request, cards))}
    for card in acted:
        assert _shown(card) not in again, (card["summary"], [s["label"] for s in _accepted(card)])


def test_the_examples_offer_real_changes_to_orders() -> None:
    """The check above is only worth something if there are changes to accept: the examples offer a
    cancel, a dose change and a new order."""
    kinds: set[str] = set()
    for case in CASES:
        for card in fire(case):
            for suggestion in card.get("suggestions", []):
                for action in suggestion["actions"]:
                    kinds.add(f"{action['type']}:{action.get('resource', {}).get('resourceType', '')}")
    assert {
        "delete:",
        "update:MedicationRequest",
        "create:MedicationRequest",
        "create:ServiceRequest",
    } <= kinds
