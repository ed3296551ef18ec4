"""Cards built from findings: CDS Hooks invariants, order, uuids, dedupe, suggestions and detail text."""

from __future__ import annotations

import itertools
import re
from dataclasses import replace
from typing import Any

import pytest
from cards_builders import (
    PATIENT,
    TODAY,
    draft_orders,
    exercise_finding,
    exercise_plan,
    full_assessment,
    make_cards,
    make_careplan,
    p04,
    p14,
    r04,
    r09,
)
from fhir.resources.R4B.careplan import CarePlan
from fhir.resources.R4B.servicerequest import ServiceRequest

from fhir_bonemet.cards.build import SKELETAL_RISK_EXTENSION, CardContext
from fhir_bonemet.cds.response import RULES_EXTENSION, Card, CDSResponse
from fhir_bonemet.core.model.findings import (
    Assessment,
    Category,
    Finding,
    Indicator,
    OrderAction,
    Referral,
    UsedFact,
)
from fhir_bonemet.fhir.outbound.codes import load_outbound_codes
from fhir_bonemet.web.routes import issued_cards

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
LOCAL = load_outbound_codes().local_system


def ctx(
    hook: str = "patient-view", instance: str = "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea", **kw: Any
) -> CardContext:
    return CardContext(hook=hook, hook_instance=instance, patient_ref=PATIENT, today=TODAY, **kw)


def wire(cards: list[Card]) -> list[dict[str, Any]]:
    return CDSResponse(cards=cards).to_wire()["cards"]


def by_rule(cards: list[dict[str, Any]], rule: str) -> dict[str, Any]:
    return next(c for c in cards if c["extension"][RULES_EXTENSION][0] == rule)


def test_every_card_meets_the_cds_hooks_response_invariants() -> None:
    plan = make_careplan(full_assessment(), patient_ref=PATIENT, today=TODAY)
    cards = wire(
        make_cards(full_assessment(), context=ctx("order-sign", careplan=plan, draft_orders=draft_orders()))
    )
    assert cards
    for card in cards:
        Card.model_validate(card)  # the wire model re-checks everything below as well
        assert UUID.match(card["uuid"])
        assert 0 < len(card["summary"]) < 140
        assert card["indicator"] in ("info", "warning", "critical")
        assert card["source"]["label"]
        assert card["source"]["topic"]["system"] == LOCAL
        assert ("suggestions" in card) == ("selectionBehavior" in card)
        assert all(reason["display"] for reason in card["overrideReasons"])
        for link in card.get("links", []):
            assert link["type"] == "absolute"
            assert link["url"].startswith(("https://", "http://"))
            assert "appContext" not in link
        for suggestion in card.get("suggestions", []):
            assert UUID.match(suggestion["uuid"])
            for action in suggestion["actions"]:
                assert action["description"]
                if action["type"] == "delete":
                    assert action["resourceId"]
                    assert "resource" not in action
                else:
                    assert action["resource"]["resourceType"]
        assert not any(value in (None, [], {}) for value in card.values())


def test_critical_cards_come_first_then_warnings_then_info() -> None:
    cards = wire(make_cards(full_assessment(), context=ctx()))
    ranks = [{"critical": 0, "warning": 1, "info": 2}[c["indicator"]] for c in cards]
    assert ranks == sorted(ranks)
    assert [c["extension"][RULES_EXTENSION][0] for c in cards] == ["R04", "R09", "P04", "EX-TIER"]
    # Starting a bone-modifying agent is routine: while the red flag is active it waits on the R04 card.
    assert by_rule(cards, "R04")["extension"][RULES_EXTENSION] == ["R04", "P07"]
    assert "**Also, when stable:**" in by_rule(cards, "R04")["detail"]


def test_order_is_stable_whatever_order_the_findings_arrive_in() -> None:
    base = full_assessment()
    expected = [c.extension for c in make_cards(base, context=ctx())]
    for permutation in itertools.islice(itertools.permutations(base.findings), 0, 720, 97):
        shuffled = replace(base, findings=permutation)
        assert [c.extension for c in make_cards(shuffled, context=ctx())] == expected


