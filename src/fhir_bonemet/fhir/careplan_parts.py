"""The activities and Goals of the CarePlan, as typed ``fhir.resources.R4B`` objects.

One activity per exercise domain (``detail.code`` = the ``ex-*`` code, ``doNotPerform`` for avoided domains,
status ``scheduled`` or ``on-hold``), the stop-and-call criteria, and the pain-plan activities (pain diary,
reassessment, bowel regimen with an opioid).  Every activity also becomes a row of the narrative table.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from fhir.resources.R4B.careplan import CarePlanActivity, CarePlanActivityDetail
from fhir.resources.R4B.goal import Goal, GoalTarget

from fhir_bonemet.core.findings import Assessment, Category, DomainAdvice, DomainStatus, Indicator, Tier
from fhir_bonemet.fhir import careplan_text as txt
from fhir_bonemet.fhir.outbound_codes import OutboundCodes, Schedule

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


def codeable(coding: dict[str, str]) -> dict[str, Any]:
    return {"coding": [coding], "text": coding["display"]}


def _timing(schedule: Schedule) -> dict[str, Any]:
    repeat = {"frequency": schedule.frequency, "period": schedule.period, "periodUnit": schedule.period_unit}
    return {"repeat": repeat}


def _domain_rank(advice: DomainAdvice) -> tuple[int, str]:
    known = advice.domain in DOMAIN_ORDER
    return (DOMAIN_ORDER.index(advice.domain) if known else len(DOMAIN_ORDER), advice.domain)


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
        # A critical red flag suspends structured exercise (clinical-rules §2.3 step 0) even if the plan
        # handed over did not say so: formatting must never be less cautious than the findings.
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
    ) -> CarePlanActivity:
        detail: dict[str, Any] = {
            "code": codeable(self.codes.activity(code)),
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
        shown = "do not perform" if do_not else status
        when = schedule.label() if schedule is not None else ""
        self.lines.append(txt.ActivityLine(self.codes.activities[code], shown, description, when))
        return CarePlanActivity(detail=CarePlanActivityDetail(**detail))

    def exercise_activities(self, goal_ids: Sequence[str]) -> list[CarePlanActivity]:
        plan = self.plan
        if plan is None:
            return []
        by_domain: dict[str, DomainAdvice] = {d.domain: d for d in plan.domains}
        if self.held and "ex-adl-only" not in by_domain:
            # clinical-rules §2.5: a hold or ADL-only gate leaves a daily-activities-and-mobility plan.
            by_domain["ex-adl-only"] = DomainAdvice("ex-adl-only", DomainStatus.PERMITTED)
        sessions = self.codes.schedules["exercise"]
        out: list[CarePlanActivity] = []
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
                performer=None if avoid else self.codes.performer(plan.tier),
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

    def pain_activities(self) -> list[CarePlanActivity]:
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

    def goals(self, today: date, conditions: list[dict[str, str]]) -> list[Goal]:
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
        goals: list[Goal] = []
        for gid, text in texts.items():
            target: dict[str, Any] = {"dueDate": due}
            if gid == "goal-pain":
                target["measure"] = codeable(self.codes.goal_measures["pain-score"])
            category = _GOAL_CATEGORY[gid]
            coding = {
                "system": self.codes.goal_category_system,
                "code": category,
                "display": self.codes.goal_categories[category],
            }
            goal = Goal(
                id=gid,
                lifecycleStatus="proposed",
                description={"text": text},
                category=[codeable(coding)],
                subject={"reference": self.patient_ref},
                startDate=today.isoformat(),
                target=[GoalTarget(**target)],
                addresses=conditions or None,
            )
            goals.append(goal)
        return goals
