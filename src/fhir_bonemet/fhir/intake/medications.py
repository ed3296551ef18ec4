"""MedicationRequest / MedicationStatement (and draft orders) → :class:`MedicationFact`.

The medication itself may be a ``medicationCodeableConcept``, a contained ``Medication`` (``#med1``) or a
``Medication`` elsewhere in the payload (``Medication/123``, an absolute URL or a ``urn:uuid``).  Classes
and ingredients come from the terminology (RxNorm ingredient and product codes, ATC, ingredient names);
strengths from ``Medication.ingredient.strength``, else what the terminology reads from the product code
or name ("oxycodone 5 MG Oral Tablet").  The volume of one pack comes from ``Medication.amount`` or the
RxNorm name ("100 ML zoledronic acid 0.04 MG/ML Injection"), and only where one volume is stated.

Orders that are not real (entered-in-error, ``doNotPerform``) and statements of a drug not taken are
dropped; every other status is kept as recorded and the rules decide what counts as active.
"""

from __future__ import annotations

from datetime import date
from typing import Final

from fhir_bonemet.core.model.facts import DoseInstruction, MedicationFact, Strength
from fhir_bonemet.fhir.intake.context import Extraction
from fhir_bonemet.fhir.intake.dosage import dose_unit, duration_days, parse_dosage
from fhir_bonemet.fhir.intake.read import Item, contained
from fhir_bonemet.fhir.intake.values import (
    JsonDict,
    as_dict,
    as_list,
    as_number,
    clean_codeable,
    codeable_display,
    parse_date,
    reference_of,
)
from fhir_bonemet.fhir.terminology.lookup import MedicationCodes

# The R4 status codes (required bindings).
_STATUSES: Final[dict[str, frozenset[str]]] = {
    "MedicationRequest": frozenset(
        {"active", "on-hold", "cancelled", "completed", "entered-in-error", "stopped", "draft", "unknown"}
    ),
    "MedicationStatement": frozenset(
        {"active", "completed", "entered-in-error", "intended", "stopped", "on-hold", "unknown", "not-taken"}
    ),
}
_DROPPED: Final[dict[str, frozenset[str]]] = {
    "MedicationRequest": frozenset({"entered-in-error"}),
    "MedicationStatement": frozenset({"entered-in-error", "not-taken"}),
}


def _medication(extraction: Extraction, item: Item) -> tuple[JsonDict | None, JsonDict | None]:
    """(the medication's CodeableConcept, the Medication resource if there is one)."""
    data = item.data
    codeable = clean_codeable(data.get("medicationCodeableConcept"))
    if codeable is not None:
        return codeable, None
    reference = as_dict(data.get("medicationReference"))
    if reference is None:
        if data.get("medicationReference") is not None:
            extraction.issue(item, "medicationReference", "not a Reference; medication not classified")
        elif data.get("medicationCodeableConcept") is not None:
            extraction.issue(item, "medicationCodeableConcept", "not a CodeableConcept; not classified")
        else:
            extraction.issue(item, "medication[x]", "no medication given; medication not classified")
        return None, None
    raw = reference.get("reference")
    resource: JsonDict | None = None
    if isinstance(raw, str) and raw.startswith("#"):
        resource = contained(data, raw)
    elif isinstance(raw, str):
        resource = extraction.payload.resolve(raw)
    if resource is None or resource.get("resourceType") != "Medication":
        extraction.issue(
            item, "medicationReference", "Medication not found in the payload; classified by name only"
        )
        display = reference.get("display")
        return ({"text": display} if isinstance(display, str) else None), None
    return clean_codeable(resource.get("code")), resource


def _ratio_strength(ingredient: str, ratio: JsonDict) -> Strength | None:
    numerator, denominator = as_dict(ratio.get("numerator")), as_dict(ratio.get("denominator"))
    amount = as_number(numerator.get("value")) if numerator else None
    unit = dose_unit(numerator) if numerator else None
    if amount is None or unit is None:
        return None
    per = as_number(denominator.get("value")) if denominator else 1.0
    per_unit = dose_unit(denominator) if denominator else None
    if not per:
        return None
    suffix = ""
    if per_unit is not None and per_unit[0] == "mL":
        suffix = "/mL"
    elif denominator is not None and (denominator.get("code") or denominator.get("unit")) in (
        "h",
        "hr",
        "hour",
    ):
        suffix = "/h"
    value = amount * unit[1] / per
    if unit[0] == "mg" and suffix == "/h":  # patches are written 0.025 mg/h or 25 mcg/h: one unit for both
        value, unit = value * 1000.0, ("mcg", 1.0)
    return Strength(ingredient=ingredient, value=round(value, 6), unit=unit[0] + suffix)


