"""Pain vignettes as FHIR JSON, run through the real reader, terminology and population gate.

Each ``tests/data/vignettes/pain/v*.json`` holds a hook context (``today``, ``hook``, ``prefetch``,
``draftOrders``, ``selections``); ``expected.json`` lists the rule ids that must and must not fire, and the
order actions a finding must carry.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from fhir_bonemet.core.model.findings import Finding
from fhir_bonemet.core.pain.assess import assess_pain
from fhir_bonemet.core.population import population_gate
from fhir_bonemet.fhir.intake.patient_facts import extract_facts
from fhir_bonemet.fhir.intake.read import read_prefetch
from fhir_bonemet.fhir.terminology.lookup import Terminology
from fhir_bonemet.knowledge import load_thresholds

VIGNETTES = Path(__file__).resolve().parents[1] / "data" / "vignettes" / "pain"
EXPECTED: dict[str, dict[str, Any]] = json.loads((VIGNETTES / "expected.json").read_text(encoding="utf-8"))
TH = load_thresholds()


@pytest.fixture(scope="module")
def terminology() -> Terminology:
    return Terminology.load()


def _run(name: str, terminology: Terminology) -> tuple[bool, tuple[Finding, ...], Any]:
    case = json.loads((VIGNETTES / f"{name}.json").read_text(encoding="utf-8"))
    facts = extract_facts(
        read_prefetch(case["prefetch"]),
        terminology,
        patient_id=case["patientId"],
        draft_orders=case.get("draftOrders"),
        selections=case.get("selections", ()),
    )
    today = date.fromisoformat(case["today"])
    in_population, _ = population_gate(facts, today, TH)
    findings = assess_pain(facts, today, TH, hook=case["hook"]) if in_population else ()
    return in_population, findings, facts


def test_every_vignette_file_has_expectations() -> None:
    files = {p.stem for p in VIGNETTES.glob("v*.json")}
    assert files == set(EXPECTED)
    assert len(files) >= 10


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_vignette(name: str, terminology: Terminology) -> None:
    expected = EXPECTED[name]
    in_population, findings, facts = _run(name, terminology)
    assert facts.issues == (), "vignettes are well-formed records"
    assert in_population is expected.get("in_population", True)
    fired = {f.rule_id for f in findings}
    assert set(expected["must"]) <= fired, f"missing {set(expected['must']) - fired}"
    assert not set(expected["must_not"]) & fired, f"unexpected {set(expected['must_not']) & fired}"
    by_id = {f.rule_id: f for f in findings}
    for rule_id, actions in expected.get("order_actions", {}).items():
        assert [[a.order_ref, a.action] for a in by_id[rule_id].order_actions] == actions
