"""The exercise and pain CarePlan, with its Goals, built as typed FHIR R4 (``fhir.resources.R4B``) objects.

Status (documented choice):

* ``suggest`` mode: the CarePlan travels in the exercise card's *create* action and exists only once a
  clinician accepts that suggestion, so it is created ``active``.
* ``write`` mode: the service writes it without anybody's act, so it is a ``draft``; the card offers an
  *update* action that sets it ``active``.

The Goals are *contained* resources referenced from ``CarePlan.goal``: the plan is then one resource, written
by one conditional create, so a retried write can never leave orphan Goals behind.

``identifier`` is ``{system}|{value}`` with value = SHA-256 over the patient, :data:`PLAN_VERSION` and the plan's
content without dates or status: the same plan for the same patient always has the same identifier, so
``If-None-Exist`` makes creation idempotent, while a changed plan (new lesion, new tier) gets a new one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from enum import Enum
from typing import Any

from fhir.resources.R4B.careplan import CarePlan, CarePlanActivity, CarePlanActivityDetail
from fhir.resources.R4B.goal import Goal, GoalTarget

from fhir_bonemet.core import concepts, select
from fhir_bonemet.core.facts import PatientFacts
from fhir_bonemet.core.findings import (
    Assessment,
    Category,
    DomainAdvice,
    DomainStatus,
    Finding,
    Indicator,
    Tier,
)
from fhir_bonemet.fhir import careplan_text as txt
from fhir_bonemet.fhir.outbound_codes import OutboundCodes, Schedule, load_outbound_codes

__all__ = [
    "PLAN_VERSION",
    "BuiltCarePlan",
    "CarePlanStatus",
    "activated",
    "build_careplan",
    "on_opioid",
    "with_status",
]

PLAN_VERSION = "1"  # bump when the plan's shape changes: every plan then gets a new identifier
TITLE = "Bone-metastasis exercise and pain plan"
# Fixed domain order so the same plan always serialises identically (and hashes to the same identifier).
DOMAIN_ORDER = (
    "ex-aerobic-wb",
    "ex-aerobic-nwb",
    "ex-resist-upper",
    "ex-resist-trunk",
    "ex-resist-lower",
    "ex-flex",
    "ex-balance",
    "ex-impact",
    "ex-adl-only",
)
_UNDATED_KEYS = frozenset({"created", "period", "dueDate", "startDate", "status", "identifier", "text"})


class CarePlanStatus(str, Enum):
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


def _cc(coding: dict[str, str]) -> dict[str, Any]:
    return {"coding": [coding], "text": coding["display"]}


def _timing(schedule: Schedule) -> dict[str, Any]:
    return {
        "repeat": {
            "frequency": schedule.frequency,
            "period": schedule.period,
            "periodUnit": schedule.period_unit,
        }
    }


def _digest(patient_ref: str, resource: dict[str, Any]) -> str:
    def strip(node: Any, top: bool) -> Any:
        if isinstance(node, dict):
            drop = _UNDATED_KEYS if top else {"dueDate", "startDate"}
            return {k: strip(v, False) for k, v in node.items() if k not in drop}
        if isinstance(node, list):
            return [strip(v, False) for v in node]
        return node

    canonical = json.dumps(strip(resource, True), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{patient_ref}\n{PLAN_VERSION}\n{canonical}".encode()).hexdigest()


def _refs(prefix: str, refs: Sequence[str | None]) -> list[dict[str, str]]:
    seen: dict[str, None] = {}
    for ref in refs:
        if ref and ref.startswith(prefix) and ref not in seen:
            seen[ref] = None
    return [{"reference": r} for r in seen]


class _Builder:
    def __init__(
        self, assessment: Assessment, codes: OutboundCodes, patient_ref: str, today: date, opioid: bool
    ) -> None:
        self.a, self.codes, self.patient_ref, self.today, self.opioid = (
            assessment,
            codes,
            patient_ref,
            today,
            opioid,
        )
        self.plan = assessment.exercise
        critical_flags = [
            f
            for f in assessment.findings
            if f.category is Category.RED_FLAG and f.indicator is Indicator.CRITICAL
        ]
        # A critical red flag suspends structured exercise (clinical-rules §2.3 step 0) even if the plan
        # handed to us did not say so: formatting must never be less cautious than the findings.
        self.held = self.plan is not None and (
            self.plan.tier in (Tier.HOLD, Tier.ADL_ONLY) or bool(critical_flags)
        )
        reason = self.plan.on_hold_reason if self.plan is not None else None
        self.hold_reason = reason or ("; ".join(f.title for f in critical_flags) or None)
        self.pain = [f for f in assessment.findings if f.category is Category.PAIN]
        self.lines: list[txt.ActivityLine] = []

    def _detail(
        self,
        code: str,
        status: str,
        description: str,
        line: txt.ActivityLine,
        *,
        schedule: Schedule | None = None,
        performer: str | None = None,
        do_not: bool = False,
        goals: Sequence[str] = (),
    ) -> CarePlanActivity:
        detail: dict[str, Any] = {
            "code": _cc(self.codes.activity(code)),
            "status": status,
            "description": description,
        }
        if do_not:
            detail["doNotPerform"] = True
        if schedule is not None:
            detail["scheduledTiming"] = _timing(schedule)
        if performer:
            detail["performer"] = [{"display": performer}]
        if goals:
            detail["goal"] = [{"reference": f"#{g}"} for g in goals]
        self.lines.append(line)
        return CarePlanActivity(detail=CarePlanActivityDetail(**detail))

    def exercise_activities(self, goal_ids: Sequence[str]) -> list[CarePlanActivity]:
        plan = self.plan
        if plan is None:
            return []
        by_domain: dict[str, DomainAdvice] = {d.domain: d for d in plan.domains}
        if self.held and "ex-adl-only" not in by_domain:
            # §2.5: a hold or ADL-only gate leaves a daily-activities-and-mobility plan.
            by_domain["ex-adl-only"] = DomainAdvice("ex-adl-only", DomainStatus.PERMITTED)
        ordered = sorted(
            by_domain.values(),
            key=lambda d: (
                DOMAIN_ORDER.index(d.domain) if d.domain in DOMAIN_ORDER else len(DOMAIN_ORDER),
                d.domain,
            ),
        )
        sessions = self.codes.schedules["exercise"]
        out: list[CarePlanActivity] = []
        for advice in ordered:
            display = self.codes.activities.get(advice.domain, advice.domain)
            avoid = advice.status is DomainStatus.AVOID
            on_hold = self.held and not avoid and advice.domain != "ex-adl-only"
            status = "on-hold" if on_hold else "scheduled"
            description = txt.domain_description(
                advice, display, held=self.held, hold_reason=self.hold_reason
            )
            structured = not avoid and not on_hold and advice.domain != "ex-adl-only"
            line = txt.ActivityLine(
                display,
                "do not perform" if avoid else status,
                description,
                sessions.label() if structured else "",
            )
            out.append(
                self._detail(
                    advice.domain,
                    status,
                    description,
                    line,
                    schedule=sessions if structured else None,
                    performer=None if avoid else self.codes.performer(plan.tier),
                    do_not=avoid,
                    goals=goal_ids,
                )
            )
        if plan.stop_and_call:
            text = "Stop and contact the care team if: " + "; ".join(plan.stop_and_call) + "."
            out.append(
                self._detail(
                    "stop-and-call",
                    "scheduled",
                    text,
                    txt.ActivityLine(self.codes.activities["stop-and-call"], "scheduled", text),
                    performer="Patient and carers",
                    goals=goal_ids[:1],
                )
            )
        return out

    def pain_activities(self) -> list[CarePlanActivity]:
        bowel = self.opioid or any("P15" in f.rule_ids for f in self.a.findings)
        if not self.pain and not self.opioid:
            return []
        out: list[CarePlanActivity] = []
        diary, reassess = self.codes.schedules["pain-diary"], self.codes.schedules["pain-reassessment"]
        text = (
            "Record the worst pain in the last 24 hours (0-10), before and after each exercise session, "
            "with analgesic doses taken; bring the diary to every review."
        )
        out.append(
            self._detail(
                "pain-diary",
                "scheduled",
                text,
                txt.ActivityLine(self.codes.activities["pain-diary"], "scheduled", text, diary.label()),
                schedule=diary,
                performer="Patient and carers",
                goals=["goal-pain"],
            )
        )
        advice = "; ".join(f"{f.rule_id}: {f.summary}" for f in self.pain)
        text = (
            "Reassess pain score, side effects and function" + (f" after: {advice}" if advice else "") + "."
        )
        out.append(
            self._detail(
                "pain-reassessment",
                "scheduled",
                text,
                txt.ActivityLine(
                    self.codes.activities["pain-reassessment"], "scheduled", text, reassess.label()
                ),
                schedule=reassess,
                performer="Treating clinician",
                goals=["goal-pain"],
            )
        )
        if bowel:
            text = (
                "A bowel regimen goes with every opioid: a stimulant laxative with or without an osmotic "
                "one; docusate alone is not enough (awaiting clinical review). Report constipation early."
            )
            out.append(
                self._detail(
                    "bowel-regimen",
                    "scheduled",
                    text,
                    txt.ActivityLine(self.codes.activities["bowel-regimen"], "scheduled", text),
                    performer="Patient and prescriber",
                    goals=["goal-pain"],
                )
            )
        return out

    def goals(self, conditions: list[dict[str, str]]) -> list[Goal]:
        review = self.codes.schedules["review"]
        due = (self.today + timedelta(weeks=review.period)).isoformat()
        texts = txt.goal_texts(
            self.plan,
            held=self.held,
            hold_reason=self.hold_reason,
            sessions=self.codes.schedules["exercise"],
            review=review,
        )
        if self.pain or self.opioid:
            reassess = self.codes.schedules["pain-reassessment"]
            texts["goal-pain"] = (
                "Pain recorded daily on the 0-10 scale and kept at a level the patient finds acceptable, without "
                f"unmanaged sedation or constipation; reassessed {reassess.label()}."
            )
        category = {"goal-safety": "safety", "goal-function": "physiotherapy", "goal-pain": "behavioral"}
        goals: list[Goal] = []
        for gid, text in texts.items():
            target: dict[str, Any] = {"dueDate": due}
            if gid == "goal-pain":
                target["measure"] = _cc(self.codes.goal_measures["pain-score"])
            cat = category[gid]
            goals.append(
                Goal(
                    id=gid,
                    lifecycleStatus="proposed",
                    description={"text": text},
                    category=[
                        _cc(
                            {
                                "system": self.codes.goal_category_system,
                                "code": cat,
                                "display": self.codes.goal_categories[cat],
                            }
                        )
                    ],
                    subject={"reference": self.patient_ref},
                    startDate=self.today.isoformat(),
                    target=[GoalTarget(**target)],
                    addresses=conditions or None,
                )
            )
        return goals


def build_careplan(
    assessment: Assessment,
    *,
    patient_ref: str,
    today: date,
    status: CarePlanStatus = CarePlanStatus.ACTIVE,
    opioid: bool = False,
    codes: OutboundCodes | None = None,
) -> BuiltCarePlan | None:
    """The plan for an in-population assessment with an exercise plan or pain concerns; otherwise None."""
    codes = codes or load_outbound_codes()
    b = _Builder(assessment, codes, patient_ref, today, opioid)
    if not assessment.in_population or (b.plan is None and not b.pain):
        return None
    lesions = b.plan.lesions if b.plan is not None else ()
    conditions = _refs("Condition/", [les.lesion_ref for les in lesions])
    goals = b.goals(conditions)
    goal_ids = [g.id for g in goals if g.id != "goal-pain"]
    activities = b.exercise_activities(goal_ids) + b.pain_activities()
    plan_findings = [f for f in assessment.findings if f.category in (Category.EXERCISE, Category.PAIN)]
    observations = _refs(
        "Observation/",
        [u.ref for les in lesions for u in les.used] + [u.ref for f in plan_findings for u in f.used],
    )
    rule_ids = _rule_ids(plan_findings)
    categories = [
        k
        for k, on in (
            ("bm-exercise", b.plan is not None),
            ("bm-pain", any(a.detail.code.coding[0].code.startswith(("pain", "bowel")) for a in activities)),
        )
        if on
    ]
    notes = _notes(assessment, b)
    resource: dict[str, Any] = {
        "status": status.value,
        "intent": "plan",
        "title": TITLE,
        "category": [_cc(codes.local(c, codes.careplan_categories[c])) for c in categories],
        "subject": {"reference": patient_ref},
        "created": today.isoformat(),
        "period": {"start": today.isoformat()},
        "contained": goals,
        "goal": [{"reference": f"#{g.id}"} for g in goals],
        "activity": activities,
        "note": [{"text": n} for n in notes],
    }
    if b.plan is not None:
        resource["description"] = f"Skeletal-risk tier {b.plan.tier.value}" + (
            "; structured exercise on hold" if b.held else ""
        )
    if conditions:
        resource["addresses"] = conditions
    if observations:
        resource["supportingInfo"] = observations
    resource["text"] = {
        "status": "generated",
        "div": txt.narrative(
            title=TITLE,
            plan=b.plan,
            held=b.held,
            hold_reason=b.hold_reason,
            activities=b.lines,
            goals=[str(g.description.text) for g in goals],
            rule_ids=rule_ids,
            notes=[n for n in notes if n != txt.DISCLAIMER],
        ),
    }
    draft = CarePlan(**resource).model_dump(mode="json", exclude_none=True)
    value = _digest(patient_ref, draft)
    typed = CarePlan(
        **{**resource, "identifier": [{"system": codes.careplan_identifier_system, "value": value}]}
    )
    return BuiltCarePlan(
        typed.model_dump(mode="json", exclude_none=True),
        codes.careplan_identifier_system,
        value,
        tuple(rule_ids),
        b.held,
    )


def _rule_ids(findings: Sequence[Finding]) -> list[str]:
    ids: dict[str, None] = {}
    for f in findings:
        for rid in f.rule_ids:
            ids.setdefault(rid, None)
    return sorted(ids)


def _notes(assessment: Assessment, b: _Builder) -> list[str]:
    notes: list[str] = []
    if b.plan is not None:
        if b.plan.person_factors:
            notes.append("Person-related factors: " + "; ".join(b.plan.person_factors) + ".")
        if b.plan.gates:
            notes.append("Safety gates applied: " + "; ".join(b.plan.gates) + ".")
        missing = [f"{m.what}: {m.consequence}" for les in b.plan.lesions for m in les.missing]
        if missing:
            notes.append("Missing data (advice kept on the cautious side): " + "; ".join(missing) + ".")
    if any(f.unverified for f in assessment.findings if f.category in (Category.EXERCISE, Category.PAIN)):
        notes.append("Parts of this plan rest on rules awaiting clinical review.")
    notes.append("Frequencies and review intervals are service defaults.")
    notes.append(txt.DISCLAIMER)
    return notes


def activated(resource: dict[str, Any], resource_id: str) -> dict[str, Any]:
    """The entire updated resource for the card's "activate" action: same plan, server id, status active."""
    updated = {**resource, "id": resource_id, "status": CarePlanStatus.ACTIVE.value}
    return CarePlan.model_validate(updated).model_dump(mode="json", exclude_none=True)


def with_status(plan: BuiltCarePlan, status: CarePlanStatus) -> BuiltCarePlan:
    """The same plan (same identifier: status is not part of it) with another status."""
    if plan.resource.get("status") == status.value:
        return plan
    resource = CarePlan.model_validate({**plan.resource, "status": status.value})
    return replace(plan, resource=resource.model_dump(mode="json", exclude_none=True))