def test_uuids_are_stable_across_retries_and_differ_between_hook_calls() -> None:
    first = wire(make_cards(full_assessment(), context=ctx("order-sign", draft_orders=draft_orders())))
    again = wire(make_cards(full_assessment(), context=ctx("order-sign", draft_orders=draft_orders())))
    other = wire(
        make_cards(
            full_assessment(), context=ctx("order-sign", "another-instance", draft_orders=draft_orders())
        )
    )

    def ids(cards: list[dict[str, Any]]) -> list[str]:
        return [c["uuid"] for c in cards] + [s["uuid"] for c in cards for s in c.get("suggestions", [])]

    assert ids(first) == ids(again)
    assert not set(ids(first)) & set(ids(other))
    assert len(set(ids(first))) == len(ids(first))


def test_a_concern_fires_once_merged_rule_ids_name_every_rule() -> None:
    # R09 covers P14: the P14 finding joins the R09 card instead of making a second card.
    cards = wire(make_cards(full_assessment(), context=ctx("order-sign", draft_orders=draft_orders())))
    assert by_rule(cards, "R09")["extension"][RULES_EXTENSION] == ["R09", "P14"]
    assert sum("P14" in c["extension"][RULES_EXTENSION] for c in cards) == 1
    # Its advice is not lost: the merged finding's summary is in the detail.
    assert "Avoid adding lorazepam" in by_rule(cards, "R09")["detail"]
    # The lorazepam draft is deleted once, not by both findings.
    deletes = [
        a for c in cards for s in c.get("suggestions", []) for a in s["actions"] if a["type"] == "delete"
    ]
    assert [d["resourceId"] for d in deletes] == ["MedicationRequest/draft-lorazepam"]


def test_the_same_rule_firing_twice_gives_one_card() -> None:
    second = replace(p04(), summary="Severe pain at the femur: titrate the strong opioid")
    cards = wire(make_cards(Assessment(True, "x", (p04(), second)), context=ctx()))
    assert len(cards) == 1
    assert "titrate the strong opioid" in cards[0]["detail"]


def test_each_referral_is_proposed_once_on_the_most_severe_card() -> None:
    cards = wire(make_cards(full_assessment(), context=ctx()))
    labels = [s["label"] for c in cards for s in c.get("suggestions", [])]
    assert labels.count("Order referral to radiation oncology") == 1
    assert "Order referral to radiation oncology" in [
        s["label"] for s in by_rule(cards, "R04")["suggestions"]
    ]


def test_red_flag_cards_allow_at_most_one_suggestion_others_any() -> None:
    cards = wire(make_cards(full_assessment(), context=ctx()))
    red = by_rule(cards, "R04")
    assert red["selectionBehavior"] == "at-most-one"
    assert [s.get("isRecommended", False) for s in red["suggestions"]] == [True, False]
    assert red["suggestions"][0]["label"] == "Order referral to spine surgery (spinal stability)"
    assert by_rule(cards, "EX-TIER")["selectionBehavior"] == "any"


def _text_drafts(*named: tuple[str, str]) -> dict[str, dict[str, Any]]:
    """Draft medication orders named by text only, by reference: ``(id suffix, medication text)`` each."""
    return {
        f"MedicationRequest/draft-{name}": {
            "resourceType": "MedicationRequest",
            "id": f"draft-{name}",
            "status": "draft",
            "intent": "order",
            "medicationCodeableConcept": {"text": text},
            "subject": {"reference": PATIENT},
        }
        for name, text in named
    }


def test_a_red_flag_lets_the_clinician_order_its_review_and_cancel_each_draft_it_names() -> None:
    """R03 on two calcium supplement drafts: the acute review and both cancellations are one response,
    not alternatives, so the card must let the clinician take all three (``any``)."""
    drafts = _text_drafts(("calcium", "Calcium carbonate 1250 mg"), ("vitd", "Colecalciferol 400 IU"))
    r03 = Finding(
        rule_id="R03",
        title="Hypercalcaemia",
        category=Category.RED_FLAG,
        indicator=Indicator.CRITICAL,
        summary="Hypercalcaemia: urgent review, IV fluids; stop calcium and vitamin D",
        rationale="Corrected calcium 13.8 mg/dL",
        evidence=("S24",),
        referrals=(Referral.ACUTE_ONCOLOGY,),
        order_actions=tuple(
            OrderAction(ref, "delete", "calcium is high: do not give calcium or vitamin D") for ref in drafts
        ),
    )
    card = wire(make_cards(Assessment(True, "x", (r03,)), context=ctx("order-sign", draft_orders=drafts)))[0]
    assert card["selectionBehavior"] == "any"
    assert [s["label"] for s in card["suggestions"]] == [
        "Order acute oncology review",
        "Cancel calcium carbonate 1250 mg order",
        "Cancel colecalciferol 400 IU order",
    ]
    assert card["suggestions"][0]["isRecommended"] is True


