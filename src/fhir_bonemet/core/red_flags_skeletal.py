"""Lesion-level red flags (clinical-rules §4): R04 pathological or impending fracture, R05 pain escalation.

Both read the per-lesion evidence of :mod:`fhir_bonemet.core.skeletal`; the exercise tiering reads the
same evidence, so a lesion flagged here is never tiered as if it were stable.

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from fhir_bonemet.core import concepts as c
from fhir_bonemet.core.fact_index import FactIndex, instant
from fhir_bonemet.core.facts import BoneLesion, ConditionFact, ObservationFact, PatientFacts
from fhir_bonemet.core.findings import Category, Finding, Indicator, MissingFact, Referral, UsedFact
from fhir_bonemet.core.rules import register
from fhir_bonemet.core.select import within_days
from fhir_bonemet.core.skeletal import (
    SPINE_SITES,
    Attributed,
    LesionEvidence,
    attribute,
    lesion_evidence,
    lesion_label,
    review_covers,
)
from fhir_bonemet.core.thresholds import Thresholds
from fhir_bonemet.core.trace import (
    ACTIVE_STATUSES,
    defaults_in,
    fit_summary,
    num,
    used_attr,
    used_condition,
    used_obs,
)

__all__ = ["Escalation", "escalations", "r04_fracture", "r05_pain_escalation"]

register(
    "R04",
    "Pathological or impending fracture",
    Category.RED_FLAG,
    concepts=(c.PATHOLOGICAL_FRACTURE, c.IMPENDING_FRACTURE, c.SINS_TOTAL, c.MIRELS_TOTAL, c.SURGICAL_REVIEW),
    thresholds=(
        "lookback.recent_fracture_days",
        "lookback.score_days",
        "exercise.sins_unstable_min",
        "exercise.sins_potentially_unstable_min",
        "exercise.mirels_fixation_min",
        "exercise.mirels_borderline",
    ),
    evidence=("S11", "S10", "S13", "S14"),
)
register(
    "R05",
    "Sudden pain escalation at a lesion",
    Category.RED_FLAG,
    concepts=(c.PAIN_SCORE, c.PAIN_MECHANICAL),
    thresholds=(
        "lookback.pain_score_days",
        "red_flags.pain_rise_points",
        "red_flags.pain_rise_window_days",
        "red_flags.pain_escalation_nrs_min",
    ),
    evidence=("S01",),
)


def _referrals(lesions: tuple[BoneLesion, ...], cond: ConditionFact | None = None) -> tuple[Referral, ...]:
    sites = {lesion.site.site for lesion in lesions}
    if cond is not None and cond.site is not None:
        sites.add(cond.site.site)
    spine = any(s in SPINE_SITES for s in sites)
    limb = any(s not in SPINE_SITES for s in sites) or not sites
    return tuple(r for r, on in ((Referral.SPINE_SURGERY, spine), (Referral.ORTHOPAEDIC_SURGERY, limb)) if on)


def _where(lesions: tuple[BoneLesion, ...], cond: ConditionFact | None = None) -> str:
    if cond is not None and cond.site is not None and cond.site.text:
        return cond.site.text
    if len(lesions) == 1:
        return lesion_label(lesions[0])
    return "site not matched to one lesion" if lesions else "site not recorded"


def _finding(
    indicator: Indicator,
    summary: str,
    rationale: str,
    used: list[UsedFact],
    missing: list[MissingFact],
    referrals: tuple[Referral, ...],
    th: Thresholds,
    keys: tuple[str, ...],
) -> Finding:
    return Finding(
        rule_id="R04",
        title="Pathological or impending fracture",
        category=Category.RED_FLAG,
        indicator=indicator,
        summary=fit_summary(summary),
        rationale=rationale,
        recommendations=(
            "Refer to orthopaedics or spine surgery; prophylactic fixation is preferred over fixing after "
            "fracture.",
            "No loading of the site; protected weight-bearing advice pending review.",
            "Consider post-operative radiotherapy after fixation.",
        ),
        evidence=("S11", "S10", "S13", "S14"),
        used=tuple(used),
        missing=tuple(missing),
        referrals=referrals,
        defaults_used=defaults_in(th, keys),
    )


def _fracture_findings(idx: FactIndex, today: date, th: Thresholds) -> list[Finding]:
    out: list[Finding] = []
    recent = th.v("lookback.recent_fracture_days")
    for concept, name in (
        (c.PATHOLOGICAL_FRACTURE, "Pathological fracture"),
        (c.IMPENDING_FRACTURE, "Impending fracture"),
    ):
        for cond in idx.conditions(concept):
            if cond.clinical_status not in ACTIVE_STATUSES:
                continue  # a resolved or inactive fracture is history: it still raises the lesion's tier
            missing: list[MissingFact] = []
            when = cond.onset or cond.recorded
            if concept == c.PATHOLOGICAL_FRACTURE:
                if when is None:
                    missing.append(MissingFact("onset date of the fracture", "treated as a new fracture"))
                elif not within_days(when, today, recent):
                    continue
            lesions = attribute(idx.facts.lesions, (), cond.site)
            where = _where(lesions, cond)
            out.append(
                _finding(
                    Indicator.CRITICAL,
                    f"{name} ({where}): suggest urgent orthopaedic/spine surgical review; no loading of "
                    "the site",
                    f"{name} recorded"
                    + (f" within {num(recent)} days." if concept == c.PATHOLOGICAL_FRACTURE else "."),
                    [used_condition(name, cond)],
                    missing,
                    _referrals(lesions, cond),
                    th,
                    ("lookback.recent_fracture_days",),
                )
            )
    return out


def _score_findings(evidence: tuple[LesionEvidence, ...], th: Thresholds) -> list[Finding]:
    """One finding per score result; a score that fits several lesions names all of them."""
    groups: dict[str, tuple[Indicator, str, Attributed, list[BoneLesion]]] = {}
    for ev in evidence:
        for name, score, high, borderline_lo, borderline_hi in (
            ("SINS", ev.sins, "exercise.sins_unstable_min", "exercise.sins_potentially_unstable_min", None),
            (
                "Mirels",
                ev.mirels,
                "exercise.mirels_fixation_min",
                "exercise.mirels_borderline",
                "exercise.mirels_borderline",
            ),
        ):
            if score is None or score.value is None:
                continue
            if score.value >= th.v(high):
                indicator = Indicator.CRITICAL
            elif (
                score.value >= th.v(borderline_lo)
                and (borderline_hi is None or score.value <= th.v(borderline_hi))
                and not review_covers(ev, score)
            ):
                indicator = Indicator.WARNING
            else:
                continue
            entry = groups.setdefault(score.ref, (indicator, name, score, []))
            entry[3].append(ev.lesion)
    out: list[Finding] = []
    for ref in sorted(groups):
        indicator, name, score, lesions = groups[ref]
        where = _where(tuple(lesions))
        if indicator is Indicator.CRITICAL:
            shown = f"{name} {num(score.value or 0)} at {where}"
            summary = f"{shown}: high fracture/instability risk; suggest urgent surgical review"
            why = f"{name} at or above the surgical threshold."
        else:
            shown = f"{name} {num(score.value or 0)} at {where}"
            summary = f"{shown}, no surgical review recorded: suggest spine/orthopaedic review"
            why = f"Borderline {name} without a recorded surgical review."
        missing = (
            [MissingFact("surgical review of this lesion", "treated as unreviewed: HIGH tier")]
            if indicator is Indicator.WARNING
            else []
        )
        if score.shared:
            missing.append(
                MissingFact("which lesion the score belongs to", "applied to every lesion it may describe")
            )
        out.append(
            _finding(
                indicator,
                summary,
                why,
                [used_attr(f"{name} ({where})", score)],
                missing,
                _referrals(tuple(lesions)),
                th,
                ("lookback.score_days",),
            )
        )
    return out


def r04_fracture(facts: PatientFacts, today: date, th: Thresholds, idx: FactIndex) -> tuple[Finding, ...]:
    evidence = lesion_evidence(facts, today, th, idx)
    return (*_fracture_findings(idx, today, th), *_score_findings(evidence, th))


@dataclass(frozen=True, slots=True)
class Escalation:
    """A pain escalation at one or more lesions (one trigger score, possibly unsited)."""

    latest: ObservationFact
    earlier: ObservationFact | None  # the lower score the rise is measured from
    mechanical: Attributed | None
    lesions: tuple[BoneLesion, ...]


def escalations(facts: PatientFacts, today: date, th: Thresholds, idx: FactIndex) -> tuple[Escalation, ...]:
    """R05 triggers: NRS rise >= N points within the window, or NRS >= severe with mechanical pain."""
    window = th.v("red_flags.pain_rise_window_days")
    rise = th.v("red_flags.pain_rise_points")
    severe = th.v("red_flags.pain_escalation_nrs_min")
    pain_days = th.v("lookback.pain_score_days")
    by_trigger: dict[str, Escalation] = {}
    for ev in lesion_evidence(facts, today, th, idx):
        if ev.pain is None or ev.pain.value is None:
            continue
        series = [
            o
            for o in idx.observations(c.PAIN_SCORE)
            if o.quantity is not None and ev.lesion in attribute(facts.lesions, o.focus, o.site)
        ]
        latest = next((o for o in series if o.ref == ev.pain.ref), None)
        if latest is None:
            continue
        # A rise counts wherever it happened inside the pain lookback, not only at the newest score, so
        # a further score can never hide an escalation that has already been recorded.
        peak, earlier = latest, None
        for obs in series:
            if obs.quantity is None or not within_days(obs.effective, today, pain_days):
                continue
            low = _lowest_before(obs, series, window)
            if (
                low is not None
                and low.quantity is not None
                and obs.quantity.value - low.quantity.value >= rise
            ):
                peak, earlier = obs, low
                break
        risen = earlier is not None
        mech = ev.mechanical_pain if ev.mechanical_pain is not None and ev.mechanical_pain.flag else None
        severe_mechanical = mech is not None and ev.pain.value >= severe
        if not (risen or severe_mechanical):
            continue
        trigger = peak if risen else latest
        found = by_trigger.get(trigger.ref)
        lesions = (*found.lesions, ev.lesion) if found else (ev.lesion,)
        by_trigger[trigger.ref] = Escalation(trigger, earlier, mech, lesions)
    return tuple(by_trigger[k] for k in sorted(by_trigger))


def _lowest_before(
    latest: ObservationFact, series: list[ObservationFact], window: float
) -> ObservationFact | None:
    if latest.effective is None:
        return None
    start = latest.effective.date()
    best: ObservationFact | None = None
    for obs in series:
        if (
            obs is latest
            or obs.effective is None
            or obs.quantity is None
            or instant(obs.effective) >= instant(latest.effective)
        ):
            continue
        if not within_days(obs.effective, start, window):
            continue
        if best is None or (best.quantity is not None and obs.quantity.value < best.quantity.value):
            best = obs
    return best


def r05_pain_escalation(
    facts: PatientFacts, today: date, th: Thresholds, idx: FactIndex
) -> tuple[Finding, ...]:
    out: list[Finding] = []
    for esc in escalations(facts, today, th, idx):
        where = (
            _where(esc.lesions) if esc.latest.site is not None or esc.latest.focus else "site not recorded"
        )
        now = num(esc.latest.quantity.value) if esc.latest.quantity else "?"
        used = [used_obs("Pain NRS", esc.latest)]
        if esc.earlier is not None and esc.earlier.quantity is not None:
            used.append(used_obs("Earlier pain NRS", esc.earlier))
            what = f"Pain rose from {num(esc.earlier.quantity.value)} to {now}"
        else:
            what = f"Severe mechanical pain (NRS {now})"
        if esc.mechanical is not None:
            used.append(used_attr("Mechanical pain", esc.mechanical))
        missing = (
            []
            if esc.latest.site is not None or esc.latest.focus
            else [MissingFact("site of the pain", "assumed to involve every bone lesion")]
        )
        out.append(
            Finding(
                rule_id="R05",
                title="Sudden pain escalation at a lesion",
                category=Category.RED_FLAG,
                indicator=Indicator.WARNING,
                summary=fit_summary(
                    f"{what} ({where}): suggest imaging for fracture or instability; pause loading"
                ),
                rationale="Escalating or mechanical pain at a bone metastasis may signal a fracture.",
                recommendations=(
                    "Assess for fracture or instability (imaging).",
                    "Pause loading of the affected region and re-tier the exercise plan.",
                ),
                evidence=("S01",),
                used=tuple(used),
                missing=tuple(missing),
                defaults_used=defaults_in(
                    th,
                    (
                        "red_flags.pain_rise_points",
                        "red_flags.pain_rise_window_days",
                        "red_flags.pain_escalation_nrs_min",
                    ),
                ),
            )
        )
    return tuple(out)
