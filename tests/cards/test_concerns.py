"""One card per concern, routine advice folded under a critical red flag, a budget of five, harm order."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from fhir_bonemet.cards.build import CardContext, build_cards
from fhir_bonemet.cards.concerns import CARD_BUDGET, Concern
from fhir_bonemet.cards.suggestions import SuggestionBuilder
from fhir_bonemet.cds.response import RULES_EXTENSION, CDSResponse
from fhir_bonemet.core.model.findings import (
    Assessment,
    Category,
    ExercisePlan,
    Finding,
    Indicator,
    MissingFact,
    OrderAction,
    Referral,
    Tier,
    UsedFact,
)
from fhir_bonemet.core.model.hooks import Hook
from fhir_bonemet.fhir.outbound.codes import load_outbound_codes
from fhir_bonemet.knowledge import load_sources, load_thresholds

PATIENT = "Patient/bm-1"
CONTEXT = CardContext("patient-view", "i-1", PATIENT, date(2025, 6, 2))

CODES = load_outbound_codes()
SOURCES = load_sources()
THRESHOLDS = load_thresholds()


def f(rule: str, indicator: Indicator, category: Category, summary: str, **kw: Any) -> Finding:
    return Finding(rule, rule, category, indicator, summary, "why", **kw)


def cards(*findings: Finding, plan: ExercisePlan | None = None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = CDSResponse(
        cards=build_cards(
            Assessment(True, "x", findings, plan),
            context=CONTEXT,
            codes=CODES,
            sources=SOURCES,
            thresholds=THRESHOLDS,
        )
    ).to_wire()["cards"]
    return out


def rules(answer: list[dict[str, Any]]) -> list[list[str]]:
    return [c["extension"][RULES_EXTENSION] for c in answer]


IBU = UsedFact("Ibuprofen 400 mg", "active", "MedicationRequest/ibu")
NAP = UsedFact("Naproxen 500 mg", "active", "MedicationRequest/nap")
P16 = f("P16", Indicator.WARNING, Category.MEDICATION_SAFETY, "NSAID with CrCl 26: avoid", used=(IBU,))
P19 = f("P19", Indicator.WARNING, Category.MEDICATION_SAFETY, "NSAID with risk factors", used=(IBU,))
P15 = f("P15", Indicator.WARNING, Category.PAIN, "Opioid without a laxative: add a bowel regimen")
P02 = f("P02", Indicator.INFO, Category.PAIN, "Mild pain (NRS 2): consider regular paracetamol")
P06 = f(
    "P06",
    Indicator.INFO,
    Category.PAIN,
    "Focal bone pain: radiotherapy",
    referrals=(Referral.RADIATION_ONCOLOGY,),
)
P07 = f("P07", Indicator.INFO, Category.BONE_HEALTH, "No bone-modifying agent: consider one")
R01 = f("R01", Indicator.CRITICAL, Category.RED_FLAG, "Possible cord compression: MSCC pathway now")
P04 = f("P04", Indicator.WARNING, Category.PAIN, "Severe pain: titrate the strong opioid")


def test_the_nsaid_rules_about_one_drug_are_one_card_two_drugs_two() -> None:
    assert rules(cards(P16, P19)) == [["P16", "P19"]]
    other = replace(P19, used=(NAP,))
    assert rules(cards(P16, other)) == [["P16"], ["P19"]]


def test_renal_toxicity_reads_before_the_bowel_regimen() -> None:
    assert [r[0] for r in rules(cards(P15, P16))] == ["P16", "P15"]


def test_mild_pain_never_has_a_card_of_its_own() -> None:
    assert cards(P02) == []
    answer = cards(P02, P15)
    assert rules(answer) == [["P15", "P02"]]
    assert "**Also:** Mild pain (NRS 2): consider regular paracetamol." in answer[0]["detail"]


def test_a_correct_zoledronic_acid_dose_is_a_remark_a_dose_to_change_a_card() -> None:
    correct = f("P08", Indicator.WARNING, Category.BONE_HEALTH, "Zoledronic acid: 4 mg advised for CrCl 73")
    assert cards(correct) == []
    too_high = replace(
        correct,
        order_actions=(OrderAction("MedicationRequest/za", "update", "ZA: reduce the dose to 3.5 mg"),),
    )
    assert rules(cards(too_high)) == [["P08"]]
    # An active (not draft) dose above the advice has no order action, and still its card.
    above = replace(correct, summary="Zoledronic acid 4 mg is above the 3.5 mg advised for CrCl 55: reduce")
    assert rules(cards(above)) == [["P08"]]
    refused = replace(correct, indicator=Indicator.CRITICAL, summary="Zoledronic acid: not recommended")
    assert rules(cards(refused)) == [["P08"]]


def test_exercise_timing_is_left_out_while_exercise_is_on_hold() -> None:
    p25 = f(
        "P25", Indicator.INFO, Category.PAIN, "Exercise with pain treatment: time activity to analgesic peak"
    )
    on_hold = ExercisePlan(Tier.HOLD, (), (), "none", "none", (), on_hold_reason="red flag")
    assert cards(p25, P15, plan=on_hold)[0]["extension"][RULES_EXTENSION] == ["P15"]
    running = replace(on_hold, tier=Tier.LOW, on_hold_reason=None)
    assert "P25" in {r for c in rules(cards(p25, P15, plan=running)) for r in c}


def test_routine_advice_waits_on_the_critical_card_with_its_referral_left_out() -> None:
    answer = cards(R01, P04, P06, P07)
    assert rules(answer) == [["R01", "P06", "P07"], ["P04"]]
    assert "**Also, when stable:**" in answer[0]["detail"]
    labels = [s["label"] for c in answer for s in c.get("suggestions", [])]
    assert not [label for label in labels if "radiation" in label]


def test_advice_folded_onto_a_card_names_its_evidence_there() -> None:
    # The folded advice is this card's advice as much as its rule ids are: its sources are cited with it.
    r01 = replace(R01, evidence=("S12",))
    p07 = replace(P07, evidence=("S16",))
    waiting = cards(r01, p07)  # routine advice waiting under a critical red flag
    assert rules(waiting) == [["R01", "P07"]]
    roomless = cards(*_warnings_past_the_budget(p07))  # a concern folded to keep the card budget
    assert rules(roomless)[-1] == [LAST_KEPT, "P07"]
    s16 = SOURCES["S16"]
    for host in (waiting[0], roomless[-1]):
        assert "S16" in host["source"]["label"]
        assert s16.link in [link["url"] for link in host["links"]]
        assert s16.link in host["detail"].split("**Evidence:**")[1]


def test_the_card_keeps_the_colour_the_rule_gave_its_finding() -> None:
    # Urgency is decided by the rule (R03 declares its urgent band critical); the card never recolours a
    # finding by reading its words, so a rule's indicator is what the clinician sees.
    for indicator in Indicator:
        r02 = f("R02", indicator, Category.RED_FLAG, "Spinal red-flag pain: MSCC coordinator within 24 h")
        assert cards(r02)[0]["indicator"] == indicator.value


def test_beyond_the_budget_the_least_urgent_fold_into_the_last_card() -> None:
    many = [
        f(f"X{i}", Indicator.WARNING if i < 4 else Indicator.INFO, Category.PAIN, f"Advice number {i}")
        for i in range(1, 9)
    ]
    answer = cards(*many)
    assert len(answer) == CARD_BUDGET
    assert answer[-1]["extension"][RULES_EXTENSION] == [f"X{i}" for i in range(CARD_BUDGET, 9)]
    assert "Advice number 8" in answer[-1]["detail"]


def _labels(card: dict[str, Any]) -> list[str]:
    return [s["label"] for s in card.get("suggestions", [])]


# The last card kept when one warning concern too many arrives (see _warnings_past_the_budget).
LAST_KEPT = f"X{CARD_BUDGET}"


def _warnings_past_the_budget(last: Finding) -> list[Finding]:
    """A card budget's worth of warning concerns before ``last``: it is folded into the last card kept."""
    return [
        *(f(f"X{i}", Indicator.WARNING, Category.PAIN, f"Advice {i}") for i in range(1, CARD_BUDGET + 1)),
        last,
    ]


