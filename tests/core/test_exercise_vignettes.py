"""Clinical vignettes: small FHIR records run through the real reader, terminology and reasoning core.

Each ``tests/data/vignettes/exercise/<name>.json`` is a Bundle (Patient, mCODE-style bone-metastasis
Conditions, Observations, MedicationRequests, Procedures); ``expected.json`` holds, per vignette, the plan
tier, the tier of each lesion, the avoided exercise domains, the red-flag rule ids, the exercise rule ids
and words that must appear among the missing facts.  Together they cover every row of the exercise
sections of docs/clinical-model.md and the red flags R01-R05, R08.
"""

from __future__ import annotations

import json
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from fhir_bonemet.core.exercise.assess import assess_exercise
from fhir_bonemet.core.model.facts import PatientFacts
from fhir_bonemet.core.model.findings import Category, DomainStatus, Finding, Tier
from fhir_bonemet.core.population import population_gate
from fhir_bonemet.core.red_flags.spinal import assess_red_flags
from fhir_bonemet.core.rulebook import CATALOGUE
from fhir_bonemet.fhir.intake.patient_facts import extract_facts
from fhir_bonemet.fhir.intake.read import read_values
from fhir_bonemet.fhir.terminology.lookup import Terminology
from fhir_bonemet.knowledge import load_sources, load_thresholds

VIGNETTES = Path(__file__).parents[1] / "data" / "vignettes" / "exercise"
EXPECTED: dict[str, Any] = json.loads((VIGNETTES / "expected.json").read_text(encoding="utf-8"))
TODAY = date.fromisoformat(EXPECTED["today"])
NAMES = sorted(EXPECTED["vignettes"])
TH = load_thresholds()


@cache
def terminology() -> Terminology:
    return Terminology.load()


def bundle(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VIGNETTES / f"{name}.json").read_text(encoding="utf-8"))
    return data


def facts_of(name: str) -> PatientFacts:
    payload = read_values([(name, bundle(name))])
    return extract_facts(payload, terminology(), patient_id=EXPECTED["patient_id"])


def run(name: str) -> tuple[bool, tuple[Finding, ...], Any, tuple[Finding, ...]]:
    facts = facts_of(name)
    in_population, _ = population_gate(facts, TODAY, TH)
    if not in_population:
        return False, (), None, ()
    flags = assess_red_flags(facts, TODAY, TH)
    plan, exercise = assess_exercise(facts, TODAY, TH, flags)
    return True, flags, plan, exercise


def test_the_table_is_large_and_every_file_has_an_expectation() -> None:
    files = sorted(p.stem for p in VIGNETTES.glob("*.json") if p.name != "expected.json")
    assert files == NAMES
    assert len(NAMES) >= 40


def test_the_table_covers_every_tier_red_flag_and_missing_data_case() -> None:
    rows = EXPECTED["vignettes"].values()
    assert {r["tier"] for r in rows} == {"low", "moderate", "high", "adl-only", "hold", None}
    assert {f for r in rows for f in r["red_flags"]} >= {"R01", "R02", "R03", "R04", "R05", "R08"}
    missing = " ".join(m for r in rows for m in r["missing"])
    for gap in ("SINS", "Mirels", "ECOG", "platelet", "site", "lesion type", "albumin"):
        assert gap in missing


@pytest.mark.parametrize("name", NAMES)
def test_vignette(name: str) -> None:
    want = EXPECTED["vignettes"][name]
    in_population, flags, plan, exercise = run(name)
    assert in_population is want["in_population"], want["description"]
    if not in_population:
        assert want["tier"] is None
        return
    assert plan is not None
    got = {
        "tier": plan.tier.value,
        "lesion_tiers": [lesion.tier.value for lesion in plan.lesions],
        "avoided": sorted(
            d.domain for d in plan.domains if d.status is DomainStatus.AVOID and d.domain != "ex-adl-only"
        ),
        "red_flags": sorted({f.rule_id for f in flags}),
        "exercise_findings": [f.rule_id for f in exercise],
    }
    assert got == {key: want[key] for key in got}, want["description"]
    missing = " | ".join(m.what for f in exercise for m in f.missing).lower()
    for gap in want["missing"]:
        assert gap.lower() in missing, f"{name}: expected {gap!r} among missing facts: {missing}"


@pytest.mark.parametrize("name", NAMES)
def test_every_resource_of_the_record_is_read(name: str) -> None:
    """The vignette tests what it claims: no resource was skipped or misread on the way to the facts."""
    facts = facts_of(name)
    entries = [e["resource"] for e in bundle(name)["entry"]]
    assert facts.issues == ()
    assert len(facts.observations) == sum(r["resourceType"] == "Observation" for r in entries)
    assert len(facts.medications) == sum(r["resourceType"] == "MedicationRequest" for r in entries)
    assert len(facts.procedures) == sum(r["resourceType"] == "Procedure" for r in entries)


@pytest.mark.parametrize("name", NAMES)
def test_every_finding_is_traceable(name: str) -> None:
    """Rule id registered, evidence known, summary short, and every used reference is in the record."""
    in_population, flags, _, exercise = run(name)
    refs = {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle(name)["entry"]}
    sources = set(load_sources())
    for finding in (*flags, *exercise):
        assert finding.rule_id in CATALOGUE
        assert finding.evidence
        assert set(finding.evidence) <= sources
        assert 0 < len(finding.summary) < 140
        assert finding.rationale
        assert finding.used, f"{finding.rule_id} names no patient data"
        for used in finding.used:
            assert used.ref is None or used.ref in refs, used
        for key in finding.defaults_used:
            assert TH[key].is_default
    if in_population:
        assert [f.category for f in flags] == [Category.RED_FLAG] * len(flags)


@pytest.mark.parametrize("name", NAMES)
def test_the_answer_is_deterministic(name: str) -> None:
    assert run(name) == run(name)


def test_hold_and_adl_only_plans_suspend_every_structured_domain() -> None:
    for name, want in EXPECTED["vignettes"].items():
        if want["tier"] not in ("hold", "adl-only"):
            continue
        _, _, plan, exercise = run(name)
        structured = [d for d in plan.domains if d.domain != "ex-adl-only"]
        assert all(d.status is DomainStatus.AVOID for d in structured), name
        assert [d.domain for d in plan.domains][-1] == "ex-adl-only"
        if plan.tier is Tier.HOLD:
            assert plan.on_hold_reason
            assert "hold" in exercise[0].summary.lower()


def test_a_brain_only_metastasis_gets_nothing_even_with_critical_platelets() -> None:
    facts = facts_of("v55_brain_only")
    assert facts.lesions == ()
    assert population_gate(facts, TODAY, TH) == (
        False,
        "no active bone metastasis (metastases recorded at other sites only)",
    )
    assert assess_exercise(facts, TODAY, TH) == (None, ())
