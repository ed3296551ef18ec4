"""What a card's order suggestion really does to the clinician's pending orders.

The core says in words what to change on a draft order
(:class:`~fhir_bonemet.core.model.findings.OrderAction`).  Here that becomes a change the EHR can apply,
or nothing: a suggestion that returns the same draft with a note attached changes nothing, and accepting
it would bring the same card straight back.

* *delete* → cancel the draft order;
* a dose the core names ("reduce the dose to 3.5 mg") → the same draft with that dose;
* a daily acetaminophen ceiling → the same draft taken fewer times a day, so the total stays under it;
* the sedative combination of R09 → cancel the draft that completes it;
* a missing bowel regimen (P15) → a new draft stimulant-laxative order (senna);
* missing calcium and vitamin D on a bone-modifying agent (P09) → a new draft supplement order;
* advice without a concrete change ("lowest effective dose", "review the combination") → no suggestion;
  the card's detail says it.

Every order a suggestion carries (new or changed) has a note naming the rules behind it, in the form the
project profiles check ("Proposed by fhir-bonemet (rules P15). ...", "Changed by fhir-bonemet (rules P08).
..."), so the order stays traceable once it leaves the card.

Each result is a :class:`PlannedOrder`: the action JSON, a label that starts with a verb and names the order,
and whether it is the safest choice (then the card recommends it).
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from fhir_bonemet.core.model.findings import Finding, OrderAction
from fhir_bonemet.core.model.thresholds import Thresholds

__all__ = ["PlannedOrder", "drug_label", "plan_order"]

Json = dict[str, Any]
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC = "http://www.whocc.no/atc"
UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"
ORAL = {"coding": [{"system": SNOMED, "code": "26643006", "display": "Oral route"}]}
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "http://fhir-bonemet.org/cds-hooks/draft-orders")
_DOSE_TO = re.compile(r"reduce the dose to (\d+(?:\.\d+)?) mg")
_CAP = re.compile(r"(?:at or below|at) (\d+(?:\.\d+)?) mg")
_PER_DAY = re.compile(r"(\d+(?:\.\d+)?) mg/day")


@dataclass(frozen=True, slots=True)
class PlannedOrder:
    key: str  # what the suggestion proposes, for its stable uuid
    label: str
    action: Json
    recommended: bool = False


def _mapping(value: Any) -> Mapping[str, Any]:
    """Draft orders arrive as the EHR wrote them: any element may be malformed; read it as empty then."""
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _displays(draft: Mapping[str, Any]) -> list[str]:
    codings = _list(_mapping(draft.get("medicationCodeableConcept")).get("coding"))
    displays = [_mapping(c).get("display") for c in codings]
    return [d for d in displays if isinstance(d, str) and d.strip()]


def drug_label(draft: Mapping[str, Any]) -> str:
    """ "naproxen 500 mg oral tablet": the order as the prescriber wrote it, in running text."""
    candidates = [
        _mapping(draft.get("medicationCodeableConcept")).get("text"),
        *_displays(draft),
        _mapping(draft.get("medicationReference")).get("display"),
    ]
    text = next((t for t in candidates if isinstance(t, str) and t.strip()), "medication")
    return " ".join(text.split()).lower()


def ingredient_name(draft: Mapping[str, Any]) -> str:
    """ "zoledronic acid": the coded ingredient's name, else the first word of the order."""
    short = [d for d in _displays(draft) if len(d.split()) <= 3]
    return short[0].lower() if short else drug_label(draft).split(" ")[0]


def _cancel(act: OrderAction, draft: Mapping[str, Any], recommended: bool) -> PlannedOrder:
    reason = act.description.split(": ", 1)[-1]
    return PlannedOrder(
        f"order:delete:{act.order_ref}",
        f"Cancel {drug_label(draft)} order",
        {"type": "delete", "description": f"Cancel the draft order: {reason}", "resourceId": act.order_ref},
        recommended,
    )


