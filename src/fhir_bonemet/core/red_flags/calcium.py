"""Red flag R03: hypercalcaemia, read on :func:`~fhir_bonemet.core.evidence.labs.corrected_calcium`.

Bands on corrected total calcium: above the upper limit of normal (warning: repeat, review causes),
12 to <14 mg/dL (critical: urgent review; exercise is held by the global gate), >= 14 mg/dL or symptomatic
(critical: admit).  At every band the active calcium and vitamin D products are named and to be stopped
(on order hooks a draft of one is offered for removal): they feed the rise.  The value is shown in the
unit the laboratory reported it in.  A calcium the laboratory reported in mmol/L is critical above
3.4 mmol/L as well (the published mmol/L band, 13.6 mg/dL: the two unit systems' bands do not convert
exactly, and the lower one is the cautious one).  An ionised result is banded on its own thresholds,
which await clinical review.

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

from fhir_bonemet.core.evidence import unreadable as unread_values
from fhir_bonemet.core.evidence.hypercalcaemia import HYPERCALCAEMIA_KEYS, hypercalcaemia_state
from fhir_bonemet.core.evidence.labs import CalciumMethod
from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.context import RuleContext
from fhir_bonemet.core.model.facts import UnreadableValue
from fhir_bonemet.core.model.finding_builder import RENAL_KEYS, Trace
from fhir_bonemet.core.model.findings import (
    Category,
    Finding,
    Indicator,
    MissingFact,
    Referral,
    UsedFact,
    spoken_list,
)
from fhir_bonemet.core.model.rule import rule
from fhir_bonemet.core.model.used_facts import med_label, used_condition, used_obs

__all__ = ["r03_hypercalcaemia"]


@rule(
    "R03",
    "Hypercalcaemia",
    Category.RED_FLAG,
    concepts=(
        c.LAB_CALCIUM,
        c.LAB_CALCIUM_CORRECTED,
        c.LAB_CALCIUM_IONISED,
        c.LAB_ALBUMIN,
        c.SYMPTOMATIC_HYPERCALCAEMIA,
        c.HYPERCALCAEMIA,
        c.CALCIUM_VITAMIN_D,
        c.LAB_CREATININE,
        c.BODY_WEIGHT,
        c.LAB_CRCL,
        c.LAB_EGFR,
    ),
    thresholds=(
        *RENAL_KEYS,
        "pain.za_crcl_min",
        *HYPERCALCAEMIA_KEYS,
    ),
    evidence=("S24", "S17"),
    on_orders=True,  # critical bands interrupt any order; the mild band speaks when a supplement is ordered
)
def r03_hypercalcaemia(ctx: RuleContext, t: Trace) -> Finding | None:
    today, th, idx = ctx.today, ctx.th, ctx.index
    state = hypercalcaemia_state(ctx.facts, today, th, idx)
    ca, symptomatic = state.calcium, state.symptomatic
    used: list[UsedFact] = [used_obs("Symptoms of hypercalcaemia", o) for o in symptomatic]
    missing: list[MissingFact] = [
        MissingFact("date of the hypercalcaemia symptom record", "treated as current")
        for o in symptomatic[:1]
        if o.effective is None
    ]
    # A symptom answer received but not read may be "yes" (admit), but admission is not advised on an
    # answer nobody could read: the symptoms are to be checked now, and the card says why.
    unread = (
        None
        if symptomatic
        else unread_values.received(
            idx, c.SYMPTOMATIC_HYPERCALCAEMIA, today, th.v("red_flags.symptom_lookback_days")
        )
    )
    keys = list(state.keys)
    if ca is None:
        if state.band is None:
            if unread is None:
                return None
            return _unread_without_calcium(t, unread)
        used.extend(used_condition("Hypercalcaemia", x) for x in state.conditions)
        missing.append(
            MissingFact(
                "calcium result within the lab lookback",
                "severity unknown; treated as urgent",
                concept=c.LAB_CALCIUM,
            )
        )
        band, shown = state.band, "not measured recently"
    else:
        used.extend(ca.used)
        if ca.method is CalciumMethod.UNCORRECTED:
            missing.append(
                MissingFact(
                    "albumin taken with the calcium",
                    "not corrected; true value may be higher",
                    concept=c.LAB_ALBUMIN,
                )
            )
        if state.band is None:
            return None
        band, shown = state.band, ca.short
    check = unread is not None and band != "critical"
    if band == "mild" and not check and not ctx.concerns_focus(ctx.active(c.CALCIUM_VITAMIN_D)):
        # Order hooks: a mildly raised calcium is not news unless calcium is being ordered; with an
        # unreadable symptom answer beside it, it may be symptomatic hypercalcaemia, which always is.
        return None
    if unread is not None:
        missing.append(
            MissingFact(
                unread_values.shown(unread),
                "not read as symptomatic (that would mean admission): check the symptoms now"
                if check
                else "not used; admission is suggested already",
                unreadable=True,
            )
        )
    t.fact(*used)
    t.missing.extend(missing)
    t.rely(*keys)
    return _r03_finding(
        t,
        band,
        shown,
        unverified=any(th[k].basis == "unverified" for k in keys),
        check_symptoms=unread if check else None,
    )


def _recorded(unread: UnreadableValue) -> str:
    if unread.no_answer is None:
        return "An answer about symptoms of hypercalcaemia was recorded but could not be read"
    return f"Symptoms of hypercalcaemia were recorded {unread_values.recorded_how((unread,))}"


def _check_symptoms(unread: UnreadableValue) -> str:
    said = "is unknown" if unread.no_answer is not None else "could not be read"
    return (
        f"The symptom answer {said}: check now for confusion, polyuria, constipation and weakness; "
        "if any is present, suggest admission now."
    )


def _unread_without_calcium(t: Trace, unread: UnreadableValue) -> Finding:
    """R03 when the only sign is a hypercalcaemia symptom answer that could not be read and no calcium is
    recent: symptomatic hypercalcaemia is an emergency, so its silence would be unsafe; a warning (neither
    the symptoms nor a high calcium is known) asking for both to be checked now."""
    t.missing.append(
        MissingFact(
            unread_values.shown(unread),
            "not read as symptomatic: check the symptoms and the calcium now",
            unreadable=True,
        )
    )
    t.missing.append(
        MissingFact("calcium result within the lab lookback", "not assumed normal", concept=c.LAB_CALCIUM)
    )
    t.rely("lookback.lab_days", "red_flags.symptom_lookback_days")
    return t.finding(
        Indicator.WARNING,
        f"Hypercalcaemia symptom answer {unread_values.answer_state(unread)}, no recent calcium: check "
        "calcium and symptoms now",
        f"{_recorded(unread)}; no calcium result is recent.",
        (
            "Check corrected calcium (calcium with albumin) today.",
            _check_symptoms(unread),
            unread_values.to_correct((unread,)),
        ),
    )


def _supplements(t: Trace) -> tuple[str, str]:
    """The calcium and vitamin D products to stop: (summary clause, recommendation)."""
    ctx = t.ctx
    supplements = ctx.active(c.CALCIUM_VITAMIN_D)
    if not supplements:
        if any("medication" in source.lower() for source in ctx.facts.unavailable):
            return (
                "stop any calcium/vitamin D",
                "The medication list could not be read: ask about calcium and vitamin D products; stop them.",
            )
        return (
            "",
            "No calcium or vitamin D product on the medication list: ask about over-the-counter ones and "
            "stop them while calcium is high.",
        )
    t.meds(supplements)
    t.act(supplements, "delete", "calcium is high: do not give calcium or vitamin D")
    names = ", ".join(dict.fromkeys(med_label(m) for m in supplements))
    # The summary names what to stop by ingredient: the products' full names ("Calcium carbonate 1250 mg /
    # colecalciferol 400 IU tablet") pushed "hold exercise" past the summary's limit.  The line names the
    # products.  A product with no ingredient known is named as recorded.
    ingredients = [*dict.fromkeys(i.lower() for m in supplements for i in (m.ingredients or (med_label(m),)))]
    return (
        f"stop {spoken_list(ingredients)}",
        f"Stop {names}: calcium and vitamin D add to the hypercalcaemia.",
    )


def _bisphosphonate_renal(t: Trace) -> tuple[str, ...]:
    """What renal function says about the bisphosphonate the urgent and severe bands propose, as card lines:
    hypercalcaemia itself injures the kidney, and below the label's clearance cut-off zoledronic acid is given
    only if the benefit outweighs the risk (S17).  Nothing to add when renal function is above the cut-off."""
    renal = t.renal("check creatinine before the bisphosphonate")
    if renal.value is None:
        return ("Renal function unknown: check creatinine before the bisphosphonate.",)
    if renal.value < t.v("pain.za_crcl_min"):
        edge = t.renal_label("pain.za_crcl_min", renal)
        return (
            f"{renal.label()} {renal.unit()} is below {edge}: zoledronic acid only if the benefit outweighs "
            "the risk (label); ask the specialist.",
        )
    return ()


def _r03_finding(
    t: Trace, band: str, shown: str, *, unverified: bool, check_symptoms: UnreadableValue | None = None
) -> Finding:
    th = t.ctx.th
    hold = "hold exercise"
    stop_clause, stop_rec = _supplements(t)
    stop = f"{stop_clause}; " if stop_clause else ""
    recs: tuple[str, ...]
    if band == "critical":
        summary = (
            f"Severe or symptomatic hypercalcaemia ({shown}): consider immediate admission; {stop}{hold}"
        )
        recs = (
            "Severe (or symptomatic: confusion, polyuria, constipation, weakness): suggest admission now.",
            stop_rec,
            "IV fluids and a bisphosphonate per local protocol.",
            *_bisphosphonate_renal(t),
        )
    elif band == "urgent":
        summary = f"Hypercalcaemia ({shown}): suggest urgent review, IV fluids; {stop}{hold}"
        recs = (
            "Urgent medical review; IV rehydration.",
            stop_rec,
            "Consider zoledronic acid for hypercalcaemia of malignancy (from "
            f"{th['red_flags.calcium_urgent_min'].label()}).",
            *_bisphosphonate_renal(t),
            "Hold structured exercise until calcium is controlled.",
        )
    else:
        summary = f"Calcium above normal ({shown}): {stop}suggest repeat test and review causes"
        recs = ("Repeat calcium with albumin and review causes.", stop_rec)
    if check_symptoms is not None:
        summary += "; check symptoms now"
        recs = (recs[0], _check_symptoms(check_symptoms), *recs[1:])
    # Urgent advice is critical advice: the rule says so itself (the card never recolours a finding).
    return t.finding(
        Indicator.WARNING if band == "mild" else Indicator.CRITICAL,
        summary,
        f"Hypercalcaemia band: {band} ({shown}).",
        recs,
        referrals=(Referral.ACUTE_ONCOLOGY,) if band != "mild" else (),
        unverified=unverified,
    )
