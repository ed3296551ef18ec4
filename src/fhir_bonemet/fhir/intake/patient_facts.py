"""Read resources → :class:`~fhir_bonemet.core.model.facts.PatientFacts`, the only input of the reasoning
core.

:func:`extract_facts` takes what :mod:`~fhir_bonemet.fhir.intake.read` produced (prefetch and fetched
resources,
and separately the hook's ``context.draftOrders``) and builds immutable facts, each keeping the reference
of its resource.  Nothing here raises on bad data: what cannot be used becomes a ``ReadIssue``.  Facts are
sorted, so the same payload always yields the same ``PatientFacts`` whatever order the EHR sent it in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.facts import (
    BodySite,
    BoneLesion,
    MedicationFact,
    ObservationFact,
    OrderFact,
    PatientFacts,
    ProcedureFact,
    ReadIssue,
    Sex,
)
from fhir_bonemet.core.model.frozen_init import fast_init
from fhir_bonemet.fhir.intake.conditions import condition_facts
from fhir_bonemet.fhir.intake.context import Extraction
from fhir_bonemet.fhir.intake.medications import medication_fact
from fhir_bonemet.fhir.intake.observations import observation_facts
from fhir_bonemet.fhir.intake.observed_procedures import observed_procedures
from fhir_bonemet.fhir.intake.read import Item, ReadResult, read_draft_orders
from fhir_bonemet.fhir.intake.sites import read_body_site
from fhir_bonemet.fhir.intake.values import (
    code_label,
    codeable_display,
    parse_date,
    period_date,
    reference_of,
    relative_ref,
)
from fhir_bonemet.fhir.terminology.lookup import Terminology

_SEX: Final = {"female": Sex.FEMALE, "male": Sex.MALE, "other": Sex.OTHER}
_PROCEDURE_DROPPED: Final = frozenset({"not-done", "entered-in-error"})
_MEDICATION_TYPES: Final = ("MedicationRequest", "MedicationStatement")
# Where a draft order that is not a medication keeps what it orders (ServiceRequest.code,
# DeviceRequest.codeCodeableConcept, ...); the cards label such a draft from the same elements.
ORDER_CODE_KEYS: Final = ("code", "codeCodeableConcept", "productCodeableConcept", "itemCodeableConcept")
# Draft order statuses that say the order is not going ahead (MedicationRequest; the RequestStatus of
# ServiceRequest, DeviceRequest, NutritionOrder...; VisionPrescription's "cancelled").  order-sign may
# re-send such an order beside those being signed: counted, a cancelled naproxen draft would still add to
# the NSAIDs and the doses.  "unknown", like no status at all, stays: the cautious reading.
_NOT_GOING_AHEAD: Final = frozenset({"cancelled", "entered-in-error", "stopped", "completed", "revoked"})
_EARLIEST: Final = datetime.min
_NO_DATE: Final = date.min


@fast_init
@dataclass(frozen=True, slots=True)
class _PatientRead:
    birth_date: date | None = None  # its first day
    birth_date_latest: date | None = None  # the last day a partial one may mean; None for a full date
    sex: Sex = Sex.UNKNOWN
    deceased: bool = False
    deceased_on: date | None = None  # the first day of the date of death, when one was read
    birth_date_unread: str | None = None  # why a birth date that was sent could not be used


def _patient(extraction: Extraction, payload: ReadResult) -> _PatientRead:
    """Birth date, sex and deceased status of the context patient."""
    patients = payload.items("Patient")
    wanted = [
        p for p in patients if extraction.patient_id is None or p.data.get("id") == extraction.patient_id
    ]
    for other in patients:
        if extraction.patient_id is not None and other.data.get("id") != extraction.patient_id:
            # Said, not dropped in silence: without the context patient's own record, age and sex are
            # unknown, and the reader of the answer should know why.  The location, not the other id.
            message = "a Patient other than context.patientId (another id or none); not read"
            extraction.issues.append(ReadIssue(other.location, message))
    if not wanted:
        # The cards then say why the age is unknown: a birth date came, on another patient's record.
        other_sent = any("birthDate" in p.data for p in patients)
        return _PatientRead(
            birth_date_unread="sent on a Patient record that is not this patient's" if other_sent else None
        )
    data = wanted[0].data
    gender = data.get("gender")
    # A partial birth date ("1950") is read as its first day: the older age is the cautious one for the
    # rules.  Its last day is kept too: whether the patient may still be a minor depends on it.
    sex = _SEX.get(gender, Sex.UNKNOWN) if isinstance(gender, str) else Sex.UNKNOWN
    given = data.get("birthDate")
    birth_date = parse_date(given)
    unread = None
    if given is not None and birth_date is None:
        extraction.issue(wanted[0], "birthDate", "not a date; age unknown")
        unread = "recorded, but not a date"
    latest = parse_date(given, upper=True) if birth_date is not None else None
    deceased, deceased_on = _deceased(extraction, wanted[0])
    return _PatientRead(
        birth_date=birth_date,
        birth_date_latest=latest if latest != birth_date else None,
        sex=sex,
        deceased=deceased,
        deceased_on=deceased_on,
        birth_date_unread=unread,
    )


def _deceased(extraction: Extraction, item: Item) -> tuple[bool, date | None]:
    """Patient.deceased[x].  Only a clear statement of death counts: a value that cannot be read is a read
    issue and the patient is read as alive, because silence for a living patient would hide red flags."""
    flag = item.data.get("deceasedBoolean")
    if flag is not None and not isinstance(flag, bool):
        extraction.issue(item, "deceasedBoolean", "not true or false; read as alive")
    when = item.data.get("deceasedDateTime")
    died = parse_date(when)
    if when is not None and died is None:
        extraction.issue(item, "deceasedDateTime", "not a date; read as alive")
    # The first day of a partial date ("2025"): the gate then asks only whether death may already have
    # come; a date after today is a contradiction it reads as alive.
    return flag is True or died is not None, died


def _procedures(extraction: Extraction, items: list[Item]) -> list[ProcedureFact]:
    facts: list[ProcedureFact] = []
    for item in items:
        data = item.data
        status = data.get("status")
        status = status if isinstance(status, str) and status else "unknown"
        if status in _PROCEDURE_DROPPED or not extraction.belongs_to_patient(item):
            continue
        code = extraction.codeable(item, "code")
        concepts = extraction.concepts_for(code) if code is not None else frozenset()
        if c.RADIOTHERAPY not in concepts and _radiotherapy_category(extraction, item):
            # Oncology systems often code the course locally (or in a national procedure code) and say
            # "radiotherapy" only in Procedure.category (mCODE / oBDS style).
            concepts = concepts | {c.RADIOTHERAPY}
        if not concepts:
            continue
        # Performed at the latest day the record allows: a recent procedure is the cautious reading.
        performed = parse_date(data.get("performedDateTime"), upper=True) or period_date(
            data.get("performedPeriod"), upper=True
        )
        # ...and at the earliest, for "was it done after this record?" (a fixation silences R04 for a
        # record it followed: a fixation dated "2025-05" is not known to follow a score of 20 May).
        performed_from = parse_date(data.get("performedDateTime")) or period_date(data.get("performedPeriod"))
        # One fact per treated site: a course to T9 and the left femur concerns both lesions.
        sites: list[BodySite | None] = [
            read_body_site(cc, extraction.terminology)[0] for _, cc in extraction.codeables(item, "bodySite")
        ]
        for site in sites or [None]:
            facts.append(
                ProcedureFact(
                    ref=item.ref,
                    concepts=concepts,
                    performed=performed,
                    site=site,
                    status=status,
                    display=codeable_display(code),
                    performed_from=performed_from if performed_from != performed else None,
                )
            )
    return facts


def _radiotherapy_category(extraction: Extraction, item: Item) -> bool:
    return any(
        c.RADIOTHERAPY in extraction.concepts_for(category)
        for _, category in extraction.codeables(item, "category")
    )


def _proposed_here(data: Mapping[str, Any], own_identifiers: frozenset[str]) -> bool:
    identifiers = data.get("identifier")
    return isinstance(identifiers, list) and any(
        isinstance(i, dict) and i.get("system") in own_identifiers for i in identifiers
    )


def _orders(
    extraction: Extraction, draft: ReadResult, selections: frozenset[str], own_identifiers: frozenset[str]
) -> list[OrderFact]:
    facts: list[OrderFact] = []
    for resource_type, items in draft.by_type.items():
        if resource_type in _MEDICATION_TYPES or resource_type == "Medication":
            continue
        for item in items:
            if not extraction.belongs_to_patient(item):
                continue
            code = next((extraction.codeable(item, key) for key in ORDER_CODE_KEYS if key in item.data), None)
            facts.append(
                OrderFact(
                    ref=item.ref,
                    resource_type=resource_type,
                    concepts=extraction.concepts_for(code) if code is not None else frozenset(),
                    is_selected=item.ref in selections,
                    display=codeable_display(code),
                    coded_as=code_label(code),
                    proposed_here=bool(own_identifiers) and _proposed_here(item.data, own_identifiers),
                )
            )
    return facts


def _medications(
    extraction: Extraction, payload: ReadResult, *, is_draft: bool, selections: frozenset[str]
) -> list[MedicationFact]:
    facts: list[MedicationFact] = []
    for resource_type in _MEDICATION_TYPES:
        for item in payload.items(resource_type):
            fact = medication_fact(extraction, item, is_draft=is_draft, selections=selections)
            if fact is not None:
                facts.append(fact)
    return facts


def _replaced(draft: ReadResult, kept: set[str]) -> dict[str, str]:
    """The order each draft medication order replaces, by its ``priorPrescription``: {draft: order}.

    A dose change (Modify, Reorder) is drafted as a new order naming the old one; once signed, the old
    one ends.  Counted beside its replacement, acetaminophen 1 g raised from three doses a day to four
    read as 7 g a day, and a new naproxen dose as a second NSAID.  Only drafts read as medications
    (``kept``: not entered in error, not ``doNotPerform``, this patient's) replace anything, and only
    through a literal reference: an order that cannot be matched stays counted, the cautious reading.
    Keyed by draft: two drafts may replace one order (split into two strengths, or drafted twice); both
    are new orders that count, each continues the old course, and the old order is left out once."""
    replaced: dict[str, str] = {}
    for item in draft.items("MedicationRequest"):
        if item.ref not in kept:
            continue
        ref = reference_of(item.data.get("priorPrescription"))
        if ref is not None and ref.startswith("MedicationRequest/") and ref not in kept:
            replaced[item.ref] = ref
    return replaced


def _going_ahead(extraction: Extraction, draft: ReadResult) -> ReadResult:
    """The draft orders without those whose status says they are not going ahead, each of which is noted.

    Medication resources stay whatever their status: they are what a draft orders, not orders."""
    kept: dict[str, list[Item]] = {}
    for resource_type, items in draft.by_type.items():
        going = []
        for item in items:
            status = item.data.get("status")
            if resource_type != "Medication" and isinstance(status, str) and status in _NOT_GOING_AHEAD:
                message = f"a draft order with status '{status}' is not going ahead; not counted as an order"
                extraction.note(item, "status", message)
            else:
                going.append(item)
        kept[resource_type] = going
    return ReadResult(by_type=kept, index=draft.index)


def _continuing(
    fact: MedicationFact, replaced: Mapping[str, str], record: Mapping[str, MedicationFact]
) -> MedicationFact:
    """A draft that replaces an order of the record, with that order's course start: raised from 3 g to
    3.5 g a day after two months, acetaminophen is still long-term use (P20), not a course begun today."""
    old = replaced.get(fact.ref)
    if old is not None and old in record:
        return dataclasses.replace(fact, replaces=old, course_start=record[old].start)
    return fact


def _selection_refs(selections: Iterable[str], draft: ReadResult | None) -> frozenset[str]:
    """The refs under which the selected draft orders were read.

    A selection may be ``Type/id``, an absolute URL ending in it, or the entry's ``fullUrl``: a
    ``urn:uuid`` names a draft not yet saved, read without an id under a positional ref, so each is
    looked up in the drafts as read rather than compared as text."""
    refs = set()
    for selection in selections:
        ref = draft.ref_for(selection) if draft is not None else None
        ref = ref if ref is not None else relative_ref(selection)
        if ref is not None:
            refs.add(ref)
    return frozenset(refs)


def extract_facts(
    resources: ReadResult,
    terminology: Terminology,
    *,
    patient_id: str | None,
    draft_orders: ReadResult | Mapping[str, Any] | None = None,
    selections: Iterable[str] = (),
    unavailable: frozenset[str] = frozenset(),
    own_identifiers: frozenset[str] = frozenset(),
    today: date | None = None,
) -> PatientFacts:
    """Everything the rules need to know about one patient, from what the EHR sent.

    ``patient_id`` is the hook's ``context.patientId``: resources naming another patient are reported and
    ignored.  ``draft_orders`` is ``context.draftOrders`` (read or raw); its medication orders become
    :class:`MedicationFact` with ``is_draft=True``, its other orders :class:`OrderFact`.  ``selections`` is
    ``context.selections``.  ``unavailable`` names sources the caller could not obtain at all; together
    with the reader's own unusable prefetch keys they tell the rules which facts are unknown.
    ``own_identifiers`` are the identifier systems this service gives the resources it proposes: a draft
    order carrying one is a suggestion of this service the clinician accepted.  ``today`` is the day of
    the call: a Condition with no clinical status whose abatement is still to come is read as active.
    """
    extraction = Extraction(terminology=terminology, payload=resources, patient_id=patient_id, today=today)
    draft: ReadResult | None = None
    if draft_orders is not None:
        draft = draft_orders if isinstance(draft_orders, ReadResult) else read_draft_orders(draft_orders)
    chosen = _selection_refs(selections, draft)
    person = _patient(extraction, resources)
    lesions, conditions, coded_weeks = condition_facts(extraction, resources.items("Condition"))
    observations = observation_facts(extraction, resources.items("Observation")) + coded_weeks
    medications = _medications(extraction, resources, is_draft=False, selections=chosen)
    procedures = _procedures(extraction, resources.items("Procedure"))
    procedures += observed_procedures(extraction, resources.items("Observation"))
    orders: list[OrderFact] = []
    issues = list(resources.issues)
    if draft is not None:
        issues.extend(draft.issues)
        # Draft orders may name a Medication that only the prefetch carries, and vice versa.
        draft_extraction = Extraction(
            terminology=terminology, payload=_merged(draft, resources), patient_id=patient_id
        )
        draft = _going_ahead(draft_extraction, draft)
        drafts = _medications(draft_extraction, draft, is_draft=True, selections=chosen)
        # An order under review may also come back from the EHR's own search: the draft copy is the one
        # the hook is about, so the other is not counted twice.  Nor is an order a draft replaces.
        draft_refs = {fact.ref for fact in drafts}
        replaced = _replaced(draft, draft_refs)
        record = {fact.ref: fact for fact in medications if fact.ref not in draft_refs}
        drafts = [_continuing(fact, replaced, record) for fact in drafts]
        gone = draft_refs | set(replaced.values())
        medications = [fact for fact in medications if fact.ref not in gone] + drafts
        orders = _orders(draft_extraction, draft, chosen, own_identifiers)
        extraction.issues.extend(draft_extraction.issues)
    issues.extend(extraction.issues)
    return PatientFacts(
        patient_ref=f"Patient/{patient_id}" if patient_id else "Patient/unknown",
        birth_date=person.birth_date,
        birth_date_latest=person.birth_date_latest,
        birth_date_unread=person.birth_date_unread,
        sex=person.sex,
        deceased=person.deceased,
        deceased_on=person.deceased_on,
        lesions=tuple(sorted(lesions, key=_lesion_key)),
        conditions=tuple(sorted(conditions, key=lambda f: (f.ref, sorted(f.concepts)))),
        observations=tuple(sorted(observations, key=_observation_key)),
        medications=tuple(sorted(medications, key=lambda f: (f.is_draft, f.ref))),
        procedures=tuple(sorted(procedures, key=lambda f: (f.performed or _NO_DATE, f.ref))),
        orders=tuple(sorted(orders, key=lambda f: f.ref)),
        unavailable=frozenset(unavailable) | frozenset(resources.unavailable),
        issues=tuple(issues),
        unreadable=tuple(sorted(extraction.unreadable, key=lambda u: (u.concept, u.ref))),
        named_unread=tuple(sorted(extraction.named_unread, key=lambda n: n.ref)),
    )


def _merged(draft: ReadResult, resources: ReadResult) -> ReadResult:
    return ReadResult(by_type=draft.by_type, index={**resources.index, **draft.index})


def _lesion_key(lesion: BoneLesion) -> tuple[str, int]:
    return lesion.ref, lesion.index


def _observation_key(fact: ObservationFact) -> tuple[str, datetime, str, str]:
    return fact.concept, fact.effective or _EARLIEST, fact.ref, fact.code or ""


__all__ = ["ORDER_CODE_KEYS", "extract_facts"]
