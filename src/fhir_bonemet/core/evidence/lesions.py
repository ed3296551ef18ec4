"""Per-lesion skeletal evidence: which scores, fractures, pain and procedures belong to which lesion.

Used by the fracture red flag (R04), the pain-escalation red flag (R05) and the exercise tiering
(docs/clinical-model.md#tier-per-lesion), so that "the SINS of the T9 lesion" means the same thing everywhere.

Attribution follows :mod:`fhir_bonemet.core.evidence.lesion_sites`.  A fact that fits more than one lesion is
*shared*: it is applied to every candidate when it signals risk, and never used to reassure (a low SINS
that may belong to another vertebra does not lower a tier).

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from fhir_bonemet.core.evidence.lesion_sites import (
    LONG_BONE_SITES,
    SPINE_SITES,
    LesionKey,
    attribute,
    lesion_key,
)
from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.fact_index import FactIndex, instant
from fhir_bonemet.core.model.facts import (
    BodySite,
    BoneLesion,
    ConditionFact,
    ObservationFact,
    PatientFacts,
    ProcedureFact,
    SiteClass,
    UnreadableValue,
)
from fhir_bonemet.core.model.frozen_init import fast_init
from fhir_bonemet.core.model.queries import within_days
from fhir_bonemet.core.model.thresholds import Thresholds

__all__ = [
    "Attributed",
    "FixationOrder",
    "LesionEvidence",
    "fixation_order",
    "lesion_evidence",
    "radiotherapy_order",
    "recorded_date",
    "review_covers",
    "review_predates",
]


@fast_init
@dataclass(frozen=True, slots=True)
class Attributed:
    """A fact attributed to a lesion; ``shared`` when it fits other lesions too."""

    ref: str
    when: date | None
    shared: bool
    value: float | None = None  # scores and NRS
    code: str | None = None  # lesion type
    flag: bool | None = None  # mechanical pain
    date_imprecise: bool = False  # recorded to the year or month only; ``when`` is its earliest day
    status: str | None = None  # clinical status of a condition
    display: str | None = None
    # A procedure's ``when`` is the latest day its record allows; this is the earliest when it differs
    # (dated to the month or year, or a period): see ``ProcedureFact.performed_from``.
    earliest: date | None = None
    # A result dated to the month or year (``when`` its earliest day): the last day it may be of.
    latest: date | None = None


@fast_init
@dataclass(frozen=True, slots=True)
class LesionEvidence:
    lesion: BoneLesion
    sins: Attributed | None = None
    mirels: Attributed | None = None
    stale_score: Attributed | None = None  # newest SINS/Mirels that was older than the lookback
    lesion_type: Attributed | None = None
    fractures: tuple[Attributed, ...] = ()  # pathological fractures at this lesion, any time
    impending: tuple[Attributed, ...] = ()
    mechanical_pain: Attributed | None = None  # newest mechanical-pain answer within the pain lookback
    pain: Attributed | None = None  # newest NRS within the pain lookback
    radiotherapy: Attributed | None = None  # newest RT to this lesion within the lookback (or undated)
    surgical_review: Attributed | None = None  # newest completed review (or stabilisation) of this site
    # Completed surgical fixations certainly of this lesion, newest first, undated last (_certain_procedures).
    fixations: tuple[Attributed, ...] = ()
    # Radiotherapy given (completed or under way) certainly to this lesion, at any date, newest first,
    # undated last: placed against an old impending-fracture record (radiotherapy_order).
    irradiations: tuple[Attributed, ...] = ()
    # Impending-fracture (any age) and mechanical-pain (pain lookback) answers that may be about this lesion,
    # received but not read, and that no newer readable answer at this lesion settles (_unread_at).
    unread: tuple[UnreadableValue, ...] = ()

    @property
    def key(self) -> LesionKey:
        return lesion_key(self.lesion)


class _Attribution:
    """Which lesions a fact may be about, worked out once per (focus, body site, eligibility) and then
    looked up: the evidence of every lesion asks about the same facts, and asking ``attribute`` each time
    made the cost grow with (lesions x facts x lesions)."""

    def __init__(self, lesions: tuple[BoneLesion, ...]) -> None:
        self._lesions = lesions
        self._known: dict[
            tuple[tuple[str, ...], BodySite | None, Callable[[BoneLesion], bool]],
            tuple[tuple[BoneLesion, ...], frozenset[int]],
        ] = {}

    def fits(
        self,
        focus: tuple[str, ...],
        site: BodySite | None,
        eligible: Callable[[BoneLesion], bool],
    ) -> tuple[tuple[BoneLesion, ...], frozenset[int]]:
        """The lesions in order, and the set of their ``id()`` for membership tests.  The lesions asked
        about are the record's own objects, as these are, and a set of the lesions themselves hashed each
        one (and its body site) in Python on every ask."""
        key = (focus, site, eligible)
        found = self._known.get(key)
        if found is None:
            fits = attribute(self._lesions, focus, site, eligible)
            found = self._known[key] = (fits, frozenset(map(id, fits)))
        return found


def _every_lesion(_lesion: BoneLesion) -> bool:
    return True


def _obs_day(obs: ObservationFact) -> date | None:
    return obs.effective.date() if isinstance(obs.effective, datetime) else None


def _last_day(obs: ObservationFact) -> date | None:
    """The last day a result dated to the month or year may be of; ``None`` for one dated to the day."""
    day = _obs_day(obs)
    if day is None or obs.date_precision == "day":
        return None
    if obs.date_precision == "year":
        return date(day.year, 12, 31)
    return date(day.year, day.month, calendar.monthrange(day.year, day.month)[1])  # never past year 9999


def _value_risk(fact: Attributed) -> float:
    return fact.value if fact.value is not None else 0.0


_TYPE_RISK = {"lytic": 2.0, "mixed": 1.0, "blastic": 0.0}


def _type_risk(fact: Attributed) -> float:
    return _TYPE_RISK.get(fact.code or "", 0.0)


def _flag_risk(fact: Attributed) -> float:
    return 1.0 if fact.flag else 0.0


def _newest_obs(
    idx: FactIndex,
    attribution: _Attribution,
    lesion: BoneLesion,
    concept: str,
    eligible: Callable[[BoneLesion], bool],
    accept: Callable[[ObservationFact], bool],
    risk: Callable[[Attributed], float] = _value_risk,
    since: date | None = None,
) -> Attributed | None:
    """The value to reason on for one lesion.

    The lesion's own newest result (attributed to it alone) is the value, unless a newer result that may
    describe another lesion signals more risk: then that risk applies here too.  Without a result of its
    own, the riskiest of the results that may describe it is used, marked ``shared`` so that it is never
    used to reassure.  Either way, taking away a reassuring result can only raise the risk.
    ``since`` is the oldest day a result may have (lookback); undated results then never count.
    """
    others: list[Attributed] = []
    own: Attributed | None = None
    for obs in idx.observations(concept):  # newest first, undated last
        if since is not None and (obs.effective is None or obs.effective.date() < since):
            break  # every later result is older still
        if not accept(obs):
            continue
        fits, fitting = attribution.fits(obs.focus, obs.site, eligible)
        if id(lesion) not in fitting:
            continue
        fact = Attributed(
            ref=obs.ref,
            when=_obs_day(obs),
            shared=len(fits) > 1,
            value=obs.quantity.value if obs.quantity is not None else None,
            code=obs.code,
            flag=obs.flag,
            display=obs.display,
            date_imprecise=obs.date_precision != "day",
            latest=_last_day(obs),
        )
        if not fact.shared:
            own = fact
            break
        others.append(fact)
    riskiest = max(others, key=risk, default=None)  # the newest among equals: max keeps the first
    if own is None:
        return riskiest
    if riskiest is not None and risk(riskiest) > risk(own):
        return replace(riskiest, shared=False)  # a newer, riskier result applies to this lesion as well
    return own


def _conditions(
    idx: FactIndex, attribution: _Attribution, lesion: BoneLesion, concept: str
) -> tuple[Attributed, ...]:
    found: list[Attributed] = []
    for cond in idx.conditions(concept):
        fits, fitting = attribution.fits((), cond.site, _every_lesion)
        if id(lesion) in fitting:
            found.append(_cond(cond, shared=len(fits) > 1))
    return tuple(found)


def _cond(cond: ConditionFact, shared: bool) -> Attributed:
    return Attributed(
        ref=cond.ref,
        when=cond.onset or cond.recorded,
        shared=shared,
        status=cond.clinical_status,
        display=cond.display,
    )


def _observed_impending(
    idx: FactIndex,
    attribution: _Attribution,
    lesion: BoneLesion,
    today: date,
) -> tuple[Attributed, ...]:
    """An impending fracture recorded as a finding (an Observation answered yes), as current as an active
    Condition; a later "no" at the lesion clears it.  The Observation form was prefetched and then read by no
    rule: a femur flagged "impending fracture" was tiered and alerted on as if stable.

    Read at any age (an undated one too, the cautious reading): an impending fracture does not heal by
    itself, and the Condition form counts for as long as it is active.  Whether a fixation or radiotherapy
    since has answered it is for the reader to decide (R04: ``fixation_order``, ``radiotherapy_order``)."""
    latest = today + timedelta(days=1)  # one day of clock skew, as within_days allows
    found = _newest_obs(
        idx,
        attribution,
        lesion,
        c.IMPENDING_FRACTURE,
        _every_lesion,
        lambda o: o.flag is not None and (o.effective is None or o.effective.date() <= latest),
        _flag_risk,
    )
    return (replace(found, status="active"),) if found is not None and found.flag else ()


def _unread_at(
    idx: FactIndex, attribution: _Attribution, lesion: BoneLesion, today: date, pain_days: float
) -> tuple[UnreadableValue, ...]:
    """The impending-fracture and mechanical-pain answers that may be about ``lesion`` but could not be
    read.  Read like the readable answers: an impending fracture at any age (an undated one too), mechanical
    pain within the pain lookback (an undated one unless an answer dated within it settles it).  A newer
    readable answer settles one when it is about this lesion alone, or when it says "yes" (its risk is then
    read from it); a "no" that may be about another lesion never reassures, and neither does any answer
    when the unreadable one's date could not be read."""
    found: list[UnreadableValue] = []
    for value in idx.facts.unreadable:
        # Mechanical pain recorded with no date at all may be current (as for rule R01): it counts unless a
        # readable answer dated within the pain lookback settles it.
        undated_pain = value.concept == c.PAIN_MECHANICAL and value.effective is None
        if value.concept == c.PAIN_MECHANICAL:
            if not (value.date_unreadable or undated_pain or within_days(value.effective, today, pain_days)):
                continue
        elif value.concept != c.IMPENDING_FRACTURE:
            continue
        if id(lesion) not in attribution.fits(value.focus, value.site, _every_lesion)[1]:
            continue
        if not value.date_unreadable and any(
            obs.flag is not None
            and obs.effective is not None
            and (value.effective is None or instant(obs.effective) > instant(value.effective))
            and (not undated_pain or within_days(obs.effective, today, pain_days))
            and id(lesion) in (fit := attribution.fits(obs.focus, obs.site, _every_lesion))[1]
            and (obs.flag or len(fit[0]) == 1)
            for obs in idx.observations(value.concept)
        ):
            continue
        found.append(value)
    return tuple(found)


