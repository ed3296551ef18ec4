"""Two draft orders that replace the same order (``priorPrescription``): a dose split into two strengths,
or a change drafted twice.  Both drafts are new orders and count; the order they replace counts neither
beside them nor twice against them; each continues its course, which the cards name once.  Fired through
the HTTP app on the safety vignette of a naproxen dose change, its drug changed."""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path
from typing import Any

from hook_answers import HookCase, answer, request_of_case

Json = dict[str, Any]
VIGNETTE = (
    Path(__file__).resolve().parents[1]
    / "data/vignettes/safety/dup-03-naproxen-dose-change-replaces-active.json"
)
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ORAL = {"coding": [{"system": "http://snomed.info/sct", "code": "26643006"}]}


def _dosage(mg: float, per_day: int) -> list[Json]:
    quantity = {"value": mg, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"}
    return [
        {
            "route": ORAL,
            "doseAndRate": [{"doseQuantity": quantity}],
            "timing": {"repeat": {"frequency": per_day, "period": 1, "periodUnit": "d"}},
        }
    ]


def _two_drafts_replacing_one_order(
    hook: str, drug: Json, record_dose: tuple[float, int], *drafts: tuple[str, str, float, int]
) -> HookCase:
    """The record's order (``drug`` at ``record_dose``, since 1 March) and a draft per (id, text, mg, doses
    a day), each naming it in ``priorPrescription``; the first draft is the selection on order-select."""
    body = json.loads(VIGNETTE.read_text(encoding="utf-8"))
    body["hook"] = hook
    [order] = [
        e["resource"] for e in body["prefetch"]["resources"]["entry"] if e["resource"]["id"] == "nap-1"
    ]
    order.update(
        medicationCodeableConcept=drug, dosageInstruction=_dosage(*record_dose), authoredOn="2025-03-01"
    )
    [template] = [e["resource"] for e in body["draftOrders"]["entry"]]
    body["draftOrders"]["entry"] = []
    for draft_id, text, mg, per_day in drafts:
        draft = copy.deepcopy(template)
        draft.update(
            id=draft_id,
            medicationCodeableConcept={**drug, "text": text},
            dosageInstruction=_dosage(mg, per_day),
            priorPrescription={"reference": "MedicationRequest/nap-1"},
        )
        body["draftOrders"]["entry"].append({"resource": draft})
    if hook == "order-select":
        body["selections"] = [f"MedicationRequest/{drafts[0][0]}"]
    return HookCase(f"two drafts, {hook}", hook, date.fromisoformat(body["today"]), request_of_case(body))


def _cards(case: HookCase, rule_id: str) -> list[Json]:
    return [c for c in answer(case)["cards"] if rule_id in c["extension"]["org.fhir-bonemet.rules"]]


DEXAMETHASONE = {"coding": [{"system": RXNORM, "code": "3264", "display": "dexamethasone"}]}
ACETAMINOPHEN = {"coding": [{"system": RXNORM, "code": "161", "display": "acetaminophen"}]}


def test_each_draft_replacing_a_long_steroid_course_continues_it() -> None:
    """Dexamethasone taken since March, changed into two drafts: selecting the first one drafted gave no
    card, as if it began a short course today (only the last draft was read as continuing the course)."""
    case = _two_drafts_replacing_one_order(
        "order-select",
        DEXAMETHASONE,
        (4, 1),
        ("dex-a", "dexamethasone 2 mg tablet", 2, 1),
        ("dex-b", "dexamethasone 0.5 mg tablet", 0.5, 2),
    )
    [card] = _cards(case, "P22")
    assert card["summary"].startswith("Corticosteroid for pain beyond 14 days")
    assert "Course of dexamethasone 2 mg tablet continued by the draft (1 Mar 2025)" in card["detail"]


def test_the_replaced_order_counts_neither_beside_nor_against_the_two_drafts() -> None:
    """Acetaminophen 1 g three times a day since March, changed into 1 g twice a day and 500 mg three times:
    3.5 g a day (the two drafts, not the old 3 g beside them), a long course, named once."""
    case = _two_drafts_replacing_one_order(
        "order-sign",
        ACETAMINOPHEN,
        (1000, 3),
        ("apap-a", "acetaminophen 500 mg tablet", 1000, 2),
        ("apap-b", "acetaminophen 500 mg caplet", 500, 3),
    )
    [card] = _cards(case, "P20")
    assert (
        card["summary"]
        == "Acetaminophen 3.5 g/day (2 products) exceeds the long-term maximum of 3 g/day: reduce"
    )
    assert card["detail"].count("continued by the draft (1 Mar 2025)") == 1
    assert "acetaminophen 500 mg caplet acetaminophen 1500 mg/day" in card["detail"]
    assert "acetaminophen 500 mg tablet acetaminophen 2000 mg/day" in card["detail"]
