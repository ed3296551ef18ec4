"""Is the patient pregnant or breast-feeding, and how far on: :func:`pregnancy_state`.

Read from the record alone, never assumed: a pregnancy status that is unknown (or simply not recorded) in a
woman of childbearing age does not make her pregnant.  When the record does say pregnant, conflicting
entries are read cautiously (a later "not pregnant" beside an active pregnancy Condition leaves her
pregnant, and the card says to verify), and the gestational age is the newest one recorded, projected to
today.  With none known the rules say so and assume the later, more cautious weeks where it matters (the
NSAID advice of P41).

A status answered *unknown* (LOINC LA4489-6) is data received, though not an answer: it is not read as
pregnancy, but while no later definite status (pregnant, not pregnant) settles it, the cards of the rules that
read pregnancy name it as they name a status recorded with no answer (:func:`unknown_status`), so a
clinician proposing a bone-modifying agent sees that nobody knew and checks.

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from fhir_bonemet.core.evidence.unreadable import LABELS, NO_ANSWER
from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.fact_index import FactIndex
from fhir_bonemet.core.model.facts import ObservationFact, Sex
from fhir_bonemet.core.model.findings import MissingFact, UsedFact
from fhir_bonemet.core.model.frozen_init import fast_init
from fhir_bonemet.core.model.queries import within_days
from fhir_bonemet.core.model.thresholds import Thresholds
from fhir_bonemet.core.model.used_facts import ACTIVE_STATUSES, iso, num, used_condition, used_obs

__all__ = ["PREGNANCY_CONCEPTS", "PREGNANCY_KEYS", "Pregnancy", "pregnancy_state", "unknown_status"]

PREGNANCY_CONCEPTS = (c.PREGNANCY, c.LACTATION, c.PREGNANCY_STATUS, c.GESTATIONAL_AGE)
# Threshold keys behind pregnancy_state; rules that use it declare these.
PREGNANCY_KEYS = ("pregnancy.record_lookback_days", "pregnancy.term_weeks")


@fast_init
@dataclass(frozen=True, slots=True)
class Pregnancy:
    pregnant: bool
    lactating: bool
    weeks: float | None  # gestational age today (projected from the newest record), None when unknown
    used: tuple[UsedFact, ...] = ()
    missing: tuple[MissingFact, ...] = ()

    @property
    def applies(self) -> bool:
        return self.pregnant or self.lactating

    def describe(self) -> str:
        """'pregnant, 24 weeks' / 'pregnant, gestational age unknown' / 'breast-feeding'."""
        if not self.pregnant:
            return "breast-feeding"
        if self.weeks is None:
            return "pregnant, gestational age unknown"
        return f"pregnant, {int(self.weeks)} weeks"


def pregnancy_state(facts_index: FactIndex, today: date, th: Thresholds) -> Pregnancy:
    """The cautious reading of the pregnancy and lactation records (memoised for the call)."""
    return facts_index.memo(("pregnancy", today, id(th)), lambda: _state(facts_index, today, th))


def _state(idx: FactIndex, today: date, th: Thresholds) -> Pregnancy:
    days = th.v("pregnancy.record_lookback_days")
    used: list[UsedFact] = []
    missing: list[MissingFact] = []
    conditions = [x for x in idx.conditions(c.PREGNANCY) if x.clinical_status in ACTIVE_STATUSES]
    used.extend(used_condition(x.display or "Pregnancy", x) for x in conditions)
    for cond in conditions:
        when = cond.recorded or cond.onset
        if when is not None and (today - when).days > days:
            missing.append(
                MissingFact(
                    f"whether the pregnancy recorded on {when.isoformat()} is ongoing",
                    "still marked active, so read as ongoing: verify and update the record",
                )
            )
    findings = idx.answered_yes((c.PREGNANCY,), today, days)
    used.extend(used_obs("Pregnant (finding)", o) for o in findings)
    statuses = [
        o
        for o in idx.observations(c.PREGNANCY_STATUS)
        if o.code is not None and within_days(o.effective, today, days)
    ]
    # The newest answer that says something: a later "unknown" is not evidence that a pregnancy recorded
    # before it has ended (read as the newest, it let an NSAID and a bone-modifying agent pass unremarked).
    status = next((o for o in statuses if o.code != "unknown"), None)
    status_pregnant = status is not None and status.code == "pregnant"
    if status_pregnant and statuses[0].code == "unknown":
        used.append(used_obs("Pregnancy status", statuses[0]))
        missing.append(
            MissingFact(
                "a current pregnancy status",
                "the latest status is unknown, an earlier one says pregnant: read as pregnant (the cautious "
                "reading); verify",
            )
        )
    if status is not None and (status_pregnant or conditions or findings):
        used.append(used_obs("Pregnancy status", status))
    pregnant = bool(conditions or findings or status_pregnant)
    if pregnant and status is not None and status.code == "not-pregnant":
        missing.append(
            MissingFact(
                "one consistent pregnancy status",
                "a later status says not pregnant while a pregnancy is recorded as current: read as "
                "pregnant (the cautious reading); verify",
            )
        )
    if pregnant and idx.facts.sex is Sex.MALE:
        # Administrative sex is not proof either way (a trans man may be pregnant), and the record is more
        # often wrong than the pregnancy: read as pregnant, the cautious reading, and said as a conflict.
        missing.append(
            MissingFact(
                "a pregnancy recorded for a patient whose recorded sex is male",
                "read as pregnant (the cautious reading); verify the record",
                conflict=True,
            )
        )
    lactation_conditions = [x for x in idx.conditions(c.LACTATION) if x.clinical_status in ACTIVE_STATUSES]
    lactation_findings = idx.answered_yes((c.LACTATION,), today, days)
    used.extend(used_condition(x.display or "Breast-feeding", x) for x in lactation_conditions)
    used.extend(used_obs("Breast-feeding", o) for o in lactation_findings)
    lactating = bool(lactation_conditions or lactation_findings)
    weeks = _weeks(idx, today, days, th.v("pregnancy.term_weeks"), used, missing) if pregnant else None
    return Pregnancy(pregnant, lactating, weeks, tuple(used), tuple(missing))


def unknown_status(idx: FactIndex, today: date, th: Thresholds) -> tuple[ObservationFact, MissingFact] | None:
    """The newest pregnancy status answered *unknown* that no later definite status settles, with the line
    a card names it in, as it names a status recorded with no answer ("Pregnancy status (unknown,
    2025-05-25)" under "Recorded without an answer")."""
    days = th.v("pregnancy.record_lookback_days")
    for obs in idx.observations(c.PREGNANCY_STATUS):  # newest first, undated last
        if obs.code is None:
            continue
        if obs.effective is not None and not within_days(obs.effective, today, days):
            continue
        if obs.code != "unknown":
            return None  # a newer definite answer (or, for an undated unknown, any dated one) settles it
        when = f", {obs.effective.date().isoformat()}" if obs.effective is not None else ""
        pregnant = pregnancy_state(idx, today, th).pregnant
        line = MissingFact(
            f"{LABELS[c.PREGNANCY_STATUS]} ({NO_ANSWER}: unknown{when})",
            # Pregnant by another record (a Condition), the unknown answer changed nothing.
            "not used; verify it" if pregnant else "not read as pregnant; verify it",
            unreadable=True,
        )
        return obs, line
    return None


def _weeks(
    idx: FactIndex, today: date, days: float, term: float, used: list[UsedFact], missing: list[MissingFact]
) -> float | None:
    for obs in idx.observations(c.GESTATIONAL_AGE):
        if obs.quantity is None:
            continue
        if obs.effective is None:
            used.append(used_obs("Gestational age (undated)", obs))
            missing.append(
                MissingFact(
                    "date of the gestational age", f"read as at least {num(obs.quantity.value)} weeks"
                )
            )
            return obs.quantity.value
        if not within_days(obs.effective, today, days):
            continue
        weeks = obs.quantity.value + (today - obs.effective.date()).days / 7
        used.append(
            UsedFact(
                "Gestational age",
                f"{num(obs.quantity.value)} wk on {iso(obs.effective)}; about {int(weeks)} wk today",
                obs.ref,
                iso(obs.effective),
            )
        )
        if weeks > term:
            missing.append(
                MissingFact(
                    "a current pregnancy record",
                    f"the recorded gestational age would now be {int(weeks)} weeks, past term: verify "
                    "whether the pregnancy is ongoing",
                )
            )
        return weeks
    return None  # the rules that need the weeks say what they assume instead
