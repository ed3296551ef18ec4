"""Review of uncontrolled pain, local therapy and neuropathic adjuvants: P05, P06, P11
(docs/clinical-model.md#pain).

Patient-view only.  P05 looks for pain that stays at or above the moderate band on a strong opioid; P06
proposes radiotherapy for focal bone pain at a metastasis not irradiated recently, and post-operative
radiotherapy for a lesion fixed recently without radiotherapy since; P11 proposes an adjuvant when the pain
has a neuropathic component.

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

from datetime import date

from fhir_bonemet.core.evidence.derived import PainScore, pain_mechanism, pain_scores
from fhir_bonemet.core.evidence.dose_arithmetic import daily_mme
from fhir_bonemet.core.evidence.lesion_sites import attribute, lesion_label, site_label, treated_lesions
from fhir_bonemet.core.evidence.lesions import Attributed, lesion_evidence, recorded_date
from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.context import RuleContext
from fhir_bonemet.core.model.facts import BodySite, BoneLesion, Laterality, ProcedureFact, SiteClass
from fhir_bonemet.core.model.finding_builder import PAIN_KEYS, RENAL_KEYS, Trace
from fhir_bonemet.core.model.findings import Category, Finding, Indicator, MissingFact, Referral, UsedFact
from fhir_bonemet.core.model.queries import procedures, within_days
from fhir_bonemet.core.model.rule import rule
from fhir_bonemet.core.model.used_facts import iso, used_attr
from fhir_bonemet.core.pain.medicines import RENAL_CONCEPTS

_SPINE = frozenset(
    {
        SiteClass.SPINE_CERVICAL,
        SiteClass.SPINE_THORACIC,
        SiteClass.SPINE_LUMBAR,
        SiteClass.SPINE_UNSPECIFIED,
        SiteClass.SACRUM,
    }
)
_REGIONS = (
    _SPINE,
    frozenset({SiteClass.FEMUR, SiteClass.FEMUR_PROXIMAL, SiteClass.LOWER_LIMB}),
    frozenset({SiteClass.HUMERUS_PROXIMAL, SiteClass.HUMERUS, SiteClass.UPPER_LIMB}),
)


@rule(
    "P05",
    "Pain uncontrolled on a strong opioid",
    Category.PAIN,
    concepts=(
        c.PAIN_SCORE,
        c.STRONG_OPIOID,
        c.NEUROPATHIC_PAIN,
        c.PERIPHERAL_NEUROPATHY,
        c.RF_RADICULAR_PAIN,
    ),
    thresholds=(
        *PAIN_KEYS,
        "pain.nrs_moderate_min",
        "pain.persistent_min_interval_hours",
        "pain.trend_window_days",
        "pain.mechanism_lookback_days",
    ),
    evidence=("S19", "S15a", "S02"),
)
def p05(ctx: RuleContext, t: Trace) -> Finding | None:
    latest = t.pain()
    moderate = t.v("pain.nrs_moderate_min")
    strong = ctx.active(c.STRONG_OPIOID)
    if latest is None or latest.value < moderate or not strong:
        return None
    run: list[PainScore] = []
    for score in pain_scores(ctx.facts, ctx.today, t.v("pain.trend_window_days"), ctx.index):
        if score.value < moderate:
            break
        run.append(score)
    if not run:
        return None
    gap_h = (latest.effective - run[-1].effective).total_seconds() / 3600
    if gap_h < t.v("pain.persistent_min_interval_hours"):
        return None
    earliest = run[-1].effective.date()
    if all(m.start is not None and m.start > earliest for m in strong):
        return None  # the opioid was started after the first score: not yet "uncontrolled on" it
    t.fact(run[-1].used(), latest.used())
    t.meds(strong)
    t.fact(UsedFact("Daily oral morphine equivalents", daily_mme(ctx.active(c.OPIOID), ctx.th).describe()))
    recs = [
        "Review the opioid dose, or rotate to another opioid.",
        "Palliative radiotherapy for focal bone pain; vertebroplasty or kyphoplasty for a painful vertebral "
        "fracture.",
        "Refer to palliative care or a pain specialist (interventional options).",
    ]
    if pain_mechanism(ctx.facts, ctx.today, ctx.th, ctx.index).has_neuropathic_component:
        recs.insert(1, "Neuropathic component recorded: add or optimise an adjuvant (see P11).")
    return t.finding(
        Indicator.WARNING,
        f"Pain {latest.value:g}/10 persists on a strong opioid for {gap_h / 24:.0f} d: review the pain plan",
        f"Consecutive pain scores at or above {moderate:g} at least "
        f"{t.label('pain.persistent_min_interval_hours')} apart while on a strong opioid.",
        recs,
        referrals=(Referral.PALLIATIVE_CARE, Referral.PAIN_SPECIALIST, Referral.RADIATION_ONCOLOGY),
    )


def _same_region(a: BodySite, b: BodySite) -> bool:
    """Pain felt elsewhere in the same region (a "leg" pain with a femoral lesion), not the other side."""
    if SiteClass.UNKNOWN in (a.site, b.site) or a.site == b.site:
        region = True
    else:
        region = any(a.site in r and b.site in r for r in _REGIONS)
    sides = {a.laterality, b.laterality}
    return region and not {Laterality.LEFT, Laterality.RIGHT} <= sides


def _painful_lesions(lesions: tuple[BoneLesion, ...], site: BodySite | None) -> list[BoneLesion]:
    """The lesions a pain score may be about: the lesion matching of the exercise tiers (bone and side);
    a pain site that matches no lesion that way is matched by region (pain is not always felt at the
    bone), still never on the other side."""
    matched = attribute(lesions, (), site)
    if matched or site is None:
        return list(matched)
    return [les for les in lesions if _same_region(site, les.site)]


def _recent_rt(proc: ProcedureFact, ctx: RuleContext, days: float) -> bool:
    if proc.status in ("not-done", "entered-in-error", "stopped"):
        return False
    return within_days(proc.performed, ctx.today, days) or (
        proc.performed is None and proc.status in ("in-progress", "preparation")
    )


_POSTOP_DAYS = "lookback.postop_rt_days"
# Radiotherapy records that cannot be a post-operative course: nothing given, or a course stopped before it
# was complete.  (Not the lesion evidence's list: there a course in preparation has not been given yet,
# here it is the current course, see _RT_CURRENT.)
_RT_NOT_POSTOP = frozenset({"not-done", "entered-in-error", "stopped"})
# Radiotherapy under way or being prepared is the current course: after any fixation recorded so far.
_RT_CURRENT = frozenset({"in-progress", "preparation", "on-hold"})


@rule(
    "P06",
    "Radiotherapy referral: focal bone pain or a fixed lesion",
    Category.PAIN,
    concepts=(c.PAIN_SCORE, c.BONE_METASTASIS, c.RADIOTHERAPY, c.SINS_TOTAL, c.SURGICAL_FIXATION),
    thresholds=(*PAIN_KEYS, "pain.nrs_moderate_min", "pain.rt_recent_days", _POSTOP_DAYS),
    evidence=("S15a", "S15b", "S14"),
)
def p06(ctx: RuleContext, t: Trace) -> Finding | None:
    """Radiation oncology for focal bone pain at a lesion not irradiated recently, and for a lesion fixed
    recently with no radiotherapy since (post-operative radiotherapy, S14 [III,B]; R04 stops speaking
    once the lesion is fixed).  One finding: both ask the same service, so the card offers one referral,
    routine advice that waits while a red flag is handled (cards/concerns.py ROUTINE)."""
    focal = _focal_pain(ctx, t)
    if focal is None:
        # What the pain reading recorded (the score, radiotherapy it looked at) is not what a post-operative
        # suggestion rests on: it starts from a clean trace.
        t = Trace(ctx, t.spec)
    fixed = _postop(ctx, t)
    if focal is None and not fixed:
        return None
    where = "; ".join(fixed)
    if focal is None:
        return t.finding(
            Indicator.INFO,
            f"{where[0].upper()}{where[1:]}, no radiotherapy since: consider post-operative radiotherapy "
            "referral",
            _postop_rationale(t),
            [f"Refer to radiation oncology for post-operative radiotherapy to the fixed site ({where})."],
            referrals=(Referral.RADIATION_ONCOLOGY,),
            evidence=("S14",),
        )
    summary, rationale, recs = focal
    if fixed:
        recs.insert(
            1,
            f"Also consider post-operative radiotherapy to the fixed site ({where}, no radiotherapy since).",
        )
        rationale = f"{rationale} {_postop_rationale(t)}"
    return t.finding(Indicator.INFO, summary, rationale, recs, referrals=(Referral.RADIATION_ONCOLOGY,))


def _focal_pain(ctx: RuleContext, t: Trace) -> tuple[str, str, list[str]] | None:
    """Focal bone pain at a lesion not irradiated recently: the summary, rationale and advice."""
    score = t.pain()
    if score is None or score.value < t.v("pain.nrs_moderate_min") or not ctx.facts.lesions:
        return None
    lesions = ctx.facts.lesions
    targets = _painful_lesions(lesions, score.site)
    days = t.v("pain.rt_recent_days")
    rt = [p for p in procedures(ctx.facts, c.RADIOTHERAPY) if _recent_rt(p, ctx, days)]
    covered: set[BoneLesion] = set()
    for proc in rt:
        if proc.site is None or proc.site.site is SiteClass.UNKNOWN:
            t.fact(UsedFact("Radiotherapy (site not recorded)", proc.status, proc.ref, str(proc.performed)))
            t.miss(
                "site of recent radiotherapy",
                "not assumed to cover the painful site: confirm what was treated",
            )
            continue
        treated, certain = treated_lesions(lesions, proc.site)
        shown = site_label(proc.site).removesuffix(" lesion")
        if certain:
            covered.update(treated)
        elif set(treated) & set(targets):
            t.fact(UsedFact(f"Radiotherapy ({shown})", proc.status, proc.ref, str(proc.performed)))
            t.miss(
                f"which lesion the radiotherapy to {shown} treated (side or level not recorded)",
                "not assumed to cover the painful lesion: confirm what was treated",
            )
    untreated = [les for les in targets if les not in covered]
    if not untreated:
        return None
    for les in untreated:
        t.fact(UsedFact("Bone metastasis", les.site.text or les.site.site.value, les.ref))
    for proc in rt:
        if proc.site is None or proc.site.site is SiteClass.UNKNOWN:
            continue  # already named above as radiotherapy whose site was not recorded
        if set(treated_lesions(lesions, proc.site)[0]) & set(untreated):
            continue
        # Radiotherapy to another lesion is shown, so the reader sees why it does not count for this one.
        shown = f"Radiotherapy ({site_label(proc.site).removesuffix(' lesion')}): another site"
        t.fact(UsedFact(shown, proc.status, proc.ref, str(proc.performed)))
    if score.site is None:
        t.miss("site of the pain", "every bone metastasis without recent radiotherapy is considered")
    recs = [
        "Refer to radiation oncology: 8 Gy single fraction, 20 Gy/5, 24 Gy/6 and 30 Gy/10 give equivalent "
        "pain relief; a single fraction suits uncomplicated metastases or limited life expectancy, with "
        "more frequent retreatment (S15a).",
        "Stereotactic body radiotherapy is an option for selected patients with good performance status, no "
        "neurological signs and no planned surgery (S15b).",
    ]
    if any(les.site.site in _SPINE for les in untreated):
        recs.append("Spinal lesion: assess stability (SINS) before radiotherapy (S15b).")
    recs.append("New mechanical pain at a lesion needs assessment for fracture or instability.")
    sites = ", ".join(sorted({les.site.text or les.site.site.value for les in untreated}))
    if len(sites) > 40:
        sites = f"{len(untreated)} sites"
    return (
        f"Focal bone pain (NRS {score.value:g}): consider radiotherapy referral ({sites})",
        f"Pain at or above the moderate band at a bone metastasis without radiotherapy in the last "
        f"{t.label('pain.rt_recent_days')}.",
        recs,
    )


def _postop_rationale(t: Trace) -> str:
    return (
        f"A lesion surgically fixed within the last {t.label(_POSTOP_DAYS)}, or on a date not recorded, with "
        "no radiotherapy to it recorded since the operation: radiotherapy follows fixation."
    )


def _postop(ctx: RuleContext, t: Trace) -> list[str]:
    """The lesions fixed recently (or on an unrecorded date) with no radiotherapy to them recorded since,
    as "T9 lesion fixed 2025-05-02"; what they rest on is added to ``t``.

    Only a completed fixation certainly of the lesion counts (the lesion evidence's ``fixations``, as R04
    reads them).  Radiotherapy covers the fixation when it is certainly of the lesion and dated on or after
    the operation, or under way now.  Radiotherapy that may be of another lesion, or whose date cannot be
    placed, is named and the suggestion kept: a referral already made costs a click, post-operative
    radiotherapy forgotten costs local control."""
    # Read from the thresholds and relied on only when a lesion is suggested: a card about focal pain alone
    # does not cite the window.
    days = ctx.th.v(_POSTOP_DAYS)
    lesions = ctx.facts.lesions
    rts = [p for p in procedures(ctx.facts, c.RADIOTHERAPY) if p.status not in _RT_NOT_POSTOP]
    out: list[str] = []
    for ev in lesion_evidence(ctx.facts, ctx.today, ctx.th, ctx.index):
        # Newest dated fixation within the window, else an undated one (it may be recent); fixations only
        # older than the window ask nothing.
        fix = next(
            (f for f in ev.fixations if within_days(_by_today(f, ctx.today), ctx.today, days)), None
        ) or next((f for f in ev.fixations if f.when is None), None)
        if fix is None:
            continue
        label = lesion_label(ev.lesion)
        used = [
            UsedFact("Bone metastasis", ev.lesion.site.text or ev.lesion.site.site.value, ev.lesion.ref),
            used_attr(f"Surgical fixation ({label})", fix),
        ]
        missing: list[MissingFact] = []
        if fix.when is None:
            missing.append(
                MissingFact(
                    f"date of the surgical fixation of the {label}",
                    "may be recent: post-operative radiotherapy suggested",
                )
            )
        covered = False
        for rt in rts:
            possible, certain = _rt_of(lesions, ev.lesion, rt)
            if not possible:
                continue
            if fix.when is not None and rt.performed is not None and rt.performed < fix.when:
                continue  # before the operation: not post-operative radiotherapy
            # Dated radiotherapy certainly followed the operation only from its earliest day: a course of
            # "May 2025" may have preceded a fixation of 20 May (``performed`` is its latest day, 31 May).
            placed = (rt.performed is None and rt.status in _RT_CURRENT) or (
                fix.when is not None
                and rt.performed is not None
                and (rt.performed_from or rt.performed) >= fix.when
            )
            if placed and certain:
                covered = True
                break
            shown = _rt_site(rt)
            used.append(UsedFact(f"Radiotherapy ({shown})", rt.status, rt.ref, iso(rt.performed)))
            if not certain:
                missing.append(
                    MissingFact(
                        f"whether the radiotherapy ({shown}, {iso(rt.performed) or 'undated'}) treated the "
                        f"{label}",
                        "not assumed to be its post-operative radiotherapy: suggestion kept",
                    )
                )
            elif fix.when is not None:  # certainly of the lesion, not placed after the operation
                missing.append(
                    MissingFact(
                        f"date of the radiotherapy to the {label}"
                        if rt.performed is None
                        else f"whether the radiotherapy to the {label} ({iso(rt.performed)}) followed the "
                        "fixation",
                        "not known to follow the fixation: suggestion kept",
                    )
                )
        if covered:
            continue
        t.rely(_POSTOP_DAYS)
        t.fact(*used)
        t.missing.extend(m for m in missing if m not in t.missing)
        out.append(f"{label} fixed {recorded_date(fix, undated='on an unrecorded date')}")
    return out


def _by_today(fix: Attributed, today: date) -> date | None:
    """A fixation's day for "within the window?": a fixation dated to the current month or year is read at
    its latest day (30 June), still to come, which no window counts; it was done by today."""
    if fix.when is not None and fix.earliest is not None and fix.earliest <= today < fix.when:
        return today
    return fix.when


def _rt_of(lesions: tuple[BoneLesion, ...], lesion: BoneLesion, rt: ProcedureFact) -> tuple[bool, bool]:
    """Whether radiotherapy may be of this lesion, and whether it certainly is (the lesion it names in
    ``focus`` and no other, or a field that certainly treated it, as for focal pain)."""
    if rt.focus:
        named = [les for les in lesions if les.ref in rt.focus]
        return lesion in named, named == [lesion]
    if rt.site is None or rt.site.site is SiteClass.UNKNOWN:
        return True, False
    treated, certain = treated_lesions(lesions, rt.site)
    return lesion in treated, certain and lesion in treated


def _rt_site(rt: ProcedureFact) -> str:
    if rt.site is None or rt.site.site is SiteClass.UNKNOWN:
        return "site not recorded"
    return site_label(rt.site).removesuffix(" lesion")


@rule(
    "P11",
    "Neuropathic component without an adjuvant",
    Category.PAIN,
    concepts=(
        *RENAL_CONCEPTS,
        c.PAIN_SCORE,
        c.NEUROPATHIC_PAIN,
        c.PERIPHERAL_NEUROPATHY,
        c.RF_RADICULAR_PAIN,
        c.PAIN_MECHANISM,
        c.GABAPENTINOID,
        c.SNRI_TCA,
        c.TRAMADOL,
    ),
    thresholds=(*PAIN_KEYS, *RENAL_KEYS, "pain.nrs_moderate_min", "pain.mechanism_lookback_days"),
    evidence=("S19", "S18", "S20", "S02"),
    unverified=True,
)
def p11(ctx: RuleContext, t: Trace) -> Finding | None:
    score = t.pain()
    if score is None or score.value < t.v("pain.nrs_moderate_min") or ctx.has(c.GABAPENTINOID, c.SNRI_TCA):
        return None
    t.v("pain.mechanism_lookback_days")
    mechanism = pain_mechanism(ctx.facts, ctx.today, ctx.th, ctx.index)
    if not mechanism.has_neuropathic_component:
        return None
    t.fact(UsedFact("Pain mechanism", mechanism.kind.value), *mechanism.used)
    recs = [
        "Add an adjuvant: gabapentin or pregabalin, duloxetine, or a tricyclic (amitriptyline or "
        "nortriptyline); start low and titrate slowly.",
        "Topical lidocaine can help localised neuropathic pain.",
        "Sedation and dizziness raise fall risk: screen for falls (see P12).",
    ]
    renal = t.renal("gabapentinoid dose cannot be adjusted: check renal function before starting")
    if not renal.known:
        recs.append("Renal function unknown: check it before dosing a gabapentinoid.")
    else:
        recs.append(f"Adjust the gabapentinoid dose to renal function ({renal.describe()}).")
    if ctx.has(c.TRAMADOL):
        recs.append("Tramadol active: duloxetine or a tricyclic adds serotonin-toxicity risk (see P24).")
    return t.finding(
        Indicator.INFO,
        f"{mechanism.kind.value.capitalize()} pain (NRS {score.value:g}): consider a neuropathic adjuvant",
        "Neuropathic component with pain at or above the moderate band and no gabapentinoid, SNRI or TCA.",
        recs,
    )
