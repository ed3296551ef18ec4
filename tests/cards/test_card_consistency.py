"""What a clinician reads is consistent, over every example (all hooks) and every FHIR vignette answer.

* No summary recommends what a card of the same answer forbids: an NSAID while a card says avoid NSAIDs,
  progression or resistance work while resistance is avoided, scheduled exercise while exercise is on hold.
* The colour matches the words: only a critical card says "urgent", "immediately" or "now".
* No critical red flag loses its card or its referral: every critical red-flag finding of the engine leads
  a critical card, and each referral it asks for is offered.
* The budget holds: at most four cards, detail at most 2,500 characters, no internal vocabulary in prose.
* A derived value a card's advice rests on (an MME or acetaminophen total, a computed clearance) is on
  its "Based on" line, however many records the line lists.
"""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hook_answers import HookCase, all_cases, fire

import fhir_bonemet.core.engine as engine
from fhir_bonemet.cards.concerns import arrange, group_concerns
from fhir_bonemet.cards.detail import md_escape, plain
from fhir_bonemet.cds.response import RULES_EXTENSION
from fhir_bonemet.core.model.findings import Assessment, Category, Indicator
from fhir_bonemet.fhir.intake.patient_facts import extract_facts
from fhir_bonemet.fhir.intake.read import read_prefetch
from fhir_bonemet.fhir.outbound.codes import load_outbound_codes
from fhir_bonemet.fhir.terminology.lookup import Terminology
from fhir_bonemet.knowledge import load_thresholds

Json = dict[str, Any]
CASES = all_cases()

FORBIDS_NSAID = re.compile(r"avoid (?:the |an |all )?NSAIDs?|stop or avoid the NSAID", re.IGNORECASE)
RECOMMENDS_NSAID = re.compile(
    r"(?:consider|add|start|prefer|regular|and/or)\b[^.;:]*\bNSAID|NSAID if safe", re.IGNORECASE
)
# All resistance work is off (a platelet gate); avoiding it at one lesion still lets the rest progress.
FORBIDS_RESISTANCE = re.compile(r"no resistance", re.IGNORECASE)
RECOMMENDS_RESISTANCE = re.compile(
    r"\bprogressive\b|\b(?:start|add|progress)\w*\s+(?:\w+\s+)?resistance", re.IGNORECASE
)
EXERCISE_ON_HOLD = re.compile(
    r"exercise on hold|hold (?:structured )?exercise|stop exercise|structured exercise on hold", re.IGNORECASE
)
SCHEDULES_EXERCISE = re.compile(
    r"schedule exercise|progressive exercise|time activity to analgesic peak", re.IGNORECASE
)
URGENT = re.compile(r"\b(?:urgent|urgently|immediate|immediately|now)\b", re.IGNORECASE)
INTERNAL = re.compile(
    r"\b(?:R|P|EX)\d{2}\b|\bS\d{2}\b|§|\\\[D\\\]|latestNRS|service default|`[a-z_]+\.[a-z_]+`|"
    r"(?:Observation|Condition|MedicationRequest|Patient)/[\w-]+|10\*9/L|\{score\}|\bCel\b|\d a\b"
)


@pytest.fixture(scope="module")
def answers() -> dict[str, list[Json]]:
    return {f"{c.name}:{c.hook}": fire(c) for c in CASES}


