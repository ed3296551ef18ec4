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
def test_a_physiotherapy_order_or_exercise_equipment_may_load_the_bone(resource_type: str) -> None:
    assert loading_orders([_order(resource_type)])
    assert loading_orders([_order(resource_type, display="Exercise bike")])


@pytest.mark.parametrize("resource_type", ["ServiceRequest", "DeviceRequest"])
@pytest.mark.parametrize(
    "name", ["Walking frame", "Elbow crutches", "Rollator walker", "Zimmer frame", "Walking stick (cane)"]
)
def test_a_walking_aid_offloads_the_bone_and_is_not_a_loading_order(resource_type: str, name: str) -> None:
    """The aid is how protected weight-bearing is given at an impending fracture: no warning to defer it."""
    assert loading_orders([_order(resource_type, display=name)]) == ()


def test_an_activity_named_beside_a_walking_aid_still_may_load_the_bone() -> None:
    assert loading_orders([_order(display="Gait training with walking frame")])
    assert loading_orders([_order(display="Physiotherapy: crutch walking")])


@pytest.mark.parametrize("resource_type", ["CarePlan", "Communication", "Task"])
def test_a_plan_or_a_message_among_the_drafts_is_no_order_for_the_body(resource_type: str) -> None:
    assert loading_orders([_order(resource_type, display=None)]) == ()


def test_an_order_this_service_proposed_is_not_warned_about() -> None:
    assert loading_orders([_order(proposed_here=True)]) == ()


def test_an_unnamed_order_may_load_the_bone_and_a_named_blood_test_does_not() -> None:
    assert loading_orders([_order(display=None)])
    assert loading_orders([_order(display="Complete blood count")]) == ()


@pytest.mark.parametrize(
    "name",
    [
        "PT eval and treat",
        "OT evaluation",
        "PT/OT consult",
        "Ambulatory referral to PT",
        "Outpatient PT",
        "Supervised Pilates class",
        "Chair yoga",
        "Tai chi for balance",
    ],
)
def test_a_therapy_abbreviation_or_an_exercise_class_may_load_the_bone(name: str) -> None:
    assert loading_orders([_order(display=name)])


@pytest.mark.parametrize("name", ["PT/INR", "Prothrombin time (PT)", "Optical coherence tomography"])
def test_a_clotting_test_named_pt_is_not_a_loading_order(name: str) -> None:
    assert loading_orders([_order(display=name)]) == ()
