"""The exercise and pain CarePlan, with its Goals, built as typed FHIR R4 (``fhir.resources.R4B``) objects.

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
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum
from typing import Any

from fhir.resources.R4B.careplan import CarePlan

from fhir_bonemet.core import concepts, select
from fhir_bonemet.core.facts import PatientFacts
from fhir_bonemet.core.findings import Assessment, Category, Finding
from fhir_bonemet.fhir import careplan_text as txt
from fhir_bonemet.fhir.careplan_parts import PlanParts, codeable
from fhir_bonemet.fhir.outbound_codes import OutboundCodes, load_outbound_codes

__all__ = [
    "PLAN_VERSION",
    "TITLE",
    "BuiltCarePlan",
    "CarePlanStatus",
    "activated",
    "build_careplan",
    "on_opioid",
    "with_status",
]

PLAN_VERSION = "1"  # bump when the plan's shape changes: every plan then gets a new identifier
TITLE = "Bone-metastasis exercise and pain plan"
_UNDATED_TOP = frozenset({"created", "period", "status", "identifier", "text"})
_UNDATED_NESTED = frozenset({"dueDate", "startDate"})
_PLAN_CATEGORIES = (Category.EXERCISE, Category.PAIN)


class CarePlanStatus(StrEnum):
    ACTIVE = "active"  # suggest mode
    DRAFT = "draft"  # write mode


@dataclass(frozen=True, slots=True)
class BuiltCarePlan:
    resource: dict[str, Any]  # R4 JSON, serialised once
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


def _strip(node: Any, top: bool) -> Any:
    if isinstance(node, dict):
        drop = _UNDATED_TOP if top else _UNDATED_NESTED
        return {k: _strip(v, False) for k, v in node.items() if k not in drop}
    if isinstance(node, list):
        return [_strip(v, False) for v in node]
    return node


def content_digest(patient_ref: str, resource: dict[str, Any]) -> str:
    canonical = json.dumps(_strip(resource, True), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{patient_ref}\n{PLAN_VERSION}\n{canonical}".encode()).hexdigest()


def _refs(prefix: str, refs: Sequence[str | None]) -> list[dict[str, str]]:
    unique = dict.fromkeys(r for r in refs if r and r.startswith(prefix))
    return [{"reference": r} for r in unique]


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
    codes: OutboundCodes | None = None,
) -> BuiltCarePlan | None:
    """The plan for an in-population assessment with an exercise plan or a pain plan; otherwise None.

    ``opioid``: an opioid is active (see :func:`on_opioid`), which adds the bowel-regimen reminder.
    """
    codes = codes or load_outbound_codes()
    parts = PlanParts(assessment, codes, patient_ref, opioid)
    if not assessment.in_population or (parts.plan is None and not parts.has_pain_plan):
        return None
    lesions = parts.plan.lesions if parts.plan is not None else ()
    conditions = _refs("Condition/", [les.lesion_ref for les in lesions])
    goals = parts.goals(today, conditions)
    exercise_goals = [str(g.id) for g in goals if g.id != "goal-pain"]
    activities = parts.exercise_activities(exercise_goals) + parts.pain_activities()
    plan_findings = [f for f in assessment.findings if f.category in _PLAN_CATEGORIES]
    used = [u.ref for les in lesions for u in les.used] + [u.ref for f in plan_findings for u in f.used]
    observations = _refs("Observation/", used)
    rule_ids = _rule_ids(plan_findings)
    categories = [
        c for c, on in (("bm-exercise", parts.plan is not None), ("bm-pain", parts.has_pain_plan)) if on
    ]
    notes = _notes(assessment, parts)
    resource: dict[str, Any] = {
        "status": status.value,
        "intent": "plan",
        "title": TITLE,
        "category": [codeable(codes.local(c, codes.careplan_categories[c])) for c in categories],
        "subject": {"reference": patient_ref},
        "created": today.isoformat(),
        "period": {"start": today.isoformat()},
        "contained": goals,
        "goal": [{"reference": f"#{g.id}"} for g in goals],
        "activity": activities,
        "note": [{"text": n} for n in notes],
    }
    if parts.plan is not None:
        held = "; structured exercise on hold" if parts.held else ""
        resource["description"] = f"Skeletal-risk tier {parts.plan.tier.value}{held}"
    if conditions:
        resource["addresses"] = conditions
    if observations:
        resource["supportingInfo"] = observations
    div = txt.narrative(
        title=TITLE,
        plan=parts.plan,
        held=parts.held,
        hold_reason=parts.hold_reason,
        activities=parts.lines,
        goals=[str(g.description.text) for g in goals],
        rule_ids=rule_ids,
        notes=[n for n in notes if n != txt.DISCLAIMER],
    )
    resource["text"] = {"status": "generated", "div": div}
    # Serialised once; the identifier (a digest of that serialisation) is then added to the JSON itself.
    serialised: dict[str, Any] = CarePlan(**resource).model_dump(mode="json", exclude_none=True)
    value = content_digest(patient_ref, serialised)
    system = codes.careplan_identifier_system
    serialised = {
        "resourceType": "CarePlan",
        "identifier": [{"system": system, "value": value}],
        **serialised,
    }
    return BuiltCarePlan(serialised, system, value, tuple(rule_ids), parts.held)


def _validated(resource: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = CarePlan.model_validate(resource).model_dump(mode="json", exclude_none=True)
    return data


def activated(resource: dict[str, Any], resource_id: str) -> dict[str, Any]:
    """The entire updated resource for the card's "activate" action: same plan, server id, status active."""
    return _validated({**resource, "id": resource_id, "status": CarePlanStatus.ACTIVE.value})


def with_status(plan: BuiltCarePlan, status: CarePlanStatus) -> BuiltCarePlan:
    """The same plan (same identifier: status is not part of it) with another status."""
    if plan.resource.get("status") == status.value:
        return plan
    return replace(plan, resource=_validated({**plan.resource, "status": status.value}))