def test_a_concern_folded_for_room_keeps_its_suggestions_on_the_card_it_joins() -> None:
    answer = cards(*_warnings_past_the_budget(P06))
    assert len(answer) == CARD_BUDGET
    host = answer[-1]
    assert host["extension"][RULES_EXTENSION] == [LAST_KEPT, "P06"]
    assert "**Also:** Focal bone pain: radiotherapy." in host["detail"]
    assert _labels(host) == ["Order referral to radiation oncology"]
    assert host["selectionBehavior"] == "any"  # one suggestion, no alternative to choose from


def test_a_folded_referral_another_card_offers_is_not_offered_twice() -> None:
    earlier = f("X1", Indicator.WARNING, Category.PAIN, "Advice number 1", referrals=P06.referrals)
    answer = cards(earlier, *_warnings_past_the_budget(P06)[1:])
    assert [label for card in answer for label in _labels(card)] == ["Order referral to radiation oncology"]
    assert _labels(answer[0]) == ["Order referral to radiation oncology"]


def _five_red_flags(last: Referral = Referral.PALLIATIVE_CARE) -> list[Finding]:
    return [
        f(rid, Indicator.CRITICAL, Category.RED_FLAG, f"Red flag {rid}", referrals=(referral,))
        for rid, referral in (
            ("R01", Referral.MSCC_PATHWAY),
            ("R02", Referral.SPINE_SURGERY),
            ("R03", Referral.ACUTE_ONCOLOGY),
            ("R05", Referral.ORTHOPAEDIC_SURGERY),
            ("R08", last),
        )
    ]