def _dosage(draft: Mapping[str, Any]) -> tuple[Json, float, float | None] | None:
    """The single dosage instruction, its dose in mg and its administrations per day (``None`` without a
    plain daily timing), when the dose is plain."""
    dosages = _list(draft.get("dosageInstruction"))
    if len(dosages) != 1 or not isinstance(dosages[0], Mapping):
        return None
    dosage = dict(dosages[0])
    rates = _list(dosage.get("doseAndRate"))
    if len(rates) != 1:
        return None
    quantity = _mapping(_mapping(rates[0]).get("doseQuantity"))
    repeat = _mapping(_mapping(dosage.get("timing")).get("repeat"))
    periods = {"d": 1.0, "h": 24.0}
    if quantity.get("code", quantity.get("unit")) != "mg":
        return None
    try:
        dose = float(quantity["value"])
    except (KeyError, TypeError, ValueError):
        return None
    if not math.isfinite(dose) or dose <= 0:
        return None
    try:
        per_day = float(repeat["frequency"]) * periods[repeat["periodUnit"]] / float(repeat["period"])
    except (KeyError, TypeError, ValueError, ZeroDivisionError, OverflowError):
        per_day = None
    return dosage, dose, per_day


def _traced(verb: str, finding: Finding) -> Json:
    """The note that ties an order to the rules that asked for it (profiles/fsh/input/fsh/requests.fsh)."""
    rules = ", ".join(finding.rule_ids)
    why = f"{finding.rule_id} {finding.title}: {finding.summary}"
    return {"text": f"{verb} by fhir-bonemet (rules {rules}). {why.rstrip('.')}. Why: {finding.rationale}"}


def _with_dosage(draft: Mapping[str, Any], dosage: Json, text: str, finding: Finding) -> Json:
    """The EHR's draft with one new dosage instruction; its own notes are kept and ours is added."""
    notes = [*_list(draft.get("note")), _traced("Changed", finding)]
    return {**draft, "dosageInstruction": [{**dosage, "text": text}], "note": notes}


def _new_dose(act: OrderAction, draft: Mapping[str, Any], finding: Finding) -> PlannedOrder | None:
    match = _DOSE_TO.search(act.description)
    found = _dosage(draft)
    if match is None or found is None:
        return None
    dosage, dose, _ = found
    advised = float(match.group(1))
    if advised >= dose:
        return None
    rate = {
        **dosage["doseAndRate"][0],
        "doseQuantity": {**dosage["doseAndRate"][0]["doseQuantity"], "value": advised},
    }
    resource = _with_dosage(
        draft, {**dosage, "doseAndRate": [rate]}, f"{advised:g} mg (reduced for renal function)", finding
    )
    name = ingredient_name(draft)
    return PlannedOrder(
        f"order:update:{act.order_ref}:{advised:g}",
        f"Reduce {name} to {advised:g} mg",
        {"type": "update", "description": act.description.split(": ", 1)[-1], "resource": resource},
        True,
    )


def _daily_cap(act: OrderAction, draft: Mapping[str, Any], finding: Finding) -> PlannedOrder | None:
    """Fewer administrations a day, so that the total daily acetaminophen (all products) fits the cap."""
    cap_match = _CAP.search(act.description)
    found = _dosage(draft)
    if cap_match is None or found is None:
        return None
    dosage, dose, per_day = found
    if per_day is None:
        return None
    cap = float(cap_match.group(1))
    total = next((_mg_per_day(u.value) for u in finding.used if u.label == "Total daily acetaminophen"), None)
    others = max(0.0, (total or dose * per_day) - dose * per_day)
    times = math.floor((cap - others) / dose) if dose > 0 else 0
    if times < 1 or times >= per_day:
        return None  # no whole number of doses fits, or nothing to change: the detail says what to do
    repeat = {"frequency": times, "period": 1, "periodUnit": "d"}
    old_timing = _mapping(dosage.get("timing"))
    timing = {**old_timing, "repeat": {**_mapping(old_timing.get("repeat")), **repeat}}
    daily = dose * times
    text = f"{dose:g} mg up to {times} times daily (at most {daily:g} mg/day)"
    resource = _with_dosage(draft, {**dosage, "timing": timing}, text, finding)
    name = ingredient_name(draft)
    return PlannedOrder(
        f"order:update:{act.order_ref}:{times}/d",
        f"Reduce {name} to {daily / 1000:g} g/day ({dose:g} mg {times} times a day)",
        {"type": "update", "description": act.description.split(": ", 1)[-1], "resource": resource},
        True,
    )


def _mg_per_day(value: str) -> float | None:
    match = _PER_DAY.search(value)
    return float(match.group(1)) if match else None


