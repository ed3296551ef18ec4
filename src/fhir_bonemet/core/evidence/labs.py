"""Derived laboratory values: corrected calcium and the latest blood counts.

Every rule that compares a laboratory value goes through this module, so that "the patient's calcium" or
"the latest platelet count" means the same thing for the red flags (R03, R08), the exercise gates
(docs/clinical-model.md#global-gates) and the bone-health rules (P09, R06).

Calcium (R03, R06, P09; S24, S17):

* an ionised calcium or a laboratory-reported albumin-corrected calcium taken within
  ``labs.calcium_albumin_pair_hours`` of the newest total calcium takes precedence over a computed value,
  because the correction formula is an approximation (unreliable at extreme albumin or with a paraprotein);
* otherwise total calcium is corrected with albumin, Ca + k × (reference albumin − albumin), but only when
  the albumin was taken within ``labs.calcium_albumin_pair_hours`` of the calcium;
* without a paired albumin the total calcium is reported *uncorrected*, and the result says so: albumin is
  usually low in advanced cancer, so the true corrected value is then likely higher.

Values arrive normalised by the reader; the few unit spellings still seen for these analytes are
converted here, and a value in a unit this module does not understand is treated as missing (never
guessed).  Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.fact_index import FactIndex, instant
from fhir_bonemet.core.model.facts import ObservationFact, PatientFacts
from fhir_bonemet.core.model.findings import UsedFact
from fhir_bonemet.core.model.frozen_init import fast_init
from fhir_bonemet.core.model.queries import within_days
from fhir_bonemet.core.model.thresholds import Thresholds

__all__ = [
    "CalciumMethod",
    "CalciumResult",
    "LabValue",
    "calcium_above_uln",
    "calcium_uln_key",
    "corrected_calcium",
    "latest_lab",
    "to_canonical",
]

# Molar mass of calcium is 40.08 g/mol: 1 mmol/L = 4.008 mg/dL.  A physical constant, not a clinical one.
_CA_MG_DL_PER_MMOL_L = 4.008
# Haemoglobin: 1 mmol/L (monomer, as reported in some European labs) = 1.6114 g/dL.
_HB_G_DL_PER_MMOL_L = 1.6114

# Canonical unit per analyte and the factor that converts each accepted spelling into it.
_UNITS: dict[str, tuple[str, dict[str, float]]] = {
    c.LAB_CALCIUM: ("mg/dL", {"mg/dL": 1.0, "mmol/L": _CA_MG_DL_PER_MMOL_L}),
    c.LAB_CALCIUM_CORRECTED: ("mg/dL", {"mg/dL": 1.0, "mmol/L": _CA_MG_DL_PER_MMOL_L}),
    c.LAB_CALCIUM_IONISED: ("mmol/L", {"mmol/L": 1.0, "mg/dL": 1.0 / _CA_MG_DL_PER_MMOL_L}),
    c.LAB_ALBUMIN: ("g/dL", {"g/dL": 1.0, "g/L": 0.1}),
    c.LAB_PLATELETS: ("10*9/L", {"10*9/L": 1.0, "10*3/uL": 1.0, "10*3/mm3": 1.0, "/nL": 1.0}),
    c.LAB_NEUTROPHILS: ("10*9/L", {"10*9/L": 1.0, "10*3/uL": 1.0, "10*3/mm3": 1.0, "/nL": 1.0}),
    c.LAB_HAEMOGLOBIN: ("g/dL", {"g/dL": 1.0, "g/L": 0.1, "mmol/L": _HB_G_DL_PER_MMOL_L}),
}

_LABELS = {
    c.LAB_CALCIUM: "Calcium",
    c.LAB_CALCIUM_CORRECTED: "Calcium corrected for albumin (reported)",
    c.LAB_CALCIUM_IONISED: "Ionised calcium",
    c.LAB_ALBUMIN: "Albumin",
    c.LAB_PLATELETS: "Platelets",
    c.LAB_NEUTROPHILS: "Neutrophils",
    c.LAB_HAEMOGLOBIN: "Haemoglobin",
}


def canonical_unit(concept: str) -> str:
    return _UNITS[concept][0]


def to_canonical(concept: str, obs: ObservationFact) -> float | None:
    """The observation's value in the analyte's canonical unit, or None when absent or not understood."""
    if obs.quantity is None or concept not in _UNITS:
        return None
    _, factors = _UNITS[concept]
    factor = factors.get(obs.quantity.unit)
    return None if factor is None else obs.quantity.value * factor


@fast_init
@dataclass(frozen=True, slots=True)
class LabValue:
    """The latest usable result of one analyte, in its canonical unit."""

    concept: str
    value: float
    unit: str
    ref: str
    when: datetime | None
    reported_unit: str | None = None  # the laboratory's own unit when it was not ``unit``

    def used(self) -> UsedFact:
        return UsedFact(
            label=_LABELS.get(self.concept, self.concept),
            value=self.shown(),
            ref=self.ref,
            when=self.when.date().isoformat() if self.when else None,
        )

    def shown(self) -> str:
        """The value as the card shows it: in the laboratory's unit when it reported a total calcium in
        mmol/L ("2.90 mmol/L (11.6 mg/dL)"), never with the spurious digits of a unit conversion."""
        if self.concept in _TOTAL_CALCIUM and _molar(self):
            mmol = self.value / _CA_MG_DL_PER_MMOL_L
            return f"{mmol:.2f} mmol/L ({calcium_mg_dl_text(self.value)} {self.unit})"
        return f"{round(self.value, 2):g} {self.unit}"


def calcium_mg_dl_text(value: float) -> str:
    """A calcium in mg/dL to one decimal, as laboratories report it, but never rounded up: a corrected
    11.98 mg/dL (11.5 with albumin 3.4 g/dL) read "12.0", the start of the urgent band, on a card in the
    band below, and 7.98 read "8.0" on a card saying it was below 8.0.  Where one decimal would round up,
    two decimals are shown, cut rather than rounded."""
    one = f"{value:.1f}"
    if float(one) <= value + 1e-9:
        return one
    return f"{math.floor(value * 100 + 1e-9) / 100:.2f}"


_TOTAL_CALCIUM = frozenset({c.LAB_CALCIUM, c.LAB_CALCIUM_CORRECTED})


def latest_lab(
    facts: PatientFacts, concept: str, today: date, max_age_days: float, index: FactIndex | None = None
) -> LabValue | None:
    """Newest result of ``concept`` within the lookback whose value and unit are usable.

    A newer result with an unreadable unit is skipped rather than trusted; an older readable one is then
    used, and when none is readable the caller reports the value as missing.
    """
    idx = index if index is not None else FactIndex(facts)
    for obs in idx.observations(concept):
        if not within_days(obs.effective, today, max_age_days):
            continue
        value = to_canonical(concept, obs)
        if value is not None:
            unit = canonical_unit(concept)
            reported = None
            if obs.quantity is not None:
                reported = obs.quantity.reported_unit or (
                    obs.quantity.unit if obs.quantity.unit != unit else None
                )
            return LabValue(concept, value, unit, obs.ref, obs.effective, reported)
    return None


class CalciumMethod(StrEnum):
    IONISED = "ionised"  # value in mmol/L; bands differ from total calcium
    MEASURED_CORRECTED = "measured-corrected"  # laboratory reported corrected calcium, mg/dL
    ALBUMIN_CORRECTED = "albumin-corrected"  # computed here, mg/dL
    UNCORRECTED = "uncorrected"  # total calcium without a paired albumin, mg/dL


@fast_init
@dataclass(frozen=True, slots=True)
class CalciumResult:
    """The calcium value the rules should use, how it was obtained and from which results.

    ``value`` is in ``unit``: mg/dL for every method except :attr:`CalciumMethod.IONISED` (mmol/L).
    Compare ionised values only against ionised thresholds.
    """

    method: CalciumMethod
    value: float
    unit: str
    refs: tuple[str, ...]
    when: date | None
    used: tuple[UsedFact, ...]
    note: str = ""
    # The laboratory reported the (total or corrected) calcium in mmol/L: the published mmol/L bands apply
    # too, since they do not convert exactly into the mg/dL ones (severe: >3.4 mmol/L vs >=14 mg/dL).
    molar: bool = False

    @property
    def mmol_per_l(self) -> float:
        """The value in mmol/L (ionised values already are)."""
        return self.value if not self.is_total else self.value / _CA_MG_DL_PER_MMOL_L

    @property
    def is_total(self) -> bool:
        """True for a total-calcium based value (mg/dL), comparable with total-calcium thresholds."""
        return self.method is not CalciumMethod.IONISED

    @property
    def label(self) -> str:
        return {
            CalciumMethod.IONISED: "Ionised calcium",
            CalciumMethod.MEASURED_CORRECTED: "Corrected calcium (laboratory)",
            CalciumMethod.ALBUMIN_CORRECTED: "Corrected calcium (computed from albumin)",
            CalciumMethod.UNCORRECTED: "Calcium (not corrected for albumin)",
        }[self.method]

    @property
    def short(self) -> str:
        """The value as card summaries show it: "corrected Ca 12.8 mg/dL", "ionised Ca 1.70 mmol/L"."""
        name = {
            CalciumMethod.IONISED: "ionised Ca",
            CalciumMethod.MEASURED_CORRECTED: "corrected Ca",
            CalciumMethod.ALBUMIN_CORRECTED: "corrected Ca",
            CalciumMethod.UNCORRECTED: "uncorrected Ca",
        }[self.method]
        return f"{name} {self.shown()}"

    def shown(self) -> str:
        """In the unit the laboratory reported: a total calcium reported in mmol/L reads "2.90 mmol/L
        (11.6 mg/dL)", one reported in mg/dL "11.6 mg/dL"; ionised calcium is in mmol/L."""
        if self.is_total and self.molar:
            return f"{self.mmol_per_l:.2f} mmol/L ({calcium_mg_dl_text(self.value)} {self.unit})"
        if self.is_total:
            return f"{calcium_mg_dl_text(self.value)} {self.unit}"
        return f"{self.value:.2f} {self.unit}"


