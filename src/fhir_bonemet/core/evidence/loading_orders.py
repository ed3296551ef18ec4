"""Draft orders that may load the skeleton: where an impending fracture matters at order entry.

An exercise, physiotherapy, rehabilitation or mobility order (a ServiceRequest, or a DeviceRequest for a
walking aid) puts weight through the bones; a medicine, a laboratory test or an imaging study does not.  The
service reads medication drafts apart, and recognises a few other orders by their code (a dental examination,
a surgical review, radiotherapy, a fixation), none of which loads the bone.  Exercise and mobility orders have
no standard code list: a hospital maps its own order codes onto the project concept ``bone-loading-order``
with a ConceptMap (docs/integration.md §3), and such an order may load the bone whatever its name.  Otherwise
the service reads the name the order carries: one that names such an activity may load the bone, and so may an
order with no name it can read (nothing says what it is: the cautious reading).  An order named
as something else (a blood count, an MRI) is not taken for one: a warning before every laboratory or imaging
order would bury the one before the physiotherapy order.  An order this service proposed itself (its
physiotherapy referral, accepted from a card) is not warned about: it was made from the same record, with the
plan's restrictions.

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

from collections.abc import Iterable

from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.facts import OrderFact

__all__ = ["loading_orders"]

# Stems of the words that name an activity putting weight through the skeleton, in an order's code text or
# display (lower case): exercise and training, physiotherapy, rehabilitation, mobility and its aids.
_LOADING_WORDS = (
    "exercis",
    "physio",
    "physical therap",
    "occupational therap",
    "rehab",
    "mobili",
    "ambulat",
    "gait",
    "walk",
    "strength",
    "resistance training",
    "aerobic",
    "hydrotherap",
    "weight bearing",
    "weight-bearing",
    "crutch",
)


def loading_orders(orders: Iterable[OrderFact]) -> tuple[OrderFact, ...]:
    """The non-medication draft orders among ``orders`` that may load the bone (see the module text)."""
    return tuple(o for o in orders if _may_load(o))


# What a clinician orders for the body: a service (physiotherapy, an exercise programme) or a device (a
# walking aid).  A CarePlan, a Communication or a Task among the drafts is not itself such an order.
_ORDER_TYPES = frozenset({"ServiceRequest", "DeviceRequest"})


def _may_load(order: OrderFact) -> bool:
    if order.resource_type not in _ORDER_TYPES:
        return False
    if order.proposed_here:
        # This service proposed it (a physiotherapy referral on the exercise card), from this same record
        # and with the plan's restrictions: a warning about it would contradict the suggestion just taken.
        return False
    if c.BONE_LOADING_ORDER in order.concepts:  # the hospital's map says so, whatever the name
        return True
    if order.concepts:  # recognised by its code as an order that loads no bone
        return False
    if order.display is None or not order.display.strip():
        return True
    name = order.display.lower()
    return any(word in name for word in _LOADING_WORDS)
