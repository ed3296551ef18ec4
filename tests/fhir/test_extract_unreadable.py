"""A result that cannot be read is kept as received, with why (never dropped as if it were missing), and
the plausible-unit readings the cards show are computed from it."""

from __future__ import annotations

from datetime import date

import pytest
from reader_fixtures import LOINC, facts_of, observation, quantity, terminology

from fhir_bonemet.core.evidence.unreadable import considered, pending, readings
from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.fact_index import FactIndex

CALCIUM, PLATELETS, CREATININE = "17861-6", "777-3", "2160-0"
TODAY = date(2025, 3, 2)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ({"valueQuantity": {"value": 13.5}}, "no unit"),
        (quantity(13.5, "mg/dLx"), "unit"),
        ({"valueQuantity": {"value": 13.5, "comparator": ">", "unit": "mg/dL"}}, "comparator"),
        ({"valueString": "high"}, "not a number"),
        # A FHIR server's response is parsed leniently: NaN and infinities reach the reader as floats.
        ({"valueQuantity": {"value": float("nan"), "unit": "mg/dL"}}, "not a number"),
        ({"valueQuantity": {"value": float("inf"), "unit": "mg/dL"}}, "not a number"),
        ({"valueQuantity": {"value": 10**400, "unit": "mg/dL"}}, "not a number"),
    ],
)
def test_an_unreadable_calcium_is_kept_with_why(value: dict[str, object], reason: str) -> None:
    facts = facts_of(observation("ca", LOINC, CALCIUM, **value))
    assert [o for o in facts.observations if o.concept == c.LAB_CALCIUM] == []
    (kept,) = facts.unreadable
    assert (kept.ref, kept.concept) == ("Observation/ca", c.LAB_CALCIUM)
    assert reason in kept.reason or (reason == "no unit" and "(none)" in kept.reason)
    assert facts.issues  # and the read issue is still reported


PAIN_SCORE, ECOG = "72514-3", "89247-1"


@pytest.mark.parametrize(
    ("system", "code", "concept"),
    [
        (LOINC, CALCIUM, c.LAB_CALCIUM),
        (LOINC, PAIN_SCORE, c.PAIN_SCORE),
        (LOINC, ECOG, c.ECOG),
        ("local", "lesion-type", c.LESION_TYPE),
        ("local", "rf-limb-weakness", c.RF_LIMB_WEAKNESS),
    ],
)
@pytest.mark.parametrize(
    "element",
    ["valueInteger", "valueQuantity", "valueString", "valueCodeableConcept", "valueBoolean", "valueRange"],
)
def test_a_null_value_is_reported_for_every_kind_of_observation(
    system: str, code: str, concept: str, element: str
) -> None:
    """A value[x] sent as null (or of a type the concept cannot be read from) was received: a score, a lab,
    a coded answer or a finding alike is reported and kept as unreadable, never read as "no result"."""
    system = terminology().local_system if system == "local" else system
    for value in (None, {"low": {"value": 1}}) if element == "valueRange" else (None,):
        facts = facts_of(observation("x", system, code, **{element: value}))
        assert [o for o in facts.observations if o.concept == concept] == []
        assert [(u.ref, u.concept) for u in facts.unreadable] == [("Observation/x", concept)]
        assert [i.location for i in facts.issues if i.location.startswith("Observation/x")] == [
            f"Observation/x.{element}"
            if concept in (c.LAB_CALCIUM, c.PAIN_SCORE, c.ECOG)
            else "Observation/x.value"
        ]


def test_a_null_value_beside_a_data_absent_reason_is_no_result() -> None:
    absent = {
        "coding": [{"system": "http://terminology.hl7.org/CodeSystem/data-absent-reason", "code": "error"}]
    }
    facts = facts_of(observation("x", LOINC, PAIN_SCORE, valueInteger=None, dataAbsentReason=absent))
    assert (facts.observations, facts.unreadable) == ((), ())