def _new_order(
    key: str,
    text: str,
    coding: list[Json],
    dosage: Json,
    finding: Finding,
    *,
    patient_ref: str,
    today: date,
    requester: str | None,
) -> Json:
    resource: Json = {
        "resourceType": "MedicationRequest",
        "id": str(uuid.uuid5(_NAMESPACE, f"{patient_ref}\n{key}")),
        "status": "draft",
        "intent": "order",
        "medicationCodeableConcept": {"coding": coding, "text": text},
        "subject": {"reference": patient_ref},
        "authoredOn": today.isoformat(),
    }
    if requester:
        resource["requester"] = {"reference": requester}
    used = list(dict.fromkeys(u.ref for u in finding.used if u.ref and "/" in u.ref))
    if used:  # the data the rule relied on, as the referral's supportingInfo
        resource["supportingInformation"] = [{"reference": ref} for ref in used]
    resource["note"] = [_traced("Proposed", finding)]
    resource["dosageInstruction"] = [dosage]
    return resource


def senna_order(finding: Finding, *, patient_ref: str, today: date, requester: str | None) -> PlannedOrder:
    """A stimulant laxative beside the opioid: senna (sennosides) 8.6 mg, two tablets at night."""
    dosage = {
        "text": "Sennosides 8.6 mg: 2 tablets at night; adjust to a soft stool daily",
        "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d", "when": ["HS"]}},
        "route": ORAL,
        "doseAndRate": [{"doseQuantity": {"value": 17.2, "unit": "mg", "system": UCUM, "code": "mg"}}],
    }
    # The medication tables code senna by ATC (no RxNorm id is recorded for it there).
    coding = [{"system": ATC, "code": "A06AB06", "display": "senna glycosides"}]
    resource = _new_order(
        "senna", "Senna (sennosides) 8.6 mg oral tablet", coding, dosage, finding,
        patient_ref=patient_ref, today=today, requester=requester,
    )  # fmt: skip
    return PlannedOrder(
        "order:create:senna",
        "Order senna 8.6 mg, 2 tablets at night",
        {
            "type": "create",
            "description": "Create a draft order for a stimulant laxative (senna)",
            "resource": resource,
        },
        True,
    )


def calcium_vitamin_d_order(
    thresholds: Thresholds, finding: Finding, *, patient_ref: str, today: date, requester: str | None
) -> PlannedOrder:
    """Daily calcium with vitamin D at the minimum the guideline asks for beside a bone-modifying agent."""
    calcium = thresholds.v("pain.calcium_supplement_min_mg")
    vitamin_d = thresholds.v("pain.vitamin_d_supplement_min_iu")
    text = f"Calcium {calcium:g} mg with vitamin D {vitamin_d:g} IU oral tablet"
    dosage = {
        "text": f"{text}: 1 tablet daily",
        "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
        "route": ORAL,
        "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "tablet", "system": UCUM, "code": "{tbl}"}}],
    }
    coding = [
        {"system": ATC, "code": "A12AX", "display": "Calcium, combinations with vitamin D and/or other drugs"}
    ]
    resource = _new_order(
        "calcium-vitamin-d", text, coding, dosage, finding,
        patient_ref=patient_ref, today=today, requester=requester,
    )  # fmt: skip
    return PlannedOrder(
        "order:create:calcium-vitamin-d",
        f"Order calcium {calcium:g} mg with vitamin D {vitamin_d:g} IU daily",
        {
            "type": "create",
            "description": "Create a draft order for daily calcium and vitamin D",
            "resource": resource,
        },
        True,
    )


def plan_order(
    act: OrderAction,
    draft: Mapping[str, Any],
    finding: Finding,
    thresholds: Thresholds,
    *,
    patient_ref: str,
    today: date,
    requester: str | None,
) -> PlannedOrder | None:
    """The change a finding's order action makes, or ``None`` when it names no concrete change."""
    if act.action == "delete" or (act.action == "update" and finding.rule_id == "R09"):
        return _cancel(act, draft, recommended=True)
    if act.action != "update":
        return None
    if finding.rule_id == "P15":
        return senna_order(finding, patient_ref=patient_ref, today=today, requester=requester)
    if finding.rule_id == "P09":
        return calcium_vitamin_d_order(
            thresholds, finding, patient_ref=patient_ref, today=today, requester=requester
        )
    if finding.rule_id == "P08":
        return _new_dose(act, draft, finding)
    if finding.rule_id in ("P20", "P21"):
        return _daily_cap(act, draft, finding)
    return None
