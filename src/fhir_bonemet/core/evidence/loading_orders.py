"""Draft orders that may load the skeleton: where an impending fracture matters at order entry.

An exercise, physiotherapy, rehabilitation or mobility order (a walking aid, getting the patient up) puts
weight through the bones; a medicine does not.  The service reads medication drafts apart, and recognises a
few other orders by their code (a dental examination, a surgical review, radiotherapy, a fixation), none of
which is an exercise or mobility order.  It has no list of exercise or mobility codes, so every other draft
in focus is one it cannot tell from such an order, and it is taken as one: the cautious reading.

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

from collections.abc import Iterable

from fhir_bonemet.core.model.facts import OrderFact

__all__ = ["loading_orders"]


def loading_orders(orders: Iterable[OrderFact]) -> tuple[OrderFact, ...]:
    """The non-medication draft orders among ``orders`` that may load the bone: those whose code the
    service does not recognise as another kind of order."""
    return tuple(o for o in orders if not o.concepts)
