"""Order-entry awareness: draft orders on order-select / order-sign are evaluated as if active, the rules
speak about the drafts in focus, and findings name the draft order so the card can change or remove it."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from builders import TODAY, med, obs, patient
from pain_support import (
    TH,
    acetaminophen,
    ca_vit_d,
    crcl_labs,
    denosumab,
    docusate,
    fired,
    ibuprofen,
    morphine,
    oxycodone,
    pain,
    refs,
    run,
    senna,
    zoledronic,
)

from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.facts import MedicationFact
from fhir_bonemet.core.model.findings import OrderChange
from fhir_bonemet.core.pain.assess import assess_pain

PLATELETS_OK = obs(c.LAB_PLATELETS, 250, "10*9/L", days_ago=1)


def actions(finding) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [(a.order_ref, a.action) for a in finding.order_actions]


def test_draft_nsaid_with_renal_impairment_on_order_sign_names_the_draft() -> None:
    draft = ibuprofen(draft=True)
    found = run(patient(observations=[*crcl_labs(25), PLATELETS_OK], medications=[draft]), hook="order-sign")[
        "P16"
    ]
    assert actions(found) == [(draft.ref, "delete")]
    assert "CrCl 25 mL/min" in found.order_actions[0].description
    assert draft.ref in {u.ref for u in found.used}
    assert any(u.value == "draft order" for u in found.used)


def test_draft_nsaid_is_ignored_on_patient_view() -> None:
    facts = patient(observations=[*crcl_labs(25), PLATELETS_OK], medications=[ibuprofen(draft=True)])
    assert "P16" not in fired(facts, "patient-view")


def test_order_select_focuses_on_the_selected_draft() -> None:
    selected = oxycodone(draft=True, selected=True)
    other = ibuprofen(draft=True)
    result = run(
        patient(observations=[*crcl_labs(25), PLATELETS_OK], medications=[selected, other]),
        hook="order-select",
    )
    assert "P16" not in result  # the NSAID draft is not the one being selected
    assert actions(result["P15"]) == [(selected.ref, "update")]


def test_order_select_without_marked_selection_considers_every_draft() -> None:
    facts = patient(observations=[*crcl_labs(25), PLATELETS_OK], medications=[ibuprofen(draft=True)])
    assert "P16" in fired(facts, "order-select")


def test_existing_nsaid_is_left_to_patient_view_when_an_unrelated_draft_is_signed() -> None:
    facts = patient(observations=[*crcl_labs(25), PLATELETS_OK], medications=[ibuprofen(), senna()])
    facts_with_draft = patient(
        observations=[*crcl_labs(25), PLATELETS_OK],
        medications=[ibuprofen(), senna(), acetaminophen(draft=True)],
    )
    assert "P16" in fired(facts)
    assert "P16" not in fired(facts_with_draft, "order-sign")


def test_opioid_draft_without_bowel_regimen_and_with_docusate_only() -> None:
    draft = oxycodone(draft=True)
    assert actions(run(patient(medications=[draft]), hook="order-sign")["P15"]) == [(draft.ref, "update")]
    assert "P15" in fired(patient(medications=[draft, docusate()]), "order-sign")


def test_opioid_draft_signed_together_with_senna_draft_is_fine() -> None:
    laxative = med(c.LAXATIVE_STIMULANT, ingredients=["sennosides"], draft=True)
    assert "P15" not in fired(patient(medications=[oxycodone(draft=True), laxative]), "order-sign")


def test_benzodiazepine_draft_for_patient_on_opioid() -> None:
    benzo = med(c.BENZODIAZEPINE, ingredients=["lorazepam"], draft=True)
    active_opioid = oxycodone()
    found = run(patient(medications=[active_opioid, senna(), benzo]), hook="order-sign")["P14"]
    assert actions(found) == [(benzo.ref, "delete")]  # the active opioid is not an order being signed


def test_benzodiazepine_draft_with_opioid_and_gabapentinoid_is_r09() -> None:
    benzo = med(c.BENZODIAZEPINE, ingredients=["alprazolam"], draft=True)
    meds = [oxycodone(), med(c.GABAPENTINOID, ingredients=["pregabalin"]), senna(), benzo]
    result = run(patient(medications=meds), hook="order-sign")
    assert "P14" not in result
    assert actions(result["R09"]) == [(benzo.ref, "delete")]


def test_zoledronic_acid_draft_with_adjusted_dose_needs_no_change() -> None:
    draft = zoledronic(3.3, draft=True)
    found = run(patient(observations=crcl_labs(45), medications=[draft, ca_vit_d()]), hook="order-sign")[
        "P08"
    ]
    assert found.order_actions == ()
    assert "3.3 mg advised" in found.summary


def test_morphine_draft_with_low_clearance_is_removed() -> None:
    draft = morphine(draft=True)
    found = run(patient(observations=crcl_labs(20), medications=[draft, senna()]), hook="order-sign")["P23"]
    assert actions(found) == [(draft.ref, "delete")]


def test_bma_draft_with_low_calcium_is_held() -> None:
    draft = denosumab(draft=True)
    ca = obs(c.LAB_CALCIUM_CORRECTED, 7.8, "mg/dL", days_ago=1)
    found = run(patient(observations=[ca], medications=[draft]), hook="order-sign")["R06"]
    assert actions(found) == [(draft.ref, "delete")]


def test_acetaminophen_draft_that_pushes_the_total_over_the_maximum() -> None:
    existing = acetaminophen(tabs=2, per_day=3, start_days_ago=3)  # 3000 mg
    draft = acetaminophen(tabs=1, per_day=4, draft=True)  # + 2000 mg
    found = run(patient(age=50, medications=[existing, draft]), hook="order-sign")["P20"]
    assert actions(found) == [(draft.ref, "update")]
    assert "5 g/day" in found.summary
    # The rule works out the change itself: 3000 mg/day elsewhere leaves room for two 500 mg doses a day.
    (act,) = found.order_actions
    assert act.change is OrderChange.SCHEDULE
    assert act.dose is not None
    assert (act.dose.per_day, act.dose.daily) == (2, 1000)


def test_acetaminophen_draft_with_no_room_left_under_the_maximum_is_cancelled() -> None:
    existing = acetaminophen(tabs=2, per_day=4, start_days_ago=3)  # 4000 mg: nothing left for the draft
    draft = acetaminophen(tabs=1, per_day=4, draft=True)
    found = run(patient(age=50, medications=[existing, draft]), hook="order-sign")["P20"]
    assert actions(found) == [(draft.ref, "delete")]
    assert found.order_actions[0].change is OrderChange.CANCEL


def test_p08_carries_the_advised_dose_as_numbers() -> None:
    draft = zoledronic(4.0, draft=True)
    found = run(patient(medications=[draft], observations=crcl_labs(45)), hook="order-sign")["P08"]
    (act,) = found.order_actions
    assert act.change is OrderChange.DOSE
    assert act.dose is not None
    assert act.dose.unit == "mg"
    assert act.dose.dose == 3.3  # CrCl 40-49 mL/min: 3.3 mg
    assert "3.3 mg" in act.description


def test_order_hooks_skip_patient_level_rules() -> None:
    facts = patient(observations=[pain(8)], medications=[ibuprofen(draft=True)])
    result = fired(facts, "order-sign")
    assert not {"P01", "P04", "P06", "P07", "P25"} & result
    assert {"P04", "P06", "P07"} <= fired(facts, "patient-view")


def test_unknown_hook_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown hook"):
        assess_pain(patient(), TODAY, TH, hook="encounter-start")


def test_acetaminophen_draft_planned_beyond_the_long_term_limit_meets_the_long_term_ceiling() -> None:
    # 3.5 g/day is within the short-term maximum, but a course planned for 30 days is long-term use from
    # its first dose (clinical-rules P20: >3 g with a duration above 14 days).
    draft = replace(acetaminophen(tabs=1, per_day=7, draft=True), planned_days=30.0)
    found = run(patient(age=50, medications=[draft]), hook="order-sign")["P20"]
    assert "long-term" in found.summary
    assert any(u.label.startswith("Planned course") and u.value == "30 days" for u in found.used)
    assert actions(found) == [(draft.ref, "update")]


def test_acetaminophen_draft_with_a_short_planned_course_keeps_the_short_term_ceiling() -> None:
    for planned in (None, 10.0):
        draft = replace(acetaminophen(tabs=1, per_day=7, draft=True), planned_days=planned)
        assert "P20" not in run(patient(age=50, medications=[draft]), hook="order-sign")


def test_acetaminophen_dose_change_continues_the_course_it_replaces() -> None:
    # Raised to 3.5 g/day after two months: still long-term use, so above the 3 g long-term ceiling.  A
    # draft replacing an order whose start is unknown is read as long-term too (the cautious reading).
    for since in (TODAY - timedelta(days=60), None):
        draft = replace(
            acetaminophen(tabs=1, per_day=7, draft=True), replaces="MedicationRequest/old", course_start=since
        )
        found = run(patient(age=50, medications=[draft]), hook="order-sign")["P20"]
        assert "long-term" in found.summary
    fresh = replace(
        acetaminophen(tabs=1, per_day=7, draft=True), replaces="MedicationRequest/old", course_start=TODAY
    )
    assert "P20" not in run(patient(age=50, medications=[fresh]), hook="order-sign")


def test_a_course_continued_by_a_draft_shows_when_it_began_among_the_data_used() -> None:
    # A dose change fired the long-term rules because the order it replaces began weeks ago; the card's
    # data named only the draft (with no date), so nothing on it showed why the course counted as long.
    since = TODAY - timedelta(days=60)
    drafts = (
        ("P20", replace(acetaminophen(tabs=1, per_day=7, draft=True), replaces="MedicationRequest/old")),
        ("P22", _dexamethasone_draft(replaces="MedicationRequest/old")),
    )
    for rule_id, draft in drafts:
        found = run(patient(age=50, medications=[replace(draft, course_start=since)]), hook="order-sign")
        course = [u for u in found[rule_id].used if u.ref == "MedicationRequest/old"]
        assert course, rule_id
        assert course[0].when == since.isoformat()


def _dexamethasone_draft(**changes: object) -> MedicationFact:
    drafted = med(c.CORTICOSTEROID, ingredients=["dexamethasone"], draft=True, reasons=[c.NEOPLASM_PAIN])
    return replace(drafted, **changes)  # type: ignore[arg-type]


def test_corticosteroid_for_pain_drafted_beyond_the_review_window_is_reviewed_at_order_entry() -> None:
    # Order hooks re-run P08-P24: a dexamethasone course for pain planned for 21 days, or a dose change
    # continuing a 30-day course, is the moment to review it; a short course for a flare is not.
    planned = _dexamethasone_draft(planned_days=21.0)
    found = run(patient(medications=[planned]), hook="order-sign")["P22"]
    assert planned.ref in refs(found)
    assert "active or ordered for longer than" in found.rationale
    continuing = _dexamethasone_draft(
        replaces="MedicationRequest/dex", course_start=TODAY - timedelta(days=30)
    )
    assert "P22" in run(patient(medications=[continuing]), hook="order-sign")
    for short in (_dexamethasone_draft(), _dexamethasone_draft(planned_days=5.0)):
        assert "P22" not in run(patient(medications=[short]), hook="order-sign")
    # A long course already taken is patient-view's concern, not that of an unrelated draft being signed.
    dex = med(c.CORTICOSTEROID, ingredients=["dexamethasone"], start_days_ago=30, reasons=[c.NEOPLASM_PAIN])
    assert "P22" not in run(patient(medications=[dex, acetaminophen(draft=True)]), hook="order-sign")
