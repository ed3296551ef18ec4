"""A per-call index of :class:`PatientFacts` by concept, built once and shared by the rule modules.

The rules ask "newest platelet count", "SINS of this lesion", "radiotherapy procedures" dozens of times
per patient; scanning a 1,000-resource record for each question would dominate the reasoning time.  The
index groups facts by concept once, with observations sorted newest first exactly as
:func:`fhir_bonemet.core.select.observations` sorts them, so both give the same answers.

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

from fhir_bonemet.core.facts import ConditionFact, ObservationFact, PatientFacts, ProcedureFact
from fhir_bonemet.core.select import within_days

__all__ = ["FactIndex", "instant"]


def instant(when: datetime) -> float:
    """Seconds since the epoch; a time without an offset is read as UTC, never as the server's zone."""
    return (when.replace(tzinfo=UTC) if when.tzinfo is None else when).timestamp()


def _newest_first(obs: ObservationFact) -> tuple[bool, float, str]:
    return (obs.effective is not None, instant(obs.effective) if obs.effective else 0.0, obs.ref)


class FactIndex:
    """Read-only views of one patient's facts grouped by concept id."""

    __slots__ = ("_conditions", "_observations", "_procedures", "facts")

    def __init__(self, facts: PatientFacts) -> None:
        self.facts = facts
        obs: dict[str, list[ObservationFact]] = {}
        for o in facts.observations:
            obs.setdefault(o.concept, []).append(o)
        for group in obs.values():
            group.sort(key=_newest_first, reverse=True)
        self._observations = obs
        conds: dict[str, list[ConditionFact]] = {}
        for cond in sorted(facts.conditions, key=lambda x: x.ref):
            for concept in cond.concepts:
                conds.setdefault(concept, []).append(cond)
        self._conditions = conds
        procs: dict[str, list[ProcedureFact]] = {}
        for proc in sorted(facts.procedures, key=lambda x: x.ref):
            if proc.status == "entered-in-error":
                continue
            for concept in proc.concepts:
                procs.setdefault(concept, []).append(proc)
        self._procedures = procs

    def observations(self, concept: str) -> Sequence[ObservationFact]:
        """Observations of ``concept``, newest first; undated ones last."""
        return self._observations.get(concept, ())

    def latest(self, concept: str, today: date, max_age_days: float) -> ObservationFact | None:
        for obs in self.observations(concept):
            if within_days(obs.effective, today, max_age_days):
                return obs
        return None

    def conditions(self, concept: str) -> Sequence[ConditionFact]:
        """Conditions carrying ``concept`` (any clinical status), by reference."""
        return self._conditions.get(concept, ())

    def procedures(self, concept: str) -> Sequence[ProcedureFact]:
        """Procedures carrying ``concept``, by reference; entered-in-error records are left out."""
        return self._procedures.get(concept, ())