def calcium_uln_key(ca: CalciumResult) -> str:
    """The upper limit of normal ``ca`` is read against (see :func:`calcium_above_uln`)."""
    if not ca.is_total:
        return "red_flags.ionised_calcium_uln"
    return "red_flags.calcium_uln_mmol" if ca.molar else "red_flags.calcium_uln"


def calcium_above_uln(ca: CalciumResult, th: Thresholds) -> bool:
    """Above the upper limit of normal: the R03 warning band, and "hypercalcaemic" for P09.

    A total calcium reported in mmol/L is read against the limit in mmol/L (clinical-rules R03: above
    10.5 mg/dL, from 2.65 mmol/L): the two limits do not convert exactly, and read against 10.5 mg/dL a
    result of 2.63 mmol/L (10.54 mg/dL) was called high.  Compared at the two decimals the limit, the
    laboratory and the card use, as the lower limit is (``pain.calcium_lln_mmol``)."""
    key = calcium_uln_key(ca)
    if ca.is_total and ca.molar:
        return round(ca.mmol_per_l, 2) >= th.v(key)
    return ca.value > th.v(key)


def _utc(when: datetime) -> datetime:
    # Records mix offset and offset-free times; an offset-free time is read as UTC so that the comparison
    # never depends on the server's time zone.
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


