"""A bone that has already broken is not asked for a Mirels score (it predicts a fracture)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from fhir_bonemet.core.exercise.assess import assess_exercise
from fhir_bonemet.core.red_flags.spinal import assess_red_flags
from fhir_bonemet.fhir.intake.patient_facts import extract_facts
from fhir_bonemet.fhir.intake.read import read_values
from fhir_bonemet.fhir.terminology.lookup import Terminology
from fhir_bonemet.knowledge import load_thresholds

VIGNETTES = Path(__file__).parents[1] / "data" / "vignettes" / "exercise"


def _without_mirels(name: str) -> dict[str, Any]:
    bundle: dict[str, Any] = json.loads((VIGNETTES / f"{name}.json").read_text(encoding="utf-8"))
    bundle["entry"] = [
        e for e in bundle["entry"] if "mirels" not in json.dumps(e["resource"].get("code", {}))
    ]
    return bundle


def test_a_fractured_femur_without_mirels_is_not_asked_for_one() -> None:
    expected = json.loads((VIGNETTES / "expected.json").read_text(encoding="utf-8"))
    today, th = date.fromisoformat(expected["today"]), load_thresholds()
    bundle = _without_mirels("v23_fracture_recent")
    facts = extract_facts(
        read_values([("v23", bundle)]), Terminology.load(), patient_id=expected["patient_id"]
    )
    plan, findings = assess_exercise(facts, today, th, assess_red_flags(facts, today, th))
    assert "pathological or impending fracture at this site" in plan.lesions[0].reasons
    gaps = [m.what for f in findings for m in f.missing] + [m.what for r in plan.lesions for m in r.missing]
    assert not [g for g in gaps if g.startswith("Mirels")], gaps
    assert not [f for f in findings if f.rule_id == "EX03" and "Mirels" in f.summary]
