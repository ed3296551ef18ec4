"""The plan view: everything the page and the handout show, as plain JSON built once at hook time.

It is what the store keeps while the link is valid, so it holds no name, birth date or identifier of the
patient: only the plan, the clinical data the rules used (values, dates, record references) and the
evidence.  Pages are rendered from it alone; no FHIR call is needed to open a link.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from fhir_bonemet.cards.detail import readable_units
from fhir_bonemet.core.evidence.dose_arithmetic import daily_acetaminophen, daily_amount, daily_mme
from fhir_bonemet.core.evidence.lesion_sites import site_label
from fhir_bonemet.core.exercise.findings import DOMAIN_NAMES
from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.facts import PatientFacts
from fhir_bonemet.core.model.findings import Assessment, Category, DomainStatus, Finding, LesionRisk
from fhir_bonemet.core.model.queries import active_meds
from fhir_bonemet.core.model.thresholds import Thresholds
from fhir_bonemet.fhir.outbound.codes import OutboundCodes
from fhir_bonemet.knowledge import EvidenceSource

__all__ = ["PLAN_VIEW_VERSION", "PlanView", "build_plan_view", "has_plan_view"]

PLAN_VIEW_VERSION = 1
PlanView = dict[str, Any]

# Medication classes shown in the pain plan as "analgesics in use".
_ANALGESIC_CLASSES = (
    c.OPIOID,
    c.NSAID,
    c.ACETAMINOPHEN,
    c.GABAPENTINOID,
    c.SNRI_TCA,
    c.CORTICOSTEROID,
    c.TOPICAL_LIDOCAINE,
)
_PAIN_CATEGORIES = (Category.PAIN, Category.MEDICATION_SAFETY, Category.BONE_HEALTH)


def _unique(items: Iterable[Any]) -> list[Any]:
    return list(dict.fromkeys(items))


def _lesion(index: int, risk: LesionRisk) -> dict[str, Any]:
    site = risk.site
    return {
        "id": f"lesion-{index + 1}",
        "label": site_label(site),
        "site_class": site.site.value,
        "level": site.text or "",
        "laterality": site.laterality.value if site.laterality is not None else None,
        "qualifiers": list(site.qualifiers),
        "tier": risk.tier.value,
        "reasons": list(risk.reasons),
        "ref": risk.lesion_ref,
        "avoided": [DOMAIN_NAMES.get(d, d) for d in risk.avoided_domains],
        "restricted": [DOMAIN_NAMES.get(d, d) for d in risk.restricted_domains],
    }


def _finding(f: Finding) -> dict[str, Any]:
    return {
        "rule_ids": list(f.rule_ids),
        "title": f.title,
        "category": f.category.value,
        "indicator": f.indicator.value,
        "summary": f.summary,
        "rationale": f.rationale,
        "recommendations": list(f.recommendations),
        "evidence": list(f.evidence),
        "unverified": f.unverified,
    }


def _analgesics(facts: PatientFacts, today: date, th: Thresholds) -> dict[str, Any]:
    meds = [m for m in active_meds(facts, today, *_ANALGESIC_CLASSES) if not m.is_draft]
    rows: list[dict[str, Any]] = []
    for med in meds:
        amounts: list[str] = []
        for ingredient in med.ingredients or ("",):
            daily = daily_amount(med, ingredient) if ingredient else "ingredient not identified"
            if isinstance(daily, str):
                amounts.append(f"{ingredient}: daily total not computable ({daily})".lstrip(": "))
            else:
                unit = "mg/day" if daily.unit == "mg/d" else "µg/h"
                note = " (as needed, counted at the maximum)" if daily.as_needed_max else ""
                amounts.append(f"{ingredient} {daily.value:g} {unit}{note}")
        rows.append(
            {
                "display": med.display or ", ".join(med.ingredients) or "medication",
                "ref": med.ref,
                "since": med.start.isoformat() if med.start else None,
                "daily": amounts,
                "instructions": [d.text for d in med.doses if d.text],
            }
        )
    mme = daily_mme(meds, th)
    apap = daily_acetaminophen(meds)
    totals: list[str] = []
    if mme.per_med or mme.not_computable:
        totals.append(f"Opioids: {mme.describe()}")
    if apap.per_med or apap.not_computable:
        more = "" if apap.complete else f" (at least; {len(apap.not_computable)} product(s) not counted)"
        totals.append(f"Acetaminophen: {apap.total:g} mg/day{more}")
    return {"medications": rows, "totals": totals}


def _domains(assessment: Assessment) -> list[dict[str, Any]]:
    plan = assessment.exercise
    assert plan is not None
    rows = []
    for advice in plan.domains:
        causes = [
            site_label(r.site)
            for r in plan.lesions
            if advice.domain in r.avoided_domains or advice.domain in r.restricted_domains
        ]
        rows.append(
            {
                "code": advice.domain,
                "name": DOMAIN_NAMES.get(advice.domain, advice.domain),
                "status": advice.status.value,
                "exclusions": list(advice.exclusions),
                "dose": advice.dose,
                "causes": _unique(causes),
            }
        )
    return rows


def has_plan_view(assessment: Assessment) -> bool:
    """Whether :func:`build_plan_view` makes a view: known before it is built, so the link can be."""
    return assessment.in_population and assessment.exercise is not None


@lru_cache(maxsize=512)
def _readable_label(label: str) -> str:
    """A threshold's label as shown (knowledge, not patient data: the same few dozen on every view)."""
    return readable_units(label)