def _procedure(
    idx: FactIndex,
    attribution: _Attribution,
    lesion: BoneLesion,
    concept: str,
    accept: Callable[[ProcedureFact], bool],
    own_only: bool = False,
) -> Attributed | None:
    """Newest matching procedure at this lesion; ``own_only`` skips those that may be at another lesion
    (a surgical review reassures only about the lesion it certainly concerns)."""
    procs = idx.procedures(concept)
    if not procs:  # most records hold none of a kind: no sort to set up, three kinds per lesion
        return None
    chosen = sorted(
        (p for p in procs if accept(p)),
        key=lambda p: (p.performed is None, -(p.performed.toordinal() if p.performed else 0), p.ref),
    )
    for proc in chosen:
        fits, fitting = attribution.fits(proc.focus, proc.site, _every_lesion)
        if id(lesion) in fitting and not (own_only and len(fits) > 1):
            return Attributed(
                proc.ref, proc.performed, len(fits) > 1, status=proc.status, display=proc.display
            )
    return None


def _surgical_review(
    idx: FactIndex,
    attribution: _Attribution,
    lesion: BoneLesion,
    accept: Callable[[ProcedureFact], bool],
) -> Attributed | None:
    """The newest spine or orthopaedic review of this lesion's stability: a recorded review, or a surgical
    stabilisation of the lesion, which a surgeon decides on only after assessing it.  Without the latter, a
    borderline SINS or Mirels at a stabilised lesion stayed "without a recorded surgical review"."""
    found = [
        p
        for p in (
            _procedure(idx, attribution, lesion, concept, accept, own_only=True)
            for concept in (c.SURGICAL_REVIEW, c.SURGICAL_FIXATION)
        )
        if p is not None
    ]
    # Newest first; an undated record only when nothing is dated (as within each kind).
    return min(found, key=lambda p: (p.when is None, -(p.when.toordinal() if p.when else 0)), default=None)


