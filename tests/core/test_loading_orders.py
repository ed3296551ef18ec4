"""Which draft orders may load the bone (core/evidence/loading_orders.py)."""

from __future__ import annotations

import pytest

from fhir_bonemet.core.evidence.loading_orders import loading_orders
from fhir_bonemet.core.model.facts import OrderFact


def _order(
    resource_type: str = "ServiceRequest",
    display: str | None = "Physiotherapy",
    *,
    proposed_here: bool = False,
) -> OrderFact:
    return OrderFact(
        ref=f"{resource_type}/draft",
        resource_type=resource_type,
        concepts=frozenset(),
        display=display,
        proposed_here=proposed_here,
    )


@pytest.mark.parametrize("resource_type", ["ServiceRequest", "DeviceRequest"])
def test_a_physiotherapy_order_or_a_walking_aid_may_load_the_bone(resource_type: str) -> None:
    assert loading_orders([_order(resource_type)])
    assert loading_orders([_order(resource_type, display="Walking frame")])


@pytest.mark.parametrize("resource_type", ["CarePlan", "Communication", "Task"])
def test_a_plan_or_a_message_among_the_drafts_is_no_order_for_the_body(resource_type: str) -> None:
    assert loading_orders([_order(resource_type, display=None)]) == ()


def test_an_order_this_service_proposed_is_not_warned_about() -> None:
    assert loading_orders([_order(proposed_here=True)]) == ()


def test_an_unnamed_order_may_load_the_bone_and_a_named_blood_test_does_not() -> None:
    assert loading_orders([_order(display=None)])
    assert loading_orders([_order(display="Complete blood count")]) == ()
