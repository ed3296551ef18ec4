"""P48: a fentanyl patch ordered for a patient not shown to be opioid-tolerant (S45)."""

from __future__ import annotations

from dataclasses import replace

from builders import dose, med, patient
from pain_support import fired, run

from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.findings import Indicator


def oral(name: str, mg: float, per_day: float, **kw):  # type: ignore[no-untyped-def]
    return med(c.OPIOID, c.STRONG_OPIOID, ingredients=[name], doses=[dose(mg, "mg", per_day=per_day)], **kw)


def patch(**kw):  # type: ignore[no-untyped-def]
    return med(
        c.OPIOID,
        c.STRONG_OPIOID,
        ingredients=["fentanyl"],
        doses=[dose(25, "ug/h", per_day=1 / 3, route="transdermal")],
        display="Fentanyl 25 mcg/h transdermal patch",
        **kw,
    )


def test_a_patch_for_a_patient_on_no_other_opioid_is_critical_and_offered_for_cancellation() -> None:
    draft = patch(draft=True)
    found = run(patient(medications=[draft]), hook="order-sign")["P48"]
    assert found.indicator is Indicator.CRITICAL
    assert found.summary.startswith("Fentanyl 25 mcg/h transdermal patch with no other opioid on record")
    assert [(a.order_ref, a.action) for a in found.order_actions] == [(draft.ref, "delete")]
    assert found.evidence == ("S45", "S30")


def test_a_week_of_60_mg_oral_morphine_equivalents_is_tolerance() -> None:
    # Oxycodone 20 mg twice a day is 60 MME (factor 1.5), taken for ten days.
    tolerant = oral("oxycodone", 20, 2, start_days_ago=10)
    assert "P48" not in fired(patient(medications=[tolerant, patch(draft=True)]), hook="order-sign")


def test_too_little_or_too_short_or_undated_is_not_tolerance_and_asks_to_confirm() -> None:
    for taking in (
        oral("morphine", 10, 3, start_days_ago=10),  # 30 MME
        oral("morphine", 20, 3, start_days_ago=3),  # 60 MME for three days
        oral("morphine", 20, 3),  # start not recorded
    ):
        found = run(patient(medications=[taking, patch(draft=True)]), hook="order-sign")["P48"]
        assert found.indicator is Indicator.WARNING
        assert "opioid tolerance not shown" in found.summary
    undated = run(
        patient(medications=[oral("morphine", 20, 3), patch(draft=True)]),
        hook="order-sign",
    )["P48"]
    assert any(m.what.startswith("start date of") for m in undated.missing)


def test_a_patch_continued_or_already_active_is_not_checked() -> None:
    # A draft replacing an order continues a patch the patient has; patient-view checks no order.
    continued = replace(patch(draft=True), replaces="MedicationRequest/old-patch")
    assert "P48" not in fired(patient(medications=[continued]), hook="order-sign")
    assert "P48" not in fired(patient(medications=[patch(start_days_ago=2)]))


def test_an_opioid_whose_dose_cannot_be_read_is_named_and_not_counted() -> None:
    no_dose = med(c.OPIOID, c.STRONG_OPIOID, ingredients=["morphine"], display="Morphine", start_days_ago=10)
    found = run(patient(medications=[no_dose, patch(draft=True)]), hook="order-sign")["P48"]
    assert found.indicator is Indicator.WARNING
    assert any(m.what == "daily dose of Morphine" for m in found.missing)
