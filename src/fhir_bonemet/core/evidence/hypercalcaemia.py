"""How severe the chart says hypercalcaemia is: the band R03 reads, for every rule that must agree with R03.

Read on :func:`~fhir_bonemet.core.evidence.labs.corrected_calcium` (an ionised result on its own
thresholds; a total calcium reported in mmol/L also against the lower mmol/L severe band).  With a calcium:
"critical" from the critical threshold (or symptomatic above the upper limit of normal), "urgent" from the
urgent threshold, "mild" above the upper limit of normal, otherwise none.  Without a recent calcium, an
active hypercalcaemia Condition or a "yes" to its symptoms counts as "urgent" (as "critical" when
symptomatic): the severity is unknown, so it is not read as mild.  Every number comes from the thresholds
data file.

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from fhir_bonemet.core.evidence.labs import (
    CalciumMethod,
    CalciumResult,
    calcium_above_uln,
    calcium_uln_key,
    corrected_calcium,
)
from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.fact_index import FactIndex
from fhir_bonemet.core.model.facts import ConditionFact, ObservationFact, PatientFacts
from fhir_bonemet.core.model.thresholds import Thresholds
from fhir_bonemet.core.model.used_facts import ACTIVE_STATUSES

__all__ = ["HYPERCALCAEMIA_KEYS", "HypercalcaemiaState", "hypercalcaemia_state"]

# Every threshold the band may read: a rule reusing it declares these.
HYPERCALCAEMIA_KEYS = (
    "lookback.lab_days",
    "labs.calcium_albumin_pair_hours",
    "red_flags.calcium_albumin_coefficient",
    "red_flags.calcium_reference_albumin",
    "red_flags.calcium_uln",
    "red_flags.calcium_uln_mmol",
    "red_flags.calcium_urgent_min",
    "red_flags.calcium_critical_min",
    "red_flags.calcium_critical_above_mmol",
    "red_flags.ionised_calcium_uln",
    "red_flags.ionised_calcium_urgent_min",
    "red_flags.ionised_calcium_critical_min",
    "red_flags.symptom_lookback_days",
)


@dataclass(frozen=True)
class HypercalcaemiaState:
    """The band ("critical", "urgent", "mild" or None) and what it was read from."""

    band: str | None
    calcium: CalciumResult | None
    symptomatic: tuple[ObservationFact, ...]
    # Active hypercalcaemia Conditions: read only when no calcium is recent.
    conditions: tuple[ConditionFact, ...]
    # The thresholds the band was compared with (the upper limit of normal alone without a calcium).
    keys: tuple[str, ...]

    @property
    def needs_treatment(self) -> bool:
        """Urgent or critical: R03 proposes IV fluids and a bisphosphonate."""
        return self.band in ("urgent", "critical")


def hypercalcaemia_state(
    facts: PatientFacts, today: date, th: Thresholds, idx: FactIndex
) -> HypercalcaemiaState:
    ca = corrected_calcium(facts, today, th, idx)
    # A "yes" without a date counts unless a dated answer settles it, as R01 reads its symptoms.
    symptomatic = tuple(
        idx.answered_yes(
            (c.SYMPTOMATIC_HYPERCALCAEMIA,), today, th.v("red_flags.symptom_lookback_days"), undated_yes=True
        )
    )
    if ca is None:
        conds = tuple(x for x in idx.conditions(c.HYPERCALCAEMIA) if x.clinical_status in ACTIVE_STATUSES)
        band = None if not conds and not symptomatic else ("critical" if symptomatic else "urgent")
        return HypercalcaemiaState(band, None, symptomatic, conds, ("red_flags.calcium_uln",))
    prefix = "red_flags.ionised_calcium_" if ca.method is CalciumMethod.IONISED else "red_flags.calcium_"
    keys = [calcium_uln_key(ca), prefix + "urgent_min", prefix + "critical_min"]
    # A calcium reported in mmol/L is also read against the mmol/L severe band, which lies lower, and
    # against the mmol/L upper limit of normal (calcium_above_uln).
    molar_severe = ca.molar and ca.mmol_per_l > th.v("red_flags.calcium_critical_above_mmol")
    if ca.molar:
        keys.append("red_flags.calcium_critical_above_mmol")
    found: str | None
    if ca.value >= th.v(prefix + "critical_min") or molar_severe:
        found = "critical"
    elif ca.value >= th.v(prefix + "urgent_min"):
        found = "urgent"
    elif calcium_above_uln(ca, th):
        found = "mild"
    else:
        found = None
    if found is not None and symptomatic:
        found = "critical"
    return HypercalcaemiaState(found, ca, symptomatic, (), tuple(keys))