def test_the_readings_name_impossible_units() -> None:
    facts = facts_of(
        observation("ca", LOINC, CALCIUM, valueQuantity={"value": 13.5}),
        observation("cr", LOINC, CREATININE, valueQuantity={"value": 1.1}),
    )
    by_concept = {u.concept: u for u in facts.unreadable}
    calcium = readings(by_concept[c.LAB_CALCIUM])
    assert [(r.unit, r.possible) for r in calcium] == [("mg/dL", True), ("mmol/L", False)]
    assert "as umol/L" in considered(by_concept[c.LAB_CREATININE])
    assert "(impossible)" in considered(by_concept[c.LAB_CREATININE])


def test_a_newer_readable_result_makes_an_older_unreadable_one_moot() -> None:
    older = observation("old", LOINC, PLATELETS, "2025-02-20T09:00:00Z", valueQuantity={"value": 30})
    newer = observation("new", LOINC, PLATELETS, "2025-03-01T09:00:00Z", **quantity(230, "10*9/L"))
    assert pending(FactIndex(facts_of(older, newer)), (c.LAB_PLATELETS,), TODAY, 30) == []
    # The other way round the unreadable one is the newest result and is still pending.
    older_ok = observation("old", LOINC, PLATELETS, "2025-02-20T09:00:00Z", **quantity(230, "10*9/L"))
    newer_bad = observation("new", LOINC, PLATELETS, "2025-03-01T09:00:00Z", valueQuantity={"value": 30})
    (found,) = pending(FactIndex(facts_of(older_ok, newer_bad)), (c.LAB_PLATELETS,), TODAY, 30)
    assert found.ref == "Observation/new"


def test_a_unit_string_of_any_length_is_shortened() -> None:
    facts = facts_of(observation("ca", LOINC, CALCIUM, **quantity(13.5, "x" * 10_000)))
    (kept,) = facts.unreadable
    assert kept.unit_text is not None
    assert len(kept.unit_text) <= 24


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ({"valueCodeableConcept": {"coding": [{"system": "urn:oid:1.2.3", "code": "J"}]}}, "code J"),
        ({"valueCodeableConcept": {"text": "patient unsure"}}, "patient unsure"),
        ({"valueString": "unclear"}, "unclear"),
        ({"valueQuantity": {"value": 3, "unit": "mm"}}, "3 mm"),
    ],
)
def test_a_red_flag_symptom_answer_neither_yes_nor_no_is_kept_as_received(
    value: dict[str, object], shown: str
) -> None:
    """Not "no symptom": rule R01 asks for the symptom to be checked (docs/clinical-model.md#red-flags)."""
    local = terminology().local_system
    facts = facts_of(observation("w", local, "rf-limb-weakness", **value))
    assert facts.observations == ()
    (kept,) = facts.unreadable
    assert (kept.ref, kept.concept, kept.value_text) == ("Observation/w", c.RF_LIMB_WEAKNESS, shown)
    assert [i.location for i in facts.issues] == ["Observation/w.value"]


_DAR = "http://terminology.hl7.org/CodeSystem/data-absent-reason"


