"""Builders for core tests: small, explicit PatientFacts without FHIR JSON.

Every builder takes keyword arguments with clinically neutral defaults, so a test states only what matters
to it.  References are generated unique per call (``Observation/obs-7``) unless given.  ``TODAY`` is the
fixed evaluation date of the core tests; ``days_ago`` arguments count back from it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta

from fhir_bonemet.core.model.facts import (
    BodySite,
    BoneLesion,
    ConditionFact,
    DoseInstruction,
    MedicationFact,
    ObservationFact,
    OrderFact,
    PatientFacts,
    ProcedureFact,
    Quantity,
    Sex,
    SiteClass,
    Strength,
)

TODAY = date(2025, 6, 1)
_ids = itertools.count(1)


def _ref(kind: str, ref: str | None) -> str:
    return ref if ref is not None else f"{kind}/t{next(_ids)}"


def at(days_ago: float = 0, hour: int = 9) -> datetime:
    """A datetime ``days_ago`` days before TODAY at ``hour`` o'clock (fractions of a day allowed)."""
    return datetime.combine(TODAY, time(hour)) - timedelta(days=days_ago)


def day(days_ago: float = 0) -> date:
    return TODAY - timedelta(days=days_ago)


def site(cls: SiteClass = SiteClass.FEMUR, text: str | None = None) -> BodySite:
    return BodySite(site=cls, text=text)


def lesion(
    cls: SiteClass = SiteClass.FEMUR,
    *,
    ref: str | None = None,
    text: str | None = None,
    primary: str | None = None,
    index: int = 0,
) -> BoneLesion:
    return BoneLesion(ref=_ref("Condition", ref), site=site(cls, text), primary_cancer=primary, index=index)


def condition(
    *concepts: str,
    ref: str | None = None,
    status: str = "active",
    onset_days_ago: float | None = None,
    display: str | None = None,
) -> ConditionFact:
    onset = day(onset_days_ago) if onset_days_ago is not None else None
    return ConditionFact(
        ref=_ref("Condition", ref),
        concepts=frozenset(concepts),
        onset=onset,
        clinical_status=status,
        display=display,
    )


def obs(
    concept: str,
    value: float | None = None,
    unit: str = "{score}",
    *,
    days_ago: float = 0,
    ref: str | None = None,
    code: str | None = None,
    flag: bool | None = None,
    where: BodySite | None = None,
    undated: bool = False,
) -> ObservationFact:
    return ObservationFact(
        ref=_ref("Observation", ref),
        concept=concept,
        effective=None if undated else at(days_ago),
        quantity=Quantity(value, unit) if value is not None else None,
        code=code,
        flag=flag,
        site=where,
    )


def dose(
    amount: float | None = None,
    unit: str | None = "mg",
    *,
    per_day: float | None = None,
    max_per_day: float | None = None,
    prn: bool = False,
    route: str | None = "oral",
    sequence: int | None = None,
) -> DoseInstruction:
    return DoseInstruction(
        amount=amount,
        amount_unit=unit,
        per_day=per_day,
        max_per_day=max_per_day,
        as_needed=prn,
        route=route,
        sequence=sequence,
    )


def strength(ingredient: str, value: float, unit: str = "mg") -> Strength:
    return Strength(ingredient=ingredient, value=value, unit=unit)


def med(
    *classes: str,
    ingredients: Iterable[str] = (),
    ref: str | None = None,
    source: str = "MedicationRequest",
    status: str = "active",
    doses: Iterable[DoseInstruction] = (),
    strengths: Iterable[Strength] = (),
    start_days_ago: float | None = None,
    end_days_ago: float | None = None,
    draft: bool = False,
    selected: bool = False,
    display: str | None = None,
    reasons: Iterable[str] = (),
) -> MedicationFact:
    kind = source if not draft else "MedicationRequest"
    return MedicationFact(
        ref=_ref(kind, ref),
        source=kind,
        status="draft" if draft else status,
        ingredients=tuple(ingredients),
        classes=frozenset(classes),
        display=display,
        start=day(start_days_ago) if start_days_ago is not None else None,
        end=day(end_days_ago) if end_days_ago is not None else None,
        doses=tuple(doses),
        strengths=tuple(strengths),
        is_draft=draft,
        is_selected=selected,
        reason_concepts=frozenset(reasons),
    )


def procedure(
    *concepts: str,
    days_ago: float | None = 0,
    where: BodySite | None = None,
    status: str = "completed",
    ref: str | None = None,
) -> ProcedureFact:
    performed = day(days_ago) if days_ago is not None else None
    return ProcedureFact(
        ref=_ref("Procedure", ref),
        concepts=frozenset(concepts),
        performed=performed,
        site=where,
        status=status,
    )


def order(*concepts: str, resource_type: str = "ServiceRequest", ref: str | None = None) -> OrderFact:
    return OrderFact(ref=_ref(resource_type, ref), resource_type=resource_type, concepts=frozenset(concepts))


def patient(
    *,
    age: int | None = 60,
    sex: Sex = Sex.MALE,
    lesions: Iterable[BoneLesion] | None = None,
    conditions: Iterable[ConditionFact] = (),
    observations: Iterable[ObservationFact] = (),
    medications: Iterable[MedicationFact] = (),
    procedures: Iterable[ProcedureFact] = (),
    orders: Iterable[OrderFact] = (),
    unavailable: Iterable[str] = (),
) -> PatientFacts:
    """A patient with one femoral bone metastasis unless ``lesions`` says otherwise."""
    birth = None if age is None else date(TODAY.year - age, 1, 1)
    return PatientFacts(
        patient_ref="Patient/p1",
        birth_date=birth,
        sex=sex,
        lesions=tuple(lesions) if lesions is not None else (lesion(),),
        conditions=tuple(conditions),
        observations=tuple(observations),
        medications=tuple(medications),
        procedures=tuple(procedures),
        orders=tuple(orders),
        unavailable=frozenset(unavailable),
    )