def _text(card: Json) -> str:
    return f"{card['summary']}\n{card.get('detail', '')}"


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.name}:{c.hook}")
def test_no_summary_recommends_what_a_card_forbids(case: HookCase, answers: dict[str, list[Json]]) -> None:
    cards = answers[f"{case.name}:{case.hook}"]
    everything = "\n".join(_text(c) for c in cards)
    summaries = [c["summary"] for c in cards]
    if FORBIDS_NSAID.search(everything):
        assert not [s for s in summaries if RECOMMENDS_NSAID.search(s)], summaries
    if FORBIDS_RESISTANCE.search(everything):
        assert not [s for s in summaries if RECOMMENDS_RESISTANCE.search(s)], summaries
    if EXERCISE_ON_HOLD.search(everything):
        assert not SCHEDULES_EXERCISE.search(everything), summaries


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.name}:{c.hook}")
def test_the_colour_matches_the_words_and_the_budget_holds(
    case: HookCase, answers: dict[str, list[Json]]
) -> None:
    cards = answers[f"{case.name}:{case.hook}"]
    assert len(cards) <= 4  # a clinician reads two to four cards (the card budget)
    ranks = [{"critical": 0, "warning": 1, "info": 2}[c["indicator"]] for c in cards]
    assert ranks == sorted(ranks)
    for card in cards:
        if card["indicator"] != "critical":
            assert not URGENT.search(card["summary"]), card["summary"]
        assert len(card["detail"]) <= 2500
        assert card["detail"].count("Decision support only") == 1
        found = INTERNAL.search(_text(card))
        assert found is None, (card["summary"], found and found.group(0))
        for suggestion in card.get("suggestions", []):
            verb = suggestion["label"].split(" ", 1)[0]
            assert verb in {"Order", "Cancel", "Reduce", "Create", "Activate"}, suggestion["label"]


def _assess(case: HookCase) -> Assessment:
    context = case.request["context"]
    facts = extract_facts(
        read_prefetch(case.request["prefetch"]),
        Terminology.load(),
        patient_id=context["patientId"],
        draft_orders=context.get("draftOrders"),
        selections=context.get("selections", ()),
    )
    return engine.assess(facts, case.today, load_thresholds(), hook=case.hook)


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.name}:{c.hook}")
def test_no_critical_red_flag_loses_its_card_or_its_referral(
    case: HookCase, answers: dict[str, list[Json]]
) -> None:
    assessment = _assess(case)
    cards = answers[f"{case.name}:{case.hook}"]
    leading = {c["extension"][RULES_EXTENSION][0]: c for c in cards}
    offered = {
        coding["code"]
        for c in cards
        for s in c.get("suggestions", [])
        for a in s["actions"]
        if a["type"] == "create" and a["resource"]["resourceType"] == "ServiceRequest"
        for coding in a["resource"]["code"]["coding"]
    }
    codes = load_outbound_codes()
    for finding in assessment.findings:
        if finding.category is Category.RED_FLAG and finding.indicator is Indicator.CRITICAL:
            assert leading[finding.rule_id]["indicator"] == "critical", finding.rule_id
            for referral in finding.referrals:
                assert codes.referral(referral).local in offered, (finding.rule_id, referral)


def test_cards_per_answer_and_detail_length_meet_the_targets(answers: dict[str, list[Json]]) -> None:
    """The figures ``benchmarks/card_signal.py`` prints: mean at most 3 cards, median detail at most 900."""
    counts = [len(cards) for cards in answers.values()]
    lengths = sorted(len(c["detail"]) for cards in answers.values() for c in cards)
    assert sum(counts) / len(counts) <= 3
    assert statistics.median(lengths) <= 900


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.name}:{c.hook}")
def test_every_derived_value_a_card_rests_on_is_on_its_based_on_line(
    case: HookCase, answers: dict[str, list[Json]]
) -> None:
    assessment = _assess(case)
    cards = answers[f"{case.name}:{case.hook}"]
    if not assessment.in_population or not assessment.findings:
        return
    concerns = arrange(group_concerns(assessment.findings), assessment.exercise)
    assert len(concerns) == len(cards)
    for concern, card in zip(concerns, cards, strict=True):
        based_on = card["detail"].split("Based on:", 1)[-1].split("\n", 1)[0]
        for fact in (u for f in concern.findings for u in f.used if u.ref is None):
            shown = md_escape(f"{plain(fact.label)} {plain(fact.value)}")
            assert shown in based_on, (card["summary"], shown)


def test_card_signal_lists_its_quiet_option_and_refuses_others() -> None:
    """``make bench`` runs ``card_signal.py --quiet``: ``--help`` shows it, and a mistyped option is an error
    rather than silently ignored."""
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "card_signal.py"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(script), *args], capture_output=True, text=True, timeout=60, check=False
        )

    shown = run("--help")
    assert shown.returncode == 0
    assert "--quiet" in shown.stdout
    mistyped = run("--quite")
    assert mistyped.returncode == 2
    assert "unrecognized arguments: --quite" in mistyped.stderr
