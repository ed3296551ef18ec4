"""Reasoning time for a 1,000-resource patient once the facts are read: the whole ``engine.assess``.

The facts are built directly (no FHIR parsing): a patient with three bone-metastasis sites on one
Condition, a year of laboratory results, pain scores, performance status, lesion scores and types, red-flag
answers, fifty medications, procedures and conditions: 1,000 facts in all, deterministic (seeded).  The
timed path is what the service runs per ``patient-view`` call: :func:`fhir_bonemet.core.engine.assess` (the
population gate, the red flags, the exercise plan and the pain, pharmacovigilance and bone-health rules).
The exercise half alone (gate, red flags, exercise plan sharing one fact index) is timed as well, to show
where the time goes.  Reported: the median of N runs in microseconds (and the best run, the cost without
interference from other processes) and the medians' ratio to the 1 ms target.

    python benchmarks/bench_reasoning.py [--runs 200]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta

from fhir_bonemet.core.engine import assess
from fhir_bonemet.core.exercise.assess import assess_exercise
from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.fact_index import FactIndex
from fhir_bonemet.core.model.facts import (
    BodySite,
    BoneLesion,
    ConditionFact,
    Laterality,
    MedicationFact,
    ObservationFact,
    PatientFacts,
    ProcedureFact,
    Quantity,
    SiteClass,
)
from fhir_bonemet.core.population import population_gate
from fhir_bonemet.core.red_flags.spinal import assess_red_flags
from fhir_bonemet.knowledge import load_thresholds

TODAY = date(2025, 6, 1)
TARGET_US = 1000.0
T9 = BodySite(SiteClass.SPINE_THORACIC, text="T9")
FEMUR = BodySite(SiteClass.FEMUR_PROXIMAL, laterality=Laterality.LEFT, qualifiers=("proximal",))
PELVIS = BodySite(SiteClass.PELVIS)
SITES = (T9, FEMUR, PELVIS)
# (concept, low, high, unit) for the measured results of a year of care.
MEASURED = (
    (c.LAB_PLATELETS, 60.0, 350.0, "10*9/L"),
    (c.LAB_HAEMOGLOBIN, 8.5, 14.0, "g/dL"),
    (c.LAB_NEUTROPHILS, 0.8, 7.0, "10*9/L"),
    (c.LAB_CALCIUM, 8.6, 10.4, "mg/dL"),
    (c.LAB_ALBUMIN, 3.0, 4.5, "g/dL"),
    (c.LAB_CREATININE, 0.6, 1.4, "mg/dL"),
    (c.LAB_EGFR, 45.0, 100.0, "mL/min/{1.73_m2}"),
    (c.LAB_ALT, 10.0, 60.0, "U/L"),
    (c.LAB_BILIRUBIN, 0.3, 1.2, "mg/dL"),
    (c.BODY_WEIGHT, 60.0, 80.0, "kg"),
    (c.PAIN_SCORE, 1.0, 6.0, "{score}"),
    (c.FATIGUE_SCORE, 1.0, 6.0, "{score}"),
)


def _when(rnd: random.Random, days: int = 365) -> datetime:
    return datetime.combine(TODAY, datetime.min.time()) - timedelta(minutes=rnd.randrange(days * 24 * 60))


def build_patient(total: int = 1000, seed: int = 7) -> PatientFacts:
    rnd = random.Random(seed)
    lesions = tuple(BoneLesion("Condition/met", site, index=i) for i, site in enumerate(SITES))
    conditions = [
        ConditionFact(
            f"Condition/c{i}", frozenset({concept}), onset=TODAY - timedelta(days=rnd.randrange(900))
        )
        for i, concept in enumerate([c.OSTEOPOROSIS, c.NEUROPATHIC_PAIN, c.COPD, c.LIVER_DISEASE] * 5)
    ]
    medications = [
        MedicationFact(
            f"MedicationRequest/m{i}",
            "MedicationRequest",
            rnd.choice(["active", "completed", "stopped"]),
            (name,),
            frozenset({cls}),
        )
        for i, (name, cls) in enumerate(
            [
                ("oxycodone", c.OPIOID),
                ("zoledronic acid", c.BONE_MODIFYING_AGENT),
                ("paracetamol", c.ACETAMINOPHEN),
            ]
            * 17
        )
    ][:50]
    procedures = [
        ProcedureFact(
            f"Procedure/p{i}",
            frozenset({rnd.choice([c.RADIOTHERAPY, c.SURGICAL_REVIEW, c.DENTAL_EXAM])}),
            TODAY - timedelta(days=rnd.randrange(30, 700)),
            site=rnd.choice(SITES),
        )
        for i in range(30)
    ]
    observations: list[ObservationFact] = [
        ObservationFact(
            "Observation/sins",
            c.SINS_TOTAL,
            _when(rnd, 60),
            Quantity(8, "{score}"),
            site=T9,
            focus=("Condition/met",),
        ),
        ObservationFact(
            "Observation/mirels", c.MIRELS_TOTAL, _when(rnd, 60), Quantity(7, "{score}"), site=FEMUR
        ),
        ObservationFact("Observation/ecog", c.ECOG, _when(rnd, 30), Quantity(1, "{score}")),
    ]
    for i, site in enumerate(SITES):
        observations.append(
            ObservationFact(f"Observation/type{i}", c.LESION_TYPE, _when(rnd), code="blastic", site=site)
        )
    for i, concept in enumerate(c.MSCC_NEURO_SYMPTOMS + c.SPINAL_MET_SYMPTOMS):
        observations.append(ObservationFact(f"Observation/rf{i}", concept, _when(rnd, 200), flag=False))
    remaining = (
        total - len(lesions) // 3 - len(conditions) - len(medications) - len(procedures) - len(observations)
    )
    for i in range(remaining):
        concept, low, high, unit = MEASURED[i % len(MEASURED)]
        site = rnd.choice(SITES) if concept == c.PAIN_SCORE and rnd.random() < 0.5 else None
        value = round(rnd.uniform(low, high), 1)
        observations.append(
            ObservationFact(f"Observation/o{i}", concept, _when(rnd), Quantity(value, unit), site=site)
        )
    return PatientFacts(
        patient_ref="Patient/bench",
        birth_date=date(1958, 3, 14),
        lesions=lesions,
        conditions=tuple(conditions),
        observations=tuple(observations),
        medications=tuple(medications),
        procedures=tuple(procedures),
    )


def exercise_half(facts: PatientFacts) -> None:
    """Population gate, red flags and exercise plan only (the part measured before pain rules joined)."""
    th = load_thresholds()
    in_population, _ = population_gate(facts, TODAY, th)
    assert in_population
    index = FactIndex(facts)
    flags = assess_red_flags(facts, TODAY, th, index)
    plan, _ = assess_exercise(facts, TODAY, th, flags, index)
    assert plan is not None


def reason(facts: PatientFacts) -> None:
    """Everything the service reasons per ``patient-view`` call."""
    assessment = assess(facts, TODAY, load_thresholds())
    assert assessment.in_population
    assert assessment.exercise is not None


def _time_us(fn: Callable[[PatientFacts], None], facts: PatientFacts, runs: int) -> tuple[float, float]:
    """(median, best) of ``runs`` calls in microseconds, after a warm-up."""
    for _ in range(10):
        fn(facts)
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        fn(facts)
        timings.append((time.perf_counter() - start) * 1e6)
    return statistics.median(timings), min(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    facts = build_patient()
    resources = (
        1 + len(facts.conditions) + len(facts.observations) + len(facts.medications) + len(facts.procedures)
    )
    load_thresholds()  # read once at start-up, as the service does
    whole, whole_best = _time_us(reason, facts, args.runs)
    half, half_best = _time_us(exercise_half, facts, args.runs)
    print(f"patient record: {resources} resources, {len(facts.lesions)} lesions; {args.runs} runs each")
    print(f"engine.assess (whole patient-view reasoning): median {whole:6.0f} us, best {whole_best:6.0f} us")
    print(f"  of which gate + red flags + exercise plan:  median {half:6.0f} us, best {half_best:6.0f} us")
    print("(the best run shows the cost without interference from other processes)")
    print(f"ratio of the engine.assess median to the {TARGET_US:.0f} us target: {whole / TARGET_US:.2f}")


if __name__ == "__main__":
    main()
