"""Typed R4B elements validated once per process, for the parts of proposed resources that never change.

The CarePlan and the referral ServiceRequests that cards propose are validated as typed
``fhir.resources.R4B`` objects on every call.  Much of them comes straight from the outbound code table
(activity and referral codes, schedules, performers, goal links, categories): the same few dozen elements for
every patient.  :func:`typed_element` validates such an element the first time its exact JSON is seen and
hands back that typed object afterwards, so the resource's validation does the rest of the work only.

The cache key is the element's exact JSON text, so the typed object always stands for exactly the JSON
that is sent.  Callers pass only code-table elements: nothing about a patient is kept between calls.
"""

from __future__ import annotations

import json
from typing import Any

from fhir_core.fhirabstractmodel import FHIRAbstractModel

__all__ = ["typed_element"]

_CACHE: dict[tuple[type[FHIRAbstractModel], str], FHIRAbstractModel] = {}
_CACHE_MAX = 2048  # far more than the code table can produce; a bound all the same


def typed_element(model: type[FHIRAbstractModel], element: Any) -> Any:
    """``element`` as a ``model`` validated from exactly this JSON (once per process).

    Anything but a JSON object is returned as it is, for the enclosing resource's validation to reject.
    Raises pydantic's ``ValidationError`` when the element is not a valid ``model``.
    """
    if not isinstance(element, dict):
        return element
    key = (model, json.dumps(element, ensure_ascii=False, separators=(",", ":")))
    typed = _CACHE.get(key)
    if typed is None:
        typed = model.model_validate(element)
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.clear()
        _CACHE[key] = typed
    return typed
