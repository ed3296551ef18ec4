"""The exercise and pain CarePlan, with its Goals, as FHIR R4 JSON in the shape ``fhir.resources.R4B`` writes.

Status (documented choice):

* ``suggest`` mode: the CarePlan travels in the exercise card's *create* action and exists only once a
  clinician accepts that suggestion, so it is created ``active``.
* ``write`` mode: the service writes it without anybody's act, so it is a ``draft``; the card offers an
  *update* action that sets it ``active``.

The Goals are *contained* resources referenced from ``CarePlan.goal``: the plan is then one resource, written
by one conditional create, so a retried write can never leave orphan Goals behind.

``identifier`` is ``{system}|{value}``; the value is a SHA-256 over the patient, :data:`PLAN_VERSION` and
the plan's content without dates or status.  The same plan for the same patient always has the same
identifier, so ``If-None-Exist`` makes creation idempotent, while a changed plan (new lesion, new tier)
gets a new one.

The plan is built as plain JSON in the order the typed model serialises it (see
:mod:`fhir_bonemet.fhir.outbound.careplan_parts`); neither the model's validation nor its serialisation runs
per call.  The test suite validates every plan the examples produce, and the builders' fixed parts, with
:func:`validate_careplan` against the R4B ``CarePlan`` model (tests/test_emitted_resources.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum
from typing import Any

import orjson
from fhir.resources.R4B.careplan import CarePlan
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.reference import Reference
from fhir.resources.R4B.timing import Timing

from fhir_bonemet.core.model import concepts
from fhir_bonemet.core.model import queries as select
from fhir_bonemet.core.model.facts import PatientFacts
from fhir_bonemet.core.model.findings import Assessment, Category, Finding
from fhir_bonemet.core.model.frozen_init import fast_init
from fhir_bonemet.fhir.outbound import careplan_text as txt
from fhir_bonemet.fhir.outbound.careplan_parts import PlanParts, codeable
from fhir_bonemet.fhir.outbound.codes import OutboundCodes
from fhir_bonemet.fhir.outbound.elements import typed_element

__all__ = [
    "PLAN_VERSION",
    "TITLE",
    "BuiltCarePlan",
    "CarePlanStatus",
    "activated",
    "build_careplan",
    "on_opioid",
    "sha256_holding_gil",
    "validate_careplan",
    "with_status",
]

PLAN_VERSION = "1"  # bump when the plan's shape changes: every plan then gets a new identifier
TITLE = "Bone-metastasis exercise and pain plan"
_UNDATED_TOP = frozenset({"created", "period", "status", "identifier", "text"})
_UNDATED_NESTED = frozenset({"dueDate", "startDate"})
_PLAN_CATEGORIES = (Category.EXERCISE, Category.PAIN)
_ELEMENTS = tuple(CarePlan.elements_sequence())


class CarePlanStatus(StrEnum):
    ACTIVE = "active"  # suggest mode
    DRAFT = "draft"  # write mode


@fast_init
@dataclass(frozen=True, slots=True)
class BuiltCarePlan:
    resource: dict[str, Any]  # R4 JSON, validated as a typed CarePlan
    identifier_system: str
    identifier_value: str
    rule_ids: tuple[str, ...]
    structured_exercise_held: bool

    @property
    def if_none_exist(self) -> str:
        return f"identifier={self.identifier_system}|{self.identifier_value}"


def on_opioid(facts: PatientFacts, today: date) -> bool:
    """Whether an opioid is active (same meaning as in the rules), for the bowel-regimen reminder."""
    return select.has_active(facts, today, concepts.OPIOID)


def _undated_goal(goal: dict[str, Any]) -> dict[str, Any]:
    """A contained Goal without its dates: ``startDate`` (``Goal.start[x]``) and ``target.dueDate``
    (``Goal.target.due[x]``) are the only R4 elements of those names in a Goal."""
    undated = {k: v for k, v in goal.items() if k not in _UNDATED_NESTED}
    if isinstance(undated.get("target"), list):
        undated["target"] = [
            {k: v for k, v in t.items() if k not in _UNDATED_NESTED} if isinstance(t, dict) else t
            for t in undated["target"]
        ]
    return undated


def _undated(resource: dict[str, Any]) -> dict[str, Any]:
    """The plan without dates or status, for its digest.

    Nested dates (``startDate``, ``dueDate``) exist only in the contained Goals: R4 defines no element of
    those names anywhere in a CarePlan itself (its activities are scheduled by ``scheduled[x]``), and in a
    Goal only at known places.  So only those are copied; the activities, most of the plan, go to the
    serialiser as they are instead of being copied node by node on every call.
    """
    undated = {k: v for k, v in resource.items() if k not in _UNDATED_TOP}
    if "contained" in undated:
        undated["contained"] = [_undated_goal(r) if isinstance(r, dict) else r for r in undated["contained"]]
    return undated


# hashlib lets go of the GIL while it hashes 2 KiB or more at once.  The plan (some 8 KiB) takes microseconds
# to hash, but a thread that lets go of the GIL while another is busy (the plan-page and audit writers) waits
# for it up to the interpreter's switch interval (5 ms) to carry on: fed in smaller pieces, the hash keeps it.
_GIL_HELD_CHUNK = 2047


def sha256_holding_gil(data: bytes) -> str:
    """The SHA-256 hex digest of ``data``, hashed in pieces small enough that the thread keeps the GIL."""
    view = memoryview(data)
    digest = hashlib.sha256()
    for start in range(0, len(view), _GIL_HELD_CHUNK):
        digest.update(view[start : start + _GIL_HELD_CHUNK])
    return digest.hexdigest()


def content_digest(patient_ref: str, resource: dict[str, Any]) -> str:
    # orjson writes the same canonical text as json.dumps(sort_keys, compact separators, ensure_ascii=False)
    # for the plan's strings, integers and references (it holds no floats), several times faster.
    canonical = orjson.dumps(_undated(resource), option=orjson.OPT_SORT_KEYS)
    return sha256_holding_gil(f"{patient_ref}\n{PLAN_VERSION}\n".encode() + canonical)


def _refs(prefix: str, refs: Sequence[str | None]) -> list[dict[str, str]]:
    unique = dict.fromkeys(r for r in refs if r and r.startswith(prefix))
    return [{"reference": r} for r in unique]


def in_element_order(resource: dict[str, Any]) -> dict[str, Any]:
    """A CarePlan's top-level elements in definition order, as the typed model writes them."""
    ordered = {"resourceType": resource["resourceType"]}
    for name in _ELEMENTS:
        if name in resource:
            ordered[name] = resource[name]
    unknown = set(resource) - set(ordered)
    if unknown:  # model validation rejects these first; never drop anything silently
        raise ValueError(f"CarePlan has elements the model does not define: {sorted(unknown)}")
    return ordered