FOLDED_WARNING = f(
    "P23", Indicator.WARNING, Category.PAIN, "Focal bone pain", referrals=(Referral.RADIATION_ONCOLOGY,)
)
UNOFFERED = "**Not offered on this card** (its suggestions are a choice of one)"


def test_a_red_flag_card_keeps_its_choice_its_own() -> None:
    # A red-flag card lets the clinician take one of its suggestions: what a concern folded onto it
    # proposes is no alternative to them, so it is not mixed in (taking the radiotherapy referral would
    # rule out the palliative-care one).  It is not dropped in silence either: the card names it, so the
    # clinician orders it separately.
    answer = cards(*_five_red_flags(), FOLDED_WARNING)
    host = answer[-1]
    assert "P23" in host["extension"][RULES_EXTENSION]
    assert host["selectionBehavior"] == "at-most-one"
    assert _labels(host) == ["Order referral to palliative care"]
    assert not [label for card in answer for label in _labels(card) if "radiation" in label]
    assert f"{UNOFFERED}: Order referral to radiation oncology." in host["detail"]
    assert host["detail"].index("**Also:**") < host["detail"].index(UNOFFERED)


def test_a_red_flag_card_whose_suggestions_all_go_together_offers_what_is_folded_onto_it() -> None:
    # The host red flag orders its review *and* cancels a draft (R03 and a calcium supplement): its card
    # lets the clinician take every suggestion (any), so the folded advice's referral is offered there too.
    draft = "MedicationRequest/draft-calcium"
    flags = _five_red_flags()
    flags[-1] = replace(
        flags[-1], order_actions=(OrderAction(draft, "delete", "calcium is high: do not give calcium"),)
    )
    context = replace(
        CONTEXT,
        hook=Hook.ORDER_SIGN,
        draft_orders={
            draft: {
                "resourceType": "MedicationRequest",
                "id": "draft-calcium",
                "status": "draft",
                "intent": "order",
                "medicationCodeableConcept": {"text": "Calcium carbonate 1250 mg"},
                "subject": {"reference": PATIENT},
            }
        },
    )
    answer = CDSResponse(
        cards=build_cards(
            Assessment(True, "x", (*flags, FOLDED_WARNING)),
            context=context,
            codes=CODES,
            sources=SOURCES,
            thresholds=THRESHOLDS,
        )
    ).to_wire()["cards"]
    host = answer[-1]
    assert host["selectionBehavior"] == "any"
    assert _labels(host) == [
        "Order referral to palliative care",
        "Cancel calcium carbonate 1250 mg order",
        "Order referral to radiation oncology",
    ]
    assert "Not offered" not in host["detail"]


def test_a_folded_suggestion_another_card_offers_is_not_named_as_unoffered() -> None:
    flags = _five_red_flags()
    flags[0] = replace(flags[0], referrals=(*flags[0].referrals, Referral.RADIATION_ONCOLOGY))
    answer = cards(*flags, FOLDED_WARNING)
    assert "Order referral to radiation oncology" in _labels(answer[0])
    assert "Not offered" not in answer[-1]["detail"]