@pytest.mark.parametrize(
    ("code", "absent", "named"),
    [
        ("rf-limb-weakness", {"coding": [{"system": _DAR, "code": "asked-unknown"}]}, "asked-unknown"),
        # The standard code names the reason, before the sender's words.
        (
            "rf-bladder-bowel",
            {"coding": [{"system": _DAR, "code": "asked-declined"}], "text": "n/a"},
            "asked-declined",
        ),
        ("rf-limb-weakness", {"text": "asked, unknown"}, "asked, unknown"),
        ("rf-limb-weakness", {"coding": [{"system": "urn:oid:1.2.3", "code": "UNK"}]}, "UNK"),
        ("rf-limb-weakness", {}, "reason not given"),
        # Malformed: kept all the same (the cautious reading), never an error.
        ("rf-limb-weakness", "unknown", "reason not given"),
        ("rf-limb-weakness", {"coding": [{"system": ["x"], "code": "not-asked"}]}, "not-asked"),
        ("lesion-type", {"coding": [{"system": _DAR, "code": "error"}]}, "error"),
        ("82810-3", {"coding": [{"system": _DAR, "code": "masked"}]}, "masked"),  # LOINC pregnancy status
    ],
)
def test_a_finding_recorded_with_no_answer_is_kept_with_its_reason(
    code: str, absent: object, named: str
) -> None:
    """Asked but unknown is not "no symptom": kept like an unreadable answer (the rules read it as
    cautiously), naming the reason given instead of an answer; nothing was misread, so no read issue."""
    system = LOINC if code[0].isdigit() else terminology().local_system
    facts = facts_of(observation("w", system, code, dataAbsentReason=absent))
    assert facts.observations == ()
    (kept,) = facts.unreadable
    assert kept.ref == "Observation/w"
    assert kept.no_answer == named
    assert facts.issues == ()


def test_a_question_not_asked_is_read_as_no_record() -> None:
    """data-absent-reason not-asked: the question was never put, so the record says no more than its
    absence would (docs/clinical-model.md#unreadable-results)."""
    local = terminology().local_system
    not_asked = {"coding": [{"system": _DAR, "code": "not-asked"}]}
    stu3 = {"coding": [{"system": "http://hl7.org/fhir/data-absent-reason", "code": "not-asked"}]}
    facts = facts_of(
        observation("w", local, "rf-limb-weakness", dataAbsentReason=not_asked),
        observation("p", local, "pain-mechanism", dataAbsentReason=not_asked),
        observation("b", local, "rf-bladder-bowel", dataAbsentReason=stu3),
    )
    assert facts.unreadable == ()
    assert facts.observations == ()


def test_an_answer_beside_a_data_absent_reason_is_read_as_the_answer() -> None:
    """An unreadable answer sent with a dataAbsentReason as well was dropped in silence: the answer wins."""
    local = terminology().local_system
    absent = {"coding": [{"system": _DAR, "code": "unknown"}]}
    facts = facts_of(
        observation("w", local, "rf-limb-weakness", valueString="unclear", dataAbsentReason=absent),
        observation("b", local, "rf-bladder-bowel", valueBoolean=True, dataAbsentReason=absent),
    )
    assert [(o.ref, o.flag) for o in facts.observations] == [("Observation/b", True)]
    (kept,) = facts.unreadable
    assert (kept.ref, kept.value_text, kept.no_answer) == ("Observation/w", "unclear", None)


_SCT = "http://snomed.info/sct"


@pytest.mark.parametrize(
    ("concept", "system", "code"),
    [
        (c.FEVER, _SCT, "386661006"),
        (c.FALLS_HISTORY, _SCT, "161898004"),
        (c.FALL_RISK, _SCT, "129839007"),
        (c.SYMPTOMATIC_HYPERCALCAEMIA, None, "symptomatic-hypercalcaemia"),
        (c.PAIN_MECHANICAL, None, "pain-mechanical"),
        (c.IMPENDING_FRACTURE, None, "impending-fracture"),
    ],
)
def test_a_yes_no_finding_answer_neither_yes_nor_no_is_kept_with_its_site(
    concept: str, system: str | None, code: str
) -> None:
    """Not "no fever", "no fall": the rules that read the finding name it and read it cautiously; a finding
    at a lesion keeps its body site so that it is read at that lesion (docs/clinical-model.md)."""
    femur = {"coding": [{"system": _SCT, "code": "71341001", "display": "Femur"}]}
    facts = facts_of(
        observation("f", system or terminology().local_system, code, valueString="unclear", bodySite=femur)
    )
    assert facts.observations == ()
    (kept,) = facts.unreadable
    assert (kept.ref, kept.concept, kept.value_text) == ("Observation/f", concept, "unclear")
    assert kept.site is not None
    assert [i.location for i in facts.issues] == ["Observation/f.value"]