def test_a_red_flag_with_one_draft_to_stop_offers_the_referral_beside_the_cancellation() -> None:
    card = wire(
        make_cards(Assessment(True, "x", (r09(),)), context=ctx("order-sign", draft_orders=draft_orders()))
    )[0]
    assert card["selectionBehavior"] == "any"
    assert [s["label"] for s in card["suggestions"]] == [
        "Order referral to a pain or palliative care specialist (review of the sedating regimen)",
        "Cancel lorazepam 1 mg order",
    ]


def test_a_red_flag_about_several_drafts_recommends_one_change_only() -> None:
    """R09 on three drafts ("stop one"): each cancellation is the safest change to its own draft, but under
    at-most-one only one suggestion may be recommended (cds-resp-1): the first, the benzodiazepine."""
    drafts = {
        **draft_orders(),
        **_text_drafts(("gabapentin", "Gabapentin 300 mg"), ("morphine", "Morphine 10 mg")),
    }
    three = replace(
        r09(),
        order_actions=(
            *r09().order_actions,
            OrderAction("MedicationRequest/draft-gabapentin", "delete", "Remove the gabapentin draft"),
            OrderAction("MedicationRequest/draft-morphine", "delete", "Remove the morphine draft"),
        ),
    )
    assessment = Assessment(True, "x", (three,))
    card = wire(make_cards(assessment, context=ctx("order-sign", draft_orders=drafts)))[0]
    assert card["selectionBehavior"] == "at-most-one"
    assert [s["label"] for s in card["suggestions"] if s.get("isRecommended")] == [
        "Cancel lorazepam 1 mg order"
    ]
    assert [a["resourceId"] for s in card["suggestions"] for a in s["actions"] if a["type"] == "delete"] == [
        "MedicationRequest/draft-lorazepam",
        "MedicationRequest/draft-gabapentin",
        "MedicationRequest/draft-morphine",
    ]


def test_referral_suggestion_creates_a_valid_draft_service_request() -> None:
    cards = wire(make_cards(full_assessment(), context=ctx(user_ref="Practitioner/dr-1")))
    create = by_rule(cards, "R04")["suggestions"][1]["actions"][0]
    resource = create["resource"]
    ServiceRequest.model_validate(resource)
    assert (resource["status"], resource["intent"], resource["priority"]) == ("draft", "order", "urgent")
    codes = {(c["system"], c["code"]) for c in resource["code"]["coding"]}
    assert (LOCAL, "ref-radiation-oncology") in codes
    assert ("http://snomed.info/sct", "306140002") in codes
    assert resource["subject"] == {"reference": PATIENT}
    assert resource["requester"] == {"reference": "Practitioner/dr-1"}
    assert resource["supportingInfo"] == [{"reference": "Observation/sins-1"}]
    assert "R04" in resource["note"][0]["text"]


def test_order_actions_only_on_order_hooks_and_only_for_this_calls_drafts() -> None:
    on_view = wire(make_cards(full_assessment(), context=ctx("patient-view", draft_orders=draft_orders())))
    assert not any(
        a["type"] in ("delete", "update")
        for c in on_view
        for s in c.get("suggestions", [])
        for a in s["actions"]
    )
    no_drafts = wire(make_cards(full_assessment(), context=ctx("order-select")))
    assert not any(
        a["type"] == "delete" for c in no_drafts for s in c.get("suggestions", []) for a in s["actions"]
    )


