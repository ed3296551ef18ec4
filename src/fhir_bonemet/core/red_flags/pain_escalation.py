"""Red flag R05: sudden pain escalation at a bone lesion (``docs/clinical-model.md#red-flags``).

An NRS rise of at least N points within the window, or severe pain with mechanical pain at the lesion,
may signal a fracture or instability.  :func:`escalations` is shared with the exercise tiering, which
pauses loading of the lesions concerned.

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from fhir_bonemet.core.evidence.lesion_sites import attribute, lesions_label
from fhir_bonemet.core.evidence.lesions import Attributed, lesion_evidence
from fhir_bonemet.core.evidence.unreadable import answer_state, shown
from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.context import RuleContext
from fhir_bonemet.core.model.fact_index import FactIndex, instant
from fhir_bonemet.core.model.facts import BoneLesion, ObservationFact, PatientFacts, UnreadableValue
from fhir_bonemet.core.model.finding_builder import Trace
from fhir_bonemet.core.model.findings import Category, Finding, Indicator, MissingFact
from fhir_bonemet.core.model.queries import within_days
from fhir_bonemet.core.model.rule import rule
from fhir_bonemet.core.model.thresholds import Thresholds
from fhir_bonemet.core.model.used_facts import num, used_attr, used_obs
from fhir_bonemet.core.red_flags.fracture import surgical_referrals

__all__ = ["Escalation", "escalations", "r05_pain_escalation"]

_R05 = rule(
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
    on_loading_orders=True,  # pause loading of the region
)


@dataclass(frozen=True, slots=True)
class Escalation:
    """A pain escalation at one or more lesions (one trigger score, possibly unsited)."""

    latest: ObservationFact
    earlier: ObservationFact | None  # the lower score the rise is measured from
    mechanical: Attributed | None
    lesions: tuple[BoneLesion, ...]
    # A mechanical-pain answer at the lesion received but not read, read as "yes" beside a severe score.
    mechanical_unread: UnreadableValue | None = None


def escalations(facts: PatientFacts, today: date, th: Thresholds, idx: FactIndex) -> tuple[Escalation, ...]:
    """R05 triggers: NRS rise >= N points within the window, or NRS >= severe with mechanical pain."""
    return idx.memo(("escalations", today, id(th)), lambda: _escalations(facts, today, th, idx))


def _escalations(facts: PatientFacts, today: date, th: Thresholds, idx: FactIndex) -> tuple[Escalation, ...]:
    window = th.v("red_flags.pain_rise_window_days")
    rise = th.v("red_flags.pain_rise_points")
    severe = th.v("red_flags.pain_escalation_nrs_min")
    pain_days = th.v("lookback.pain_score_days")
    # Scores older than the lookback plus the rise window cannot matter (newest first, undated last).
    since = today - timedelta(days=pain_days + window)
    recent_scores = []
    for obs in idx.observations(c.PAIN_SCORE):
        if obs.effective is None or obs.effective.date() < since:
            break
        recent_scores.append(obs)
    by_trigger: dict[str, Escalation] = {}
    for ev in lesion_evidence(facts, today, th, idx):
        if ev.pain is None or ev.pain.value is None:
            continue
        series = [
            o
            for o in recent_scores
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
        # A mechanical-pain answer that could not be read may be "yes": beside a severe score it is read so
        # (imaging and a pause in loading cost less than a missed fracture), and the card says so.
        unread = (
            None if mech is not None else next((u for u in ev.unread if u.concept == c.PAIN_MECHANICAL), None)
        )
        severe_mechanical = (mech is not None or unread is not None) and ev.pain.value >= severe
        if not (risen or severe_mechanical):
            continue
        trigger = peak if risen else latest
        found = by_trigger.get(trigger.ref)
        lesions = (*found.lesions, ev.lesion) if found else (ev.lesion,)
        unread = unread or (found.mechanical_unread if found else None)
        by_trigger[trigger.ref] = Escalation(trigger, earlier, mech, lesions, unread)
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


@_R05
def r05_pain_escalation(ctx: RuleContext, rule: Trace) -> tuple[Finding, ...]:
    out: list[Finding] = []
    for esc in escalations(ctx.facts, ctx.today, ctx.th, ctx.index):
        sited = esc.latest.site is not None or bool(esc.latest.focus)
        where = lesions_label(esc.lesions) if sited else "site not recorded"
        now = num(esc.latest.quantity.value) if esc.latest.quantity else "?"
        used = [used_obs("Pain NRS", esc.latest)]
        if esc.earlier is not None and esc.earlier.quantity is not None:
            used.append(used_obs("Earlier pain NRS", esc.earlier))
            what = f"Pain rose from {num(esc.earlier.quantity.value)} to {now}"
        elif esc.mechanical is None and esc.mechanical_unread is not None:
            what = f"Severe pain, NRS {now}, mechanical-pain answer {answer_state(esc.mechanical_unread)}"
        else:
            what = f"Severe mechanical pain, NRS {now}"
        if esc.mechanical is not None:
            used.append(used_attr("Mechanical pain", esc.mechanical))
        missing = [] if sited else [MissingFact("site of the pain", "assumed to involve every bone lesion")]
        if esc.mechanical_unread is not None:
            effect = (
                "read as mechanical pain: escalation at this site"
                if esc.earlier is None and esc.mechanical is None
                else "not used; the escalation stands on the scores"
            )
            missing.append(MissingFact(shown(esc.mechanical_unread), f"{effect}; verify it", True))
        t = Trace(ctx, rule.spec)  # one builder per finding: each escalation is its own card
        t.fact(*used)
        t.missing.extend(missing)
        t.rely(
            "red_flags.pain_rise_points",
            "red_flags.pain_rise_window_days",
            "red_flags.pain_escalation_nrs_min",
        )
        out.append(
            t.finding(
                Indicator.WARNING,
                f"{what} ({where}): suggest imaging for fracture or instability; pause loading",
                "Escalating or mechanical pain at a bone metastasis may signal a fracture.",
                (
                    "Assess for fracture or instability (imaging) and ask the surgical team to review it.",
                    "Pause loading of the affected region and re-tier the exercise plan.",
                ),
                referrals=surgical_referrals(esc.lesions),
            )
        )
    return tuple(out)