def _ingredient_strengths(
    extraction: Extraction, medication: JsonDict
) -> tuple[list[str], set[str], list[Strength]]:
    names: list[str] = []
    classes: set[str] = set()
    strengths: list[Strength] = []
    for ingredient in as_list(medication.get("ingredient")):
        if not isinstance(ingredient, dict):
            continue
        item = clean_codeable(ingredient.get("itemCodeableConcept"))
        if item is None:
            continue
        codes = extraction.classify_medication(item)
        names.extend(codes.ingredients)
        classes.update(codes.classes)
        ratio = as_dict(ingredient.get("strength"))
        name = codes.ingredients[0] if codes.ingredients else (codeable_display(item) or "").lower()
        if ratio is not None and name:
            strength = _ratio_strength(name, ratio)
            if strength is not None:
                strengths.append(strength)
    return names, classes, strengths


def _amount_volume(extraction: Extraction, item: Item, medication: JsonDict) -> float | None:
    """``Medication.amount`` as the volume of one pack in mL ("100 mL" or "100 mL per 1 vial").  An amount
    that is not a volume (tablets in a box) says nothing a dose needs and is passed over; a volume over
    several packs, or one that is not a positive number, is said and not used."""
    ratio = as_dict(medication.get("amount"))
    if ratio is None:
        return None
    numerator, denominator = as_dict(ratio.get("numerator")), as_dict(ratio.get("denominator"))
    unit = dose_unit(numerator) if numerator else None
    if unit is None or unit[0] != "mL":
        return None
    volume = as_number(numerator.get("value")) if numerator else None
    per = as_number(denominator.get("value")) if denominator else 1.0
    if volume is None or volume <= 0 or per != 1.0:
        message = "Medication.amount is not the volume of one pack; pack volume not read"
        extraction.issue(item, "medicationReference", message)
        return None
    return volume * unit[1]


def _pack_volume(
    extraction: Extraction,
    item: Item,
    medication: JsonDict | None,
    strengths: list[Strength],
    codes: MedicationCodes,
) -> float | None:
    """The volume of one pack: ``Medication.amount``, else the product name's when the strengths counted
    are the name's own.  Two different volumes leave it unread (the dose in mg is then not worked out)."""
    stated = _amount_volume(extraction, item, medication) if medication is not None else None
    named = codes.pack_volume_ml if tuple(strengths) == codes.strengths else None
    if stated is not None and named is not None and stated != named:
        message = "Medication.amount and the product name give different pack volumes; neither used"
        extraction.issue(item, "medicationReference", message)
        return None
    return stated if stated is not None else named


def _dates(data: JsonDict, resource_type: str) -> tuple[date | None, date | None]:
    # Start at the earliest day the record allows, end at the latest: a drug counts as taken for as long
    # as the record could mean.
    if resource_type == "MedicationStatement":
        period = as_dict(data.get("effectivePeriod"))
        start = parse_date(data.get("effectiveDateTime")) or (
            parse_date(period.get("start")) if period else None
        )
        end = parse_date(period.get("end"), upper=True) if period else None
        return start or parse_date(data.get("dateAsserted")), end
    bounds: JsonDict | None = None
    for dosage in as_list(data.get("dosageInstruction")):
        timing = as_dict(dosage.get("timing")) if isinstance(dosage, dict) else None
        repeat = as_dict(timing.get("repeat")) if timing else None
        bounds = as_dict(repeat.get("boundsPeriod")) if repeat else None
        if bounds is not None:
            break
    dispense = as_dict(data.get("dispenseRequest"))
    validity = as_dict(dispense.get("validityPeriod")) if dispense else None
    start = (
        (parse_date(bounds.get("start")) if bounds else None)
        or parse_date(data.get("authoredOn"))
        or (parse_date(validity.get("start")) if validity else None)
    )
    end = (parse_date(bounds.get("end"), upper=True) if bounds else None) or (
        parse_date(validity.get("end"), upper=True) if validity else None
    )
    return start, end


