"""The activities and Goals of the CarePlan, as FHIR R4 JSON in the order the R4B models serialise it.

One activity per exercise domain (``detail.code`` = the ``ex-*`` code, ``doNotPerform`` for avoided domains,
status ``scheduled`` or ``on-hold``), the stop-and-call criteria, and the pain-plan activities (pain diary,
reassessment, bowel regimen with an opioid).  Every activity also becomes a row of the narrative table.

The parts are plain JSON, each element in its FHIR definition order (the order ``fhir.resources.R4B``
writes them): :func:`fhir_bonemet.fhir.outbound.careplan.build_careplan` validates the whole plan, Goals and
activities included, once as a typed ``CarePlan`` and sends this JSON, which a test proves identical to the
model's own serialisation for every example patient.  Serialising the typed model instead costs several
times more than building and validating it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from fhir_bonemet.core.model.findings import Assessment, Category, DomainAdvice, DomainStatus, Indicator, Tier
from fhir_bonemet.fhir.outbound import careplan_text as txt
from fhir_bonemet.fhir.outbound.codes import OutboundCodes, Schedule

__all__ = ["DOMAIN_ORDER", "PlanParts", "codeable"]

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
_GOAL_CATEGORY = {"goal-safety": "safety", "goal-function": "physiotherapy", "goal-pain": "behavioral"}
_PATIENT = "Patient and carers"


Json = dict[str, Any]


def codeable(coding: dict[str, str]) -> Json:
    return {"coding": [coding], "text": coding["display"]}


_DOMAIN_RANK = {domain: rank for rank, domain in enumerate(DOMAIN_ORDER)}


def _domain_rank(advice: DomainAdvice) -> tuple[int, str]:
    return (_DOMAIN_RANK.get(advice.domain, len(DOMAIN_ORDER)), advice.domain)


class PlanParts:
    """Collects the plan's activities, goals and narrative rows for one assessment."""

    def __init__(self, assessment: Assessment, codes: OutboundCodes, patient_ref: str, opioid: bool) -> None:
        self.assessment, self.codes, self.patient_ref, self.opioid = assessment, codes, patient_ref, opioid
        self.plan = assessment.exercise
        flags = [
            f
            for f in assessment.findings
            if f.category is Category.RED_FLAG and f.indicator is Indicator.CRITICAL
        ]
        # A critical red flag (R01-R09) suspends structured exercise before any tiering (EX01; see
        # docs/clinical-model.md) even if the plan handed over did not say so: formatting must never be
        # less cautious than the findings.
        suspended = self.plan is not None and self.plan.tier in (Tier.HOLD, Tier.ADL_ONLY)
        self.held = self.plan is not None and (suspended or bool(flags))
        reason = self.plan.on_hold_reason if self.plan is not None else None
        self.hold_reason = reason or ("; ".join(f.title for f in flags) or None)
        self.pain = [f for f in assessment.findings if f.category is Category.PAIN]
        self.lines: list[txt.ActivityLine] = []

    @property
    def has_pain_plan(self) -> bool:
        return bool(self.pain) or self.opioid

    def _activity(
        self,
        code: str,
        status: str,
        description: str,
        *,
        schedule: Schedule | None = None,
        performer: str | None = None,
        do_not: bool = False,
        goals: Sequence[str] = (),
    ) -> Json:
        coding = self.codes.activity(code)
        # CarePlan.activity.detail elements in definition order (see the module docstring).
        detail: Json = {"code": codeable(coding)}
        if goals:
            detail["goal"] = [{"reference": f"#{g}"} for g in goals]
        detail["status"] = status
        if do_not:
            detail["doNotPerform"] = True
        if schedule is not None:
            detail["scheduledTiming"] = {
                "repeat": {
                    "frequency": schedule.frequency,
                    "period": schedule.period,
                    "periodUnit": schedule.period_unit,
                }
            }
        if performer:
            detail["performer"] = [{"display": performer}]
        detail["description"] = description
        shown = "do not perform" if do_not else status
        when = schedule.label() if schedule is not None else ""
        self.lines.append(txt.ActivityLine(coding["display"], shown, description, when))
        return {"detail": detail}

    def exercise_activities(self, goal_ids: Sequence[str]) -> list[Json]:
        plan = self.plan
        if plan is None:
            return []
        by_domain: dict[str, DomainAdvice] = {d.domain: d for d in plan.domains}
        if self.held and "ex-adl-only" not in by_domain:
            # A hold or ADL-only gate (EX02, EX01) leaves a daily-activities-and-mobility plan
            # (docs/clinical-model.md).
            by_domain["ex-adl-only"] = DomainAdvice("ex-adl-only", DomainStatus.PERMITTED)
        sessions = self.codes.schedules["exercise"]
        performer = self.codes.performer(plan.tier)
        out: list[Json] = []
        for advice in sorted(by_domain.values(), key=_domain_rank):
            display = self.codes.activities.get(advice.domain, advice.domain)
            avoid = advice.status is DomainStatus.AVOID
            on_hold = self.held and not avoid and advice.domain != "ex-adl-only"
            structured = not avoid and not on_hold and advice.domain != "ex-adl-only"
            description = txt.domain_description(
                advice, display, held=self.held, hold_reason=self.hold_reason
            )
            activity = self._activity(
                advice.domain,
                "on-hold" if on_hold else "scheduled",
                description,
                schedule=sessions if structured else None,
                performer=None if avoid else performer,
                do_not=avoid,
                goals=goal_ids,
            )
            out.append(activity)
        if plan.stop_and_call:
            text = txt.stop_and_call(plan.stop_and_call)
            out.append(
                self._activity("stop-and-call", "scheduled", text, performer=_PATIENT, goals=goal_ids[:1])
            )
        return out

    def pain_activities(self) -> list[Json]:
        if not self.has_pain_plan:
            return []
        diary, reassess = self.codes.schedules["pain-diary"], self.codes.schedules["pain-reassessment"]
        out = [
            self._activity(
                "pain-diary",
                "scheduled",
                txt.PAIN_DIARY,
                schedule=diary,
                performer=_PATIENT,
                goals=["goal-pain"],
            ),
            self._activity(
                "pain-reassessment",
                "scheduled",
                txt.reassessment(self.pain),
                schedule=reassess,
                performer="Treating clinician",
                goals=["goal-pain"],
            ),
        ]
        if self.opioid or any("P15" in f.rule_ids for f in self.assessment.findings):
            out.append(
                self._activity(
                    "bowel-regimen",
                    "scheduled",
                    txt.BOWEL_REGIMEN,
                    performer="Patient and prescriber",
                    goals=["goal-pain"],
                )
            )
        return out

    def goals(self, today: date, conditions: list[dict[str, str]]) -> list[Json]:
        """The contained Goals (validated with the CarePlan that contains them)."""
        review = self.codes.schedules["review"]
        due = (today + timedelta(weeks=review.period)).isoformat()
        texts = txt.goal_texts(
            self.plan,
            held=self.held,
            hold_reason=self.hold_reason,
            sessions=self.codes.schedules["exercise"],
            review=review,
        )
        if self.has_pain_plan:
            texts["goal-pain"] = txt.pain_goal(self.codes.schedules["pain-reassessment"])
        goals: list[Json] = []
        for gid, text in texts.items():
            target: Json = {}
            if gid == "goal-pain":
                target["measure"] = codeable(self.codes.goal_measures["pain-score"])
            target["dueDate"] = due
            category = _GOAL_CATEGORY[gid]
            coding = {
                "system": self.codes.goal_category_system,
                "code": category,
                "display": self.codes.goal_categories[category],
            }
            goal: Json = {
                "resourceType": "Goal",
                "id": gid,
                "lifecycleStatus": "proposed",
                "category": [codeable(coding)],
                "description": {"text": text},
                "subject": {"reference": self.patient_ref},
                "startDate": today.isoformat(),
                "target": [target],
            }
            if conditions:
                goal["addresses"] = conditions
            goals.append(goal)
        return goals