def test_an_update_that_names_no_concrete_change_offers_no_suggestion() -> None:
    # P07's "check creatinine before dosing" on the zoledronic-acid draft changes nothing in the order: a
    # suggestion returning the same draft with a note would be inert, so there is none; the advice is in
    # the detail of the card that carries P07.
    cards = wire(make_cards(full_assessment(), context=ctx("order-select", draft_orders=draft_orders())))
    actions = [a for c in cards for s in c.get("suggestions", []) for a in s["actions"]]
    assert not [a for a in actions if a["type"] == "update"]
    assert any("P07" in c["extension"][RULES_EXTENSION] for c in cards)


def test_rule_ids_and_skeletal_risk_in_the_extension() -> None:
    cards = wire(make_cards(full_assessment(), context=ctx()))
    exercise = by_rule(cards, "EX-TIER")
    assert exercise["extension"][SKELETAL_RISK_EXTENSION] == {
        "overall": "high",
        "lesions": [
            {"condition": "Condition/met-1", "site": "T9 lesion", "tier": "high"},
            {"condition": "Condition/met-2", "site": "left proximal femur lesion", "tier": "high"},
        ],
    }
    assert SKELETAL_RISK_EXTENSION not in by_rule(cards, "R04")["extension"]


def test_careplan_travels_on_the_exercise_card() -> None:
    plan = make_careplan(full_assessment(), patient_ref=PATIENT, today=TODAY)
    assert plan is not None
    cards = wire(make_cards(full_assessment(), context=ctx(careplan=plan)))
    creates = [
        a
        for c in cards
        for s in c.get("suggestions", [])
        for a in s["actions"]
        if a["resource"]["resourceType"] == "CarePlan"
        if "resource" in a
    ]
    assert len(creates) == 1
    suggestion = by_rule(cards, "EX-TIER")["suggestions"][0]
    assert suggestion["label"] == "Create the exercise and pain CarePlan"
    CarePlan.model_validate(suggestion["actions"][0]["resource"])
    assert suggestion["actions"][0]["resource"]["identifier"] == plan.resource["identifier"]


def test_written_draft_is_offered_for_activation_and_a_queued_one_not_again() -> None:
    plan = make_careplan(full_assessment(), patient_ref=PATIENT, today=TODAY)
    written = wire(
        make_cards(full_assessment(), context=ctx(careplan=plan, careplan_location="CarePlan/cp-9"))
    )
    action = by_rule(written, "EX-TIER")["suggestions"][0]["actions"][0]
    assert action["type"] == "update"
    assert (action["resource"]["id"], action["resource"]["status"]) == ("cp-9", "active")
    assert "A draft CarePlan was written to the record" in by_rule(written, "EX-TIER")["detail"]
    assert "cp-9" not in by_rule(written, "EX-TIER")["detail"]  # resource ids stay out of the prose

    queued = wire(make_cards(full_assessment(), context=ctx(careplan=plan, careplan_queued=True)))
    labels = [s["label"] for s in by_rule(queued, "EX-TIER").get("suggestions", [])]
    assert not [label for label in labels if "CarePlan" in label]
    assert "queued" in by_rule(queued, "EX-TIER")["detail"]


def test_pain_card_carries_the_plan_when_there_is_no_exercise_card() -> None:
    assessment = Assessment(True, "x", (p04(), r04()), exercise_plan())
    plan = make_careplan(assessment, patient_ref=PATIENT, today=TODAY)
    cards = wire(make_cards(assessment, context=ctx(careplan=plan)))
    assert by_rule(cards, "P04")["suggestions"][0]["label"] == "Create the exercise and pain CarePlan"


def test_detail_explains_what_why_missing_defaults_evidence_and_review_state() -> None:
    cards = wire(make_cards(full_assessment(), context=ctx()))
    detail = by_rule(cards, "R04")["detail"]
    assert detail.startswith("- Urgent spine surgery opinion\n")
    assert "**Why:** SINS 14 is in the unstable band" in detail
    assert "SINS (T9) 14 (23 May 2025)" in detail  # the key value, dated, without its record id
    assert "[SINS, Fisher 2010](https://doi.org/10.1097/BRS.0b013e3181e16ae2)" in detail
    assert detail.rstrip().endswith("the treating team decides.*")
    assert detail.count("Decision support only") == 1
    assert "await clinical review" not in detail
    for internal in ("R04", "Observation/", "lookback.", "service default", "§", "[D]"):
        assert internal not in detail, internal
    exercise = by_rule(cards, "EX-TIER")["detail"]
    assert "**Missing:** lesion type of the T9 lesion" in exercise
    assert "await clinical review" in by_rule(cards, "R09")["detail"]