def build_plan_view(
    assessment: Assessment,
    facts: PatientFacts,
    *,
    today: date,
    thresholds: Thresholds,
    sources: Mapping[str, EvidenceSource],
    codes: OutboundCodes,
) -> PlanView | None:
    """The plan view, or None when there is no exercise plan to show (outside the population)."""
    plan = assessment.exercise
    if not has_plan_view(assessment) or plan is None:
        return None
    findings = assessment.findings
    review = codes.schedules["review"]
    sessions = codes.schedules["exercise"]
    reassess = codes.schedules["pain-reassessment"]
    used: dict[tuple[str, str, str | None, str | None], list[str]] = {}
    for f in findings:
        for u in f.used:
            # The patient's own reference is the one identifier the view never keeps.
            ref = None if u.ref is not None and u.ref.startswith("Patient/") else u.ref
            used.setdefault((u.label, readable_units(u.value), ref, u.when), []).extend(f.rule_ids)
    missing = _unique((m.what, m.consequence) for f in findings for m in f.missing)
    defaults = []
    for key in _unique(k for f in findings for k in f.defaults_used):
        if key in thresholds:
            t = thresholds[key]
            defaults.append({"key": key, "value": _readable_label(t.label()), "note": t.note or ""})
    evidence_ids = _unique(e for f in findings for e in f.evidence)
    ex01 = next((f for f in findings if f.rule_id == "EX01"), None)
    pain_findings = [f for f in findings if f.category in _PAIN_CATEGORIES]
    red_flags = [f for f in findings if f.category is Category.RED_FLAG]
    return {
        "version": PLAN_VIEW_VERSION,
        "made_on": today.isoformat(),
        "review_on": (today + timedelta(weeks=review.period)).isoformat(),
        "review_every": review.label(),
        "sessions": sessions.label(),
        "tier": plan.tier.value,
        "tier_reason": ex01.rationale if ex01 is not None else "",
        "on_hold_reason": plan.on_hold_reason,
        "supervision": plan.supervision,
        "progression": plan.progression,
        "stop_and_call": list(plan.stop_and_call),
        "gates": list(plan.gates),
        "person_factors": list(plan.person_factors),
        "lesions": [_lesion(i, r) for i, r in enumerate(plan.lesions)],
        "domains": _domains(assessment),
        "red_flags": [_finding(f) for f in red_flags],
        "exercise_findings": [_finding(f) for f in findings if f.category is Category.EXERCISE],
        "pain": {
            **_analgesics(facts, today, thresholds),
            "findings": [_finding(f) for f in pain_findings],
            "reassess": f"Pain score (0-10): {reassess.label()}, and after any change in analgesia.",
        },
        "used": [
            {"label": k[0], "value": k[1], "ref": k[2], "when": k[3], "rules": _unique(rules)}
            for k, rules in used.items()
        ],
        "missing": [{"what": w, "consequence": q} for w, q in missing],
        "defaults": defaults,
        "evidence": [
            {"id": e, "citation": sources[e].citation, "year": sources[e].year, "url": sources[e].url}
            for e in evidence_ids
            if e in sources
        ],
        "statuses": [s.value for s in DomainStatus],
    }
