"""The population gate: who the service speaks for (docs/clinical-model.md#population).

The service gives advice only for adults with at least one active bone metastasis.  The reader puts into
``facts.lesions`` only bone-metastasis sites whose Condition is active (active, recurrence or relapse) and
neither refuted nor entered in error, so "has an active bone lesion" is simply ``facts.lesions``.  A
patient whose only metastasis is elsewhere (brain, liver) has no lesion and gets no card, even when a drug
or laboratory trigger would otherwise match.

Unknown birth date: the service speaks when a bone lesion exists.  Staying silent would hide red flags
such as cord compression from a patient who is almost certainly an adult (bone metastases in children are
rare and the record comes from an oncology context); the reason string says the age was unknown, and every
card names the birth date as missing (:func:`age_caveat`).  A birth date after today cannot be right and
is read as unknown, and the cards say so; so is one giving an age over ``population.max_plausible_age``
(:func:`with_plausible_age`): "1800-01-01" is a placeholder or a typing error, and read as 226 years it
passed every older-age rule as a fact.  A recorded age under the threshold is always silent.

Partial birth date ("2007", "2007-06"): the patient may be a year (or a month) younger than its first day
says.  When even the oldest reading is under the threshold the patient is certainly a minor: silent.  When
the oldest reading is an adult and the youngest is not, the service speaks, for the reason it speaks for
an unknown age, and every card says the age is uncertain (:func:`age_caveat`): adult advice for someone
who may be 17 is given knowingly, never in silence.

Unconfirmed diagnosis (verificationStatus provisional, differential or unconfirmed): the metastasis
counts, for the reason an unknown age does (a suspected lesion still needs its red flags and a cautious
exercise plan), but when no lesion is confirmed every card says so (:func:`diagnosis_caveat`): advice such
as starting a bone-modifying agent is given knowingly for a diagnosis still open, never in silence.

Deceased (``Patient.deceasedBoolean`` true, or a ``deceasedDateTime`` on or before today): silent.  Every
card of this service proposes something for a living patient (an MRI tonight, a referral, an exercise
plan, a change of medicine), and an order entered against a deceased patient's record is the EHR's to
stop, not a bone-metastasis concern.  Only a clear statement counts: a deceased value that could not be
read, or a date of death after today (a contradiction), is read as alive, since silence for a living
patient would hide red flags.

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.facts import PatientFacts
from fhir_bonemet.core.model.findings import MissingFact
from fhir_bonemet.core.model.thresholds import Thresholds

__all__ = [
    "AGE_UNCERTAIN_REASON",
    "AGE_UNKNOWN_REASON",
    "DECEASED_REASON",
    "age_caveat",
    "diagnosis_caveat",
    "population_gate",
    "with_plausible_age",
]

AGE_UNKNOWN_REASON = (
    "active bone metastasis; birth date not recorded, treated as adult so red flags are not hidden"
)
AGE_UNCERTAIN_REASON = (
    "active bone metastasis; partial birth date may make the patient a minor, treated as adult so red flags "
    "are not hidden"
)

DECEASED_REASON = "patient recorded as deceased"


def with_plausible_age(facts: PatientFacts, today: date, th: Thresholds) -> PatientFacts:
    """``facts`` with a birth date that gives an implausible age read as unreadable: the age unknown (the
    cautious readings of an unknown age), and the cards saying why (:func:`age_caveat`).  A partial date
    counts only when even its youngest reading is over the bound."""
    oldest = th.v("population.max_plausible_age")
    youngest = facts.youngest_age_on(today)
    if youngest is None or youngest <= oldest:
        return facts
    return replace(
        facts,
        birth_date=None,
        birth_date_latest=None,
        birth_date_unread=f"the age it gives, over {oldest:g} years, is not plausible",
    )


def population_gate(facts: PatientFacts, today: date, th: Thresholds) -> tuple[bool, str]:
    """(in_population, reason).  The reason carries no patient data: it is logged and audited."""
    adult_age = th.v("population.adult_age")
    if facts.deceased and (facts.deceased_on is None or facts.deceased_on <= today):
        return False, DECEASED_REASON
    if not facts.lesions:
        if facts.conditions and any(c.SECONDARY_MALIGNANCY in cond.concepts for cond in facts.conditions):
            return False, "no active bone metastasis (metastases recorded at other sites only)"
        return False, "no active bone metastasis"
    age = facts.age_on(today)
    if age is None:
        return True, AGE_UNKNOWN_REASON
    if age < adult_age:
        return False, f"under {adult_age:g} years"
    if _may_be_minor(facts, today, adult_age):
        return True, AGE_UNCERTAIN_REASON
    return True, f"adult with {len(facts.lesions)} active bone metastasis site(s)"


def _may_be_minor(facts: PatientFacts, today: date, adult_age: float) -> bool:
    youngest = facts.youngest_age_on(today)
    return youngest is not None and youngest < adult_age


def age_caveat(facts: PatientFacts, today: date, th: Thresholds) -> MissingFact | None:
    """What every card says when no birth date, or only a partial one, leaves the patient possibly under
    the adult age."""
    adult_age = th.v("population.adult_age")
    consequence = f"advice given as for an adult ({adult_age:g} or over); check the age"
    if facts.birth_date is not None and facts.birth_date > today:
        return MissingFact("birth date (the date recorded is after today)", consequence, unreadable=True)
    if facts.birth_date_unread is not None:
        return MissingFact(f"birth date ({facts.birth_date_unread})", consequence, unreadable=True)
    if facts.age_on(today) is None:
        return MissingFact("birth date", consequence)
    if not _may_be_minor(facts, today, adult_age):
        return None
    partial = f"full birth date (the partial date recorded may make the patient under {adult_age:g})"
    return MissingFact(partial, consequence)


def diagnosis_caveat(facts: PatientFacts) -> MissingFact | None:
    """What every card says when no active bone metastasis is confirmed: each is provisional, a
    differential diagnosis or unconfirmed."""
    if not facts.lesions or any(lesion.unconfirmed is None for lesion in facts.lesions):
        return None
    recorded = " or ".join(sorted({lesion.unconfirmed for lesion in facts.lesions if lesion.unconfirmed}))
    return MissingFact(
        f"confirmation of the bone metastasis (recorded as {recorded})",
        "advice given as for a confirmed bone metastasis; confirm the diagnosis",
    )
