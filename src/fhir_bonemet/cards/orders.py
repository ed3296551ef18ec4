"""What a card's order suggestion really does to the clinician's pending orders.

The core says what to change on a draft order as data (:class:`~fhir_bonemet.core.model.findings.OrderAction`
with its :class:`~fhir_bonemet.core.model.findings.OrderChange` and
:class:`~fhir_bonemet.core.model.findings.DoseChange`); its description is for people and is never parsed.
Here that becomes a change the EHR can apply, or nothing: a suggestion that returns the same draft with a
note attached changes nothing, and accepting it would bring the same card straight back.

* CANCEL → cancel the draft order (a medicine, or an order that is not one: a physiotherapy referral);
* DOSE → the same draft with the dose per administration the core worked out (e.g. zoledronic acid for the
  creatinine clearance);
* SCHEDULE → the same draft taken the number of times a day the core worked out (a daily acetaminophen
  ceiling across all products), with an as-needed ceiling lowered to match;
* ADD_LAXATIVE → a new draft stimulant-laxative order (senna);
* ADD_CALCIUM_VITAMIN_D → a new draft supplement order;
* REVIEW (advice without a concrete change: "lowest effective dose") → no suggestion; the card's detail
  says it.

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

from fhir_bonemet.core.model.findings import DoseChange, Finding, OrderAction, OrderChange
from fhir_bonemet.core.model.thresholds import Thresholds
from fhir_bonemet.core.model.unit_text import readable_units
from fhir_bonemet.fhir.intake.patient_facts import ORDER_CODE_KEYS
from fhir_bonemet.fhir.intake.read import contained
from fhir_bonemet.fhir.intake.values import code_label

__all__ = ["PlannedOrder", "drug_label", "plan_order", "referenced_medication"]

Json = dict[str, Any]
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC = "http://www.whocc.no/atc"
UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"
ORAL = {"coding": [{"system": SNOMED, "code": "26643006", "display": "Oral route"}]}
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "http://fhir-bonemet.org/cds-hooks/draft-orders")


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


def referenced_medication(
    draft: Mapping[str, Any], drafts: Mapping[str, Mapping[str, Any]]
) -> Mapping[str, Any] | None:
    """The Medication a draft's ``medicationReference`` names: contained (``#med1``) or another entry of
    the draft orders (``Medication/123``), as the reader resolves it."""
    reference = _mapping(draft.get("medicationReference")).get("reference")
    if not isinstance(reference, str):
        return None
    if reference.startswith("#"):
        found: Mapping[str, Any] | None = contained(dict(draft), reference)
    else:
        found = drafts.get(reference)
    return found if found is not None and found.get("resourceType") == "Medication" else None


def _medication_code(draft: Mapping[str, Any], medication: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """The drug as coded: the draft's own CodeableConcept, else its referenced Medication's code."""
    codeable = _mapping(draft.get("medicationCodeableConcept"))
    return codeable if codeable or medication is None else _mapping(medication.get("code"))


def _displays(code: Mapping[str, Any]) -> list[str]:
    displays = [_mapping(c).get("display") for c in _list(code.get("coding"))]
    return [d for d in displays if isinstance(d, str) and d.strip()]


def drug_label(draft: Mapping[str, Any], medication: Mapping[str, Any] | None = None) -> str:
    """ "naproxen 500 mg oral tablet": the order as the prescriber wrote it, in running text.  A draft that
    names its drug through a Medication is labelled by that Medication's code, not as "medication"."""
    code = _medication_code(draft, medication)
    candidates = [
        code.get("text"),
        *_displays(code),
        _mapping(draft.get("medicationReference")).get("display"),
    ]
    text = next((t for t in candidates if isinstance(t, str) and t.strip()), "medication")
    return in_running_text(text)


# Lowercasing an order's name for running text ("naproxen 500 MG Oral Tablet" → "naproxen 500 mg oral
# tablet") must not change what a unit or route says: "400 iu", "100 ml" and "iv" misquote the order.
_UNIT_CASE = re.compile(r"\b(iu|ml|iv)\b")
_UNITS_AS_WRITTEN = {"iu": "IU", "ml": "mL", "iv": "IV"}


def in_running_text(text: str) -> str:
    """An order's name in lower case for a label, its units and route (IU, mL, IV) as clinicians write
    them."""
    return _UNIT_CASE.sub(lambda m: _UNITS_AS_WRITTEN[m.group(1)], " ".join(text.split()).lower())


def _name_part(text: str) -> str:
    """The words before the strength: "zoledronic acid" of "zoledronic acid 4 mg/100 ml iv infusion"."""
    words = text.split()
    first_number = next((i for i, w in enumerate(words) if any(ch.isdigit() for ch in w)), len(words))
    return " ".join(words[:first_number]) or text