def _certain_procedures(
    idx: FactIndex,
    attribution: _Attribution,
    lesion: BoneLesion,
    concept: str,
    statuses: frozenset[str],
) -> tuple[Attributed, ...]:
    """Procedures of ``concept`` with one of ``statuses`` that are certainly of this lesion and no other,
    newest first, undated last.

    A fixation silences the R04 card of a score taken before it, and radiotherapy lowers R04 for an old
    impending-fracture record: each must certainly be this lesion's.  One that names neither a site nor a
    lesion, one that fits another lesion too, and one at other vertebral levels of the same region (a
    T4-T6 fixation beside a T9 lesion) are not counted."""
    found: list[Attributed] = []
    for proc in idx.procedures(concept):
        if proc.status not in statuses or not _only_this_lesion(attribution, lesion, proc):
            continue
        found.append(
            Attributed(
                proc.ref,
                proc.performed,
                False,
                status=proc.status,
                display=proc.display,
                earliest=proc.performed_from,
            )
        )
    found.sort(key=lambda f: (f.when is None, -(f.when.toordinal() if f.when else 0), f.ref))
    return tuple(found)


_FIXATION_DONE = frozenset({"completed"})
# Procedure statuses under which radiotherapy was not (even partly) given yet.
_RT_NOT_GIVEN = frozenset({"preparation", "not-done", "entered-in-error"})
# Radiotherapy that answers an impending fracture: given, or being given.  A stopped course is not counted.
_RT_GIVEN = frozenset({"completed", "in-progress"})