def _gap(a: datetime, b: datetime) -> timedelta:
    # Two times of a kind subtract as they are, which is what reading the offset-free ones as UTC gives:
    # datetime.replace (some 1.5 µs a call) is needed only to compare one of each.
    if (a.tzinfo is None) is not (b.tzinfo is None):
        return abs(_utc(a) - _utc(b))
    return abs(a - b)


def _close(a: datetime | None, b: datetime | None, window: timedelta) -> bool:
    if a is None or b is None:
        return False
    return _gap(a, b) <= window


def _day(when: datetime | None) -> date | None:
    return when.date() if when is not None else None


def corrected_calcium(
    facts: PatientFacts, today: date, th: Thresholds, index: FactIndex | None = None
) -> CalciumResult | None:
    """The calcium value to reason on, or None when no calcium result lies within the lab lookback.

    The newest calcium result of any kind sets the time point; a reported value (ionised, then
    laboratory-corrected) within the pairing window of that time point wins over a computed one.
    """
    idx = index if index is not None else FactIndex(facts)
    return idx.memo(("corrected_calcium", today, id(th)), lambda: _corrected_calcium(idx, today, th))


def _corrected_calcium(idx: FactIndex, today: date, th: Thresholds) -> CalciumResult | None:
    facts = idx.facts
    lookback = th.v("lookback.lab_days")
    pair_hours = th.v("labs.calcium_albumin_pair_hours")
    ionised = latest_lab(facts, c.LAB_CALCIUM_IONISED, today, lookback, idx)
    reported = latest_lab(facts, c.LAB_CALCIUM_CORRECTED, today, lookback, idx)
    total = latest_lab(facts, c.LAB_CALCIUM, today, lookback, idx)
    candidates = [v for v in (ionised, reported, total) if v is not None]
    if not candidates:
        return None
    newest = max(candidates, key=lambda v: instant(v.when) if v.when else float("-inf"))
    window = timedelta(hours=pair_hours)
    for preferred, method in ((ionised, CalciumMethod.IONISED), (reported, CalciumMethod.MEASURED_CORRECTED)):
        if preferred is not None and (preferred is newest or _close(preferred.when, newest.when, window)):
            return CalciumResult(
                method,
                preferred.value,
                preferred.unit,
                (preferred.ref,),
                _day(preferred.when),
                (preferred.used(),),
                molar=method is not CalciumMethod.IONISED and _molar(preferred),
            )
    # Only a total calcium is the newest: correct it with an albumin taken close to it.
    if total is None:  # unreachable: newest is one of the three and the first two returned above
        return None
    albumin = _paired_albumin(idx, total, window)
    if albumin is None:
        return CalciumResult(
            CalciumMethod.UNCORRECTED,
            total.value,
            total.unit,
            (total.ref,),
            _day(total.when),
            (total.used(),),
            note=f"no albumin within {pair_hours:g} h of the calcium: not corrected; the corrected value "
            "may be higher when albumin is low",
            molar=_molar(total),
        )
    coefficient = th.v("red_flags.calcium_albumin_coefficient")
    reference = th.v("red_flags.calcium_reference_albumin")
    value = total.value + coefficient * (reference - albumin.value)
    return CalciumResult(
        CalciumMethod.ALBUMIN_CORRECTED,
        value,
        "mg/dL",
        (total.ref, albumin.ref),
        _day(total.when),
        (total.used(), albumin.used()),
        note=f"Ca + {coefficient:g} x ({reference:g} - albumin g/dL)",
        molar=_molar(total),
    )


def _molar(lab: LabValue) -> bool:
    unit = lab.reported_unit
    return unit is not None and unit.replace(" ", "").lower() == "mmol/l"


def _paired_albumin(idx: FactIndex, total: LabValue, window: timedelta) -> LabValue | None:
    """The albumin result closest in time to the calcium, if within the pairing window."""
    best: tuple[timedelta, LabValue] | None = None
    earliest = instant(total.when) - window.total_seconds() if total.when is not None else 0.0
    for obs in idx.observations(c.LAB_ALBUMIN):  # newest first, undated last
        if obs.effective is None or (total.when is not None and instant(obs.effective) < earliest):
            break  # every later albumin is older still
        if not _close(obs.effective, total.when, window):
            continue
        value = to_canonical(c.LAB_ALBUMIN, obs)
        if value is None or obs.effective is None or total.when is None:
            continue
        gap = _gap(obs.effective, total.when)
        if best is None or gap < best[0]:
            best = (gap, LabValue(c.LAB_ALBUMIN, value, "g/dL", obs.ref, obs.effective))
    return best[1] if best is not None else None