def _planned_days(extraction: Extraction, item: Item) -> float | None:
    """How long a MedicationRequest means the drug to be taken: the longest course it states, from each
    dosage line's ``boundsDuration`` or a ``boundsPeriod`` with both ends, and from the supply of one fill
    times the fills allowed.  The longest, because the acetaminophen ceiling (P20) is the long-term one for
    a course planned beyond its limit, from the first dose: a shorter line beside it does not shorten it."""
    data = item.data
    if data.get("resourceType") != "MedicationRequest":
        return None
    courses: list[float] = []
    for position, dosage in enumerate(as_list(data.get("dosageInstruction"))):
        timing = as_dict(dosage.get("timing")) if isinstance(dosage, dict) else None
        repeat = as_dict(timing.get("repeat")) if timing else None
        if repeat is None:
            continue
        if repeat.get("boundsDuration") is not None:
            days = duration_days(repeat.get("boundsDuration"))
            if days is None:
                where = f"dosageInstruction[{position}].timing.repeat.boundsDuration"
                extraction.issue(item, where, "not a duration in units of time; the planned course not read")
            else:
                courses.append(days)
        bounds = as_dict(repeat.get("boundsPeriod"))
        if bounds is not None:
            start, end = parse_date(bounds.get("start")), parse_date(bounds.get("end"), upper=True)
            if start is not None and end is not None and end >= start:
                courses.append(float((end - start).days + 1))
    dispense = as_dict(data.get("dispenseRequest"))
    if dispense is not None and dispense.get("expectedSupplyDuration") is not None:
        supply = duration_days(dispense.get("expectedSupplyDuration"))
        if supply is None:
            extraction.issue(
                item,
                "dispenseRequest.expectedSupplyDuration",
                "not a duration in units of time; the planned course not read",
            )
        else:
            repeats = as_number(dispense.get("numberOfRepeatsAllowed"))
            courses.append(supply * (1 + (int(repeats) if repeats is not None and repeats > 0 else 0)))
    return max(courses, default=None)


def _doses(extraction: Extraction, item: Item, key: str, route: str | None) -> tuple[DoseInstruction, ...]:
    doses: list[DoseInstruction] = []
    given = item.data.get(key)
    if given is not None and not isinstance(given, list | dict):
        extraction.issue(item, key, "not a list of Dosage; dose not read")
    for position, dosage in enumerate(as_list(given)):
        if not isinstance(dosage, dict):
            extraction.issue(item, f"{key}[{position}]", "not a Dosage; ignored")
            continue
        dose, problems = parse_dosage(dosage, route)
        doses.append(dose)
        for problem in problems:
            extraction.issue(item, f"{key}[{position}]", problem)
    return tuple(doses)


def _reasons(extraction: Extraction, item: Item) -> frozenset[str]:
    found: set[str] = set()
    for _, reason in extraction.codeables(item, "reasonCode"):
        found |= extraction.concepts_for(reason)
    for reference in as_list(item.data.get("reasonReference")):
        target = extraction.payload.resolve(reference_of(reference))
        if target is not None:
            found |= extraction.concepts_for(clean_codeable(target.get("code")))
    return frozenset(found)


def medication_fact(
    extraction: Extraction, item: Item, *, is_draft: bool = False, selections: frozenset[str] = frozenset()
) -> MedicationFact | None:
    data = item.data
    resource_type = str(data.get("resourceType"))
    given = data.get("status")
    status = given if isinstance(given, str) and given in _STATUSES.get(resource_type, ()) else "unknown"
    if status != given:
        extraction.issue(item, "status", "status missing or not a known code; medication counted as current")
    if status in _DROPPED.get(resource_type, ()) or data.get("doNotPerform") is True:
        return None
    if not extraction.belongs_to_patient(item):
        return None
    codeable, medication = _medication(extraction, item)
    codes = extraction.classify_medication(codeable)
    ingredients = list(codes.ingredients)
    classes = set(codes.classes)
    strengths: list[Strength] = []
    if medication is not None:
        names, more_classes, strengths = _ingredient_strengths(extraction, medication)
        ingredients.extend(name for name in names if name not in ingredients)
        classes |= more_classes
    if not strengths:
        strengths = list(codes.strengths)  # the product table, else the strength written in the name
    pack_volume = _pack_volume(extraction, item, medication, strengths, codes)
    display = codeable_display(codeable)
    if codeable is not None and display is None and not ingredients and not classes:
        # A code only, and not one this service knows (an RxNorm product outside its table): nothing says
        # what the drug is, so no check can count it.  Said, rather than read as no medication at all.
        message = "a code this service does not know, with no name; not classified"
        extraction.issue(item, "medication[x]", message)
    start, end = _dates(data, resource_type)
    dose_key = "dosageInstruction" if resource_type == "MedicationRequest" else "dosage"
    return MedicationFact(
        ref=item.ref,
        source=resource_type,
        status=status,
        ingredients=tuple(ingredients),
        classes=frozenset(classes),
        display=display,
        start=start,
        end=end,
        doses=_doses(extraction, item, dose_key, codes.route),
        strengths=tuple(strengths),
        is_draft=is_draft,
        is_selected=item.ref in selections,
        reason_concepts=_reasons(extraction, item),
        planned_days=_planned_days(extraction, item),
        pack_volume_ml=pack_volume,
    )
