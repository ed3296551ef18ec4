"""Safety properties of the exercise tiering, checked on generated patient records (hypothesis).

* Adding a risk factor never lowers the patient tier or any lesion's tier.
* Removing data never lowers a tier: taking away a reassuring fact (a low score, a normal laboratory
  value, a recorded surgical review, a bone-modifying agent, the birth date) so that it is missing can
  only leave the tier where it was or raise it.  Facts that themselves signal risk are not data whose
  absence reassures, so they are not removed (removing a fracture is removing a risk factor).
* Every domain avoided for a lesion stays avoided, in the lesion and in the plan, whatever is added.
* The answer does not depend on the order in which the record lists its facts.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta

from builders import TODAY, at, condition, med, obs, procedure
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fhir_bonemet.core.evidence.lesion_sites import LONG_BONE_SITES, SPINE_SITES
from fhir_bonemet.core.exercise.assess import assess_exercise
from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.facts import (
    BodySite,
    BoneLesion,
    ConditionFact,
    Laterality,
    MedicationFact,
    ObservationFact,
    PatientFacts,
    ProcedureFact,
    SiteClass,
)
from fhir_bonemet.core.model.findings import DomainStatus, ExercisePlan, Tier
from fhir_bonemet.knowledge import load_thresholds

TH = load_thresholds()
SITES = list(SiteClass)
NOW = -0.1  # days ago: a little after every generated fact, so an added fact is the newest
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

Change = Callable[[PatientFacts], PatientFacts]


def plan_of(facts: PatientFacts) -> ExercisePlan:
    plan, _ = assess_exercise(facts, TODAY, TH)
    assert plan is not None
    return plan


def lesion_tiers(plan: ExercisePlan) -> dict[tuple[str, str], Tier]:
    return {(r.lesion_ref, r.site.site.value): r.tier for r in plan.lesions}


@st.composite
def records(draw: st.DrawFn) -> PatientFacts:
    lesions: list[BoneLesion] = []
    observations: list[ObservationFact] = []
    conditions: list[ConditionFact] = []
    procedures: list[ProcedureFact] = []
    medications: list[MedicationFact] = []
    days = st.integers(0, 120)
    # A "fit" record (good performance status, normal labs, blastic lesions on a bone-modifying agent, no
    # sedating drug) lets LOW plans occur; the others draw every risk factor freely.
    fit = draw(st.booleans())
    for i in range(draw(st.integers(1, 3))):
        where = BodySite(draw(st.sampled_from(SITES)), laterality=draw(st.sampled_from([None, *Laterality])))
        ref = f"Condition/m{i}"
        lesions.append(BoneLesion(ref, where))
        how = draw(st.sampled_from(["focus", "site", "neither"]))

        def about(
            o: ObservationFact, how: str = how, ref: str = ref, where: BodySite = where
        ) -> ObservationFact:
            if how == "focus":
                return replace(o, focus=(ref,))
            return replace(o, site=where) if how == "site" else o

        if where.site in SPINE_SITES and draw(st.booleans()):
            observations.append(about(obs(c.SINS_TOTAL, draw(st.integers(0, 18)), days_ago=draw(days))))
        if where.site in LONG_BONE_SITES and draw(st.booleans()):
            observations.append(about(obs(c.MIRELS_TOTAL, draw(st.integers(4, 12)), days_ago=draw(days))))
        kind = "blastic" if fit else draw(st.sampled_from([None, "lytic", "blastic", "mixed"]))
        if kind:
            observations.append(about(obs(c.LESION_TYPE, code=kind, days_ago=draw(days))))
        mechanical = None if fit else draw(st.sampled_from([None, True, False]))
        if mechanical is not None:
            observations.append(
                about(obs(c.PAIN_MECHANICAL, flag=mechanical, days_ago=draw(st.integers(0, 9))))
            )
        if not fit and draw(st.booleans()):
            procedures.append(procedure(c.RADIOTHERAPY, days_ago=draw(st.integers(0, 200)), where=where))
        if draw(st.booleans()):
            procedures.append(procedure(c.SURGICAL_REVIEW, days_ago=draw(days), where=where))
        if not fit and draw(st.integers(0, 4)) == 0:
            status = draw(st.sampled_from(["active", "resolved"]))
            fx = condition(c.PATHOLOGICAL_FRACTURE, status=status, onset_days_ago=draw(st.integers(0, 400)))
            conditions.append(replace(fx, site=where))
    for _ in range(draw(st.integers(0, 3))):
        nrs_site = draw(st.sampled_from([None, *(x.site for x in lesions)]))
        observations.append(
            obs(c.PAIN_SCORE, draw(st.integers(0, 10)), days_ago=draw(st.integers(0, 10)), where=nrs_site)
        )
    calm = {
        c.KPS: st.sampled_from([70, 80, 90, 100]),
        c.ECOG: st.integers(0, 1),
        c.LAB_PLATELETS: st.integers(150, 400),
        c.LAB_HAEMOGLOBIN: st.floats(11, 16),
        c.LAB_CALCIUM: st.floats(8.5, 10),
        c.LAB_ALBUMIN: st.floats(3.5, 5),
        c.LAB_NEUTROPHILS: st.floats(2, 6),
        c.FATIGUE_SCORE: st.integers(0, 6),
        c.MORSE_FALL_SCALE: st.integers(0, 40),
    }
    for concept, unit, values in (
        (c.ECOG, "{score}", st.integers(0, 4)),
        (c.KPS, "{score}", st.sampled_from([30, 40, 50, 60, 70, 80, 90, 100])),
        (c.LAB_PLATELETS, "10*9/L", st.integers(5, 400)),
        (c.LAB_HAEMOGLOBIN, "g/dL", st.floats(5, 16)),
        (c.LAB_CALCIUM, "mg/dL", st.floats(8, 15)),
        (c.LAB_ALBUMIN, "g/dL", st.floats(2, 5)),
        (c.LAB_NEUTROPHILS, "10*9/L", st.floats(0.1, 6)),
        (c.FATIGUE_SCORE, "{score}", st.integers(0, 10)),
        (c.MORSE_FALL_SCALE, "{score}", st.integers(0, 125)),
    ):
        values = calm[concept] if fit else values
        if draw(st.booleans()):
            observations.append(obs(concept, draw(values), unit, days_ago=draw(st.integers(0, 40))))
    for symptom in (c.RF_LIMB_WEAKNESS, c.RF_SPINAL_TENDERNESS):
        if not fit and draw(st.integers(0, 5)) == 0:
            observations.append(obs(symptom, flag=draw(st.booleans()), days_ago=draw(st.integers(0, 20))))
    if fit:
        observations.append(obs(c.ECOG, draw(st.integers(0, 1)), days_ago=1))
    for cls in (c.BONE_MODIFYING_AGENT, c.OPIOID, c.GABAPENTINOID):
        if (fit and cls == c.BONE_MODIFYING_AGENT) or (not fit and draw(st.booleans())):
            medications.append(med(cls))
    for concept in (c.FALLS_HISTORY, c.PERIPHERAL_NEUROPATHY, c.OSTEOPOROSIS, c.CORD_COMPRESSION):
        if not fit and draw(st.integers(0, 5)) == 0:
            conditions.append(condition(concept, onset_days_ago=draw(st.integers(0, 100))))
    age = draw(st.integers(20, 70)) if fit else draw(st.one_of(st.none(), st.integers(20, 95)))
    return PatientFacts(
        patient_ref="Patient/p",
        birth_date=None if age is None else date(TODAY.year - age - 1, 12, 1),
        lesions=tuple(lesions),
        conditions=tuple(conditions),
        observations=tuple(observations),
        medications=tuple(medications),
        procedures=tuple(procedures),
    )


def _add_obs(o: ObservationFact) -> Change:
    return lambda f: replace(f, observations=(*f.observations, o))


def _add_condition(cond: ConditionFact) -> Change:
    return lambda f: replace(f, conditions=(*f.conditions, cond))


@st.composite
def risk_factors(draw: st.DrawFn, facts: PatientFacts) -> Change:
    """One added fact that signals more risk (tiers, gates and red flags of docs/clinical-model.md).

    A measurement is added at its worst value: a newer, milder measurement (ECOG 2 after ECOG 3) is an
    improvement the plan should follow, not an added risk factor.
    """
    target = draw(st.sampled_from(facts.lesions))
    where = target.site
    choices: list[Change] = [
        _add_condition(
            replace(condition(c.PATHOLOGICAL_FRACTURE, onset_days_ago=draw(st.integers(0, 400))), site=where)
        ),
        _add_condition(replace(condition(c.IMPENDING_FRACTURE), site=where)),
        _add_obs(obs(c.PAIN_MECHANICAL, flag=True, days_ago=NOW, where=where)),
        _add_obs(obs(c.PAIN_SCORE, 10, days_ago=NOW, where=draw(st.sampled_from([None, where])))),
        _add_obs(replace(obs(c.LESION_TYPE, code="lytic", days_ago=NOW), focus=(target.ref,))),
        lambda f: replace(f, procedures=(*f.procedures, procedure(c.RADIOTHERAPY, days_ago=0, where=where))),
        _add_obs(replace(obs(c.SINS_TOTAL, 18, days_ago=NOW), focus=(target.ref,))),
        _add_obs(replace(obs(c.MIRELS_TOTAL, 12, days_ago=NOW), focus=(target.ref,))),
        _add_obs(obs(c.ECOG, 4, days_ago=NOW)),
        _add_obs(obs(c.KPS, 30, days_ago=NOW)),
        _add_obs(obs(c.MORSE_FALL_SCALE, 125, days_ago=NOW)),
        _add_obs(obs(c.FATIGUE_SCORE, 10, days_ago=NOW)),
        _add_obs(obs(c.LAB_PLATELETS, 5, "10*9/L", days_ago=NOW)),
        _add_obs(obs(c.LAB_HAEMOGLOBIN, 5, "g/dL", days_ago=NOW)),
        _add_obs(obs(c.LAB_NEUTROPHILS, 0.1, "10*9/L", days_ago=NOW)),
        _add_obs(obs(c.FEVER, flag=True, days_ago=NOW)),
        _add_obs(
            obs(draw(st.sampled_from(c.MSCC_NEURO_SYMPTOMS + c.SPINAL_MET_SYMPTOMS)), flag=True, days_ago=NOW)
        ),
        _add_condition(
            condition(draw(st.sampled_from([c.FALLS_HISTORY, c.OSTEOPOROSIS, c.PERIPHERAL_NEUROPATHY])))
        ),
        _add_condition(condition(c.CORD_COMPRESSION, onset_days_ago=draw(st.integers(0, 100)))),
        lambda f: replace(
            f, medications=(*f.medications, med(draw(st.sampled_from([c.OPIOID, c.BENZODIAZEPINE]))))
        ),
        lambda f: replace(f, birth_date=TODAY - timedelta(days=365 * 80)),
        lambda f: replace(
            f, lesions=(*f.lesions, BoneLesion("Condition/new", BodySite(draw(st.sampled_from(SITES)))))
        ),
    ]
    return draw(st.sampled_from(choices))


def _reassuring(o: ObservationFact) -> bool:
    """Facts whose presence can only make the advice less cautious (the oracle of 'removing data')."""
    v = o.quantity.value if o.quantity is not None else None
    limits: dict[str, Callable[[float], bool]] = {
        c.SINS_TOTAL: lambda x: x < 7,
        c.MIRELS_TOTAL: lambda x: x < 8,
        c.ECOG: lambda x: x < 2,
        c.KPS: lambda x: x > 60,
        c.MORSE_FALL_SCALE: lambda x: x < 45,
        c.FATIGUE_SCORE: lambda x: x < 7,
        c.LAB_PLATELETS: lambda x: x >= 50,
        c.LAB_HAEMOGLOBIN: lambda x: x >= 8,
        c.LAB_NEUTROPHILS: lambda x: x >= 0.5,
        c.LAB_CALCIUM: lambda x: x <= 10.5,
        c.LAB_ALBUMIN: lambda x: x >= 4.0,
    }
    if o.concept in limits:
        return v is not None and limits[o.concept](v)
    if o.concept == c.LESION_TYPE:
        return o.code in ("blastic", "mixed")
    return o.flag is False  # a "no" to mechanical pain or a red-flag symptom


def removals(facts: PatientFacts) -> list[Change]:
    """Ways to make the record lose a reassuring datum.

    An observation is removed only when it is the record's only result of its kind: then removing it
    means "this value is now missing".  With several results the newest one is the value; removing it
    brings back an older measurement, which the plan rightly follows whichever way it points.
    """
    out: list[Change] = []
    counts: dict[str, int] = {}
    for o in facts.observations:
        counts[o.concept] = counts.get(o.concept, 0) + 1
    for o in facts.observations:
        if _reassuring(o) and counts[o.concept] == 1:
            out.append(lambda f, o=o: replace(f, observations=tuple(x for x in f.observations if x is not o)))
    for m in facts.medications:
        if c.BONE_MODIFYING_AGENT in m.classes:
            out.append(lambda f, m=m: replace(f, medications=tuple(x for x in f.medications if x is not m)))
    for p in facts.procedures:
        if c.SURGICAL_REVIEW in p.concepts:
            out.append(lambda f, p=p: replace(f, procedures=tuple(x for x in f.procedures if x is not p)))
    if facts.birth_date is not None:
        out.append(lambda f: replace(f, birth_date=None))
    return out


def _never_lower(before: ExercisePlan, after: ExercisePlan) -> None:
    assert after.tier.rank >= before.tier.rank, (before.tier, after.tier)
    old, new = lesion_tiers(before), lesion_tiers(after)
    for key, tier in old.items():
        assert new[key].rank >= tier.rank, (key, tier, new[key])


@SETTINGS
@given(st.data())
def test_adding_a_risk_factor_never_lowers_a_tier(data: st.DataObject) -> None:
    facts = data.draw(records())
    change = data.draw(risk_factors(facts))
    _never_lower(plan_of(facts), plan_of(change(facts)))


@SETTINGS
@given(st.data())
def test_removing_data_never_lowers_a_tier(data: st.DataObject) -> None:
    facts = data.draw(records())
    options = removals(facts)
    if not options:
        return
    change = data.draw(st.sampled_from(options))
    _never_lower(plan_of(facts), plan_of(change(facts)))


@st.composite
def any_addition(draw: st.DrawFn, facts: PatientFacts) -> Change:
    """A risk factor or a reassuring fact: site restrictions must survive both."""
    target = draw(st.sampled_from(facts.lesions))
    reassuring: list[Change] = [
        _add_obs(replace(obs(c.SINS_TOTAL, 0, days_ago=NOW), focus=(target.ref,))),
        _add_obs(replace(obs(c.MIRELS_TOTAL, 4, days_ago=NOW), focus=(target.ref,))),
        _add_obs(replace(obs(c.LESION_TYPE, code="blastic", days_ago=NOW), focus=(target.ref,))),
        _add_obs(obs(c.ECOG, 0, days_ago=NOW)),
        _add_obs(obs(c.LAB_PLATELETS, 300, "10*9/L", days_ago=NOW)),
        lambda f: replace(f, medications=(*f.medications, med(c.BONE_MODIFYING_AGENT))),
        lambda f: replace(
            f, procedures=(*f.procedures, procedure(c.SURGICAL_REVIEW, days_ago=NOW, where=target.site))
        ),
    ]
    return draw(st.one_of(st.sampled_from(reassuring), risk_factors(facts)))


@SETTINGS
@given(st.data())
def test_a_domain_avoided_for_a_lesion_stays_avoided_whatever_is_added(data: st.DataObject) -> None:
    facts = data.draw(records())
    before = plan_of(facts)
    after = plan_of(data.draw(any_addition(facts))(facts))
    statuses = {d.domain: d.status for d in after.domains}
    new_lesions = {(r.lesion_ref, r.site.site.value): r for r in after.lesions}
    for risk in before.lesions:
        for domain in risk.avoided_domains:
            assert statuses[domain] is DomainStatus.AVOID, (risk.site.site, domain, after.tier)
            assert domain in new_lesions[(risk.lesion_ref, risk.site.site.value)].avoided_domains


@SETTINGS
@given(records(), st.randoms(use_true_random=False))
def test_the_order_of_the_record_does_not_change_the_answer(facts: PatientFacts, rnd: random.Random) -> None:
    def shuffled(items: tuple[object, ...]) -> tuple[object, ...]:
        out = list(items)
        rnd.shuffle(out)
        return tuple(out)

    mixed = replace(
        facts,
        lesions=shuffled(facts.lesions),
        conditions=shuffled(facts.conditions),
        observations=shuffled(facts.observations),
        medications=shuffled(facts.medications),
        procedures=shuffled(facts.procedures),
    )
    assert assess_exercise(mixed, TODAY, TH) == assess_exercise(facts, TODAY, TH)


def test_the_generator_reaches_every_tier() -> None:
    """Guard against a generator too tame to exercise the properties above."""
    seen: set[Tier] = set()

    @settings(max_examples=300, deadline=None, database=None, derandomize=True)
    @given(records())
    def collect(facts: PatientFacts) -> None:
        seen.add(plan_of(facts).tier)

    collect()
    assert seen == set(Tier)
    assert at(0).date() == TODAY
