"""Suspected cord compression (R01) with the spinal pain pattern of R02, through the HTTP app.

R01 supersedes R02: one critical card.  Most of R02's advice is in R01's lines already, and more urgently
(the MSCC coordinator now, whole-spine MRI within hours, all exercise stopped); what R02 adds, the
stability score on the new imaging and the surgical opinion it may call for, is carried on the critical
card in one line that also says the pattern was present, and R02 stays in the card's rule ids.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from hook_answers import HookCase, exercise_vignette_cases, fire

from fhir_bonemet.cli.examples_runner import prefetch_of
from fhir_bonemet.knowledge import load_thresholds

EXERCISE = Path(__file__).resolve().parents[1] / "data" / "vignettes" / "exercise"
RULES = "org.fhir-bonemet.rules"
TH = load_thresholds()
Json = dict[str, Any]


def _vignette(name: str) -> HookCase:
    return next(case for case in exercise_vignette_cases() if case.name == f"exercise:{name}")


def _resources(name: str) -> list[Json]:
    bundle = json.loads((EXERCISE / f"{name}.json").read_text(encoding="utf-8"))
    return [entry["resource"] for entry in bundle["entry"]]


def _limb_weakness_with_spinal_pain() -> Json:
    """v50 (new limb weakness: R01) with the thoracic spinal pain answer of v52 (R02 alone there)."""
    pain = next(r for r in _resources("v52_spinal_pain_r02") if "rf-thoracic" in json.dumps(r.get("code")))
    pain = {**copy.deepcopy(pain), "id": "obs-spinal-pain"}
    request = copy.deepcopy(_vignette("v50_mscc_limb_weakness").request)
    request["prefetch"] = prefetch_of([*_resources("v50_mscc_limb_weakness"), pain])
    return request


def _red_flag_cards(cards: list[Json]) -> list[Json]:
    return [c for c in cards if any(r.startswith("R0") for r in c["extension"][RULES])]


def _carried_line() -> str:
    sins = TH["exercise.sins_potentially_unstable_min"].value
    return f"Spinal red-flag pain is also recorded: calculate SINS on the new imaging ({sins:g} or more"


def test_cord_compression_with_spinal_pain_is_one_critical_card_carrying_what_r02_adds() -> None:
    (card,) = _red_flag_cards(fire(_vignette("v50_mscc_limb_weakness"), _limb_weakness_with_spinal_pain()))
    assert card["indicator"] == "critical"
    assert card["extension"][RULES][:2] == ["R01", "R02"]
    detail = card["detail"]
    bullets = detail.split("\n\n", 1)[0]
    assert f"- {_carried_line()}" in bullets  # a step on the card, not a note below it
    assert "Thoracic or cervical spinal pain yes" in detail  # the record behind it, with its date
    # R02's contact, MRI and loading advice is R01's own, more urgently: not said a second time.
    assert f"within {TH['red_flags.spinal_mri_days'].label()}" not in detail
    assert "axial loading" not in detail
    assert detail.count("MSCC coordinator") == 1
    assert "S13" in card["source"]["label"]  # the source the SINS advice rests on


def test_cord_compression_alone_names_no_spinal_pain_pattern() -> None:
    (card,) = _red_flag_cards(fire(_vignette("v50_mscc_limb_weakness")))
    assert card["indicator"] == "critical"
    assert "R02" not in card["extension"][RULES]
    assert "Spinal red-flag pain" not in card["detail"]
    assert "SINS" not in card["detail"]
    assert "S13" not in card["source"]["label"]


def test_spinal_pain_alone_keeps_r02s_own_card() -> None:
    (card,) = _red_flag_cards(fire(_vignette("v52_spinal_pain_r02")))
    assert card["indicator"] == "warning"
    assert card["extension"][RULES] == ["R02"]
    assert "Calculate SINS once imaging is available" in card["detail"]
