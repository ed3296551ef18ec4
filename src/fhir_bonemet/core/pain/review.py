"""Review of uncontrolled pain, local therapy and neuropathic adjuvants: P05, P06, P11
(docs/clinical-model.md#pain).

Patient-view only.  P05 looks for pain that stays at or above the moderate band on a strong opioid; P06
proposes radiotherapy for focal bone pain at a metastasis not irradiated recently; P11 proposes an
adjuvant when the pain has a neuropathic component.

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

from fhir_bonemet.core.evidence.derived import PainScore, pain_mechanism, pain_scores
from fhir_bonemet.core.evidence.dose_arithmetic import daily_mme
from fhir_bonemet.core.evidence.lesion_sites import attribute, site_label, treated_lesions
from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.context import RuleContext
from fhir_bonemet.core.model.facts import BodySite, BoneLesion, Laterality, ProcedureFact, SiteClass
from fhir_bonemet.core.model.finding_builder import PAIN_KEYS, RENAL_KEYS, Trace
from fhir_bonemet.core.model.findings import Category, Finding, Indicator, Referral, UsedFact
from fhir_bonemet.core.model.queries import procedures, within_days
from fhir_bonemet.core.model.rule import rule
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


@rule(
    "P06",
    "Focal bone pain: radiotherapy referral",
    Category.PAIN,
    concepts=(c.PAIN_SCORE, c.BONE_METASTASIS, c.RADIOTHERAPY, c.SINS_TOTAL),
    thresholds=(*PAIN_KEYS, "pain.nrs_moderate_min", "pain.rt_recent_days"),
    evidence=("S15a", "S15b", "S14"),
)
def p06(ctx: RuleContext, t: Trace) -> Finding | None:
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
    return t.finding(
        Indicator.INFO,
        f"Focal bone pain (NRS {score.value:g}): consider radiotherapy referral ({sites})",
        f"Pain at or above the moderate band at a bone metastasis without radiotherapy in the last "
        f"{t.label('pain.rt_recent_days')}.",
        recs,
        referrals=(Referral.RADIATION_ONCOLOGY,),
    )


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