def test_a_card_that_offers_what_is_folded_onto_it_names_nothing_as_unoffered() -> None:
    host = cards(*_warnings_past_the_budget(P06))[-1]
    assert _labels(host) == ["Order referral to radiation oncology"]
    assert "Not offered" not in host["detail"]


# What a folded finding recorded as missing or could not read: a value received but unreadable is not
# "no value", and the advice it affects is named with it.
SITE_GAP = MissingFact("site of the pain", "radiotherapy site not narrowed")
PLATELETS_UNREAD = MissingFact(
    "Platelets '30' (no unit, 2025-06-01)", "not used (no unit); verify it", unreadable=True
)
GAPPY_P06 = replace(P06, title="Focal bone pain: radiotherapy referral", missing=(SITE_GAP, PLATELETS_UNREAD))
GAPPY_P02 = replace(P02, title="Mild pain without regular analgesia", missing=(SITE_GAP, PLATELETS_UNREAD))


def _folded_gaps_host(fold: str) -> dict[str, Any]:
    """The card a finding with a missing and an unreadable value is folded onto, by each way of folding."""
    if fold == "waits for the red flag":
        answer = cards(R01, GAPPY_P06)
        host, folded = answer[0], "P06"
    elif fold == "needs no action":
        answer = cards(GAPPY_P02, P15)
        host, folded = answer[0], "P02"
    else:  # folded to keep the card budget
        answer = cards(*_warnings_past_the_budget(GAPPY_P06))
        host, folded = answer[-1], "P06"
    assert folded in host["extension"][RULES_EXTENSION]  # the folded advice stays traceable
    assert host["extension"][RULES_EXTENSION][0] != folded  # and leads no card of its own
    return host


@pytest.mark.parametrize("fold", ["waits for the red flag", "needs no action", "budget"])
def test_the_card_says_what_the_advice_folded_onto_it_found_missing_or_unreadable(fold: str) -> None:
    host = _folded_gaps_host(fold)
    detail = host["detail"]
    topic = "Focal bone pain: radiotherapy referral" if fold != "needs no action" else "Mild pain"
    assert f"**Missing (advice under Also):** site of the pain ({topic}" in detail
    assert "(advice kept on the cautious side)." in detail
    # Received but unreadable is said as such, never as missing.
    assert (
        "**Received but not read (advice under Also):** Platelets '30' (no unit, 2025-06-01): "
        f"not used (no unit); verify it ({topic}"
    ) in detail
    assert detail.count("Platelets '30'") == 1
    # After the "Also" line that names the advice, before the evidence and the disclaimer.
    also = detail.index("**Also")
    assert also < detail.index("**Received but not read (advice under Also)") < detail.index("*Decision")


def test_a_gap_the_card_already_names_is_not_said_again_and_a_shared_gap_is_said_once() -> None:
    r01 = replace(R01, missing=(SITE_GAP,))
    p07 = replace(P07, title="Bone-modifying agent not in use", missing=(PLATELETS_UNREAD,))
    detail = cards(r01, GAPPY_P06, p07)[0]["detail"]
    assert "**Missing:** site of the pain (advice kept on the cautious side)." in detail  # the card's own
    assert detail.count("site of the pain") == 1
    assert "Missing (advice under Also)" not in detail
    # One unreadable value two folded findings would have used: one note naming both.
    assert detail.count("Platelets '30'") == 1
    assert ("(Focal bone pain: radiotherapy referral and Bone-modifying agent not in use).") in detail


