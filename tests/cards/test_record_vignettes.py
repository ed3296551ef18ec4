"""Records as EHRs send them, through the HTTP app: what could not be read is said on the cards.

Each ``tests/data/vignettes/records/v*.json`` is a patient (``prefetch.resources``) fired on its hook with
every prefetch key filled as an EHR would (Observations under their generated keys), optionally with some
keys replaced (``prefetchOverrides``: an OperationOutcome where the EHR could not answer).  ``expect``
says which rules must and must not answer, what a card's summary must say, and which words must and must
not appear anywhere in the cards (a vignette and its close case share a patient and differ in one detail).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hook_answers import VIGNETTES, HookCase, _request, fire
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fhir_bonemet.cds.prefetch_templates import OBSERVATION_GROUPS, group_of, observation_templates
from fhir_bonemet.cli.examples_runner import PREFETCH_KEYS
from fhir_bonemet.fhir.terminology.lookup import Terminology

Json = dict[str, Any]
RECORDS = VIGNETTES / "records"
TERMINOLOGY = Terminology.load()


def _key(resource: Json) -> str | None:
    kind = resource["resourceType"]
    if kind != "Observation":
        return PREFETCH_KEYS.get(kind)
    concepts = TERMINOLOGY.concepts_for(resource.get("code"))
    return next(
        (key for concept in sorted(concepts) if (key := group_of(concept))), OBSERVATION_GROUPS[0].key
    )


def hook_case(case: Json, name: str) -> HookCase:
    """The vignette as an EHR would send it: each resource under its prefetch key, overrides applied."""
    resources = [e["resource"] for e in case["prefetch"]["resources"]["entry"]]
    keys = [*PREFETCH_KEYS.values(), *observation_templates(TERMINOLOGY.search_codes)]
    by_key: dict[str, list[Json]] = {key: [] for key in keys}
    for resource in resources:
        key = _key(resource)
        assert key is not None, resource["resourceType"]
        by_key[key].append(resource)
    prefetch: Json = {"patient": case["prefetch"]["patient"]}
    for key, found in by_key.items():
        entries = [{"resource": r} for r in found]
        prefetch[key] = {"resourceType": "Bundle", "type": "searchset", "entry": entries}
    prefetch.update(case.get("prefetchOverrides", {}))
    hook, today = case["hook"], date.fromisoformat(case["today"])
    request = _request(hook, case["patientId"], prefetch, case.get("draftOrders"), case.get("selections", []))
    return HookCase(name, hook, today, request)


def case_of(path: Path) -> tuple[HookCase, Json]:
    case = json.loads(path.read_text(encoding="utf-8"))
    return hook_case(case, f"records:{path.stem}"), case["expect"]


PATHS = sorted(RECORDS.glob("v*.json"))


def _rules(card: Json) -> list[str]:
    found: list[str] = card.get("extension", {}).get("org.fhir-bonemet.rules", [])
    return found


def _text(cards: list[Json]) -> str:
    return "\n".join(f"{card['summary']}\n{card.get('detail', '')}" for card in cards)


def test_the_vignettes_come_in_pairs() -> None:
    assert len(PATHS) >= 6
    assert len(PATHS) % 2 == 0


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_record_vignette(path: Path) -> None:
    case, expect = case_of(path)
    cards = fire(case)
    by_rule = {rule: card for card in cards for rule in _rules(card)}
    text = _text(cards)
    missing_rules = set(expect.get("rules", [])) - set(by_rule)
    assert not missing_rules, (missing_rules, [c["summary"] for c in cards])
    assert not set(expect.get("rules_absent", [])) & set(by_rule), [c["summary"] for c in cards]
    for rule, words in expect.get("summary_contains", {}).items():
        assert words in by_rule[rule]["summary"], by_rule[rule]["summary"]
    for rule, indicator in expect.get("indicator", {}).items():
        assert by_rule[rule]["indicator"] == indicator
    for words in expect.get("text_contains", []):
        assert words.lower() in text.lower(), (words, text)
    for words in expect.get("text_absent", []):
        assert words.lower() not in text.lower(), (words, text)


# --- Bad input: any number, any unit string, never a 500, always said on a card ---------------------------

_LABS = json.loads((RECORDS / "v01-labs-without-units.json").read_text(encoding="utf-8"))


def _with(value: Any, unit: str | None, dose_unit: str) -> HookCase:
    case = json.loads(json.dumps(_LABS))
    for entry in case["prefetch"]["resources"]["entry"]:
        resource = entry["resource"]
        if resource.get("id") == "plt-1":
            quantity: Json = {"value": value}
            if unit is not None:
                quantity["unit"] = quantity["code"] = unit
            resource["valueQuantity"] = quantity
        if resource.get("id") == "ibu-1":
            resource["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["code"] = dose_unit
            resource["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["unit"] = dose_unit
    return hook_case(case, "records:generated")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    value=st.one_of(
        st.floats(allow_nan=False, allow_infinity=False, width=64),
        st.integers(min_value=-(10**30), max_value=10**30),
        st.text(max_size=300),
    ),
    unit=st.one_of(st.none(), st.text(max_size=5000)),
    dose_unit=st.text(min_size=1, max_size=5000),
)
def test_any_value_and_any_unit_is_answered_and_named(value: Any, unit: str | None, dose_unit: str) -> None:
    cards = fire(_with(value, unit, dose_unit))  # fire() asserts HTTP 200
    text = _text(cards)
    assert "No recent platelet count" not in text  # a count was received: never "no result"
    if unit is None and isinstance(value, int | float):  # a number without a unit: named where it matters
        assert "Platelets '" in text or "Platelet count received but not read" in text
    assert all(len(card["detail"]) <= 2_500 for card in cards)
