"""Observations → facts: unit normalisation, statuses, scores, coded and yes/no values, components."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from reader_fixtures import (
    LOINC,
    PATIENT_ID,
    SCT,
    coding,
    facts_of,
    observation,
    quantity,
    read,
    site,
    terminology,
)

from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.facts import ObservationFact, SiteClass
from fhir_bonemet.fhir.intake.patient_facts import extract_facts
from fhir_bonemet.fhir.terminology.lookup import Terminology

CALCIUM, HB, PLATELETS, PAIN, ECOG = "17861-6", "718-7", "777-3", "72514-3", "89247-1"


def _only(concept: str, *resources: dict[str, Any]) -> list[ObservationFact]:
    return [o for o in facts_of(*resources).observations if o.concept == concept]


@pytest.mark.parametrize(
    ("code", "concept", "readings", "expected"),
    [
        (CALCIUM, c.LAB_CALCIUM, [(2.9, "mmol/L"), (11.62, "mg/dL")], 11.62),
        (HB, c.LAB_HAEMOGLOBIN, [(75, "g/L"), (7.5, "g/dL")], 7.5),
        (PLATELETS, c.LAB_PLATELETS, [(18, "10*9/L"), (18, "10*3/uL")], 18.0),
    ],
)
def test_labs_in_either_unit_compare_equally(
    code: str, concept: str, readings: list[tuple[float, str]], expected: float
) -> None:
    resources = [observation(f"o{i}", LOINC, code, **quantity(v, u)) for i, (v, u) in enumerate(readings)]
    found = _only(concept, *resources)
    assert len(found) == 2
    for fact in found:
        assert fact.quantity is not None
        assert fact.quantity.value == pytest.approx(expected, rel=2e-3)


def test_unknown_unit_is_not_used_and_reported() -> None:
    facts = facts_of(observation("o1", LOINC, CALCIUM, **quantity(2.4, "mmol/mol")))
    assert facts.observations == ()
    assert [issue.location for issue in facts.issues] == ["Observation/o1.value"]
    assert "mmol/mol" in facts.issues[0].message


def test_local_unit_code_falls_back_to_the_readable_unit() -> None:
    # A laboratory's own unit code with a readable unit: the unit says what the value is.
    local = {"value": 18, "unit": "10*9/L", "system": "http://lab.example/units", "code": "PLT-K"}
    (fact,) = _only(c.LAB_PLATELETS, observation("o1", LOINC, PLATELETS, valueQuantity=local))
    assert fact.quantity is not None
    assert fact.quantity.value == 18.0
    # A UCUM code still wins over a display unit that says something else.
    ucum = {"value": 2.4, "unit": "mg/dL", "system": "http://unitsofmeasure.org", "code": "mmol/L"}
    (calcium,) = _only(c.LAB_CALCIUM, observation("o2", LOINC, CALCIUM, valueQuantity=ucum))
    assert calcium.quantity is not None
    assert calcium.quantity.value == pytest.approx(9.619, rel=1e-3)


def test_comparator_values_are_not_used() -> None:
    obs = observation(
        "o1", LOINC, PLATELETS, valueQuantity={"value": 10, "comparator": "<", "unit": "10*9/L"}
    )
    facts = facts_of(obs)
    assert facts.observations == ()
    assert "comparator" in facts.issues[0].message


@pytest.mark.parametrize(
    ("status", "used"),
    [
        ("final", True),
        ("amended", True),
        ("corrected", True),
        ("preliminary", True),
        ("entered-in-error", False),
        ("cancelled", False),
        ("registered", False),
    ],
)
def test_observation_status(status: str, used: bool) -> None:
    obs = observation("o1", LOINC, HB, status=status, **quantity(9, "g/dL"))
    assert bool(_only(c.LAB_HAEMOGLOBIN, obs)) is used


def test_pain_score_integer_quantity_and_range() -> None:
    found = _only(
        c.PAIN_SCORE,
        observation("p1", LOINC, PAIN, valueInteger=7),
        observation("p2", LOINC, PAIN, valueQuantity={"value": 8, "unit": "{score}"}),
        observation("p3", LOINC, PAIN, valueQuantity={"value": 6}),
        observation("p4", LOINC, PAIN, valueInteger=12),
    )
    assert sorted((f.ref, f.quantity.value if f.quantity else None) for f in found) == [
        ("Observation/p1", 7.0),
        ("Observation/p2", 8.0),
        ("Observation/p3", 6.0),
    ]
    assert all(f.quantity is not None and f.quantity.unit == "{score}" for f in found)


def test_pain_score_out_of_range_is_reported() -> None:
    facts = facts_of(observation("p4", LOINC, PAIN, valueInteger=12))
    assert facts.observations == ()
    assert "range" in facts.issues[0].message


def test_ecog_from_mcode_style_observation() -> None:
    obs = observation("ecog", LOINC, ECOG, valueInteger=2, category=[{"coding": [{"code": "survey"}]}])
    [fact] = _only(c.ECOG, obs)
    assert fact.quantity is not None
    assert fact.quantity.value == 2.0


def test_effective_dates_period_instant_and_issued() -> None:
    period = observation("a", LOINC, HB, **quantity(9, "g/dL"))
    del period["effectiveDateTime"]
    period["effectivePeriod"] = {"start": "2025-03-02T08:00:00+02:00", "end": "2025-03-02T09:00:00+02:00"}
    issued = observation("b", LOINC, HB, **quantity(9, "g/dL"))
    del issued["effectiveDateTime"]
    issued["issued"] = "2025-03-05T10:00:00Z"
    by_ref = {f.ref: f.effective for f in _only(c.LAB_HAEMOGLOBIN, period, issued)}
    assert by_ref == {
        "Observation/a": datetime(2025, 3, 2, 8, 0),
        "Observation/b": datetime(2025, 3, 5, 10, 0),
    }


def test_sins_with_level_and_focus_and_lesion_type() -> None:
    local = terminology().local_system
    sins = observation(
        "sins",
        local,
        "sins-total",
        valueInteger=9,
        bodySite=site(text="T9"),
        focus=[{"reference": "Condition/met"}],
    )
    lesion_type = observation(
        "lt",
        local,
        "lesion-type",
        valueCodeableConcept={"coding": [coding(local, "lytic")]},
        focus=[{"reference": "Condition/met"}],
    )
    sclerotic = observation(
        "lt2", local, "lesion-type", valueCodeableConcept={"coding": [coding(SCT, "000", "Sclerotic lesion")]}
    )
    facts = facts_of(sins, lesion_type, sclerotic)
    by_ref = {f.ref: f for f in facts.observations}
    assert by_ref["Observation/sins"].quantity is not None
    assert by_ref["Observation/sins"].quantity.value == 9.0
    assert by_ref["Observation/sins"].site is not None
    assert by_ref["Observation/sins"].site.site is SiteClass.SPINE_THORACIC
    assert by_ref["Observation/sins"].focus == ("Condition/met",)
    assert by_ref["Observation/lt"].code == "lytic"
    assert by_ref["Observation/lt2"].code == "blastic"


def test_pain_mechanism_answers_as_project_codes_catalogue_words_or_text() -> None:
    local = terminology().local_system
    facts = facts_of(
        observation(
            "a", local, "pain-mechanism", valueCodeableConcept={"coding": [coding(local, "pain-mixed")]}
        ),
        observation(
            "b", local, "pain-mechanism", valueCodeableConcept={"coding": [coding(local, "neuropathic")]}
        ),
        observation(
            "c", local, "pain-mechanism", valueCodeableConcept={"text": "Nociceptive (somatic) pain"}
        ),
    )
    assert facts.issues == ()
    assert {(f.ref, f.code) for f in facts.observations} == {
        ("Observation/a", "pain-mixed"),
        ("Observation/b", "pain-neuropathic"),
        ("Observation/c", "pain-nociceptive"),
    }


def test_red_flags_and_mechanical_pain_as_yes_no() -> None:
    local = terminology().local_system
    facts = facts_of(
        observation("w", local, "rf-limb-weakness", valueBoolean=True),
        observation("b", local, "rf-bladder-bowel", valueBoolean=False),
        observation(
            "m", local, "pain-mechanical", valueCodeableConcept={"coding": [coding(LOINC, "LA33-6", "Yes")]}
        ),
        observation("s", local, "rf-sensory-loss"),  # a finding recorded without a value asserts it
        observation("u", local, "rf-walking-difficulty", dataAbsentReason={"text": "asked, unknown"}),
    )
    assert {(f.ref, f.concept, f.flag) for f in facts.observations} == {
        ("Observation/w", c.RF_LIMB_WEAKNESS, True),
        ("Observation/b", c.RF_BLADDER_BOWEL, False),
        ("Observation/m", c.PAIN_MECHANICAL, True),
        ("Observation/s", c.RF_SENSORY_LOSS, True),
    }


def test_an_impending_fracture_recorded_as_a_finding_is_read_with_its_site() -> None:
    # The prefetch asks for it among the Observations; it was dropped unread.
    local = terminology().local_system
    said = observation("i", local, "impending-fracture", valueBoolean=True)
    said["bodySite"] = {"coding": [coding(SCT, "71341001", "Femur")], "text": "left femur"}
    facts = facts_of(said, observation("n", local, "impending-fracture", valueBoolean=False))
    by_ref = {f.ref: f for f in facts.observations if f.concept == c.IMPENDING_FRACTURE}
    assert by_ref["Observation/i"].flag is True
    assert by_ref["Observation/i"].site is not None
    assert by_ref["Observation/n"].flag is False


def test_components_are_read_like_observations() -> None:
    panel = observation("panel", LOINC, "24326-1")
    panel["component"] = [
        {"code": {"coding": [coding(LOINC, CALCIUM)]}, **quantity(2.6, "mmol/L")},
        {"code": {"coding": [coding(LOINC, "1751-7")]}, **quantity(30, "g/L")},
        "junk",
    ]
    facts = facts_of(panel)
    values = {f.concept: f.quantity.value for f in facts.observations if f.quantity}
    assert values == {c.LAB_CALCIUM: pytest.approx(10.42, rel=1e-3), c.LAB_ALBUMIN: 3.0}
    assert {f.ref for f in facts.observations} == {"Observation/panel"}
    assert [i.location for i in facts.issues] == ["Observation/panel.component[2]"]


def test_wrongly_typed_values_are_reported_not_raised() -> None:
    bad_code = observation("code", LOINC, HB, **quantity(9, "g/dL"))
    bad_code["code"] = "718-7"
    facts = facts_of(
        observation("q", LOINC, HB, valueQuantity="9 g/dL"),
        observation("v", LOINC, HB, valueQuantity={"value": "nine", "unit": "g/dL"}),
        bad_code,
    )
    assert facts.observations == ()
    assert sorted(i.location for i in facts.issues) == [
        "Observation/code.code",
        "Observation/q.valueQuantity",
        "Observation/v.valueQuantity.value",
    ]


def test_fever_as_finding_or_as_temperature() -> None:
    finding = observation("f1", SCT, "386661006")
    temperature = observation("f2", SCT, "386661006", **quantity(101.3, "[degF]"))
    facts = facts_of(finding, temperature)
    by_ref = {f.ref: f for f in facts.observations if f.concept == c.FEVER}
    assert by_ref["Observation/f1"].flag is True
    quantity_read = by_ref["Observation/f2"].quantity
    assert quantity_read is not None
    assert quantity_read.unit == "Cel"
    assert quantity_read.value == pytest.approx(38.5)


def test_local_flowsheet_code_is_a_pain_score_only_through_the_conceptmap() -> None:
    mapped = Terminology.load(conceptmap_dirs=[Path(__file__).parents[2] / "examples" / "conceptmaps"])
    flowsheet = observation("fs", "http://hospital.example.org/flowsheet", "PAIN-NRS", valueInteger=8)
    with_map = extract_facts(read(flowsheet), mapped, patient_id=PATIENT_ID)
    assert [(o.concept, o.quantity.value if o.quantity else None) for o in with_map.observations] == [
        (c.PAIN_SCORE, 8.0)
    ]
    assert facts_of(flowsheet).observations == ()  # without the ConceptMap the code means nothing


def test_derived_from_and_has_member_do_not_create_facts() -> None:
    panel = observation(
        "p",
        LOINC,
        "24326-1",
        hasMember=[{"reference": "Observation/x"}],
        derivedFrom=[{"reference": "Observation/y"}],
    )
    assert facts_of(panel).observations == ()


def test_score_answer_text_opening_with_the_score() -> None:
    kps = observation(
        "k",
        LOINC,
        "89243-0",
        valueCodeableConcept={"coding": [coding(LOINC, "LA29175-9", "70 - Cares for self")]},
    )
    ecog = observation("e", LOINC, ECOG, valueCodeableConcept={"text": "Fully active"})
    facts = facts_of(kps, ecog)
    assert [(o.concept, o.quantity.value if o.quantity else None) for o in facts.observations] == [
        (c.KPS, 70.0)
    ]
    assert [i.location for i in facts.issues] == ["Observation/e.valueCodeableConcept"]


def test_yes_no_concept_with_an_unreadable_answer_is_reported() -> None:
    local = terminology().local_system
    facts = facts_of(observation("w", local, "rf-limb-weakness", valueQuantity={"value": 3}))
    assert facts.observations == ()
    assert [i.location for i in facts.issues] == ["Observation/w.value"]


@pytest.mark.parametrize(
    ("code", "concept", "answer", "expected"),
    [
        (ECOG, c.ECOG, coding(LOINC, "LA9625-0"), 3.0),
        (ECOG, c.ECOG, coding("urn:oid:2.16.840.1.113883.6.1", "LA9626-8"), 4.0),
        ("89243-0", c.KPS, coding(LOINC, "LA29181-7"), 40.0),
        ("89243-0", c.KPS, coding(LOINC, "LA29179-1"), 60.0),
    ],
)
def test_performance_status_as_a_loinc_answer_code(
    code: str, concept: str, answer: dict[str, Any], expected: float
) -> None:
    """ECOG/KPS sent as the LL529-9 / LL4986-7 answer code (no number in the display) are still read."""
    as_value = observation("v", LOINC, code, valueCodeableConcept={"coding": [answer]})
    as_interpretation = observation("i", LOINC, code, interpretation=[{"coding": [answer]}])
    facts = facts_of(as_value, as_interpretation)
    assert [(o.ref, o.concept, o.quantity.value if o.quantity else None) for o in facts.observations] == [
        ("Observation/i", concept, expected),
        ("Observation/v", concept, expected),
    ]
    assert facts.issues == ()


def test_performance_status_code_and_display_disagreeing_gives_the_worse_score() -> None:
    ecog = observation(
        "e", LOINC, ECOG, valueCodeableConcept={"coding": [coding(LOINC, "LA9622-7", "3 - in bed >50%")]}
    )
    [fact] = _only(c.ECOG, ecog)
    assert fact.quantity is not None
    assert fact.quantity.value == 3.0


def test_karnofsky_in_percent_is_read() -> None:
    [fact] = _only(c.KPS, observation("k", LOINC, "89243-0", **quantity(40, "%")))
    assert fact.quantity is not None
    assert fact.quantity.value == 40.0


def test_the_reported_unit_is_kept_next_to_the_normalised_value() -> None:
    [fact] = _only(c.LAB_CALCIUM, observation("ca", LOINC, CALCIUM, **quantity(3.45, "mmol/L")))
    assert fact.quantity is not None
    assert (fact.quantity.unit, fact.quantity.reported_unit) == ("mg/dL", "mmol/L")
    [same] = _only(c.LAB_CALCIUM, observation("mg", LOINC, CALCIUM, **quantity(13.8, "mg/dL")))
    assert same.quantity is not None
    assert same.quantity.reported_unit is None


def test_pain_score_sent_out_of_ten_is_read() -> None:
    [fact] = _only(c.PAIN_SCORE, observation("p", LOINC, PAIN, **quantity(8, "/10")))
    assert fact.quantity is not None
    assert fact.quantity.value == 8.0


def test_body_temperature_vital_sign_is_read_for_the_fever_gate() -> None:
    """A febrile patient is recorded as a LOINC 8310-5 vital sign, not as a fever finding."""
    temperature = observation("t", LOINC, "8310-5", **quantity(38.4, "Cel"))
    [fact] = _only(c.FEVER, temperature)
    assert fact.quantity is not None
    assert (fact.quantity.value, fact.quantity.unit) == (38.4, "Cel")


@pytest.mark.parametrize(("when", "precision", "earliest"), [("2025", "year", 1), ("2025-03", "month", 3)])
def test_a_result_dated_to_the_year_or_month_is_read_as_its_earliest_day_and_reported(
    when: str, precision: str, earliest: int
) -> None:
    facts = facts_of(observation("o1", LOINC, CALCIUM, when, **quantity(2.4, "mmol/L")))
    (fact,) = facts.observations
    assert (fact.effective, fact.date_precision) == (datetime(2025, earliest, 1), precision)
    (issue,) = facts.issues
    assert issue.location == "Observation/o1.effectiveDateTime"
    assert issue.message.startswith(f"date imprecise (to the {precision} only): read as its earliest day")


def test_a_result_dated_to_the_day_raises_no_date_issue() -> None:
    facts = facts_of(observation("o1", LOINC, CALCIUM, "2025-03-04", **quantity(2.4, "mmol/L")))
    assert facts.observations[0].date_precision == "day"
    assert facts.issues == ()


def _answer_map(directory: Path, *elements: tuple[str, str, str, str]) -> Terminology:
    """A ConceptMap of (local system, local answer code, project system, project answer code) rows."""
    groups = [
        {"source": source, "target": target, "element": [{"code": code, "target": [
            {"code": answer, "equivalence": "equivalent"}]}]}
        for source, code, target, answer in elements
    ]  # fmt: skip
    directory.mkdir(parents=True, exist_ok=True)
    cmap = {"resourceType": "ConceptMap", "url": "http://hospital.example.org/cm/answers", "group": groups}
    (directory / "answers.json").write_text(json.dumps(cmap), encoding="utf-8")
    return Terminology.load(conceptmap_dirs=[directory])


RADIOLOGY = "http://hospital.example.org/radiology-values"
WARD = "http://hospital.example.org/ward-answers"


def test_local_answer_codes_are_read_through_the_conceptmap(tmp_path: Path) -> None:
    """A hospital's answer codes, with no display that names the answer, mean nothing on their own; an
    answer map makes them the lesion type, the ECOG score (as value or as interpretation) and the yes of
    a red-flag symptom they stand for."""
    local = terminology().local_system
    resources = [
        observation("lt", local, "lesion-type", valueCodeableConcept={"coding": [coding(RADIOLOGY, "L1")]}),
        observation("e", LOINC, ECOG, valueCodeableConcept={"coding": [coding(WARD, "PS3")]}),
        observation("i", LOINC, ECOG, interpretation=[{"coding": [coding(WARD, "PS3")]}]),
        observation("w", local, "rf-limb-weakness", valueCodeableConcept={"coding": [coding(WARD, "J")]}),
    ]
    mapped = _answer_map(
        tmp_path,
        (RADIOLOGY, "L1", local, "lytic"),
        (WARD, "PS3", LOINC, "LA9625-0"),
        (WARD, "J", SCT, "373066001"),
    )
    facts = extract_facts(read(*resources), mapped, patient_id=PATIENT_ID)
    read_as = {
        (o.ref, o.concept): (o.code, o.quantity.value if o.quantity else None, o.flag)
        for o in facts.observations
    }
    assert read_as == {
        ("Observation/lt", c.LESION_TYPE): ("lytic", None, None),
        ("Observation/e", c.ECOG): (None, 3.0, None),
        ("Observation/i", c.ECOG): (None, 3.0, None),
        ("Observation/w", c.RF_LIMB_WEAKNESS): (None, None, True),
    }
    assert facts.issues == ()
    assert facts.unreadable == ()

    # Without the map each value was received but not read: said, never taken as "no value".
    unmapped = facts_of(*resources)
    assert unmapped.observations == ()
    assert sorted(i.location for i in unmapped.issues) == [
        "Observation/e.valueCodeableConcept",
        "Observation/lt.value",
        "Observation/w.value",
    ]
    assert sorted((u.ref, u.concept) for u in unmapped.unreadable) == [
        ("Observation/e", c.ECOG),
        ("Observation/lt", c.LESION_TYPE),
        ("Observation/w", c.RF_LIMB_WEAKNESS),  # a symptom answer "J": rule R01 asks for it to be checked
    ]


def test_a_mapped_answer_is_read_in_a_panel_component(tmp_path: Path) -> None:
    local = terminology().local_system
    panel = observation(
        "p",
        LOINC,
        "24326-1",
        component=[
            {
                "code": {"coding": [coding(local, "lesion-type")]},
                "valueCodeableConcept": {"coding": [coding(RADIOLOGY, "B")]},
            }
        ],
    )
    mapped = _answer_map(tmp_path, (RADIOLOGY, "B", local, "blastic"))
    facts = extract_facts(read(panel), mapped, patient_id=PATIENT_ID)
    assert [(o.concept, o.code) for o in facts.observations] == [(c.LESION_TYPE, "blastic")]