def ingredient_name(
    draft: Mapping[str, Any],
    change: DoseChange | None = None,
    medication: Mapping[str, Any] | None = None,
) -> str:
    """ "zoledronic acid": the ingredient the rule named, else the order's (or its Medication's) name up to
    its strength.

    A name is never cut inside: the first word of "zoledronic acid 4 mg/100 mL" made the label "Reduce
    zoledronic to 3.5 mg", and the first word of a combination product named the wrong drug."""
    if change is not None and change.ingredient.strip():
        return in_running_text(change.ingredient)
    short = [d for d in _displays(_medication_code(draft, medication)) if len(d.split()) <= 3]
    return _name_part(short[0].lower() if short else drug_label(draft, medication))


_MEDICATION_DRAFTS = frozenset({"MedicationRequest", "MedicationStatement", "MedicationDispense"})


def order_label(draft: Mapping[str, Any], medication: Mapping[str, Any] | None = None) -> str | None:
    """ "physiotherapy: progressive resistance exercise": any draft as the clinician wrote it, in running
    text; a medicine by its drug (:func:`drug_label`).  None for a draft that is not a medicine and names
    nothing: labelled "medication" it would pass for a drug order."""
    if draft.get("resourceType") in _MEDICATION_DRAFTS:
        return drug_label(draft, medication)
    for key in ORDER_CODE_KEYS:
        code = _mapping(draft.get(key))
        text = next(
            (t for t in (code.get("text"), *_displays(code)) if isinstance(t, str) and t.strip()), None
        )
        if text is not None:
            return in_running_text(text)
    return None


def _cancel(act: OrderAction, draft: Mapping[str, Any], medication: Mapping[str, Any] | None) -> PlannedOrder:
    reason = act.description.split(": ", 1)[-1]
    name = order_label(draft, medication)
    return PlannedOrder(
        f"order:delete:{act.order_ref}",
        f"Cancel {name} order" if name is not None else _cancel_unnamed(draft),
        {"type": "delete", "description": f"Cancel the draft order: {reason}", "resourceId": act.order_ref},
        act.safest,
    )


def _cancel_unnamed(draft: Mapping[str, Any]) -> str:
    """ "Cancel the unnamed draft order (SNOMED CT 229065009)": its code, when it has one, tells which."""
    coded = next((code_label(draft.get(key)) for key in ORDER_CODE_KEYS if key in draft), None)
    return f"Cancel the unnamed draft order ({coded})" if coded else "Cancel the unnamed draft order"


def _single_dosage(draft: Mapping[str, Any]) -> Json | None:
    """The draft's one dosage instruction (the core proposes numbers only for a single instruction)."""
    dosages = _list(draft.get("dosageInstruction"))
    if len(dosages) != 1 or not isinstance(dosages[0], Mapping):
        return None
    return dict(dosages[0])


def _traced(verb: str, finding: Finding) -> Json:
    """The note that ties an order to the rules that asked for it (profiles/fsh/input/fsh/requests.fsh)."""
    rules = ", ".join(finding.rule_ids)
    # Units as the card shows them: the note and the card it came with say a value the same way.
    why = readable_units(f"{finding.rule_id} {finding.title}: {finding.summary}")
    rationale = readable_units(finding.rationale)
    return {"text": f"{verb} by fhir-bonemet (rules {rules}). {why.rstrip('.')}. Why: {rationale}"}


def _with_dosage(draft: Mapping[str, Any], dosage: Json, text: str, finding: Finding) -> Json:
    """The EHR's draft with one new dosage instruction; its own notes are kept and ours is added.

    The instruction's text says the change and keeps what the prescriber wrote after "was:": it can hold
    what no structured field does ("over 15 minutes", "with food"), and replacing it with the new dose
    alone dropped that."""
    notes = [*_list(draft.get("note")), _traced("Changed", finding)]
    before = dosage.get("text")
    if isinstance(before, str) and before.strip() and before.strip() != text:
        text = f"{text} (was: {' '.join(before.split())})"
    return {**draft, "dosageInstruction": [{**dosage, "text": text}], "note": notes}


