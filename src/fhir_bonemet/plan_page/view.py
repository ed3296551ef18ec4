"""The plan view: everything the page and the handout show, as plain JSON built once at hook time.

It is what the store keeps while the link is valid, so it holds no name, birth date or identifier of the
patient: only the plan, the clinical data the rules used (values, dates, record references) and the
evidence.  Pages are rendered from it alone; no FHIR call is needed to open a link.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from fhir_bonemet.cards.detail import plain
from fhir_bonemet.core.evidence.dose_arithmetic import daily_acetaminophen, daily_amount, daily_mme
from fhir_bonemet.core.evidence.lesion_sites import site_label
from fhir_bonemet.core.exercise.findings import DOMAIN_NAMES
from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.facts import PatientFacts
from fhir_bonemet.core.model.findings import (
    Assessment,
    Category,
    DomainStatus,
    ExercisePlan,
    Finding,
    LesionRisk,
)
from fhir_bonemet.core.model.per_object import per_object
from fhir_bonemet.core.model.queries import active_meds
from fhir_bonemet.core.model.thresholds import Thresholds
from fhir_bonemet.core.model.unit_text import readable_units
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


# The core's codes (tier, category, indicator, status, site class, laterality) are StrEnums: strings whose
# text is their value, which is what the view stores (orjson writes them as such).  They go in as they are:
# ``.value`` is a Python-level property on this interpreter, and a view looks it up dozens of times.


def _lesion(index: int, risk: LesionRisk, label: str) -> dict[str, Any]:
    site = risk.site
    return {
        "id": f"lesion-{index + 1}",
        "label": label,
        "site_class": site.site,
        "level": site.text or "",
        "laterality": site.laterality,
        "qualifiers": list(site.qualifiers),
        "tier": risk.tier,
        "reasons": list(risk.reasons),
        "ref": risk.lesion_ref,
        "avoided": [DOMAIN_NAMES.get(d, d) for d in risk.avoided_domains],
        "restricted": [DOMAIN_NAMES.get(d, d) for d in risk.restricted_domains],
    }


def _finding(f: Finding) -> dict[str, Any]:
    return {
        "rule_ids": list(f.rule_ids),
        "title": f.title,
        "category": f.category,
        "indicator": f.indicator,
        # Units as the cards show them ("for 3 days", "15 ×10⁹/L"), never the UCUM codes of the finding.
        "summary": readable_units(f.summary),
        "rationale": readable_units(f.rationale),
        "recommendations": [readable_units(r) for r in f.recommendations],
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


def _domains(plan: ExercisePlan, labels: list[str]) -> list[dict[str, Any]]:
    """Each domain with the lesions (by ``labels``, one per lesion) that avoid or restrict it."""
    rows = []
    for advice in plan.domains:
        domain = advice.domain
        causes: dict[str, None] = {}
        for label, risk in zip(labels, plan.lesions, strict=True):
            if domain in risk.avoided_domains or domain in risk.restricted_domains:
                causes[label] = None
        rows.append(
            {
                "code": domain,
                "name": DOMAIN_NAMES.get(domain, domain),
                "status": advice.status,
                "exclusions": list(advice.exclusions),
                "dose": advice.dose,
                "causes": list(causes),
            }
        )
    return rows


def has_plan_view(assessment: Assessment) -> bool:
    """Whether :func:`build_plan_view` makes a view: known before it is built, so the link can be."""
    return assessment.in_population and assessment.exercise is not None


# The domain statuses in their declared order, for the page's legend.
_STATUSES = tuple(s.value for s in DomainStatus)


def _threshold_rows(thresholds: Thresholds) -> dict[str, tuple[str, str]]:
    """Each threshold as the view's "defaults" list shows it: its label in readable units, and its note."""
    return {key: (readable_units(t.label()), t.note or "") for key, t in thresholds.items()}


# Once per Thresholds (read-only knowledge, loaded once at start-up).
_default_rows = per_object(_threshold_rows)


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
    # One pass over the findings collects every list the view shows.
    used: dict[tuple[str, str, str | None, str | None], list[str]] = {}
    missing: dict[tuple[str, str], None] = {}
    default_keys: dict[str, None] = {}
    evidence_ids: dict[str, None] = {}
    ex01: Finding | None = None
    red_flags: list[Finding] = []
    exercise_findings: list[Finding] = []
    pain_findings: list[Finding] = []
    for f in findings:
        rule_ids = f.rule_ids
        for u in f.used:
            # The patient's own reference is the one identifier the view never keeps.
            ref = None if u.ref is not None and u.ref.startswith("Patient/") else u.ref
            used.setdefault((u.label, readable_units(u.value), ref, u.when), []).extend(rule_ids)
        for m in f.missing:
            # Named as the cards name it: a read issue's ``what`` is its FHIR location, which holds the
            # record's id (the patient's own, for a birth date) and an element name meaning nothing here.
            missing[plain(m.what), readable_units(m.consequence)] = None
        default_keys.update(dict.fromkeys(f.defaults_used))
        evidence_ids.update(dict.fromkeys(f.evidence))
        if ex01 is None and f.rule_id == "EX01":
            ex01 = f
        category = f.category
        if category is Category.RED_FLAG:
            red_flags.append(f)
        elif category is Category.EXERCISE:
            exercise_findings.append(f)
        elif category in _PAIN_CATEGORIES:
            pain_findings.append(f)
    labels = [site_label(risk.site) for risk in plan.lesions]  # the page names each lesion so, everywhere
    rows = _default_rows(thresholds)
    defaults = [
        {"key": key, "value": rows[key][0], "note": rows[key][1]} for key in default_keys if key in rows
    ]
    return {
        "version": PLAN_VIEW_VERSION,
        "made_on": today.isoformat(),
        "review_on": (today + timedelta(weeks=review.period)).isoformat(),
        "review_every": review.label(),
        "sessions": sessions.label(),
        "tier": plan.tier,
        "tier_reason": ex01.rationale if ex01 is not None else "",
        "on_hold_reason": plan.on_hold_reason,
        "supervision": plan.supervision,
        "progression": plan.progression,
        "stop_and_call": list(plan.stop_and_call),
        "gates": list(plan.gates),
        "person_factors": list(plan.person_factors),
        "lesions": [_lesion(i, r, labels[i]) for i, r in enumerate(plan.lesions)],
        "domains": _domains(plan, labels),
        "red_flags": [_finding(f) for f in red_flags],
        "exercise_findings": [_finding(f) for f in exercise_findings],
        "pain": {
            **_analgesics(facts, today, thresholds),
            "findings": [_finding(f) for f in pain_findings],
            "reassess": f"Pain score (0-10): {reassess.label()}, and after any change in analgesia.",
        },
        "used": [
            {"label": k[0], "value": k[1], "ref": k[2], "when": k[3], "rules": list(dict.fromkeys(rules))}
            for k, rules in used.items()
        ],
        "missing": [{"what": w, "consequence": q} for w, q in missing],
        "defaults": defaults,
        "evidence": [
            {"id": e, "citation": sources[e].citation, "year": sources[e].year, "url": sources[e].url}
            for e in evidence_ids
            if e in sources
        ],
        "statuses": list(_STATUSES),
    }
