"""Weeks of gestation carried by a pregnancy Condition's code → a gestational-age fact.

ICD-10-CM codes a pregnancy's week in the code itself (``Z3A.24``: 24 weeks of gestation).  The pregnancy
rules read gestational age from one place, the ``gestational-age`` facts, so a week coded this way becomes
one (:func:`coded_gestational_age`), dated when the Condition was recorded (else its onset), with the
Condition as its reference.  Z3A.00 (not specified), Z3A.01 (less than 8 weeks) and Z3A.49 (more than 42
weeks) give no week and add nothing: the rules then say that the gestational age is unknown.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Final

from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.facts import ObservationFact, Quantity
from fhir_bonemet.fhir.intake.values import JsonDict, as_list
from fhir_bonemet.fhir.terminology.lookup import Terminology

__all__ = ["coded_gestational_age"]

_ICD10CM: Final = "http://hl7.org/fhir/sid/icd-10-cm"
_WEEK_CODE = re.compile(r"Z3A\.?(\d{2})", re.IGNORECASE)
_FIRST_WEEK, _LAST_WEEK = 8, 42  # Z3A.08 ... Z3A.42 name a completed week


def _coded_week(terminology: Terminology, code: JsonDict) -> int | None:
    for coding in as_list(code.get("coding")):
        if not isinstance(coding, dict):
            continue
        system, value = coding.get("system"), coding.get("code")
        if not isinstance(system, str) or not isinstance(value, str) or len(value) > 16:
            continue
        if terminology.canonical_system(system) != _ICD10CM:
            continue
        found = _WEEK_CODE.fullmatch(value.strip())
        if found is not None and _FIRST_WEEK <= int(found.group(1)) <= _LAST_WEEK:
            return int(found.group(1))
    return None


def coded_gestational_age(
    terminology: Terminology, ref: str, code: JsonDict | None, when: date | None
) -> ObservationFact | None:
    """The gestational age a pregnancy Condition's Z3A code states, as of ``when`` (its recorded date)."""
    if code is None:
        return None
    week = _coded_week(terminology, code)
    if week is None:
        return None
    # At the start of that day: projecting forward never makes the pregnancy look younger than it is.
    return ObservationFact(
        ref=ref,
        concept=c.GESTATIONAL_AGE,
        effective=datetime.combine(when, time()) if when is not None else None,
        quantity=Quantity(float(week), "wk"),
        display=f"Z3A.{week:02d} weeks of gestation",
    )
