"""Observations that record a procedure: a surgical stability review or a dental examination.

EHRs keep these as an Observation as often as a Procedure (a structured note "spine surgery review:
stable", a dental clearance form), and the service's own prefetch asks for them among the Observations.
They become :class:`~fhir_bonemet.core.model.facts.ProcedureFact`, so the rules read both forms the same
way: dated by ``effective[x]`` (the latest day it allows), placed by ``bodySite``, else by the lesion the
Observation names in ``focus``.  Only final results count: a preliminary or cancelled note is not a review.
"""

from __future__ import annotations

from typing import Final

from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.facts import ProcedureFact
from fhir_bonemet.fhir.intake.context import Extraction
from fhir_bonemet.fhir.intake.read import Item
from fhir_bonemet.fhir.intake.sites import read_body_site
from fhir_bonemet.fhir.intake.values import (
    clean_codeable,
    codeable_display,
    parse_date,
    period_date,
)

__all__ = ["OBSERVED_PROCEDURES", "observed_procedures"]

OBSERVED_PROCEDURES: Final = frozenset({c.SURGICAL_REVIEW, c.DENTAL_EXAM})
_FINAL: Final = frozenset({"final", "amended", "corrected"})
_EFFECTIVE: Final = ("effectiveDateTime", "effectiveInstant")


def observed_procedures(extraction: Extraction, items: list[Item]) -> list[ProcedureFact]:
    facts: list[ProcedureFact] = []
    for item in items:
        data = item.data
        code, concepts = extraction.observation_code(item)  # a malformed code is reported as a result's
        if concepts.isdisjoint(OBSERVED_PROCEDURES):  # most results: no set built for them
            continue
        concepts &= OBSERVED_PROCEDURES
        status = data.get("status")
        final = isinstance(status, str) and status in _FINAL
        if not final or not extraction.belongs_to_patient(item):
            continue
        if data.get("valueBoolean") is False:
            continue  # "review done: no" records that it was not done
        performed = next(
            (day for key in _EFFECTIVE if (day := parse_date(data.get(key), upper=True)) is not None), None
        )
        if performed is None:
            performed = period_date(data.get("effectivePeriod"), upper=True)
        body_site = clean_codeable(data.get("bodySite"))
        site = read_body_site(body_site, extraction.terminology)[0] if body_site is not None else None
        focus = extraction.focus(data)
        facts.append(
            ProcedureFact(
                ref=item.ref,
                concepts=concepts,
                performed=performed,
                site=site,
                status="completed",
                display=codeable_display(code),
                focus=focus,
            )
        )
    return facts