def _typed_detail(activity: Any) -> Any:
    detail = activity.get("detail") if isinstance(activity, dict) else None
    if not isinstance(detail, dict):
        return activity
    typed = dict(detail)
    if "code" in typed:
        typed["code"] = typed_element(CodeableConcept, typed["code"])
    if "scheduledTiming" in typed:
        typed["scheduledTiming"] = typed_element(Timing, typed["scheduledTiming"])
    for key in ("goal", "performer"):
        if isinstance(typed.get(key), list):
            typed[key] = [typed_element(Reference, r) for r in typed[key]]
    return {**activity, "detail": typed}


def validate_careplan(resource: dict[str, Any]) -> None:
    """Validate ``resource`` as a typed R4B CarePlan (raises pydantic's ValidationError); its code-table
    elements (activity codes, schedules, performers, goal links, categories) as typed objects validated once
    (see :func:`typed_element`).  For the test suite: the service does not pay for it per call."""
    checked = dict(resource)
    if isinstance(checked.get("activity"), list):
        checked["activity"] = [_typed_detail(a) for a in checked["activity"]]
    if isinstance(checked.get("category"), list):
        checked["category"] = [typed_element(CodeableConcept, c) for c in checked["category"]]
    CarePlan.model_validate(checked)


def _rule_ids(findings: Sequence[Finding]) -> list[str]:
    return sorted({rid for f in findings for rid in f.rule_ids})