def test_patient_data_cannot_inject_markdown_or_html() -> None:
    evil = replace(
        p04(), used=(UsedFact("Note <script>x</script>", "*bold* [link](http://x)", "Observation/o", None),)
    )
    detail = wire(make_cards(Assessment(True, "x", (evil,)), context=ctx()))[0]["detail"]
    assert not re.search(r"(?<!\\)<", detail)  # every < is escaped
    for escaped in (r"\<script>", r"\*bold\*", r"\[link\]"):
        assert escaped in detail


def test_long_summary_is_clipped_below_140_characters_at_a_word() -> None:
    long = replace(p04(), summary="Severe pain " + "with a very long explanation " * 8)
    summary = wire(make_cards(Assessment(True, "x", (long,)), context=ctx()))[0]["summary"]
    assert len(summary) < 140
    assert summary.endswith("…")
    assert not summary[:-1].endswith(" ")


def test_source_links_point_to_the_evidence() -> None:
    cards = wire(make_cards(full_assessment(), context=ctx()))
    red = by_rule(cards, "R04")
    # R04's sources, then those of the advice folded onto its card (P07, the bone-modifying agent: S16).
    assert red["extension"]["org.fhir-bonemet.rules"] == ["R04", "P07"]
    assert red["source"]["label"] == "fhir-bonemet (evidence S10, S14, S16)"
    assert red["source"]["topic"] == {"system": LOCAL, "code": "red-flag", "display": "Red flag"}
    assert red["source"]["url"].startswith("https://")
    # Links go to the primary publication (DOI or PubMed), never to a third-party summary site.
    assert [link["url"] for link in red["links"]] == [
        "https://doi.org/10.1097/BRS.0b013e3181e16ae2",
        "https://doi.org/10.1200/JCO.2017.75.4614",
    ]
    assert red["links"][0]["label"].startswith("Fisher CG")
    assert [r["code"] for r in red["overrideReasons"]] == [
        "already-addressed",
        "patient-declined",
        "not-clinically-appropriate",
        "data-incorrect",
    ]


@pytest.mark.parametrize(
    "assessment",
    [
        Assessment(False, "no active bone metastasis", (p04(),)),
        Assessment(True, "bone metastasis, nothing to say"),
    ],
)
def test_no_cards_outside_the_population_or_when_nothing_fired(assessment: Assessment) -> None:
    assert make_cards(assessment, context=ctx()) == []


def test_issued_records_name_rules_and_suggestions_without_patient_data() -> None:
    cards = make_cards(full_assessment(), context=ctx())
    records = issued_cards(cards)
    assert [r.rule_ids for r in records] == [
        tuple(c.extension[RULES_EXTENSION]) for c in cards if c.extension
    ]
    assert records[0].indicator == "critical"
    assert records[0].suggestion_uuids == tuple(s.uuid for s in cards[0].suggestions or ())


def test_a_finding_of_every_category_gets_its_topic() -> None:
    topics = {}
    for category in Category:
        finding = Finding("X01", "t", category, Indicator.INFO, "Do this", "why")
        topics[category] = wire(make_cards(Assessment(True, "x", (finding,)), context=ctx()))[0]["source"][
            "topic"
        ]["code"]
    assert topics == {c: c.value for c in Category}


def test_exercise_finding_alone_without_plan_has_no_skeletal_extension() -> None:
    cards = wire(make_cards(Assessment(True, "x", (exercise_finding(),)), context=ctx()))
    assert SKELETAL_RISK_EXTENSION not in cards[0]["extension"]


def test_p14_alone_deletes_its_draft_on_order_select() -> None:
    cards = wire(
        make_cards(Assessment(True, "x", (p14(),)), context=ctx("order-select", draft_orders=draft_orders()))
    )
    (suggestion,) = cards[0]["suggestions"]
    assert suggestion["actions"] == [
        {
            "type": "delete",
            "description": "Cancel the draft order: Remove the lorazepam draft order",
            "resourceId": "MedicationRequest/draft-lorazepam",
        }
    ]
    assert cards[0]["selectionBehavior"] == "any"
