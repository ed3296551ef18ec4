"""Global gates that apply before tiering: blood counts, anaemia on record, calcium, fever, fatigue
(``docs/clinical-model.md#global-gates``).  The blood-count gates are a table (:data:`LAB_GATES`).

A *hold* gate suspends structured exercise (functional mobility only); a *restriction* gate removes or
softens domains.  A laboratory value that is missing is never assumed normal: the gap is reported, the
plan asks for the test before the first session, and no tier is lowered because of it.

Performance status (ECOG/KPS) is a person modifier and lives in :mod:`fhir_bonemet.core.exercise.tiers`.

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from fhir_bonemet.core.evidence.labs import CalciumMethod, LabValue, corrected_calcium, latest_lab
from fhir_bonemet.core.evidence.unreadable import answer_state, brief, is_answer, received, shown
from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.fact_index import FactIndex
from fhir_bonemet.core.model.facts import ConditionFact, PatientFacts, UnreadableValue
from fhir_bonemet.core.model.findings import MissingFact, UsedFact, shorten
from fhir_bonemet.core.model.queries import has_active, noted_on, within_days
from fhir_bonemet.core.model.thresholds import Thresholds
from fhir_bonemet.core.model.used_facts import ACTIVE_STATUSES, num, used_condition, used_obs

__all__ = [
    "LAB_GATES",
    "LAB_TESTS",
    "SERVICE_DEFAULT",
    "Gates",
    "LabGate",
    "LabTest",
    "Limit",
    "global_gates",
]

# How a gate that is a service default rather than a guideline says so, at the end of its description: the
# plan page and the CarePlan show it; a card drops it (its "await clinical review" line stands for it).
SERVICE_DEFAULT = " (service default)"


class Limit(StrEnum):
    """A restriction a gate puts on the prescription (read by :mod:`.prescription`)."""

    NO_RESISTANCE = "no resistance training"
    NO_IMPACT = "no impact or contact"
    LIGHT_AEROBIC_ONLY = "light aerobic only"
    LOW_MODERATE_INTENSITY = "low-to-moderate intensity"
    SHORT_BOUTS = "short, frequent bouts"


@dataclass(frozen=True, slots=True)
class LabGate:
    """One row of the laboratory gate table: a result below ``key`` has ``effect``.

    Rows of one laboratory test are read in order and the first that applies wins, so the hold row comes
    before the restriction row.
    """

    concept: str
    key: str  # threshold key; the gate applies when the latest result is below it
    effect: str  # card text after the value: "hold; medical review"
    hold: bool = False  # suspends structured exercise
    limits: frozenset[Limit] = frozenset()
    review: bool = False  # asks for a medical review (the card then warns and says so first)


@dataclass(frozen=True, slots=True)
class LabTest:
    """How a laboratory test is shown, and when its absence matters."""

    concept: str
    name: str  # "Platelets"
    unit: str  # shown after the value, as the cards render it (a plan page and a CarePlan show it as is)
    missing_what: str  # "platelet count"
    only_on_chemotherapy: bool = False  # a missing result matters only while on chemotherapy


# Counts in the cards' rendering of 10*9/L: a bare "Platelets 15" read as 15,000/µL to some, and the
# plan page and the CarePlan show this text without the card layer's unit rendering.
LAB_TESTS = (
    LabTest(c.LAB_PLATELETS, "Platelets", " ×10⁹/L", "platelet count"),
    LabTest(c.LAB_HAEMOGLOBIN, "Haemoglobin", " g/dL", "haemoglobin"),
    # On chemotherapy an unknown neutrophil count may be dangerously low.
    LabTest(c.LAB_NEUTROPHILS, "Neutrophils", " ×10⁹/L", "neutrophil count", only_on_chemotherapy=True),
)

LAB_GATES = (
    LabGate(
        c.LAB_PLATELETS,
        "exercise.platelets_hold_below",
        "hold; functional mobility only, avoid falls and Valsalva",
        hold=True,
    ),
    LabGate(
        c.LAB_PLATELETS,
        "exercise.platelets_restrict_below",
        "no resistance, impact or contact; light aerobic only",
        limits=frozenset({Limit.NO_RESISTANCE, Limit.NO_IMPACT, Limit.LIGHT_AEROBIC_ONLY}),
    ),
    # An anaemia on record holds too, whatever the haemoglobin (clinical-rules.md 2.5: "<7.0 g/dL, or
    # symptomatic anaemia"): a condition, not a value below a threshold, so not a row here (:func:`_anaemia`).
    LabGate(
        c.LAB_HAEMOGLOBIN, "exercise.haemoglobin_hold_below", "hold; medical review", hold=True, review=True
    ),
    LabGate(
        c.LAB_HAEMOGLOBIN,
        "exercise.haemoglobin_low_intensity_below",
        "low-to-moderate intensity only; medical review",
        limits=frozenset({Limit.LOW_MODERATE_INTENSITY}),
        review=True,
    ),
    LabGate(
        c.LAB_NEUTROPHILS,
        "exercise.neutrophils_hold_below",
        "hold (infection risk); no group or gym settings",
        hold=True,
    ),
)

# The rows of each test, in table order: the gates of every call read them.
_LAB_GATES_BY_CONCEPT = {
    test.concept: tuple(row for row in LAB_GATES if row.concept == test.concept) for test in LAB_TESTS
}


@dataclass(slots=True)
class Gates:
    hold: list[str] = field(default_factory=list)  # reasons that suspend structured exercise
    limits: set[Limit] = field(default_factory=set)
    descriptions: list[str] = field(default_factory=list)  # every gate that applied, for the card
    reviewed: list[str] = field(default_factory=list)  # those of them that ask for a medical review
    used: list[UsedFact] = field(default_factory=list)  # every value checked, normal or not
    triggers: list[UsedFact] = field(default_factory=list)  # the values behind the gates that applied
    missing: list[MissingFact] = field(default_factory=list)
    checks_before_start: list[str] = field(default_factory=list)  # tests to do before the first session
    keys: set[str] = field(default_factory=set)
    unverified: bool = False

    def apply(
        self, description: str, *facts: UsedFact, hold: str | None = None, review: bool = False
    ) -> None:
        """Record a gate that applied, the values behind it, for a hold gate the hold reason, and whether it
        asks for a medical review."""
        self.descriptions.append(description)
        self.triggers.extend(facts)
        if hold is not None:
            self.hold.append(hold)
        if review:
            self.reviewed.append(description)

    @property
    def any(self) -> bool:
        return bool(self.descriptions)

    @property
    def no_resistance(self) -> bool:
        return Limit.NO_RESISTANCE in self.limits

    @property
    def no_impact(self) -> bool:
        return Limit.NO_IMPACT in self.limits

    @property
    def light_aerobic_only(self) -> bool:
        return Limit.LIGHT_AEROBIC_ONLY in self.limits

    @property
    def low_moderate_intensity(self) -> bool:
        return Limit.LOW_MODERATE_INTENSITY in self.limits

    @property
    def short_bouts(self) -> bool:
        return Limit.SHORT_BOUTS in self.limits


def global_gates(facts: PatientFacts, today: date, th: Thresholds, idx: FactIndex) -> Gates:
    g = Gates()
    days = th.v("lookback.lab_days")
    g.keys.add("lookback.lab_days")
    for test in LAB_TESTS:
        lab = _lab(facts, today, th, idx, days, test, g)
        if test.concept == c.LAB_HAEMOGLOBIN:
            _anaemia(idx, today, th, lab, g)
    _fever(idx, today, th, g)
    _calcium(facts, today, th, idx, g)
    _fatigue(idx, today, th, g)
    return g


def _lab(
    facts: PatientFacts, today: date, th: Thresholds, idx: FactIndex, days: float, test: LabTest, g: Gates
) -> LabValue | None:
    """Apply the first row of :data:`LAB_GATES` for this test that the latest result falls under; the
    latest result, or None when there is none within the lookback."""
    lab = latest_lab(facts, test.concept, today, days, idx)
    if lab is None:
        if test.only_on_chemotherapy and not has_active(facts, today, c.CHEMOTHERAPY):
            return None
        when = " while on chemotherapy" if test.only_on_chemotherapy else ""
        unread = received(idx, test.concept, today, days)
        g.missing.append(
            MissingFact(
                f"{test.missing_what} within {num(days)} days{when}",
                "not assumed normal",
                concept=test.concept,
            )
            if unread is None
            else MissingFact(
                f"{test.missing_what} {brief(unread)}", "received but not read: not assumed normal", True
            )
        )
        if "full blood count" not in g.checks_before_start:
            g.checks_before_start.append("full blood count")
        return None
    rows = _LAB_GATES_BY_CONCEPT[test.concept]
    g.keys.update(row.key for row in rows)
    g.used.append(lab.used())
    # Two decimals at most, as LabValue shows it: a haemoglobin of 4.2 mmol/L is 6.76788 g/dL.
    shown = f"{test.name} {num(round(lab.value, 2))}{test.unit}"
    for row in rows:
        if lab.value < th.v(row.key):
            g.limits |= row.limits
            g.apply(
                f"{shown}: {row.effect}",
                lab.used(),
                hold=shown[0].lower() + shown[1:] if row.hold else None,
                review=row.review,
            )
            break
    return lab


# Longest condition text the gate quotes: a free-text Condition.code.text can run to a paragraph, and the
# gate's line must fit a card summary with its date and the haemoglobin.
_DISPLAY_MAX = 40


def _anaemia(idx: FactIndex, today: date, th: Thresholds, hb: LabValue | None, g: Gates) -> None:
    """An anaemia recorded as a current condition holds structured exercise, with medical review.

    clinical-rules.md 2.5 holds for "haemoglobin <7.0 g/dL, or symptomatic anaemia" [D]: an anaemia on
    record is read as the symptomatic one and holds whatever the haemoglobin, a normal one included (a count
    does not show breathlessness or dizziness on exertion, and the cautious reading of "or" is that either
    holds).
    That reading is a service default, and every code of the anaemia ValueSet (D63.0, D64.81, D64.9,
    271737000) is UNVERIFIED (profiles/README.md): the finding is marked as awaiting clinical review.

    Refuted and entered-in-error records never become facts; a resolved, inactive or remitted anaemia holds
    nothing.  A haemoglobin below the hold line has held already: the condition is then listed among the
    facts checked, not as a second hold.
    """
    found = [cond for cond in idx.conditions(c.ANAEMIA) if cond.clinical_status in ACTIVE_STATUSES]
    if not found:
        return
    # The newest first: the card names it, the facts list them all.
    found.sort(key=lambda cond: noted_on(cond, today) or date.min, reverse=True)
    evidence = [used_condition("Anaemia", cond) for cond in found]
    g.used.extend(evidence)
    if hb is not None and hb.value < th.v("exercise.haemoglobin_hold_below"):
        return
    despite = f"despite haemoglobin {hb.shown()}" if hb is not None else "whatever the haemoglobin"
    g.unverified = True
    g.apply(
        f"{_anaemia_named(found[0], today)}: hold {despite}; medical review{SERVICE_DEFAULT}",
        *evidence,
        hold="anaemia on record",
        review=True,
    )


def _anaemia_named(cond: ConditionFact, today: date) -> str:
    """ "Anaemia on record (Anemia in neoplastic disease, 2025-05-01)": the condition as recorded, and its
    onset (or, without one, the date it was recorded)."""
    parts = [shorten(cond.display, _DISPLAY_MAX)] if cond.display else []
    when = noted_on(cond, today)
    if when is not None:
        parts.append(when.isoformat())
    return "Anaemia on record" + (f" ({', '.join(parts)})" if parts else "")


def _fever(idx: FactIndex, today: date, th: Thresholds, g: Gates) -> None:
    fever_days = th.v("exercise.fever_lookback_days")
    g.keys.update(("exercise.fever_lookback_days", "exercise.fever_temperature_min"))
    evidence: list[UsedFact] = []
    newest = next((o for o in idx.observations(c.FEVER) if within_days(o.effective, today, fever_days)), None)
    if newest is not None and (
        newest.flag is True
        or (
            newest.quantity is not None
            and newest.quantity.unit == "Cel"
            and newest.quantity.value >= th.v("exercise.fever_temperature_min")
        )
    ):
        evidence.append(used_obs("Fever", newest))
    for cond in idx.conditions(c.FEVER):
        when = noted_on(cond, today)
        if cond.clinical_status in ACTIVE_STATUSES and within_days(when, today, fever_days):
            evidence.append(used_condition("Fever", cond))
    if evidence:
        g.used.extend(evidence)
        g.apply("Fever: hold until assessed", *evidence, hold="fever")
        return
    # A fever answer received but not read may be a fever: held as one until assessed (a hold costs one
    # check of the temperature; exercising through a fever on neutropenia costs more).
    unread = received(idx, c.FEVER, today, fever_days)
    if unread is None:
        return
    if not _may_be_fever(unread, th.v("exercise.fever_temperature_min")):
        g.missing.append(MissingFact(shown(unread), "no fever in any unit it could be in; verify it", True))
        return
    g.missing.append(
        MissingFact(shown(unread), "read as fever: exercise held until assessed; verify it", True)
    )
    state = answer_state(unread)
    g.apply(f"Fever answer {state}: hold until assessed", hold=f"fever answer {state}")


_FAHRENHEIT = frozenset({"[degf]", "degf", "°f", "f"})
_CELSIUS = frozenset({"cel", "degc", "°c", "c"})


def _may_be_fever(value: UnreadableValue, fever_min: float) -> bool:
    """Whether a fever record received but not read may mean a fever: an answer neither yes nor no may; a
    temperature whose unit (or date) could not be read may when it is a fever in a unit it could be in
    (38.9 with no unit: Celsius; 101: Fahrenheit), and one that is normal in every such unit (36.8) is
    named without a hold.  A number that is no body temperature in any unit cannot be ruled out."""
    if is_answer(value):
        return True
    number = value.number
    if number is None:
        try:
            number = float(value.value_text)
        except ValueError:
            return True
    if value.value_text.startswith("<"):
        return number > fever_min  # "<37.5": below it; "<39": a fever is possible
    unit = (value.unit_text or "").strip().lower()
    celsius = [number] if unit not in _FAHRENHEIT else []
    if unit not in _CELSIUS:
        celsius.append((number - 32) * 5 / 9)
    possible = [t for t in celsius if 25.0 <= t <= 45.0]  # the reader's range for a body temperature
    return not possible or any(t >= fever_min for t in possible)


def _calcium(facts: PatientFacts, today: date, th: Thresholds, idx: FactIndex, g: Gates) -> None:
    ca = corrected_calcium(facts, today, th, idx)
    days = th.v("red_flags.symptom_lookback_days")
    # A "yes" without a date counts unless a dated answer settles it, as R01 and R03 read symptoms.
    said = idx.answered_yes((c.SYMPTOMATIC_HYPERCALCAEMIA,), today, days, undated_yes=True)
    symptomatic = said[0] if said else None
    held = False
    if ca is None:
        g.missing.append(
            MissingFact("calcium within the lab lookback", "not assumed normal", concept=c.LAB_CALCIUM)
        )
        g.checks_before_start.append("calcium with albumin")
    else:
        key = (
            "exercise.ionised_calcium_hold_min"
            if ca.method is CalciumMethod.IONISED
            else "exercise.calcium_hold_min"
        )
        g.keys.add(key)
        g.used.extend(ca.used)
        g.unverified = g.unverified or th[key].basis == "unverified"
        if ca.method is CalciumMethod.UNCORRECTED:
            g.missing.append(
                MissingFact(
                    "albumin with the calcium", "calcium not corrected; may be higher", concept=c.LAB_ALBUMIN
                )
            )
        if ca.value >= th.v(key):
            held = True
            g.apply(f"{ca.label} {ca.shown()}: hold (see R03)", *ca.used, hold=ca.short)
    if symptomatic is not None and not held:
        fact = used_obs("Symptoms of hypercalcaemia", symptomatic)
        g.used.append(fact)
        g.apply("Symptomatic hypercalcaemia: hold (see R03)", fact, hold="symptomatic hypercalcaemia")
        return
    # An answer about symptoms of hypercalcaemia received but not read may be "yes": the gate holds on
    # symptoms alone (clinical-rules.md 2.5, "or symptomatic"), so it holds until they are checked.
    unread = None if symptomatic is not None else received(idx, c.SYMPTOMATIC_HYPERCALCAEMIA, today, days)
    if unread is not None:
        effect = (
            "calcium hold applies already" if held else "read as symptomatic: exercise held until checked"
        )
        g.missing.append(MissingFact(shown(unread), f"{effect}; verify it", True))
        if not held:
            state = answer_state(unread)
            g.apply(
                f"Hypercalcaemia symptom answer {state}: hold until the symptoms are checked",
                hold=f"hypercalcaemia symptom answer {state}",
            )


def _fatigue(idx: FactIndex, today: date, th: Thresholds, g: Gates) -> None:
    days = th.v("exercise.fatigue_lookback_days")
    obs = next(
        (
            o
            for o in idx.observations(c.FATIGUE_SCORE)
            if o.quantity is not None and within_days(o.effective, today, days)
        ),
        None,
    )
    if obs is None or obs.quantity is None:
        return
    g.keys.update(("exercise.fatigue_severe_min", "exercise.fatigue_lookback_days"))
    fact = used_obs("Fatigue", obs)
    g.used.append(fact)
    if obs.quantity.value >= th.v("exercise.fatigue_severe_min"):
        g.limits.add(Limit.SHORT_BOUTS)
        g.apply(f"Fatigue {num(obs.quantity.value)}/10: light intensity; short, frequent bouts", fact)