def _notes(assessment: Assessment, parts: PlanParts) -> list[str]:
    notes: list[str] = []
    plan = parts.plan
    if plan is not None:
        if plan.person_factors:
            notes.append("Person-related factors: " + "; ".join(plan.person_factors) + ".")
        if plan.gates:
            notes.append("Safety gates applied: " + "; ".join(plan.gates) + ".")
        missing = [f"{m.what}: {m.consequence}" for les in plan.lesions for m in les.missing]
        if missing:
            notes.append("Missing data (advice kept on the cautious side): " + "; ".join(missing) + ".")
    if any(f.unverified for f in assessment.findings if f.category in _PLAN_CATEGORIES):
        notes.append("Parts of this plan rest on rules awaiting clinical review.")
    notes.append("Frequencies and review intervals are service defaults.")
    notes.append(txt.DISCLAIMER)
    return notes


def build_careplan(
    assessment: Assessment,
    *,
    patient_ref: str,
    today: date,
    status: CarePlanStatus = CarePlanStatus.ACTIVE,
    opioid: bool = False,
    codes: OutboundCodes,
) -> BuiltCarePlan | None:
    """The plan for an in-population assessment with an exercise plan or a pain plan; otherwise None.

    ``opioid``: an opioid is active (see :func:`on_opioid`), which adds the bowel-regimen reminder.
    """
    parts = PlanParts(assessment, codes, patient_ref, opioid)
    if not assessment.in_population or (parts.plan is None and not parts.has_pain_plan):
        return None
    lesions = parts.plan.lesions if parts.plan is not None else ()
    conditions = _refs("Condition/", [les.lesion_ref for les in lesions])
    goals = parts.goals(today, conditions)
    exercise_goals = [g["id"] for g in goals if g["id"] != "goal-pain"]
    activities = parts.exercise_activities(exercise_goals) + parts.pain_activities()
    plan_findings = [f for f in assessment.findings if f.category in _PLAN_CATEGORIES]
    used = [u.ref for les in lesions for u in les.used] + [u.ref for f in plan_findings for u in f.used]
    observations = _refs("Observation/", used)
    rule_ids = _rule_ids(plan_findings)
    categories = [
        c for c, on in (("bm-exercise", parts.plan is not None), ("bm-pain", parts.has_pain_plan)) if on
    ]
    notes = _notes(assessment, parts)
    div = txt.narrative(
        title=TITLE,
        plan=parts.plan,
        held=parts.held,
        hold_reason=parts.hold_reason,
        activities=parts.lines,
        goals=[g["description"]["text"] for g in goals],
        rule_ids=rule_ids,
        notes=[n for n in notes if n != txt.DISCLAIMER],
    )
    # Elements in definition order, as the typed model would write them (and, like it, no empty lists).
    resource: dict[str, Any] = {"resourceType": "CarePlan", "text": {"status": "generated", "div": div}}
    if goals:
        resource["contained"] = goals
    resource |= {
        "status": status.value,
        "intent": "plan",
        "category": [codeable(codes.local(c, codes.careplan_categories[c])) for c in categories],
        "title": TITLE,
    }
    if parts.plan is not None:
        held = "; structured exercise on hold" if parts.held else ""
        resource["description"] = f"Skeletal-risk tier {parts.plan.tier.value}{held}"
    resource["subject"] = {"reference": patient_ref}
    resource["period"] = {"start": today.isoformat()}
    resource["created"] = today.isoformat()
    if conditions:
        resource["addresses"] = conditions
    if observations:
        resource["supportingInfo"] = observations
    if goals:
        resource["goal"] = [{"reference": f"#{g['id']}"} for g in goals]
    if activities:
        resource["activity"] = activities
    resource["note"] = [{"text": n} for n in notes]
    # The identifier, a digest of the content, goes into the JSON itself, right after resourceType.
    value = content_digest(patient_ref, resource)
    system = codes.careplan_identifier_system
    built = {"resourceType": "CarePlan", "identifier": [{"system": system, "value": value}], **resource}
    return BuiltCarePlan(built, system, value, tuple(rule_ids), parts.held)


def activated(resource: dict[str, Any], resource_id: str) -> dict[str, Any]:
    """The entire updated resource for the card's "activate" action: same plan, server id, status active."""
    return in_element_order({**resource, "id": resource_id, "status": CarePlanStatus.ACTIVE.value})


def with_status(plan: BuiltCarePlan, status: CarePlanStatus) -> BuiltCarePlan:
    """The same plan (same identifier: status is not part of it) with another status."""
    if plan.resource.get("status") == status.value:
        return plan
    return replace(plan, resource=in_element_order({**plan.resource, "status": status.value}))