def _new_dose(
    act: OrderAction,
    change: DoseChange,
    draft: Mapping[str, Any],
    medication: Mapping[str, Any] | None,
    finding: Finding,
) -> PlannedOrder | None:
    """The same draft with the core's dose per administration (its unit replaces the draft's)."""
    dosage = _single_dosage(draft)
    if dosage is None or change.dose is None or not math.isfinite(change.dose) or change.dose <= 0:
        return None
    rates = [_mapping(r) for r in _list(dosage.get("doseAndRate"))] or [{}]
    quantity = {"value": change.dose, "unit": change.unit, "system": UCUM, "code": change.unit}
    # dose[x] is a choice: a draft dosed as a range (4-4 mg) keeps its range beside the new quantity
    # otherwise, and the updated order is not valid FHIR.
    rate = {**{k: v for k, v in rates[0].items() if k != "doseRange"}, "doseQuantity": quantity}
    text = f"{change.dose:g} {change.unit}" + (f" ({change.reason})" if change.reason else "")
    resource = _with_dosage(draft, {**dosage, "doseAndRate": [rate]}, text, finding)
    name = in_running_text(change.product) or ingredient_name(draft, change, medication)
    return PlannedOrder(
        f"order:update:{act.order_ref}:{change.dose:g}{change.unit}",
        f"Reduce {name} to {change.dose:g} {change.unit}",
        {"type": "update", "description": act.description.split(": ", 1)[-1], "resource": resource},
        True,
    )


def _new_schedule(
    act: OrderAction,
    change: DoseChange,
    draft: Mapping[str, Any],
    medication: Mapping[str, Any] | None,
    finding: Finding,
) -> PlannedOrder | None:
    """The same draft taken ``change.per_day`` times a day, as the core worked out; an as-needed ceiling
    (``maxDosePerPeriod``) is lowered to the same number of doses."""
    dosage = _single_dosage(draft)
    if dosage is None or change.per_day is None or change.per_day < 1:
        return None
    times = change.per_day
    old_timing = _mapping(dosage.get("timing"))
    repeat = {
        **{k: v for k, v in _mapping(old_timing.get("repeat")).items() if k not in _FREQUENCY_KEYS},
        "frequency": times,
        "period": 1,
        "periodUnit": "d",
    }
    # A timing code (BID, QID) would contradict the new frequency: the repeat alone says it now.
    timing = {**{k: v for k, v in old_timing.items() if k != "code"}, "repeat": repeat}
    updated: Json = {**dosage, "timing": timing}
    if change.max_per_day is not None and "maxDosePerPeriod" in dosage:
        unit = change.unit
        updated["maxDosePerPeriod"] = {
            "numerator": {"value": change.max_per_day, "unit": unit, "system": UCUM, "code": unit},
            "denominator": {"value": 1, "unit": "d", "system": UCUM, "code": "d"},
        }
    text = f"up to {times} times daily"
    doses = f"{times} dose{'s' if times != 1 else ''} a day"
    name = ingredient_name(draft, change, medication)
    # A combination product taken fewer times a day gives less of every ingredient: the label names the
    # product and the dose count, and the daily amount as that of the ingredient it is.
    product = in_running_text(change.product)
    label = f"Reduce {product or name} to {doses}"
    if change.daily is not None and change.daily > 0:
        unit = change.daily_unit.removesuffix("/d")
        text += f" (at most {change.daily:g} {unit}/day)"
        each = f"{change.daily / times:g} {unit} " + ("once a day" if times == 1 else f"{times} times a day")
        per_day = (
            f"{change.daily / 1000:g} g/day"
            if unit == "mg" and change.daily >= 1000
            else f"{change.daily:g} {unit}/day"
        )
        label = f"{label} ({name} {per_day})" if product else f"Reduce {name} to {per_day} ({each})"
    if change.reason:
        text += f": {change.reason}"
    resource = _with_dosage(draft, updated, text, finding)
    return PlannedOrder(
        f"order:update:{act.order_ref}:{times}/d",
        label,
        {"type": "update", "description": act.description.split(": ", 1)[-1], "resource": resource},
        True,
    )


# Timing elements that also set how often a dose is given: replaced, so the new frequency is the only one.
_FREQUENCY_KEYS = frozenset(
    {"frequency", "frequencyMax", "period", "periodMax", "periodUnit", "when", "timeOfDay", "dayOfWeek"}
)


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
    if used:  # the data the rule relied on
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
    thresholds: Thresholds,
    finding: Finding,
    *,
    patient_ref: str,
    today: date,
    requester: str | None,
    medication: Mapping[str, Any] | None = None,
) -> PlannedOrder | None:
    """The change an order action makes, or ``None`` when it names no concrete change.  ``medication`` is
    the Medication the draft references (:func:`referenced_medication`), for its label."""
    change = act.change
    if change is OrderChange.CANCEL:
        return _cancel(act, draft, medication)
    if change is OrderChange.ADD_LAXATIVE:
        return senna_order(finding, patient_ref=patient_ref, today=today, requester=requester)
    if change is OrderChange.ADD_CALCIUM_VITAMIN_D:
        return calcium_vitamin_d_order(
            thresholds, finding, patient_ref=patient_ref, today=today, requester=requester
        )
    if change is OrderChange.DOSE and act.dose is not None:
        return _new_dose(act, act.dose, draft, medication, finding)
    if change is OrderChange.SCHEDULE and act.dose is not None:
        return _new_schedule(act, act.dose, draft, medication, finding)
    return None