def test_folded_advice_that_makes_something_else_of_a_record_the_card_names_keeps_its_reading() -> None:
    # The card's own line names the record and what the card made of it; the folded advice's other reading
    # follows under Also, with the advice it affects, and nothing the card's line says is said again.
    r01 = replace(R01, missing=(PLATELETS_UNREAD,))
    read_low = replace(
        PLATELETS_UNREAD, consequence="read as 30 ×10⁹/L: an NSAID is not suggested; verify it"
    )
    p06 = replace(GAPPY_P06, missing=(read_low,))
    detail = cards(r01, p06)[0]["detail"]
    own = "**Received but not read:** Platelets '30' (no unit, 2025-06-01): not used (no unit); verify it."
    assert own in detail
    assert (
        "**Received but not read (advice under Also):** Platelets '30' (no unit, 2025-06-01): read as "
        "30 ×10⁹/L: an NSAID is not suggested (Focal bone pain: radiotherapy referral)."
    ) in detail
    assert detail.count("not used (no unit)") == 1
    assert detail.count("verify it") == 1
    # A missing record the card names, with a note of what its absence changes for the folded advice.
    renal = MissingFact("renal function", "the highest-risk group cannot be excluded")
    nsaid_later = MissingFact("renal function", "an NSAID only after renal function is checked")
    detail = cards(replace(R01, missing=(renal,)), replace(GAPPY_P06, missing=(nsaid_later,)))[0]["detail"]
    assert "**Missing:** renal function (advice kept on the cautious side)." in detail
    assert (
        "**Missing (advice under Also):** renal function: an NSAID only after renal function is checked "
        "(Focal bone pain: radiotherapy referral)"
    ) in detail


def test_a_gap_the_folded_advice_states_itself_is_not_repeated() -> None:
    # "No dental examination on record: arrange one" is the gap: a line saying so again adds nothing.
    p10 = f(
        "P10",
        Indicator.INFO,
        Category.BONE_HEALTH,
        "No dental examination on record: arrange one",
        missing=(MissingFact("dental examination", "treated as not done"),),
    )
    detail = cards(R01, p10)[0]["detail"]
    assert "advice under Also" not in detail


def test_folded_advice_without_gaps_adds_no_note() -> None:
    for answer, host in (
        (cards(R01, P06, P07), 0),
        (cards(P02, P15), 0),
        (cards(*_warnings_past_the_budget(P06)), -1),
    ):
        detail = answer[host]["detail"]
        assert "**Also" in detail
        assert "advice under Also" not in detail
        assert "Missing" not in detail
        assert "Received but not read" not in detail


def test_naming_what_a_card_cannot_offer_does_not_count_as_offering_it() -> None:
    # Each referral is offered once per answer; one only named on a card of one choice stays on offer for
    # any other card that asks for it.
    builder = SuggestionBuilder(
        CODES,
        THRESHOLDS,
        hook=Hook.PATIENT_VIEW,
        patient_ref=PATIENT,
        today=CONTEXT.today,
        user_ref=None,
        encounter_ref=None,
        draft_orders={},
    )
    concern = Concern((FOLDED_WARNING,))
    named = [s["label"] for s in builder.unoffered(concern, "card-1")]
    assert named == ["Order referral to radiation oncology"]
    assert [s["label"] for s in builder.referrals(concern, "card-2")] == named
    assert builder.unoffered(concern, "card-3") == []  # now offered: nothing left to name


def test_data_notes_name_the_data_not_the_prefetch_keys() -> None:
    from fhir_bonemet.cards.build import data_names, incomplete_history_note

    assert data_names(("observations-flags",)) == "red-flag symptoms"
    # Split keys hold the same data: named once; a panel search only what is reported inside panels.
    keys = ("observations-labs", "observations-labs-2", "procedures")
    assert data_names(keys) == "laboratory results and procedures"
    assert data_names(("observation-panels-labs", "observation-panels-labs-2")) == (
        "laboratory results reported in panels"
    )
    assert data_names(("observations-pain", "medication-requests", "x-local")) == (
        "pain scores, medication orders and x-local"
    )
    assert "only the newest pain scores could be read" in incomplete_history_note(("observations-pain",))


def test_one_record_read_differently_by_two_merged_findings_is_one_line_with_both_effects() -> None:
    # The exercise gate holds on a hypercalcaemia-symptom answer nobody could read; R03 asks for the
    # symptoms to be checked now.  On one card the record is named once, and neither effect is lost.
    what = "Symptoms of hypercalcaemia 'unclear' (answer not recognised, 2025-06-01)"
    held = MissingFact(what, "read as symptomatic: exercise held until checked; verify it", unreadable=True)
    check = MissingFact(
        what, "not read as symptomatic (that would mean admission): check the symptoms now", unreadable=True
    )
    plain_line = MissingFact(what, "not used; verify it", unreadable=True)
    detail = cards(replace(P16, missing=(held, plain_line)), replace(P19, missing=(check, held)))[0]["detail"]
    assert detail.count("Symptoms of hypercalcaemia") == 1
    assert (
        f"**Received but not read:** {what}: read as symptomatic: exercise held until checked; "
        "check the symptoms now; verify it."
    ) in detail


