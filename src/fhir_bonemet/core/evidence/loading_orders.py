"""Draft orders that may load the skeleton: where an impending fracture matters at order entry.

An exercise, physiotherapy, rehabilitation or mobility order (a ServiceRequest, or a DeviceRequest for
exercise equipment) puts weight through the bones; a medicine, a laboratory test or an imaging study does not.
The service reads medication drafts apart, and recognises a few other orders by their code (a dental
examination, a surgical review, radiotherapy, a fixation), none of which loads the bone.  Exercise and
mobility orders have no standard code list: a hospital maps its own order codes onto the project concept
``bone-loading-order`` with a ConceptMap (docs/integration.md §3), and such an order may load the bone
whatever its name.  Otherwise the service reads the name the order carries: one that names such an activity
may load the bone, and so may an order with no name it can read (nothing says what it is: the cautious
reading).  A walking aid (crutches, a walking frame, a rollator, a stick) is no such order: it takes weight
off the bone, and is how the protected weight-bearing asked for at an impending fracture is given, so a
warning to defer it would argue against the advice it carries out; an order that names an activity beside the
aid (gait training with a frame) still may load the bone.  An order named as something else (a blood count, an
MRI) is not taken for one: a warning before every laboratory or imaging order would bury the one before the
physiotherapy order.  An order this service proposed itself (its physiotherapy referral, accepted from a card)
is not warned about: it was made from the same record, with the plan's restrictions.

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.facts import OrderFact

__all__ = ["draft_order_label", "loading_orders"]

# Stems of the words that name an activity putting weight through the skeleton, in an order's code text or
# display (lower case): exercise and training, physiotherapy, rehabilitation, mobility, and exercise classes.
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
    "pilates",
    "yoga",
    "tai chi",
)

# The abbreviations order catalogues name physiotherapy and occupational therapy by ("PT eval and treat",
# "PT/OT consult", "Referral to PT", "Outpatient PT"): "pt" or "ot" as a word, with an order word after it, a
# second therapy, or nothing.  "PT/INR" or "Prothrombin time (PT)" (a clotting test) is no such order.
_THERAPY_ABBREVIATION = re.compile(
    r"\b(?:pt|ot)\b(?=\s*(?:/\s*(?:pt|ot)\b|&|and\b|eval|assess|consult|referral|treat|therapy|session|"
    r"program|plan|$))|\bto\s+(?:pt|ot)\b"
)

# Phrases that name a walking aid (lower case), taken out of an order's name before the words above are read:
# "walking frame" says "walk", yet the frame offloads the bone; what is left ("gait training with ") is read.
_WALKING_AID_PHRASES = (
    "walking frame",
    "zimmer frame",
    "walking aid",
    "walking stick",
    "walker",
    "rollator",
    "crutches",
    "crutch",
    "cane",
    "wheelchair",
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
    for aid in _WALKING_AID_PHRASES:
        name = name.replace(aid, " ")
    return any(word in name for word in _LOADING_WORDS) or _THERAPY_ABBREVIATION.search(name) is not None


def draft_order_label(order: OrderFact) -> str:
    """ "Draft order (Physiotherapy)", as the cards list it among what they used; one with a code but no name
    by its code, said not to be recognised ("Draft order (SNOMED CT 229065009, not recognised)")."""
    if order.display and order.display.strip():
        return f"Draft order ({order.display.strip()})"
    if order.coded_as:
        return f"Draft order ({order.coded_as}, not recognised)"
    return "Draft order (no name)"