def _only_this_lesion(attribution: _Attribution, lesion: BoneLesion, proc: ProcedureFact) -> bool:
    if not proc.focus and (proc.site is None or proc.site.site is SiteClass.UNKNOWN):
        return False
    fits, fitting = attribution.fits(proc.focus, proc.site, _every_lesion)
    if id(lesion) not in fitting or len(fits) > 1:
        return False
    levels = proc.site.levels if proc.site is not None else ()
    return not (levels and lesion.site.levels and not set(levels) & set(lesion.site.levels))


def _is_spine(lesion: BoneLesion) -> bool:
    return lesion.site.site in SPINE_SITES


def _is_long_bone(lesion: BoneLesion) -> bool:
    return lesion.site.site in LONG_BONE_SITES


def lesion_evidence(
    facts: PatientFacts, today: date, th: Thresholds, index: FactIndex | None = None
) -> tuple[LesionEvidence, ...]:
    """Evidence per lesion, in a deterministic order (Condition reference, then bodySite position)."""
    idx = index if index is not None else FactIndex(facts)
    return idx.memo(("lesion_evidence", today, id(th)), lambda: _lesion_evidence(idx, today, th))


def _lesion_evidence(idx: FactIndex, today: date, th: Thresholds) -> tuple[LesionEvidence, ...]:
    facts = idx.facts
    score_days = th.v("lookback.score_days")
    pain_days = th.v("lookback.pain_score_days")
    rt_days = th.v("lookback.recent_radiotherapy_days")
    score_since = today - timedelta(days=score_days)
    pain_since = today - timedelta(days=pain_days)

    def recent_score(obs: ObservationFact) -> bool:
        return obs.quantity is not None and within_days(obs.effective, today, score_days)

    def any_score(obs: ObservationFact) -> bool:
        return obs.quantity is not None

    def recent_pain(obs: ObservationFact) -> bool:
        return within_days(obs.effective, today, pain_days)

    def rt_recent(proc: ProcedureFact) -> bool:
        # An undated radiotherapy record may be recent: treat it as such (cautious) and say so.
        return proc.status not in _RT_NOT_GIVEN and (
            proc.performed is None or within_days(proc.performed, today, rt_days)
        )

    def review_done(proc: ProcedureFact) -> bool:
        return proc.status == "completed"

    out: list[LesionEvidence] = []
    attribution = _Attribution(facts.lesions)
    for lesion in sorted(facts.lesions, key=lesion_key):
        sins = _newest_obs(idx, attribution, lesion, c.SINS_TOTAL, _is_spine, recent_score, since=score_since)
        mirels = _newest_obs(
            idx, attribution, lesion, c.MIRELS_TOTAL, _is_long_bone, recent_score, since=score_since
        )
        stale = None
        if sins is None and mirels is None:
            stale = _newest_obs(idx, attribution, lesion, c.SINS_TOTAL, _is_spine, any_score) or _newest_obs(
                idx, attribution, lesion, c.MIRELS_TOTAL, _is_long_bone, any_score
            )
        out.append(
            LesionEvidence(
                lesion=lesion,
                sins=sins,
                mirels=mirels,
                stale_score=stale,
                lesion_type=_newest_obs(
                    idx,
                    attribution,
                    lesion,
                    c.LESION_TYPE,
                    _every_lesion,
                    lambda o: o.code is not None,
                    _type_risk,
                ),
                fractures=_conditions(idx, attribution, lesion, c.PATHOLOGICAL_FRACTURE),
                impending=(
                    *_conditions(idx, attribution, lesion, c.IMPENDING_FRACTURE),
                    *_observed_impending(idx, attribution, lesion, today),
                ),
                mechanical_pain=_newest_obs(
                    idx,
                    attribution,
                    lesion,
                    c.PAIN_MECHANICAL,
                    _every_lesion,
                    lambda o: o.flag is not None and recent_pain(o),
                    _flag_risk,
                    since=pain_since,
                ),
                pain=_newest_obs(
                    idx,
                    attribution,
                    lesion,
                    c.PAIN_SCORE,
                    _every_lesion,
                    lambda o: o.quantity is not None and recent_pain(o),
                    since=pain_since,
                ),
                radiotherapy=_procedure(idx, attribution, lesion, c.RADIOTHERAPY, rt_recent),
                surgical_review=_surgical_review(idx, attribution, lesion, review_done),
                fixations=_certain_procedures(idx, attribution, lesion, c.SURGICAL_FIXATION, _FIXATION_DONE),
                irradiations=_certain_procedures(idx, attribution, lesion, c.RADIOTHERAPY, _RT_GIVEN),
                unread=_unread_at(idx, attribution, lesion, today, pain_days) if facts.unreadable else (),
            )
        )
    return tuple(out)


