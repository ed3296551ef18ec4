"""Tier → prescription (docs/clinical-model.md#prescription-by-tier) and the patient-level domain list.

The per-lesion cells of :mod:`fhir_bonemet.core.exercise.domains` are combined (the most restrictive cell
wins, every exclusion is kept and names its lesion), then the patient tier and the global gates tighten
them further.  Nothing here loosens a cell: a domain avoided for one lesion stays avoided whatever else
the record holds.

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from fhir_bonemet.core.exercise.domains import (
    ADL_ONLY,
    AEROBIC_NWB,
    AEROBIC_WB,
    BALANCE,
    FLEX,
    IMPACT,
    RESIST_LOWER,
    RESIST_TRUNK,
    RESIST_UPPER,
    STRUCTURED_DOMAINS,
    Cell,
)
from fhir_bonemet.core.exercise.gates import Gates
from fhir_bonemet.core.model.findings import DomainAdvice, DomainStatus, Tier
from fhir_bonemet.core.model.frozen_init import fast_init
from fhir_bonemet.core.model.thresholds import Thresholds
from fhir_bonemet.core.model.used_facts import num

__all__ = ["RegionCells", "build_domains", "progression", "stop_and_call", "supervision"]

_RANK = {DomainStatus.PERMITTED: 0, DomainStatus.RESTRICTED: 1, DomainStatus.AVOID: 2}
_RESIST = (RESIST_UPPER, RESIST_TRUNK, RESIST_LOWER)
_AEROBIC = (AEROBIC_WB, AEROBIC_NWB)


@fast_init
@dataclass(frozen=True, slots=True)
class RegionCells:
    """The matrix cells of one lesion (or of a suspected lesion), with the label used in exclusions."""

    label: str
    cells: Mapping[str, Cell]
    weight_bearing: bool


# Who supervises, by plan tier: a table made once (it was rebuilt on every call, five enum reads).
_SUPERVISION = {
    Tier.LOW: "Qualified exercise professional for the initial sessions, then home or community based.",
    Tier.MODERATE: "Supervised by a physiotherapist or clinical exercise physiologist with oncology training "
    "for most sessions.",
    Tier.HIGH: "Only after medical/surgical review; 1:1 physiotherapist supervision; ADL and safe-movement "
    "education first.",
    Tier.ADL_ONLY: "No structured programme: ADL, transfer and mobility maintenance with PT/OT referral and "
    "positioning advice.",
    Tier.HOLD: "Structured exercise on hold: functional mobility only until reviewed and re-tiered.",
}


def supervision(tier: Tier) -> str:
    return _SUPERVISION[tier]


def progression(tier: Tier, th: Thresholds) -> str:
    if tier is Tier.LOW:
        lo, hi = th["exercise.progression_low_weeks_min"], th["exercise.progression_low_weeks_max"]
        weeks = f"{num(lo.value)}-{num(hi.value)} weeks"
        return f"One variable at a time every {weeks} if pain is stable (service default)."
    if tier is Tier.MODERATE:
        return (
            f"Every {th['exercise.progression_moderate_weeks'].label().replace(' wk', ' weeks')} if stable."
        )
    return "No progression until re-tiered."


def stop_and_call(th: Thresholds) -> tuple[str, ...]:
    return th.derived(_stop_and_call)


def _stop_and_call(th: Thresholds) -> tuple[str, ...]:
    rise = num(th.v("exercise.stop_pain_rise_points"))
    hours = num(th.v("exercise.stop_pain_persist_hours"))
    weeks = num(th.v("exercise.restratify_weeks"))
    return (
        f"New or worse pain at a lesion (NRS rise of {rise} or more lasting over {hours} h): stop and "
        "contact the team.",
        "New weakness, numbness, difficulty walking or bladder/bowel change: stop and seek urgent help.",
        "A fall: stop and contact the team.",
        f"Re-assess every {weeks} weeks, and on any new lesion, score, fracture, radiotherapy or ECOG.",
    )


def _dose_table(th: Thresholds) -> Mapping[str, Mapping[Tier, str]]:
    """The dose text by domain group and tier (the same for every domain and every plan: built once per set
    of thresholds and shared by every call, hence typed read-only)."""
    rpe = f"RPE {num(th.v('exercise.rpe_low_min'))}-{num(th.v('exercise.rpe_low_max'))}"
    rm = (
        f"{num(th.v('exercise.resistance_target_rm_min'))}-{num(th.v('exercise.resistance_target_rm_max'))}RM"
    )
    return {
        "aerobic": {
            Tier.LOW: f"Moderate intensity ({rpe} on the 6-20 scale), building towards the survivor dose",
            Tier.MODERATE: "Light to moderate intensity; non-weight-bearing preferred for weight-bearing "
            "lesions",
            Tier.HIGH: "Non-weight-bearing or seated only; short bouts",
        },
        "resist": {
            Tier.LOW: f"Machines or bands; start low, go slow (light loads, more repetitions, towards {rm})",
            Tier.MODERATE: "Unaffected regions only; isometric trunk work where the spine is affected",
            Tier.HIGH: "Unaffected limbs only, light or isometric; nothing that loads a lesion",
        },
        FLEX: {
            Tier.LOW: "Static stretching within the pain-free range",
            Tier.MODERATE: "Static stretching within the pain-free range",
            Tier.HIGH: "Gentle range of motion only",
        },
        BALANCE: {
            Tier.LOW: "Include: from supported single-leg stance to tandem walking",
            Tier.MODERATE: "Include, with support",
            Tier.HIGH: "Seated or supported only",
        },
    }


def _dose(domain: str, tier: Tier, gates: Gates, table: Mapping[str, Mapping[Tier, str]]) -> str | None:
    group = "aerobic" if domain in _AEROBIC else "resist" if domain in _RESIST else domain
    text = table.get(group, {}).get(tier)
    if text is None:
        return None
    if domain == RESIST_TRUNK and tier is Tier.HIGH:
        text = "Light isometric holds only; nothing that loads a lesion"
    if domain in _AEROBIC and (gates.light_aerobic_only or gates.short_bouts) and tier is not Tier.HIGH:
        why = [w for w, on in (("platelets", gates.light_aerobic_only), ("fatigue", gates.short_bouts)) if on]
        text = f"Light intensity only ({', '.join(why)})"
    extra = []
    if gates.low_moderate_intensity and domain in (*_AEROBIC, *_RESIST) and tier is Tier.LOW:
        extra.append("low-to-moderate intensity only (haemoglobin)")
    if gates.short_bouts and domain in _AEROBIC:
        extra.append("short, frequent bouts (fatigue)")
    return "; ".join([text, *extra])


def _tighten(status: DomainStatus, to: DomainStatus) -> DomainStatus:
    return status if _RANK[status] >= _RANK[to] else to


def build_domains(
    regions: Sequence[RegionCells], tier: Tier, gates: Gates, th: Thresholds, hold_reason: str | None
) -> tuple[DomainAdvice, ...]:
    """One :class:`DomainAdvice` per domain in a fixed order; ``ex-adl-only`` only for HIGH and above."""
    out: list[DomainAdvice] = []
    any_wb = any(r.weight_bearing for r in regions)
    # Why the tier suspends structured exercise (None when it does not) is worked out once, and the statuses
    # are local names, rather than read per domain and region: on Python 3.11 each read of an enum member
    # (Tier.HOLD, DomainStatus.AVOID) takes the metaclass's slow attribute path.
    permitted, restricted, avoid = DomainStatus.PERMITTED, DomainStatus.RESTRICTED, DomainStatus.AVOID
    held_why: str | None = None
    if tier is Tier.HOLD:
        held_why = f"On hold: {hold_reason}"
    elif tier is Tier.ADL_ONLY:
        held_why = "ADL-only plan (performance status)"
    doses = {} if held_why is not None else th.derived(_dose_table)
    for domain in STRUCTURED_DOMAINS:
        status = permitted
        exclusions: list[str] = []
        for region in regions:
            cell = region.cells[domain]
            status = _tighten(status, cell.status)
            if cell.status is restricted:
                exclusions.append(f"{cell.exclusion} ({region.label})")
            elif cell.status is avoid:
                exclusions.append(f"Avoided for the {region.label}")
        dose: str | None = None
        if held_why is not None:
            status = avoid
            exclusions.append(held_why)
        else:
            status, exclusions = _tier_rules(domain, status, exclusions, tier, gates, any_wb)
            dose = _dose(domain, tier, gates, doses) if status is not avoid else None
        out.append(DomainAdvice(domain, status, tuple(dict.fromkeys(exclusions)), dose))
    if tier is Tier.HOLD:
        out.append(
            DomainAdvice(
                ADL_ONLY,
                DomainStatus.RESTRICTED,
                (f"On hold: {hold_reason}",),
                "Functional mobility and essential daily activities only, as advised by the treating team",
            )
        )
    elif tier is Tier.ADL_ONLY:
        out.append(
            DomainAdvice(
                ADL_ONLY, DomainStatus.PERMITTED, (), "ADL, transfers and mobility maintenance with PT/OT"
            )
        )
    elif tier is Tier.HIGH:
        out.append(
            DomainAdvice(ADL_ONLY, DomainStatus.PERMITTED, (), "ADL and safe-movement education first")
        )
    return tuple(out)


def _tier_rules(
    domain: str, status: DomainStatus, exclusions: list[str], tier: Tier, gates: Gates, any_wb: bool
) -> tuple[DomainStatus, list[str]]:
    high = tier.rank >= Tier.HIGH.rank
    moderate = tier.rank >= Tier.MODERATE.rank
    if domain == IMPACT and gates.no_impact:
        status = DomainStatus.AVOID
        exclusions.append("No impact or contact while platelets are low")
    if domain == IMPACT and moderate and status is not DomainStatus.AVOID:
        status = DomainStatus.AVOID
        exclusions.append(f"Avoided at the {tier.value} tier")
    if domain in _RESIST and gates.no_resistance:
        status = DomainStatus.AVOID
        exclusions.append("No resistance training while platelets are low")
    if domain == AEROBIC_WB and high:
        status = DomainStatus.AVOID
        exclusions.append("Non-weight-bearing or seated aerobic only (high tier)")
    elif domain == AEROBIC_WB and moderate and any_wb and status is DomainStatus.PERMITTED:
        status = DomainStatus.RESTRICTED
        exclusions.append("Non-weight-bearing preferred (weight-bearing lesion)")
    # The tier's own limits for these domains are carried by the dose text (see _dose).
    if domain in (*_RESIST, FLEX) and high:
        status = _tighten(status, DomainStatus.RESTRICTED)
    if domain == BALANCE and moderate:
        status = _tighten(status, DomainStatus.RESTRICTED)
    if domain in _AEROBIC and (gates.light_aerobic_only or gates.low_moderate_intensity or gates.short_bouts):
        status = _tighten(status, DomainStatus.RESTRICTED)
    return status, exclusions
