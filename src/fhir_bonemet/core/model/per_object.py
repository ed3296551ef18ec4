"""What is worked out from a long-lived object, remembered per object by identity.

The service's knowledge (the evidence source catalogue, the thresholds, the settings) is loaded once at
start-up and never changed, yet hook calls ask for tables made from it on every call.  :func:`per_object`
makes each table once per object.  Objects are told apart by identity, not equality (they may be unhashable,
and comparing them would cost what the table saves); each entry keeps its object alive, so its ``id`` is
never reused by another while the entry stands.  Tests build many such objects: past ``limit`` the memory is
cleared and rebuilt as asked.

Standard library only: part of the pure core.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

__all__ = ["per_object"]

_K = TypeVar("_K")
_V = TypeVar("_V")


def per_object(build: Callable[[_K], _V], *, limit: int = 64) -> Callable[[_K], _V]:
    """``build``, remembered for each object it was given (see the module docstring)."""
    known: dict[int, tuple[_K, _V]] = {}

    def remembered(obj: _K) -> _V:
        entry = known.get(id(obj))
        if entry is not None and entry[0] is obj:
            return entry[1]
        value = build(obj)
        if len(known) >= limit:
            known.clear()
        known[id(obj)] = (obj, value)
        return value

    remembered.__doc__ = build.__doc__
    return remembered