def review_predates(ev: LesionEvidence, score: Attributed | None) -> bool:
    """This lesion's own dated review exists but is older than the score: it cannot have settled the score,
    and the card says so rather than "no review recorded"."""
    review = ev.surgical_review
    return (
        review is not None
        and not review.shared
        and review.when is not None
        and score is not None
        and score.when is not None
        and review.when < score.when
    )


def review_covers(ev: LesionEvidence, score: Attributed | None) -> bool:
    """A recorded surgical review settles a borderline score only when it is this lesion's own review
    (not shared with other lesions), dated, and not older than the score it is meant to settle."""
    review = ev.surgical_review
    if review is None or review.shared or review.when is None:
        return False
    return score is None or score.when is None or review.when >= score.when


@fast_init
@dataclass(frozen=True, slots=True)
class FixationOrder:
    """Where a lesion's recorded fixations (or radiotherapy courses) stand against one dated record of it
    (a score, an impending or pathological fracture).

    ``after``: the newest fixation dated on or after the record, so the record describes the lesion before
    it was fixed.  ``unordered``: set only when ``after`` is not, a fixation that cannot be placed before
    or after the record (it or the record is undated, or either is dated to the month or year only):
    the record is then read as describing the lesion as it is now, and the card says why."""

    after: Attributed | None = None
    unordered: Attributed | None = None


