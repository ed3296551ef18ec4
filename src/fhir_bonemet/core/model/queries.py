"""Small, shared queries over :class:`PatientFacts` used by every rule module.

Kept in one place so that "within the lookback" and "active medication" mean the same thing
in every rule.  Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache

from fhir_bonemet.core.model.facts import (
    ConditionFact,
    MedicationFact,
    ObservationFact,
    PatientFacts,
    ProcedureFact,
)

# Statuses under which a medication counts as currently taken (docs/clinical-model.md#medications):
# MedicationRequest active; MedicationStatement active or intended.  Draft orders in the hook context
# are evaluated as if active (order-select / order-sign).
# "unknown" counts as taken: an unknown status (or one that could not be read) is not evidence that the
# drug was stopped, and the checks that need it (doses, interactions, sedation) are the cautious ones.
ACTIVE_REQUEST_STATUSES = frozenset({"active", "unknown"})
ACTIVE_STATEMENT_STATUSES = frozenset({"active", "intended", "unknown"})


def obs_date(obs: ObservationFact) -> date | None:
    return obs.effective.date() if obs.effective is not None else None


@lru_cache(maxsize=256)
def _window(today: date, days: float) -> tuple[date, date]:
    # The rules ask about a handful of (today, lookback) pairs hundreds of times per call.
    return today - timedelta(days=days), today + timedelta(days=1)


def within_days(when: date | datetime | None, today: date, days: float) -> bool:
    """True when ``when`` is known, at most ``days`` old and not in the future (one day of skew allowed)."""
    if when is None:
        return False
    day = when.date() if isinstance(when, datetime) else when
    oldest, newest = _window(today, days)
    return oldest <= day <= newest


def noted_on(cond: ConditionFact, today: date) -> date | None:
    """When a condition began (or was recorded), for "is it recent?": never after ``today``.

    A partial date is read as the last day it could mean ("2026-12" as 31 December), the cautious reading
    of "how recent"; in the current month or year that day is still to come, and was then taken for a
    future date, which no window counts: a cord compression dated "2026-12" lost its red flag.  A condition
    sent today began by today.
    """
    when = cond.onset or cond.recorded
    return min(when, today) if when is not None else None


def observations(facts: PatientFacts, concept: str) -> list[ObservationFact]:
    """All observations of a concept, newest first; undated ones last (never treated as recent)."""
    found = [o for o in facts.observations if o.concept == concept]
    return sorted(
        found,
        key=lambda o: (o.effective is not None, o.effective.timestamp() if o.effective else 0.0, o.ref),
        reverse=True,
    )


def is_active(med: MedicationFact, today: date) -> bool:
    """Currently taken: active status (or a draft order under review) and not past its end date."""
    if med.is_draft:
        return True
    allowed = ACTIVE_STATEMENT_STATUSES if med.source == "MedicationStatement" else ACTIVE_REQUEST_STATUSES
    if med.status not in allowed:
        return False
    return med.end is None or med.end >= today


def active_meds(facts: PatientFacts, today: date, *classes: str) -> list[MedicationFact]:
    """Active medications in any of ``classes`` (all active medications when none are given)."""
    wanted = set(classes)
    return [m for m in facts.medications if is_active(m, today) and (not wanted or wanted & m.classes)]


def has_active(facts: PatientFacts, today: date, *classes: str) -> bool:
    return bool(active_meds(facts, today, *classes))


def procedures(facts: PatientFacts, concept: str) -> list[ProcedureFact]:
    return [p for p in facts.procedures if concept in p.concepts and p.status != "entered-in-error"]
