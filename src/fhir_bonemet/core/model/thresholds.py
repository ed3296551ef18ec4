"""Thresholds the rules compare against, as loaded from the one reviewed data file.

The values live in ``src/fhir_bonemet/knowledge/thresholds.toml``; :mod:`fhir_bonemet.knowledge` reads and
validates that file at start-up and hands a :class:`Thresholds` to the core.  Each entry says where it
comes from: ``evidence`` (with a source id), ``service-default`` (an engineering default, shown as such in
card text) or ``unverified`` (awaiting clinical review).

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

_T = TypeVar("_T")

BASES = ("evidence", "service-default", "unverified")


@dataclass(frozen=True, slots=True)
class Threshold:
    key: str  # "exercise.platelets_hold_below"
    value: float
    unit: str  # UCUM, or "{score}", "d" (days), "h" (hours), "1" (ratio)
    basis: str  # one of BASES
    source: str | None  # evidence id ("S09") when basis is evidence
    note: str = ""
    # label() in the threshold's own unit, formatted once: the rules cite thresholds on every call.
    _cited: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_cited", self._label(self.unit))

    @property
    def is_default(self) -> bool:
        return self.basis == "service-default"

    def label(self, unit: str | None = None) -> str:
        """How card text cites this value: '20 10*9/L (service default)' or '20 10*9/L (S09)'.  ``unit``
        names the value in the unit of the measure it was compared with, where a rule compares a kindred
        measure with it as is (an eGFR against a clearance cut-off: see ``Trace.renal_label``)."""
        return self._cited if unit is None else self._label(unit)

    def _label(self, unit: str) -> str:
        shown = f"{self.value:g} {unit}".strip()
        if self.basis == "service-default":
            return f"{shown} (service default)"
        if self.basis == "unverified":
            return f"{shown} (awaiting clinical review)"
        return f"{shown} ({self.source})" if self.source else shown


class UnknownThresholdError(KeyError):
    """A rule asked for a threshold the data file does not define (caught by the start-up check)."""


class _Values(dict[str, float]):
    """The bare values by key; a key the file does not define raises :class:`UnknownThresholdError`."""

    __slots__ = ()

    def __missing__(self, key: str) -> float:
        raise UnknownThresholdError(key)


class Thresholds(Mapping[str, Threshold]):
    """Read-only mapping key → :class:`Threshold`; ``th.v(key)`` gives the bare value."""

    __slots__ = ("_derived", "_items", "known", "service_defaults", "v")

    # The bare value of a key (UnknownThresholdError for a key the file does not define).  The rules ask
    # for a hundred values per call: v is the value dict's own look-up, with no Python call in between.
    v: Callable[[str], float]

    def __init__(self, items: Mapping[str, Threshold]) -> None:
        self._items = dict(items)
        self.v = _Values((key, t.value) for key, t in self._items.items()).__getitem__
        # Every key, and the keys whose value is a service default (every card relying on one labels it as
        # such): the rules ask about some fifty keys per call, and sets answer for many keys at once.
        self.known = frozenset(self._items)
        self.service_defaults = frozenset(key for key, t in self._items.items() if t.is_default)
        self._derived: dict[Callable[[Thresholds], Any], Any] = {}

    def derived(self, make: Callable[[Thresholds], _T]) -> _T:
        """``make(self)``, worked out once for these thresholds: a text or table that depends on the
        configuration alone (the exercise prescription's stop-and-call lines, its dose table) is the same on
        every call, and was built again on each.  ``make`` must read nothing but the thresholds."""
        try:
            found: _T = self._derived[make]
        except KeyError:
            found = self._derived[make] = make(self)
        return found

    def __getitem__(self, key: str) -> Threshold:
        try:
            return self._items[key]
        except KeyError:
            raise UnknownThresholdError(key) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)