def fixation_order(ev: LesionEvidence, record: Attributed | None, when: date | None = None) -> FixationOrder:
    """``record`` (or, for a record read elsewhere, its day ``when``) against this lesion's fixations."""
    return _order(ev.fixations, record, when)


def radiotherapy_order(ev: LesionEvidence, record: Attributed) -> FixationOrder:
    """``record`` against the radiotherapy given to this lesion, placed as fixations are: ``after`` is
    radiotherapy dated on or after it, ``unordered`` one that cannot be placed."""
    return _order(ev.irradiations, record, None)


def _order(procs: tuple[Attributed, ...], record: Attributed | None, when: date | None) -> FixationOrder:
    day = record.when if record is not None else when
    imprecise = record is not None and record.date_imprecise
    after: Attributed | None = None
    unordered: Attributed | None = None
    for proc in procs:  # newest first, undated last
        if proc.when is None or day is None:
            unordered = unordered or proc
        elif proc.when >= day:
            # A procedure dated "2026-11" may be of any day of November: it certainly followed the record
            # only from its earliest day.  A record dated "2026-11" may be of any day of November (or of
            # 2026): only a procedure in a later year certainly followed it.
            start = proc.earliest or proc.when
            if start < day or (imprecise and start.year <= day.year):
                unordered = unordered or proc
            else:
                after = after or proc
    return FixationOrder(after, None) if after is not None else FixationOrder(None, unordered)


def recorded_date(att: Attributed, *, undated: str = "undated") -> str:
    """A procedure's date as recorded, for a card: "2025-06-02", "2025-06" for a month, "2025" for a year
    (``when`` is the latest day the record allows, which for this month may be a day still to come, so
    it is not shown as the date), "between … and …" for a period; ``undated`` without a date."""
    if att.when is None:
        return undated
    start, end = att.earliest, att.when
    if start is None or start == end:
        return end.isoformat()
    if (start.month, start.day, end.month, end.day) == (1, 1, 12, 31) and start.year == end.year:
        return str(end.year)
    if (
        start.day == 1
        and (start.year, start.month) == (end.year, end.month)
        and end.day == calendar.monthrange(end.year, end.month)[1]
    ):
        return f"{end.year}-{end.month:02d}"
    return f"between {start.isoformat()} and {end.isoformat()}"