# Six concerns of which the least urgent, the advice to start a bone-modifying agent with its dental check,
# must be folded for room; the card before it is the bowel regimen's.
_BOWEL = f(
    "P15", Indicator.WARNING, Category.MEDICATION_SAFETY, "Opioid without a laxative: add a bowel regimen"
)
_DENTAL = f(
    "P07", Indicator.INFO, Category.BONE_HEALTH, "No bone-modifying agent: dental check, then consider one"
)
_SPINAL = f("R02", Indicator.WARNING, Category.RED_FLAG, "Spinal pain: MRI within a week")
_EXERCISE = f("EX01", Indicator.WARNING, Category.EXERCISE, "High skeletal risk: 1:1 physio only")


def _host(answer: list[dict[str, Any]], rule_id: str) -> list[str]:
    (host,) = [c for c in answer if rule_id in c["extension"][RULES_EXTENSION]]
    return list(host["extension"][RULES_EXTENSION])


def test_advice_folded_for_room_goes_with_the_pain_plan_not_the_bowel_regimen() -> None:
    answer = cards(_SPINAL, P16, P04, _BOWEL, _DENTAL)
    assert len(answer) == CARD_BUDGET
    assert _host(answer, "P07") == ["P04", "P07"]
    assert _host(answer, "P15") == ["P15"]
    assert "**Also:** No bone-modifying agent" in next(
        c["detail"] for c in answer if "P07" in c["extension"][RULES_EXTENSION]
    )


def test_advice_folded_for_room_goes_to_a_card_of_its_own_kind_first() -> None:
    # A bone-health rule outside the bone-modifying-agent family (those would share the dental check's card).
    p12 = f("P12", Indicator.WARNING, Category.BONE_HEALTH, "Falls risk with bone metastases: review")
    answer = cards(_SPINAL, p12, P04, _BOWEL, _DENTAL)
    assert len(answer) == CARD_BUDGET
    assert _host(answer, "P07") == ["P12", "P07"]


def test_a_concern_with_no_related_card_leaves_the_fold_to_one_that_has_one() -> None:
    """The exercise advice is the least urgent but has no kin among the cards: a more urgent pain concern
    joins the pain plan instead, and the exercise advice keeps its own card rather than joining the bowel
    regimen's."""
    exercise_info = replace(_EXERCISE, indicator=Indicator.INFO)
    p22 = f("P22", Indicator.WARNING, Category.PAIN, "Neuropathic pain: consider an adjuvant")
    answer = cards(_SPINAL, P04, _BOWEL, p22, exercise_info)
    assert len(answer) == CARD_BUDGET
    assert _host(answer, "EX01") == ["EX01"]
    assert _host(answer, "P15") == ["P15"]
    assert _host(answer, "P22") == ["P04", "P22"]


def test_a_line_pointing_to_advice_merged_into_the_card_is_not_said_twice() -> None:
    # Severe pain says "if focal bone pain, consider radiotherapy (see P06)"; with P06 on the same card,
    # its own line ("Focal bone pain: radiotherapy") says it.  Alone, the pointer line stays.
    recs = (
        "Titrate the strong opioid.",
        "Reassess within 24-72 h.",
        "If the pain is focal bone pain, consider palliative radiotherapy (see P06).",
        "Prescribe a bowel regimen with the opioid.",
    )
    severe = replace(P04, recommendations=recs)
    (merged,) = cards(severe, replace(P06, indicator=Indicator.WARNING))
    assert rules([merged]) == [["P04", "P06"]]
    assert "consider palliative radiotherapy" not in merged["detail"]
    assert "- Focal bone pain: radiotherapy" in merged["detail"]
    assert "- Prescribe a bowel regimen with the opioid." in merged["detail"]
    (alone,) = cards(severe)
    assert "- If the pain is focal bone pain, consider palliative radiotherapy." in alone["detail"]
