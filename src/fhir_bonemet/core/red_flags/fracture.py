"""Red flag R04: pathological or impending fracture (``docs/clinical-model.md#red-flags``).

It reads the per-lesion evidence of :mod:`~fhir_bonemet.core.evidence.lesions`, as the exercise tiering
does, so a lesion flagged here is never tiered as if it were stable.  One finding per fracture record and
per score result.

On the order hooks (``docs/clinical-model.md#hooks``) the critical findings interrupt any order, as every
red flag's do, and the warnings speak when a draft in focus may load the bone (``on_loading_orders``).  The
exercise plan is not shown there, and with it went the cautious reading of an impending-fracture answer that
could not be read (its lesion HIGH, not loaded until verified): R04 then carries that reading itself, as a
warning, before such an order.

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

from datetime import date

from fhir_bonemet.core.evidence.lesion_sites import (
    SPINE_SITES,
    attribute,
    lesion_label,
    lesions_label,
    site_label,
)
from fhir_bonemet.core.evidence.lesions import (
    Attributed,
    FixationOrder,
    LesionEvidence,
    fixation_order,
    lesion_evidence,
    radiotherapy_order,
    recorded_date,
    review_covers,
    review_predates,
)
from fhir_bonemet.core.evidence.loading_orders import draft_order_label, loading_orders
from fhir_bonemet.core.evidence.unreadable import answer_state, recorded_how, shown, to_correct
from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.context import RuleContext
from fhir_bonemet.core.model.fact_index import FactIndex
from fhir_bonemet.core.model.facts import BoneLesion, ConditionFact, OrderFact, UnreadableValue
from fhir_bonemet.core.model.finding_builder import Trace
from fhir_bonemet.core.model.findings import Category, Finding, Indicator, MissingFact, Referral, UsedFact
from fhir_bonemet.core.model.queries import noted_on, within_days
from fhir_bonemet.core.model.rule import rule
from fhir_bonemet.core.model.used_facts import ACTIVE_STATUSES, num, used_attr, used_condition

__all__ = ["r04_fracture", "surgical_referrals"]


@rule(
    "R04",
    "Pathological or impending fracture",
    Category.RED_FLAG,
    concepts=(
        c.PATHOLOGICAL_FRACTURE,
        c.IMPENDING_FRACTURE,
        c.SINS_TOTAL,
        c.MIRELS_TOTAL,
        c.SURGICAL_REVIEW,
        c.SURGICAL_FIXATION,
    ),
    thresholds=(
        "lookback.recent_fracture_days",
        "lookback.score_days",
        "exercise.sins_unstable_min",
        "exercise.sins_potentially_unstable_min",
        "exercise.mirels_fixation_min",
        "exercise.mirels_borderline",
    ),
    evidence=("S11", "S10", "S13", "S14"),
    on_loading_orders=True,
)
def r04_fracture(ctx: RuleContext, t: Trace) -> tuple[Finding, ...]:
    evidence = lesion_evidence(ctx.facts, ctx.today, ctx.th, ctx.index)
    found = (
        *_fracture_findings(ctx.index, ctx.today, evidence, t),
        *_observed_impending_findings(evidence, t),
        *_score_findings(evidence, t),
    )
    # patient-view: an unreadable impending-fracture answer is read by the exercise plan (its lesion HIGH, not
    # loaded until verified, the record named), so no card of its own there.  The plan is not shown while
    # ordering: before an order that may load the bone (when R04's warnings speak, on_loading_orders) the
    # order would go ahead with the answer named nowhere, or named on another lesion's card as merely "not
    # used" (less cautious than patient-view), so R04 says it itself.
    loading = loading_orders(ctx.focus_orders)  # none on patient-view
    return (*found, *_unread_findings(evidence, loading, t)) if loading else found


def surgical_referrals(
    lesions: tuple[BoneLesion, ...], cond: ConditionFact | None = None
) -> tuple[Referral, ...]:
    """Spine surgery for spinal sites, orthopaedic surgery for the others (and for an unknown site)."""
    sites = {lesion.site.site for lesion in lesions}
    if cond is not None and cond.site is not None:
        sites.add(cond.site.site)
    spine = any(s in SPINE_SITES for s in sites)
    limb = any(s not in SPINE_SITES for s in sites) or not sites
    return tuple(r for r, on in ((Referral.SPINE_SURGERY, spine), (Referral.ORTHOPAEDIC_SURGERY, limb)) if on)


def _where(lesions: tuple[BoneLesion, ...], cond: ConditionFact | None = None) -> str:
    if cond is not None and cond.site is not None:
        return site_label(cond.site).removesuffix(" lesion")
    return lesions_label(lesions)


def _surgeon(referrals: tuple[Referral, ...]) -> str:
    if referrals == (Referral.SPINE_SURGERY,):
        return "spine surgical"
    if referrals == (Referral.ORTHOPAEDIC_SURGERY,):
        return "orthopaedic"
    return "orthopaedic/spine surgical"


_ADVICE = (
    "Refer to orthopaedics or spine surgery; prophylactic fixation is preferred over fixing after fracture.",
    "No loading of the site; protected weight-bearing advice pending review.",
    "Consider post-operative radiotherapy after fixation.",
)
# A pathological fracture already fixed: asking for prophylactic fixation of it would be wrong; what is left
# is the surgical team's loading advice and post-operative radiotherapy (S14 [III,B]).
_FIXED_ADVICE = (
    "Ask the surgical team that fixed it for weight-bearing and loading advice.",
    "No loading of the site until the surgical team allows it.",
    "Consider post-operative radiotherapy to the fixed site if not given.",
)


# An old impending fracture irradiated since, never fixed: radiotherapy treats the tumour, not the stability
# (S14 prefers prophylactic fixation; S11), so a surgeon is asked again, as a warning.
_IRRADIATED_ADVICE = (
    "Ask orthopaedics or spine surgery to reassess the stability of the lesion since its radiotherapy.",
    "Protected weight-bearing of the site until reassessed.",
    "Record the reassessment: an impending-fracture finding answered no at the lesion clears this card.",
)


def _finding(
    rule: Trace,
    indicator: Indicator,
    summary: str,
    rationale: str,
    used: list[UsedFact],
    missing: list[MissingFact],
    referrals: tuple[Referral, ...],
    keys: tuple[str, ...],
    advice: tuple[str, ...] = _ADVICE,
) -> Finding:
    t = Trace(rule.ctx, rule.spec)  # one builder per finding: each fracture or score is its own card
    t.fact(*used)
    t.missing.extend(missing)
    t.rely(*keys)
    return t.finding(indicator, summary, rationale, advice, referrals=referrals)


def _unordered_fixation(label: str, record: str, fix: Attributed) -> tuple[UsedFact, MissingFact]:
    """A fixation of the lesion that cannot be placed before or after the record: the record is read as
    describing the lesion now (the cautious reading) and the card names the fixation and why."""
    return _unplaced("Surgical fixation", "of", label, record, fix, "treated as before fixation, card kept")


def _unplaced(
    kind: str, link: str, label: str, record: str, proc: Attributed, effect: str
) -> tuple[UsedFact, MissingFact]:
    """A procedure of the lesion (``kind`` ``link`` the lesion: "Surgical fixation of", "Radiotherapy to")
    that cannot be placed after ``record``: what the card uses, and what it cannot tell."""
    named = f"{kind.lower()} {link} the {label}"
    what = (
        f"date of the {named}"
        if proc.when is None
        else f"whether the {named} ({recorded_date(proc)}) followed the {record}"
    )
    return (
        used_attr(f"{kind} ({label}, not placed against the {record})", proc),
        MissingFact(what, f"not known to postdate the {record}: {effect}"),
    )


def _fixed(order: FixationOrder) -> bool:
    return order.after is not None


def _fracture_findings(
    idx: FactIndex, today: date, evidence: tuple[LesionEvidence, ...], t: Trace
) -> list[Finding]:
    out: list[Finding] = []
    by_lesion = {id(ev.lesion): ev for ev in evidence}
    recent = t.ctx.th.v("lookback.recent_fracture_days")
    for concept, name in (
        (c.PATHOLOGICAL_FRACTURE, "Pathological fracture"),
        (c.IMPENDING_FRACTURE, "Impending fracture"),
    ):
        for cond in idx.conditions(concept):
            active = cond.clinical_status in ACTIVE_STATUSES
            missing: list[MissingFact] = []
            when = noted_on(cond, today)
            if concept == c.PATHOLOGICAL_FRACTURE:
                # Recent is the onset, whatever the status says (clinical-rules R04: onset within the
                # window): a bone broken 10 days ago has not healed because its record was closed as
                # resolved.  Refuted and entered-in-error records never become facts.  Undated, only the
                # status is left to go on: an active one is taken for new, a closed one for history (it
                # still raises the lesion's tier, as every fracture does).
                if when is None:
                    if not active:
                        continue
                    missing.append(MissingFact("onset date of the fracture", "treated as a new fracture"))
                elif not within_days(when, today, recent):
                    continue
            elif not active:
                continue  # closed, an impending fracture is no longer impending (fixed, or now a fracture)
            lesions = attribute(idx.facts.lesions, (), cond.site)
            where = _where(lesions, cond)
            referrals = surgical_referrals(lesions, cond)
            surgeon = _surgeon(referrals)
            used = [used_condition(name, cond)]
            orders = [
                (lesion, fixation_order(by_lesion[id(lesion)], None, when))
                for lesion in lesions
                if id(lesion) in by_lesion
            ]
            # Fixed only when every lesion the record may describe has its own fixation on or after it.
            fixed = bool(orders) and all(_fixed(order) for _, order in orders)
            if fixed and concept == c.IMPENDING_FRACTURE:
                # The prophylactic fixation R04 asks for has been done (docs/clinical-model.md#fixed-lesions).
                continue
            if fixed:
                fixes = [(lesion, order.after) for lesion, order in orders if order.after is not None]
                used += [
                    used_attr(f"Surgical fixation ({lesion_label(lesion)})", fix) for lesion, fix in fixes
                ]
                on = ", ".join(sorted({recorded_date(fix) for _, fix in fixes}))
                out.append(
                    _finding(
                        t,
                        Indicator.CRITICAL,
                        f"{name} ({where}), fixed {on}: no loading of the site until the surgical team "
                        "allows it",
                        f"{name} recorded within {num(recent)} days and surgically fixed since.",
                        used,
                        missing,
                        referrals,
                        ("lookback.recent_fracture_days",),
                        _FIXED_ADVICE,
                    )
                )
                continue
            for lesion, order in orders:
                if order.unordered is not None:
                    seen, gap = _unordered_fixation(lesion_label(lesion), name.lower(), order.unordered)
                    used.append(seen)
                    missing.append(gap)
            out.append(
                _finding(
                    t,
                    Indicator.CRITICAL,
                    f"{name} ({where}): suggest urgent {surgeon} review; no loading of the site",
                    f"{name} recorded"
                    + (f" within {num(recent)} days." if concept == c.PATHOLOGICAL_FRACTURE else "."),
                    used,
                    missing,
                    referrals,
                    ("lookback.recent_fracture_days",),
                )
            )
    return out


def _observed_impending_findings(evidence: tuple[LesionEvidence, ...], t: Trace) -> list[Finding]:
    """One finding per impending fracture recorded as an Observation (the Condition form is read above),
    naming every lesion it may describe.

    The finding counts at any age (docs/clinical-model.md#fixed-lesions): not for a lesion fixed since.
    Once older than the score lookback, radiotherapy to the lesion since the record makes it a warning
    (reassess the irradiated lesion) rather than critical; within the lookback it stays critical whatever
    was given, as it always did."""
    ctx = t.ctx
    lookback = ctx.th.v("lookback.score_days")
    groups: dict[str, tuple[Attributed, list[BoneLesion]]] = {}
    irradiated: dict[str, tuple[Attributed, list[tuple[BoneLesion, Attributed]]]] = {}
    notes: dict[str, list[tuple[UsedFact, MissingFact]]] = {}
    for ev in evidence:
        for fact in ev.impending:
            if not fact.ref.startswith("Observation/"):
                continue
            order = fixation_order(ev, fact)
            if _fixed(order):
                continue  # fixed on or after the finding: the fixation it called for is done
            label = lesion_label(ev.lesion)
            # Old only when even its last possible day is: "March" may be 31 March, still within the lookback.
            if fact.when is not None and not within_days(_last_day(fact, ctx.today), ctx.today, lookback):
                rt = radiotherapy_order(ev, fact)
                if rt.after is not None:
                    irradiated.setdefault(fact.ref, (fact, []))[1].append((ev.lesion, rt.after))
                    continue
                if rt.unordered is not None:
                    notes.setdefault(fact.ref, []).append(_unordered_radiotherapy(label, rt.unordered))
            groups.setdefault(fact.ref, (fact, []))[1].append(ev.lesion)
            if order.unordered is not None:
                notes.setdefault(fact.ref, []).append(
                    _unordered_fixation(label, "impending fracture", order.unordered)
                )
    out: list[Finding] = []
    for ref in sorted(groups):
        fact, lesions = groups[ref]
        where = _where(tuple(lesions))
        referrals = surgical_referrals(tuple(lesions))
        why, missing = _impending_when(fact, ctx.today, lookback, t)
        found = notes.get(ref, [])
        out.append(
            _finding(
                t,
                Indicator.CRITICAL,
                f"Impending fracture ({where}): suggest urgent {_surgeon(referrals)} review; no loading of "
                "the site",
                why,
                [used_attr(f"Impending fracture ({where})", fact), *(used for used, _ in found)],
                [*missing, *(gap for _, gap in found)],
                referrals,
                ("lookback.score_days",),
            )
        )
    for ref in sorted(irradiated.keys() - groups.keys()):
        # Every lesion it may describe was irradiated since (a lesion left untreated keeps the critical card).
        fact, treated = irradiated[ref]
        irradiated_lesions = tuple(lesion for lesion, _ in treated)
        where = _where(irradiated_lesions)
        referrals = surgical_referrals(irradiated_lesions)
        given = ", ".join(sorted({recorded_date(rt) for _, rt in treated}))
        out.append(
            _finding(
                t,
                Indicator.WARNING,
                f"Impending fracture ({where}) of {_day(fact.when)}, irradiated since: suggest "
                f"{_surgeon(referrals)} review of its stability",
                f"Impending fracture recorded on {_day(fact.when)} (older than "
                f"{t.label('lookback.score_days')}), irradiated since ({given}), not fixed: radiotherapy "
                "does not restore stability.",
                [
                    used_attr(f"Impending fracture ({where})", fact),
                    *(used_attr(f"Radiotherapy ({lesion_label(lesion)})", rt) for lesion, rt in treated),
                ],
                [
                    MissingFact(
                        f"assessment of the {lesion_label(lesion)} since its radiotherapy",
                        f"the impending fracture of {_day(fact.when)} still applies: warning, exercise "
                        "tier HIGH",
                    )
                    for lesion, _ in treated
                ],
                referrals,
                ("lookback.score_days",),
                _IRRADIATED_ADVICE,
            )
        )
    return out


def _impending_when(
    fact: Attributed, today: date, lookback: float, t: Trace
) -> tuple[str, list[MissingFact]]:
    """The rationale's "recorded on ..." for an impending-fracture finding, and what its date leaves open."""
    if fact.when is None:
        return "Impending fracture recorded (undated).", [
            MissingFact("date of the impending-fracture finding", "treated as current: card kept")
        ]
    why = f"Impending fracture recorded on {_day(fact.when)}."
    if not within_days(_last_day(fact, today), today, lookback):
        why += (
            f" Older than {t.label('lookback.score_days')}, with no fixation or radiotherapy of the lesion "
            "recorded since: an impending fracture does not heal by itself."
        )
    return why, []


def _last_day(fact: Attributed, today: date) -> date | None:
    """The last day a record may be of, by today: a finding dated "2025-03" may be of 31 March (and one
    dated to the current month, of today).  Read so for "older than the lookback?", which lowers R04."""
    return min(fact.latest, today) if fact.latest is not None else fact.when


def _unordered_radiotherapy(label: str, rt: Attributed) -> tuple[UsedFact, MissingFact]:
    """Radiotherapy of the lesion that cannot be placed after an old impending-fracture record: not assumed
    to have followed it (the card stays critical), and the card says why."""
    return _unplaced("Radiotherapy", "to", label, "impending fracture", rt, "card kept")


def _score_findings(evidence: tuple[LesionEvidence, ...], t: Trace) -> list[Finding]:
    """One finding per score result; a score that fits several lesions names all of them."""
    th = t.ctx.th
    groups: dict[str, tuple[Indicator, str, Attributed, list[BoneLesion]]] = {}
    stale_reviews: dict[
        str, list[Attributed]
    ] = {}  # score ref -> a review of its lesion older than the score
    unordered: dict[str, list[tuple[UsedFact, MissingFact]]] = {}
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
            order = fixation_order(ev, score)
            if _fixed(order):
                # The score describes the lesion before its fixation: the fixation it calls for is done,
                # and a new score after the operation is what would raise R04 again.  The exercise tier
                # still reads the score (HIGH until re-scored, core/exercise/tiers.py).
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
            if order.unordered is not None:
                unordered.setdefault(score.ref, []).append(
                    _unordered_fixation(lesion_label(ev.lesion), name, order.unordered)
                )
            if indicator is Indicator.WARNING and review_predates(ev, score) and ev.surgical_review:
                stale_reviews[score.ref] = [ev.surgical_review]
    out: list[Finding] = []
    for ref in sorted(groups):
        indicator, name, score, lesions = groups[ref]
        where = _where(tuple(lesions))
        shown = f"{name} {num(score.value or 0)} at {where}"
        referrals = surgical_referrals(tuple(lesions))
        surgeon = _surgeon(referrals)
        if indicator is Indicator.CRITICAL:
            summary = f"{shown}: high fracture/instability risk; suggest urgent {surgeon} review"
            why = f"{name} at or above the surgical threshold."
        elif ref in stale_reviews:
            review = stale_reviews[ref][0]
            summary = f"{shown}: surgical review predates the score; suggest {surgeon} review"
            why = f"Borderline {name} dated after the lesion's last surgical review ({_day(review.when)})."
        else:
            summary = f"{shown}, no surgical review recorded: suggest {surgeon} review"
            why = f"Borderline {name} without a recorded surgical review."
        earlier = [used_attr("Surgical review (before the score)", r) for r in stale_reviews.get(ref, [])]
        missing = (
            [
                MissingFact(
                    f"surgical review after the {name} of {_day(score.when)}"
                    if ref in stale_reviews
                    else "surgical review of this lesion",
                    "treated as unreviewed: HIGH tier",
                )
            ]
            if indicator is Indicator.WARNING
            else []
        )
        if score.shared:
            missing.append(
                MissingFact("which lesion the score belongs to", "applied to every lesion it may describe")
            )
        notes = unordered.get(ref, [])
        missing += [gap for _, gap in notes]
        out.append(
            _finding(
                t,
                indicator,
                summary,
                why,
                [used_attr(f"{name} ({where})", score), *earlier, *(used for used, _ in notes)],
                missing,
                referrals,
                ("lookback.score_days",),
            )
        )
    return out


def _unread_findings(
    evidence: tuple[LesionEvidence, ...], loading: tuple[OrderFact, ...], t: Trace
) -> list[Finding]:
    """One warning per impending-fracture answer received but not read (the lesion evidence's ``unread``),
    naming every lesion it may describe, while a draft in focus may load the bone.

    A lesion with a readable fracture or impending-fracture record is left out, as the exercise tiering
    leaves it: that record decides (R04's own card, or a fixation since).  Not critical: the fracture is not
    known to be impending, and patient-view's plan does not hold exercise for it either."""
    groups: dict[str, tuple[UnreadableValue, list[BoneLesion]]] = {}
    for ev in evidence:
        if ev.fractures or any(f.status in ACTIVE_STATUSES for f in ev.impending):
            continue
        for value in ev.unread:
            if value.concept == c.IMPENDING_FRACTURE:
                groups.setdefault(value.ref, (value, []))[1].append(ev.lesion)
    orders = [UsedFact(draft_order_label(o), "may load the bone", o.ref) for o in loading]
    out: list[Finding] = []
    for ref in sorted(groups):
        value, lesions = groups[ref]
        where = _where(tuple(lesions))
        when = value.effective.date().isoformat() if value.effective is not None else None
        surgeon = _surgeon(surgical_referrals(tuple(lesions)))
        # The reading of patient-view's exercise plan (HIGH, site not loaded until verified), said at order
        # entry.  No referral is offered: the fracture is not known to be impending until the record is read.
        advice = (
            "Verify the impending-fracture record before this order goes ahead; if it is yes, suggest "
            f"urgent {surgeon} review.",
            "Until verified: no loading of the site; exercise or mobilisation only after surgical review, "
            "with 1:1 supervision.",
            to_correct((value,)),
        )
        # An answer recorded as unknown (dataAbsentReason) was not misread: it is named as such.
        received = (
            f"recorded with no answer ({value.no_answer})"
            if value.no_answer
            else (f"answer {value.value_text!r} not read")
        )
        out.append(
            _finding(
                t,
                Indicator.WARNING,
                f"Impending-fracture answer {answer_state(value)} ({where}): verify it before this order; "
                "no loading of the site",
                f"An impending fracture was recorded at the lesion {recorded_how((value,))}, and a draft "
                "order may load the bone (exercise, physiotherapy or mobility).",
                [
                    UsedFact(f"Impending fracture ({where})", received, ref, when),
                    *orders,
                ],
                [
                    MissingFact(
                        shown(value),
                        "read as an impending fracture: no loading of the site until verified",
                        unreadable=True,
                    )
                ],
                (),
                (),
                advice,
            )
        )
    return out


def _day(when: date | None) -> str:
    return when.isoformat() if when is not None else "undated"
