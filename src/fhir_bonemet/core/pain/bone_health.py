"""Bone-modifying agents (BMA): P07-P10, R06 (hypocalcaemia on a BMA) and R07 (osteonecrosis of the jaw).

Zoledronic acid is dosed by Cockcroft-Gault CrCl (S17): the renally adjusted dose is compared with the
dose the order carries, and a draft order with too high a dose (or any dose when CrCl is below the
minimum) is named so the card can offer to change or remove it.  Calcium is the albumin-corrected value
of :func:`fhir_bonemet.core.evidence.labs.corrected_calcium` (ionised calcium compared with ionised limits).
R06 supersedes P09 when calcium is already low.

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

from fhir_bonemet.core.evidence.derived import RenalFunction
from fhir_bonemet.core.evidence.dose_arithmetic import dose_mg, has_ingredient
from fhir_bonemet.core.evidence.hypercalcaemia import HYPERCALCAEMIA_KEYS, hypercalcaemia_state
from fhir_bonemet.core.evidence.labs import (
    CalciumMethod,
    CalciumResult,
    calcium_above_uln,
    calcium_uln_key,
    corrected_calcium,
)
from fhir_bonemet.core.evidence.pregnancy import PREGNANCY_CONCEPTS, PREGNANCY_KEYS, pregnancy_state
from fhir_bonemet.core.evidence.unreadable import brief, received
from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.context import RuleContext
from fhir_bonemet.core.model.facts import MedicationFact
from fhir_bonemet.core.model.finding_builder import RENAL_KEYS, Trace
from fhir_bonemet.core.model.findings import (
    Category,
    DoseChange,
    Finding,
    Indicator,
    OrderChange,
    Referral,
    UsedFact,
)
from fhir_bonemet.core.model.queries import procedures
from fhir_bonemet.core.model.rule import rule
from fhir_bonemet.core.model.used_facts import used_condition, used_obs
from fhir_bonemet.core.pain.medicines import RENAL_CONCEPTS

BMA_CLASSES = (c.BONE_MODIFYING_AGENT, c.ZOLEDRONIC_ACID, c.PAMIDRONATE, c.DENOSUMAB)
ZA_NAME = "zoledronic acid"
# (lower CrCl bound of the band, dose key), highest band first; below the last bound: not recommended.
ZA_BANDS = (
    ("pain.za_crcl_full_dose_above", "pain.za_dose_full"),
    ("pain.za_crcl_band_50_min", "pain.za_dose_crcl_50_60"),
    ("pain.za_crcl_band_40_min", "pain.za_dose_crcl_40_49"),
    ("pain.za_crcl_min", "pain.za_dose_crcl_30_39"),
)
ZA_KEYS = (*RENAL_KEYS, *(k for band in ZA_BANDS for k in band), "pain.za_dose_tolerance_mg")
CALCIUM_KEYS = (
    "lookback.lab_days",
    "labs.calcium_albumin_pair_hours",
    "red_flags.calcium_albumin_coefficient",
    "red_flags.calcium_reference_albumin",
    "pain.calcium_lln",
    "pain.calcium_lln_mmol",
    "pain.ionised_calcium_lln",
)
CALCIUM_CONCEPTS = (c.LAB_CALCIUM, c.LAB_CALCIUM_CORRECTED, c.LAB_CALCIUM_IONISED, c.LAB_ALBUMIN)


def bmas_of(ctx: RuleContext) -> tuple[MedicationFact, ...]:
    return ctx.active(*BMA_CLASSES)


def pregnancy_blocks_bma(ctx: RuleContext) -> bool:
    """P07, P08, P09 and P10 stay silent in pregnancy and breast-feeding: P40 speaks for the agent (it is
    not to be started, dosed or prepared for; see :mod:`fhir_bonemet.core.pain.pregnancy`)."""
    return pregnancy_state(ctx.index, ctx.today, ctx.th).applies


def za_dose_for(crcl: float, t: Trace) -> float | None:
    """Renally adjusted zoledronic acid dose in mg (S17); None when CrCl is below the minimum."""
    full_above, full_dose = ZA_BANDS[0]
    if crcl > t.v(full_above):
        return t.v(full_dose)
    for bound, dose in ZA_BANDS[1:]:
        if crcl >= t.v(bound):
            return t.v(dose)
    return None


def _za_table(t: Trace, renal: RenalFunction) -> str:
    """The label's dose table, which is by creatinine clearance (S17).  An eGFR compared with it in place of
    a clearance is said to be, and the bands are given in its unit, the unit of the figure beside them."""
    v = t.v
    full, b50, b40, low = (v(bound) for bound, _ in ZA_BANDS)
    d_full, d50, d40, d30 = (v(dose) for _, dose in ZA_BANDS)
    basis = (
        "CrCl (S17; eGFR used in place of creatinine clearance)" if renal.method == "egfr" else "CrCl (S17)"
    )
    return (
        f"Zoledronic acid by {basis}: >{full:g} {renal.unit()} {d_full:g} mg; {b50:g}-{full:g} {d50:g} mg; "
        f"{b40:g}-{b50 - 1:g} {d40:g} mg; {low:g}-{b40 - 1:g} {d30:g} mg; <{low:g} not recommended. "
        "Check creatinine before every dose."
    )


def calcium(t: Trace) -> CalciumResult | None:
    for key in CALCIUM_KEYS[:2]:
        t.v(key)
    result = corrected_calcium(t.ctx.facts, t.ctx.today, t.ctx.th, t.ctx.index)
    if result is not None:
        t.fact(*result.used)
        # Only an uncorrected total calcium lacks its albumin; a computed correction carries its formula
        # in ``note`` too, and read as a gap it named the albumin shown under "Based on" as missing.
        if result.method is CalciumMethod.UNCORRECTED:
            t.miss("albumin taken with the calcium", result.note, c.LAB_ALBUMIN)
    return result


def calcium_low(t: Trace, ca: CalciumResult | None) -> bool:
    if ca is None:
        return False
    if not ca.is_total:
        return ca.value < t.v("pain.ionised_calcium_lln")
    if ca.molar:
        # A calcium reported in mmol/L is read against the limit in mmol/L: the two limits do not convert
        # exactly (2.12 mmol/L is 8.497 mg/dL), and a result at the limit is not below it.  Compared at the
        # two decimals the limit, the laboratory and the card use: corrected with albumin here, 2.00 mmol/L
        # with 34 g/L is 2.1198 (the mg/dL coefficient), 2.12 by the mmol/L formula of clinical-rules R03.
        return round(ca.mmol_per_l, 2) < t.v("pain.calcium_lln_mmol")
    return ca.value < t.v("pain.calcium_lln")


def dental_exam_on_record(ctx: RuleContext) -> bool:
    done = [p for p in procedures(ctx.facts, c.DENTAL_EXAM) if p.status not in ("not-done", "stopped")]
    return bool(
        done
        or ctx.index.observations(c.DENTAL_EXAM)
        or [o for o in ctx.facts.orders if c.DENTAL_EXAM in o.concepts]
    )


@rule(
    "P07",
    "Bone-modifying agent not in use",
    Category.BONE_HEALTH,
    concepts=(
        *BMA_CLASSES,
        c.BONE_METASTASIS,
        c.PRIMARY_BREAST,
        c.PRIMARY_PROSTATE,
        c.PRIMARY_SOLID,
        c.DENTAL_EXAM,
        *RENAL_CONCEPTS,
        *PREGNANCY_CONCEPTS,
    ),
    thresholds=(*RENAL_KEYS, *PREGNANCY_KEYS, "pain.za_crcl_min", "pain.bma_min_life_expectancy_months"),
    evidence=("S14", "S16"),
)
def p07(ctx: RuleContext, t: Trace) -> Finding | None:
    if not ctx.facts.lesions or bmas_of(ctx) or pregnancy_blocks_bma(ctx):
        return None
    primaries = {les.primary_cancer for les in ctx.facts.lesions if les.primary_cancer}
    primaries |= {concept for cond in ctx.facts.conditions for concept in cond.concepts} & {
        c.PRIMARY_BREAST,
        c.PRIMARY_PROSTATE,
        c.PRIMARY_SOLID,
    }
    t.fact(UsedFact("Bone metastasis", "active", ctx.facts.lesions[0].ref))
    months = t.label("pain.bma_min_life_expectancy_months")
    if primaries & {c.PRIMARY_BREAST, c.PRIMARY_PROSTATE}:
        first = (
            "Breast or prostate primary: zoledronic acid or denosumab reduce skeletal-related events (S14)."
        )
    else:
        if not primaries:
            t.miss("primary cancer", f"advice given as for other solid tumours (life expectancy >= {months})")
        first = (
            f"Other solid tumour: consider zoledronic acid or denosumab if life expectancy is >= {months}."
        )
    recs = [first, "Before starting: dental examination, calcium, creatinine and 25-OH vitamin D."]
    renal = t.renal("agent and dose cannot be chosen yet: check creatinine first")
    if renal.value is None:
        recs.append("Renal function unknown: check creatinine and calculate CrCl before choosing the agent.")
    elif renal.value < t.v("pain.za_crcl_min"):
        recs.append(
            f"{renal.describe()}: zoledronic acid not recommended; denosumab needs close calcium monitoring."
        )
    referrals = () if dental_exam_on_record(ctx) else (Referral.DENTAL,)
    if ctx.facts.medications_unknown:  # an agent may be active that the service could not see
        recs.insert(0, "Check the current medicines first: the medication list could not be read.")
        return t.finding(
            Indicator.INFO,
            "Medication list could not be read: check for a bone-modifying agent (zoledronic acid, "
            "denosumab)",
            "Bone metastasis; no bone-modifying agent was seen, but the medication list could not be read.",
            recs,
            referrals=referrals,
        )
    return t.finding(
        Indicator.INFO,
        "Bone metastases without a bone-modifying agent: consider zoledronic acid or denosumab",
        "Bone metastasis and no zoledronic acid, pamidronate or denosumab among the active medications.",
        recs,
        referrals=referrals,
    )


@rule(
    "P08",
    "Zoledronic acid dose for renal function",
    Category.BONE_HEALTH,
    concepts=(
        c.ZOLEDRONIC_ACID,
        c.HYPERCALCAEMIA,
        *CALCIUM_CONCEPTS,
        c.SYMPTOMATIC_HYPERCALCAEMIA,
        *RENAL_CONCEPTS,
        *PREGNANCY_CONCEPTS,
    ),
    thresholds=(*ZA_KEYS, *PREGNANCY_KEYS, *HYPERCALCAEMIA_KEYS, "pain.za_hypercalcaemia_creatinine_max"),
    evidence=("S17", "S16"),
    on_orders=True,
)
def p08(ctx: RuleContext, t: Trace) -> Finding | None:
    za = [m for m in ctx.meds if c.ZOLEDRONIC_ACID in m.classes or has_ingredient(m, ZA_NAME)]
    if not za or not ctx.concerns_focus(za) or pregnancy_blocks_bma(ctx):
        return None
    t.meds(za)
    renal = t.renal("the dose cannot be adjusted: check creatinine and calculate CrCl before every dose")
    table = _za_table(t, renal)
    if renal.value is None:
        return t.finding(
            Indicator.WARNING,
            "Renal function unknown: check creatinine (CrCl) before dosing zoledronic acid",
            "Zoledronic acid active or ordered and no recent creatinine clearance or eGFR.",
            (table,),
        )
    shown = renal.label()
    advised = za_dose_for(renal.value, t)
    if advised is None:
        t.act(za, "delete", f"zoledronic acid not recommended with {renal.describe()}")
        return t.finding(
            Indicator.CRITICAL,
            f"Zoledronic acid with {shown}: not recommended; consider denosumab with calcium checks",
            f"{renal.describe()} is below {t.renal_label('pain.za_crcl_min', renal)}.",
            (table, "Denosumab is an alternative: correct calcium first and monitor it closely (R06)."),
        )
    tolerance = t.v("pain.za_dose_tolerance_mg")
    too_high: list[tuple[MedicationFact, float]] = []
    for_hypercalcaemia = [m for m in za if c.HYPERCALCAEMIA in m.reason_concepts]
    # An order naming no reason while R03 calls for a bisphosphonate may be the hypercalcaemia dose, which
    # the label gives as 4 mg without the CrCl reduction: the card gives both readings rather than offer
    # to reduce it to the bone-metastasis dose.
    either, hypercalcaemia = (
        _unreasoned_in_hypercalcaemia(ctx, t, za) if advised < t.v("pain.za_dose_full") else ([], "")
    )
    for med in za:
        ordered = dose_mg(med, ZA_NAME)
        if med in for_hypercalcaemia:
            continue  # the CrCl table is the bone-metastasis schedule; not applied to a hypercalcaemia dose
        if isinstance(ordered, str):
            # Named by its ingredient: a full product name pushed the reason out of the shortened line.
            t.miss(f"ordered dose of {ZA_NAME} ({ordered})", f"compare it with the {advised:g} mg advised")
        elif med in either:
            continue
        elif ordered > advised + tolerance:
            too_high.append((med, ordered))
            t.act(
                [med],
                "update",
                f"reduce the dose to {advised:g} mg for {renal.describe()}",
                change=OrderChange.DOSE,
                dose=DoseChange("mg", dose=advised, reason="reduced for renal function", ingredient=ZA_NAME),
            )
    if too_high:
        ordered_mg = too_high[0][1]
        summary = f"Zoledronic acid {ordered_mg:g} mg is above the {advised:g} mg advised for {shown}: reduce"
    elif either:
        summary = (
            f"Zoledronic acid with {shown}: {t.v('pain.za_dose_full'):g} mg for hypercalcaemia, "
            f"{advised:g} mg if for bone metastases"
        )
    else:
        summary = f"Zoledronic acid: {advised:g} mg advised for {shown}; check creatinine before each dose"
    return t.finding(
        Indicator.WARNING,
        summary,
        f"Zoledronic acid dose depends on renal function: {renal.describe()}.{hypercalcaemia}",
        (
            table,
            "Withhold if renal function worsens.",
            *(
                ["Ordered for hypercalcaemia: check the dose against the label for that indication."]
                if for_hypercalcaemia
                else []
            ),
            *(_hypercalcaemia_dose_lines(t, advised, shown) if either else ()),
        ),
        unverified=bool(either) and t.ctx.th["pain.za_hypercalcaemia_creatinine_max"].basis == "unverified",
    )


def _unreasoned_in_hypercalcaemia(
    ctx: RuleContext, t: Trace, za: list[MedicationFact]
) -> tuple[list[MedicationFact], str]:
    """The zoledronic acid orders that name no reason, when the chart shows hypercalcaemia R03 treats as
    urgent or critical (its own band, read the same way), and a sentence saying so: none otherwise."""
    unreasoned = [m for m in za if not m.reason_concepts]
    if not unreasoned:
        return [], ""
    state = hypercalcaemia_state(ctx.facts, ctx.today, ctx.th, ctx.index)
    if not state.needs_treatment:
        return [], ""
    t.rely(*state.keys)
    if state.calcium is not None:
        t.fact(*state.calcium.used)
    else:
        t.fact(*(used_condition("Hypercalcaemia", x) for x in state.conditions))
    t.fact(*(used_obs("Symptoms of hypercalcaemia", o) for o in state.symptomatic))
    shown = state.calcium.short if state.calcium is not None else "calcium not measured recently"
    return unreasoned, f" The order names no reason and hypercalcaemia is {state.band} ({shown})."


def _hypercalcaemia_dose_lines(t: Trace, advised: float, shown: str) -> tuple[str, str]:
    """Both readings of a zoledronic acid order that names no reason, in hypercalcaemia (S17)."""
    creatinine = t.label("pain.za_hypercalcaemia_creatinine_max")
    return (
        f"If for hypercalcaemia of malignancy: {t.v('pain.za_dose_full'):g} mg (label), no CrCl reduction "
        f"while creatinine is below {creatinine}.",
        f"If for bone metastases: the CrCl table applies ({advised:g} mg for {shown}).",
    )


@rule(
    "P09",
    "Calcium and vitamin D on a bone-modifying agent",
    Category.BONE_HEALTH,
    concepts=(
        *BMA_CLASSES,
        c.CALCIUM_VITAMIN_D,
        c.LAB_VITAMIN_D,
        *CALCIUM_CONCEPTS,
        *RENAL_CONCEPTS,
        *PREGNANCY_CONCEPTS,
    ),
    thresholds=(
        *CALCIUM_KEYS,
        *RENAL_KEYS,
        *PREGNANCY_KEYS,
        "red_flags.calcium_uln",
        "red_flags.calcium_uln_mmol",
        "red_flags.ionised_calcium_uln",
        "pain.denosumab_high_risk_crcl_below",
        "pain.calcium_supplement_min_mg",
        "pain.vitamin_d_supplement_min_iu",
    ),
    evidence=("S17",),
    on_orders=True,
)
def p09(ctx: RuleContext, t: Trace) -> Finding | None:
    bmas = bmas_of(ctx)
    # In pregnancy or breast-feeding P40 asks to stop or cancel the agent: preparing its next dose (and
    # adding supplements "with this order") would contradict it.  A low calcium still speaks through R06.
    if not bmas or not ctx.concerns_focus(bmas) or pregnancy_blocks_bma(ctx):
        return None
    ca = calcium(t)
    low = calcium_low(t, ca)
    # "Hypercalcaemic" on the same limit as R03's warning band, so no supplement is held back for a
    # calcium R03 does not call high.
    high = ca is not None and calcium_above_uln(ca, t.ctx.th)
    if ca is not None:
        t.rely(calcium_uln_key(ca))
    reasons: list[str] = []
    if low:
        reasons.append("calcium below the lower limit of normal")  # R06 then speaks, naming P09
    if not ctx.has(c.CALCIUM_VITAMIN_D) and not high:
        reasons.append("no calcium and vitamin D supplement")
    unread = (
        None if ca is not None else received(ctx.index, c.LAB_CALCIUM, ctx.today, t.v("lookback.lab_days"))
    )
    if unread is not None:  # a calcium was received: say so, never "no result"
        reasons.append(f"calcium received but not read {brief(unread)}: verify it")
    elif ca is None:
        t.miss(
            f"calcium within {t.label('lookback.lab_days')}",
            "hypocalcaemia cannot be excluded: check before the next dose",
            c.LAB_CALCIUM,
        )
        reasons.append("no recent calcium result")
    denosumab = ctx.active(c.DENOSUMAB)
    high_risk = "pain.denosumab_high_risk_crcl_below"
    # The measure compared, named with the cut-off in its unit ("eGFR below 30 mL/min/1.73 m2"); unknown
    # renal function is to be checked as the clearance the cut-off is written in.
    below = ""
    if denosumab:
        renal = t.renal(
            f"the higher hypocalcaemia risk of CrCl below {t.label(high_risk)} cannot be excluded"
        )
        below = f"{renal.measure()} below {t.renal_label(high_risk, renal)}"
        if renal.value is None:
            reasons.append("renal function unknown on denosumab")
        elif renal.value < t.v(high_risk):
            reasons.append(f"denosumab with {renal.describe()}")
    if not reasons:
        return None
    t.meds(bmas)
    ca_mg, vit_d = t.v("pain.calcium_supplement_min_mg"), t.v("pain.vitamin_d_supplement_min_iu")
    # Each line says what this record calls for: "correct hypocalcaemia" only beside a low calcium, "add a
    # supplement" only where none is taken (the card fires as well for an unknown calcium or kidney).
    supplemented = ctx.has(c.CALCIUM_VITAMIN_D)
    recs = [
        "Correct hypocalcaemia before the next dose."
        if low
        else "Check calcium before the next dose; correct it first if low.",
        f"Continue at least {ca_mg:g} mg calcium and {vit_d:g} IU vitamin D daily."
        if supplemented
        else f"Supplement at least {ca_mg:g} mg calcium and {vit_d:g} IU vitamin D daily unless "
        "hypercalcaemic.",
    ]
    if high:
        recs[1] = "Calcium is above normal: do not add calcium supplements now (see R03)."
    vit = ctx.index.latest(c.LAB_VITAMIN_D, ctx.today, t.v("lookback.lab_days"))
    if vit is None:
        recs.append("Check 25-OH vitamin D.")
    elif vit.quantity is not None:
        t.fact(UsedFact("25-OH vitamin D", f"{vit.quantity.value:g} {vit.quantity.unit}", vit.ref))
    if denosumab:
        recs.append(f"Denosumab with {below} carries the highest hypocalcaemia risk: monitor calcium.")
    if not supplemented and not high:
        t.act(
            bmas,
            "update",
            "add daily calcium and vitamin D supplements with this order",
            change=OrderChange.ADD_CALCIUM_VITAMIN_D,
        )
    return t.finding(
        Indicator.WARNING,
        "Bone-modifying agent: secure calcium and vitamin D and check calcium before the next dose",
        "Bone-modifying agent active with " + "; ".join(reasons) + ".",
        recs,
    )
