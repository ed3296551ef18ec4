"""A per-call index of :class:`PatientFacts` by concept, built once and shared by the rule modules.

The rules ask "newest platelet count", "SINS of this lesion", "radiotherapy procedures" dozens of times
per patient; scanning a 1,000-resource record for each question would dominate the reasoning time.  The
index groups facts by concept once, with observations sorted newest first exactly as
:func:`fhir_bonemet.core.model.queries.observations` sorts them, so both give the same answers.

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from datetime import date, datetime
from operator import attrgetter
from typing import Any, TypeVar

from fhir_bonemet.core.model.facts import ConditionFact, ObservationFact, PatientFacts, ProcedureFact
from fhir_bonemet.core.model.queries import within_days

__all__ = ["FactIndex", "instant"]


_EPOCH = datetime(1970, 1, 1)


def instant(when: datetime) -> float:
    """Seconds since the epoch; a time without an offset is read as UTC, never as the server's zone."""
    if when.tzinfo is None:
        return (when - _EPOCH).total_seconds()
    return when.timestamp()


def _newest_first(obs: ObservationFact) -> tuple[bool, float, str]:
    return (obs.effective is not None, instant(obs.effective) if obs.effective else 0.0, obs.ref)


_BY_REF = attrgetter("ref")
_BY_TIME = attrgetter("effective")


def _sort_newest_first(group: list[ObservationFact]) -> None:
    """Newest first, undated last, ties by reference: the order of ``select.observations``.

    Two stable sorts (by reference, then by time) give that order far more cheaply than one sort on a
    composite key, which matters for records with hundreds of results; the first is needed only when two
    results share a time, which a set of the times tells more cheaply still.  The usual case, every
    result dated with comparable times, is tried first: sorting a list of two or more compares every
    element, so an undated result (None) or a mixture of offset and offset-free times always raises
    TypeError there, and then the list (left in some permutation by the failed sort) is ordered the slow
    way.
    """
    if len(group) < 2:  # most groups of a short record hold one result: in order already
        return
    if len(set(map(_BY_TIME, group))) < len(group):
        group.sort(key=_BY_REF, reverse=True)  # equal times: newest reference first
    try:
        group.sort(key=_BY_TIME, reverse=True)
        return
    except TypeError:
        group.sort(key=_BY_REF, reverse=True)
    try:
        # Undated results go last: they are never "recent".
        dated = [o for o in group if o.effective is not None]
        undated = [o for o in group if o.effective is None]
        dated.sort(key=_BY_TIME, reverse=True)
        group[:] = dated + undated
    except TypeError:  # offset and offset-free times mixed: compare them as instants
        group.sort(key=_newest_first, reverse=True)


T = TypeVar("T")

# What a memo holds before its value is computed (None is a value a computation may give).
_NOT_YET: Any = object()


class FactIndex:
    """Read-only views of one patient's facts grouped by concept id, plus a per-call memo.

    Observation groups are sorted on first use only: a record holds many results no rule reads.  The
    memo lets rule modules share derived values (per-lesion evidence, corrected calcium) within one
    assessment; an index lives for one call, so nothing is ever shared between patients or days.
    """

    __slots__ = ("_conditions", "_memo", "_observations", "_procedures", "_sorted", "facts")

    def __init__(self, facts: PatientFacts) -> None:
        self.facts = facts
        # This loop runs over every observation of the record: defaultdict does the grouping in C.
        obs: defaultdict[str, list[ObservationFact]] = defaultdict(list)
        for o in facts.observations:
            obs[o.concept].append(o)
        self._observations = dict(obs)
        # The concepts whose group is sorted so far (each is sorted where it lies, on first use).
        self._sorted: set[str] = set()
        conds: dict[str, list[ConditionFact]] = {}
        for cond in sorted(facts.conditions, key=_BY_REF):
            for concept in cond.concepts:
                conds.setdefault(concept, []).append(cond)
        self._conditions = conds
        procs: dict[str, list[ProcedureFact]] = {}
        for proc in sorted(facts.procedures, key=_BY_REF):
            if proc.status == "entered-in-error":
                continue
            for concept in proc.concepts:
                procs.setdefault(concept, []).append(proc)
        self._procedures = procs
        self._memo: dict[Hashable, Any] = {}

    def observations(self, concept: str) -> Sequence[ObservationFact]:
        """Observations of ``concept``, newest first; undated ones last."""
        # The group first: of the some fifty concepts the rules ask about per call, most have no result.
        group = self._observations.get(concept)
        if group is None:
            return ()
        if concept not in self._sorted:
            _sort_newest_first(group)
            self._sorted.add(concept)
        return group

    def memo(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()`` once per key for the life of this index (one assessment)."""
        found: T = self._memo.get(key, _NOT_YET)
        if found is _NOT_YET:
            found = self._memo[key] = compute()
        return found

    def latest(self, concept: str, today: date, max_age_days: float) -> ObservationFact | None:
        for obs in self.observations(concept):
            if within_days(obs.effective, today, max_age_days):
                return obs
        return None

    def answered_yes(
        self, concepts: Sequence[str], today: date, max_age_days: float, *, undated_yes: bool = False
    ) -> list[ObservationFact]:
        """Yes/no findings whose newest answer within the lookback is "yes" (a later "no" clears one).

        With ``undated_yes``, a concept that no dated answer within the lookback settles counts if it has a
        "yes" recorded without any date (its first one), listed after the dated answers."""
        present: list[ObservationFact] = []
        undated: list[ObservationFact] = []
        for concept in concepts:
            answers = self.observations(concept)
            # A plain loop rather than next() over a generator: most concepts have no answer at all.
            for o in answers:
                if o.flag is not None and within_days(o.effective, today, max_age_days):
                    if o.flag:
                        present.append(o)
                    break
            else:
                if undated_yes:
                    for o in answers:  # undated answers come last: the walk above reached them unsettled
                        if o.effective is None and o.flag is True:
                            undated.append(o)
                            break
        return present + undated if undated else present

    def conditions(self, concept: str) -> Sequence[ConditionFact]:
        """Conditions carrying ``concept`` (any clinical status), by reference."""
        return self._conditions.get(concept, ())

    def procedures(self, concept: str) -> Sequence[ProcedureFact]:
        """Procedures carrying ``concept``, by reference; entered-in-error records are left out."""
        return self._procedures.get(concept, ())
