"""Patient facts: the immutable, typed input of the reasoning core.

The FHIR layer (``fhir.intake.patient_facts``) builds a :class:`PatientFacts` from whatever the EHR sent;
the core never sees FHIR JSON.  Every fact keeps ``ref``, the relative reference of the resource it came
from (``"Observation/abc"``), so every finding can say which patient data it used.

Clinical meaning is carried by *concept ids* (``"opioid"``, ``"lab-platelets"``, ``"pathological-fracture"``):
the names of the project's ValueSets in ``profiles/`` (see :mod:`fhir_bonemet.core.model.concepts`).  The core
never compares clinical codes; the terminology layer has already answered "is this an opioid".

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Literal

from fhir_bonemet.core.model.frozen_init import fast_init


class SiteClass(StrEnum):
    """Skeletal site classes (docs/clinical-model.md#skeletal-site-classes); one lesion has exactly one."""

    SPINE_CERVICAL = "spine-cervical"
    SPINE_THORACIC = "spine-thoracic"
    SPINE_LUMBAR = "spine-lumbar"
    SPINE_UNSPECIFIED = "spine-unspecified"
    SACRUM = "sacrum"
    PELVIS = "pelvis"
    FEMUR_PROXIMAL = "femur-proximal"
    FEMUR = "femur"
    LOWER_LIMB = "lower-limb"
    HUMERUS_PROXIMAL = "humerus-proximal"
    HUMERUS = "humerus"
    UPPER_LIMB = "upper-limb"
    RIB = "rib"
    STERNUM = "sternum"
    SCAPULA = "scapula"
    CLAVICLE = "clavicle"
    SKULL = "skull"
    UNKNOWN = "unknown"


class Laterality(StrEnum):
    LEFT = "left"
    RIGHT = "right"
    BILATERAL = "bilateral"
    MIDLINE = "midline"


class Sex(StrEnum):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    UNKNOWN = "unknown"


@fast_init
@dataclass(frozen=True, slots=True)
class BodySite:
    """Where on the skeleton a fact applies: a site class plus what the record said about it."""

    site: SiteClass
    text: str | None = None  # e.g. "T9", "left proximal femur": shown to clinicians, never reasoned on
    laterality: Laterality | None = None
    qualifiers: tuple[str, ...] = ()  # body-location qualifiers as text, e.g. ("proximal",)
    # The other site the same record names when its coding and its text disagree (coded lumbar spine,
    # text "T10"): the record yields a lesion at each, so the restrictions of both apply.
    conflict: SiteClass | None = None
    # Vertebral levels the record names, e.g. ("T8", "T9", "T10") for "T8-T10"; empty when none is named.
    levels: tuple[str, ...] = ()
    # Another spinal region those levels reach ("T12-L1": the lumbar spine beside the thoracic): the record
    # yields a lesion in each, so the restrictions of both apply (a junction is not a disagreement).
    spans: SiteClass | None = None


@fast_init
@dataclass(frozen=True, slots=True)
class BoneLesion:
    """One bone-metastasis site.  A Condition with three bodySites yields three lesions."""

    ref: str  # the Condition, e.g. "Condition/met-1"
    site: BodySite
    onset: date | None = None
    recorded: date | None = None
    primary_cancer: str | None = None  # concept id: "primary-breast", "primary-prostate", ...
    # Position of the bodySite on the Condition, so two lesions of one Condition differ; the second
    # reading of a bodySite whose coding and text disagree is -(position + 1).
    index: int = 0
    # The Condition's verificationStatus when it does not confirm the metastasis ("provisional",
    # "differential", "unconfirmed"); None when confirmed or not recorded.
    unconfirmed: str | None = None


@fast_init
@dataclass(frozen=True, slots=True)
class ConditionFact:
    """A clinically relevant condition other than the bone metastasis itself."""

    ref: str
    concepts: frozenset[str]  # e.g. {"pathological-fracture"}, {"peripheral-neuropathy"}
    onset: date | None = None
    recorded: date | None = None
    site: BodySite | None = None
    display: str | None = None
    # "active" | "recurrence" | "relapse" | "inactive" | "remission" | "resolved" | "unknown".  Refuted and
    # entered-in-error records never become facts; resolved ones do (history of falls still matters).
    clinical_status: str = "active"
    abatement: date | None = None


@fast_init
@dataclass(frozen=True, slots=True)
class Quantity:
    """A measured value already normalised to the concept's canonical unit (UCUM)."""

    value: float
    unit: str
    # The unit as the laboratory reported it, when it differs from ``unit`` (e.g. "mmol/L" for a calcium
    # normalised to mg/dL): some bands are published per unit system and do not convert exactly.
    reported_unit: str | None = None
    # ">" or ">=" when the laboratory reported only a lower bound (an eGFR ">60"): ``value`` is then the
    # lowest value the result can have (just above the bound for ">"), and cards show the bound as received.
    # "<" or "<=" for an upper bound (an eGFR "<15"): ``value`` is the highest it can have (just below the
    # bound for "<"); only renal function is read so, and it is used only where every value below the bound
    # lies in the same band (core.evidence.derived.renal_function).
    comparator: str | None = None
    # No unit was received: the concept's code implies it (every eGFR is in mL/min/1.73 m2), and the cards
    # that use the value say so.
    unit_from_code: bool = False

    def shown(self) -> str:
        """The number as a card shows it: ``45.2``, or ``>60`` / ``<15`` for a bound."""
        if self.comparator is None:
            return f"{self.value:g}"
        if self.comparator == ">":
            bound = math.nextafter(self.value, -math.inf)
        elif self.comparator == "<":
            bound = math.nextafter(self.value, math.inf)
        else:
            bound = self.value
        return f"{self.comparator}{bound:g}"


@fast_init
@dataclass(frozen=True, slots=True)
class ObservationFact:
    """One Observation (or one component of it) the rules care about.

    Exactly one of ``quantity``, ``code`` or ``flag`` carries the value:
    numeric results and scores use ``quantity`` (scores have unit ``"{score}"``),
    coded results such as lesion type use ``code`` (a local code, e.g. ``"lytic"``),
    yes/no findings such as red-flag symptoms use ``flag``.
    """

    ref: str
    concept: str  # e.g. "lab-calcium", "pain-score", "sins-total", "lesion-type", "rf-limb-weakness"
    effective: datetime | None
    quantity: Quantity | None = None
    code: str | None = None
    flag: bool | None = None
    site: BodySite | None = None
    focus: tuple[str, ...] = ()  # references of the Conditions this result is about (Observation.focus)
    display: str | None = None
    # "year" or "month" when the record gives no day: ``effective`` is then the earliest day it could be,
    # so recency is judged cautiously (a result that may be old counts as old), and the cards say so.
    date_precision: Literal["day", "month", "year"] = "day"


@fast_init
@dataclass(frozen=True, slots=True)
class UnreadableValue:
    """A result of a concept the rules use whose value could not be interpreted (no unit, unknown unit,
    comparator, text, out of range), or a coded or yes/no finding recorded with no answer (``no_answer``).
    It is not a missing value: the rules that would have used it say what was received and why it was not
    used, and never claim that no result exists."""

    ref: str
    concept: str
    effective: datetime | None
    value_text: str  # the value as received, shortened ("13.5", "<20", "(not a number)")
    unit_text: str | None  # the unit as received when it looks like one; None when there was none
    reason: str  # why it was not used, without the value: "no unit", "unit 'mg' not known for ..."
    number: float | None = None  # the number received, when there was one (for the plausible-unit check)
    # A comparator's bound ("<10", ">13") in the concept's canonical unit, when its unit was read: the value
    # lies beyond it, so a bound already inside a dangerous band puts the result there (rule R10).
    bound: float | None = None
    # The result's date was received but could not be read: it may be recent, so it counts as pending
    # whatever the lookback (see core.evidence.unreadable.pending).
    date_unreadable: bool = False
    # The body site and focus of the record (a finding at a lesion), as an ObservationFact carries them.
    site: BodySite | None = None
    focus: tuple[str, ...] = ()
    # A yes/no or coded answer recorded with no answer but a reason for its absence ("asked-unknown",
    # "asked-declined", "error"): that reason as received.  Nothing was misread, so the cards say "recorded
    # with no answer" rather than "could not be read"; the rules read it as cautiously as an unreadable answer
    # (an unknown answer to a red-flag question may be "yes").
    no_answer: str | None = None


@fast_init
@dataclass(frozen=True, slots=True)
class NamedUnread:
    """A result received under a code not understood whose name (text or a display) names concepts the
    rules use: "Calcium, serum" under a hospital's own unmapped code.  Only its name is kept, never its
    value: a mapping guessed from words could be wrong, so nothing is read from it.  The cards name it where
    they would say the concept is missing, so a result received is never passed off as none."""

    ref: str
    concepts: frozenset[str]
    name: str  # the words that named it, as received, shortened
    effective: datetime | None
    # Its date was received but could not be read: it may be recent, so it counts whatever the lookback.
    date_unreadable: bool = False


@fast_init
@dataclass(frozen=True, slots=True)
class Strength:
    """Amount of one ingredient in one unit of the product (mg per tablet, mcg/h per patch, mg/mL)."""

    ingredient: str
    value: float
    unit: str


@fast_init
@dataclass(frozen=True, slots=True)
class DoseInstruction:
    """One dosage instruction, reduced to what dose arithmetic needs.

    ``amount`` is the dose per administration in ``amount_unit`` (``"mg"``, ``"mcg"``, ``"mcg/h"``,
    ``"mL"`` or a product unit such as ``"{tablet}"``); ``per_day`` is administrations per day;
    ``max_per_day`` is the ceiling from ``maxDosePerPeriod`` in the same unit as ``amount``.  ``None``
    means the record did not say.
    """

    amount: float | None = None
    amount_unit: str | None = None
    per_day: float | None = None
    max_per_day: float | None = None
    as_needed: bool = False
    route: str | None = None  # "oral", "transdermal", "intravenous", "subcutaneous", ... or None
    text: str | None = None
    # The dose unit as received when it was not understood ("{xyz}", shortened): the dose is then unknown,
    # and the cards name the unit instead of saying that no dose was recorded.
    unit_not_understood: str | None = None
    # Dosage.sequence: instructions with different numbers follow one another (a taper, a step-down);
    # with the same number, or none, they are taken together.
    sequence: int | None = None


@fast_init
@dataclass(frozen=True, slots=True)
class MedicationFact:
    """A medication from MedicationRequest, MedicationStatement or a draft order in the hook context."""

    ref: str
    source: str  # "MedicationRequest" | "MedicationStatement"
    status: str  # FHIR status as recorded ("active", "draft", "intended", ...)
    ingredients: tuple[str, ...]  # canonical ingredient names, e.g. ("oxycodone", "acetaminophen")
    classes: frozenset[str]  # concept ids, e.g. {"opioid", "acetaminophen"}
    display: str | None = None
    start: date | None = None
    end: date | None = None
    doses: tuple[DoseInstruction, ...] = ()
    strengths: tuple[Strength, ...] = ()
    is_draft: bool = False  # came from context.draftOrders: evaluated as if active
    is_selected: bool = False  # named in context.selections (order-select)
    reason_concepts: frozenset[str] = frozenset()
    # How long the order means the drug to be taken, in days, when it says so (a MedicationRequest's
    # timing bounds or its supply duration times the fills); None when it does not.
    planned_days: float | None = None
    # A draft that replaces an order (its priorPrescription, a dose change or reorder): that order's ref,
    # and when its course began (None when unknown).  The draft continues that course, and the rules
    # that weigh how long a drug has been taken count it from there.
    replaces: str | None = None
    course_start: date | None = None
    # Volume of one pack (vial, bag, prefilled syringe) in mL when the product states it without doubt
    # (Medication.amount, or an RxNorm name "100 ML zoledronic acid 0.04 MG/ML Injection"): with a
    # strength per mL it turns an order for "1 vial" into milligrams.
    pack_volume_ml: float | None = None


@fast_init
@dataclass(frozen=True, slots=True)
class ProcedureFact:
    """Radiotherapy, surgical fixation, vertebroplasty/kyphoplasty, dental examination, surgical review."""

    ref: str
    concepts: frozenset[str]  # e.g. {"radiotherapy"}, {"surgical-review"}
    performed: date | None
    site: BodySite | None = None
    status: str = "completed"
    display: str | None = None
    # The Conditions it is about (an Observation recording a review names its lesion in ``focus``).
    focus: tuple[str, ...] = ()
    # ``performed`` is the latest day the record allows ("2026-11" as 30 November, a period's end); this is
    # the earliest (1 November, the period's start) when it differs, for "did it certainly follow X?".
    performed_from: date | None = None


@fast_init
@dataclass(frozen=True, slots=True)
class OrderFact:
    """A non-medication draft order (ServiceRequest, DeviceRequest, ...) from context.draftOrders."""

    ref: str
    resource_type: str
    concepts: frozenset[str]
    is_selected: bool = False
    display: str | None = None
    # "SNOMED CT 229065009": its first code, to name an order with no text or display the card can show.
    coded_as: str | None = None
    # It carries an identifier this service gives what it proposes (its referrals, its CarePlan): the
    # clinician accepted one of its suggestions, made from this same record.
    proposed_here: bool = False


@fast_init
@dataclass(frozen=True, slots=True)
class ReadIssue:
    """Something the reader could not use.  Carries locations, never patient data."""

    location: str  # e.g. "prefetch.observations-labs.entry[3]" or "Observation/abc.valueQuantity"
    message: str
    # "warning": skipped one resource; "error": a whole source was unusable; "information": nothing was
    # lost (a note from the server, data sent in another shape than asked for)
    severity: str = "warning"

    def loggable(self) -> dict[str, str]:
        """Location and reason with resource ids replaced by ``{id}``: the response's read issues keep the
        location, the cards name the kind of record in words, a log line may not carry the id (an id can be
        the patient's, or lead to them)."""
        return {"location": _without_ids(self.location), "reason": _without_ids(self.message)}


# "Type/id" references and urn:uuid/urn:oid identifiers.  A dot ends the id, so "Observation/a.code" keeps
# its element path (FHIR ids may contain dots; the part after one would stay, as a path would).
_TYPED_ID = re.compile(r"\b([A-Z][A-Za-z]{1,63})/[A-Za-z0-9\-]{1,64}")
_URN_ID = re.compile(r"\burn:(uuid|oid):[A-Za-z0-9\-]+(?:\.[0-9]+)*")


def _without_ids(text: str) -> str:
    return _URN_ID.sub(r"urn:\1:{id}", _TYPED_ID.sub(r"\1/{id}", text))


@fast_init
@dataclass(frozen=True, slots=True)
class PatientFacts:
    """Everything the reasoning core knows about one patient, at one moment."""

    patient_ref: str
    birth_date: date | None = None  # a partial birth date ("1950") as its first day: the oldest age
    sex: Sex = Sex.UNKNOWN
    lesions: tuple[BoneLesion, ...] = ()
    # Bone-metastasis Conditions that are not active (resolved, refuted, ...) are not lesions; other
    # metastases (brain, liver) are recorded here so the population gate can say why it stayed silent.
    conditions: tuple[ConditionFact, ...] = ()
    observations: tuple[ObservationFact, ...] = ()
    medications: tuple[MedicationFact, ...] = ()
    procedures: tuple[ProcedureFact, ...] = ()
    orders: tuple[OrderFact, ...] = ()
    # Sources (prefetch keys or resource types) that could not be read at all: the rules treat their
    # facts as *unknown*, not as absent, and become more cautious.
    unavailable: frozenset[str] = frozenset()
    issues: tuple[ReadIssue, ...] = field(default=())
    # Results received but not usable: shown on the cards of the rules that would have used them.
    unreadable: tuple[UnreadableValue, ...] = ()
    # Results received under a code not understood whose name says what they are: named, never read.
    named_unread: tuple[NamedUnread, ...] = ()
    # The last day a partial birth date may mean ("1950" → 31 December 1950); None for a full date.
    birth_date_latest: date | None = None
    # Patient.deceased[x]: True when deceasedBoolean is true or a deceasedDateTime is given (its first
    # day, if it could be read, in ``deceased_on``).  The population gate decides what it means today.
    deceased: bool = False
    deceased_on: date | None = None
    # Why a birth date that was sent could not be used ("recorded, but not a date"); None when none came or
    # it was read.  The cards then say the birth date could not be read, not that it is missing.
    birth_date_unread: str | None = None

    @property
    def medications_unknown(self) -> bool:
        """A medication source (prefetch key or resource type) could not be read at all: the medication
        list is unknown, and "no opioid" or "no bone-modifying agent" cannot be said."""
        return any("medication" in source.lower() for source in self.unavailable)

    def age_on(self, today: date) -> int | None:
        """The age in whole years; for a partial birth date the oldest it can be (the cautious reading of
        every older-age rule and of Cockcroft-Gault)."""
        return _years(self.birth_date, today)

    def youngest_age_on(self, today: date) -> int | None:
        """The youngest the patient can be: a partial birth date read at its last day."""
        return _years(self.birth_date_latest or self.birth_date, today)


def _years(born: date | None, today: date) -> int | None:
    # A birth date after today cannot be right: the age is unknown, not negative (a negative age read as
    # "a minor" silenced the service for an adult whose record holds a typing error).
    if born is None or born > today:
        return None
    years = today.year - born.year
    if (today.month, today.day) < (born.month, born.day):
        years -= 1
    return years
