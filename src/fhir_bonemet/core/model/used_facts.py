"""Small helpers that turn facts into the traceable pieces of a finding: used facts, dates and numbers.

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from fhir_bonemet.core.evidence.lesions import Attributed
from fhir_bonemet.core.model.facts import ConditionFact, MedicationFact, ObservationFact, ProcedureFact
from fhir_bonemet.core.model.findings import UsedFact
from fhir_bonemet.core.model.thresholds import Thresholds

__all__ = [
    "ACTIVE_STATUSES",
    "defaults_in",
    "iso",
    "med_label",
    "med_used",
    "num",
    "used_attr",
    "used_condition",
    "used_obs",
    "used_procedure",
]

# Clinical statuses under which a condition counts as current.  "unknown" counts: an unknown status is
# not evidence that the problem has gone away.
ACTIVE_STATUSES = frozenset({"active", "recurrence", "relapse", "unknown"})


def iso(when: date | datetime | None) -> str | None:
    if when is None:
        return None
    return (when.date() if isinstance(when, datetime) else when).isoformat()


def num(value: float) -> str:
    """A score or lab value as clinicians write it: 14, 7.5, 0.42."""
    return f"{value:g}"


def used_obs(label: str, obs: ObservationFact) -> UsedFact:
    if obs.quantity is not None:
        value = f"{num(obs.quantity.value)} {obs.quantity.unit}".replace(" {score}", "")
    elif obs.code is not None:
        value = obs.code
    elif obs.flag is not None:
        value = "yes" if obs.flag else "no"
    else:
        value = "recorded"
    return UsedFact(label=label, value=value, ref=obs.ref, when=iso(obs.effective))


def used_condition(label: str, cond: ConditionFact) -> UsedFact:
    return UsedFact(
        label=label, value=cond.clinical_status, ref=cond.ref, when=iso(cond.onset or cond.recorded)
    )


def used_procedure(label: str, proc: ProcedureFact) -> UsedFact:
    return UsedFact(label=label, value=proc.status, ref=proc.ref, when=iso(proc.performed))


def used_attr(label: str, fact: Attributed) -> UsedFact:
    if fact.value is not None:
        value = num(fact.value)
    elif fact.code is not None:
        value = fact.code
    elif fact.flag is not None:
        value = "yes" if fact.flag else "no"
    else:
        value = fact.status or "recorded"
    return UsedFact(label=label, value=value, ref=fact.ref, when=iso(fact.when))


def med_label(med: MedicationFact) -> str:
    return med.display or " / ".join(med.ingredients) or med.ref


def med_used(med: MedicationFact) -> UsedFact:
    state = "draft order" if med.is_draft else f"{med.status} ({med.source})"
    return UsedFact(med_label(med), state, med.ref, med.start.isoformat() if med.start else None)


def defaults_in(th: Thresholds, keys: Iterable[str]) -> tuple[str, ...]:
    """The threshold keys among ``keys`` that are service defaults (cards label them as such)."""
    return tuple(sorted({k for k in keys if th[k].is_default}))
