"""The same clinical fact, encoded as another EHR would send it (valid FHIR R4), gives the same cards.

Each case re-encodes one fact of an example patient and compares the answer (card summaries, colours and
rule ids) with the answer to the example as written.  The cases are the encodings that once lost a critical
card: a coded "yes" for a red-flag symptom, a coded pain score, a ``urn:uuid`` focus, a partial onset date.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hook_answers import HookCase, answer, example_cases

Json = dict[str, Any]


def _case(scenario: str, hook: str = "patient-view") -> HookCase:
    return next(c for c in example_cases() if c.name == f"example:{scenario}" and c.hook == hook)


def _resources(request: Json) -> Iterator[tuple[Json, Json]]:
    """(bundle, entry) for every entry of every prefetched Bundle."""
    for slot in request["prefetch"].values():
        if isinstance(slot, dict) and slot.get("resourceType") == "Bundle":
            for entry in slot.get("entry", []):
                yield slot, entry


def _shape(body: Json) -> list[tuple[str, str, tuple[str, ...]]]:
    return [
        (card["indicator"], card["summary"], tuple(card["extension"]["org.fhir-bonemet.rules"]))
        for card in body["cards"]
    ]


def _same_answer(scenario: str, change: Callable[[Json], None], hook: str = "patient-view") -> None:
    case = _case(scenario, hook)
    request = copy.deepcopy(case.request)
    change(request)
    assert _shape(answer(case, request)) == _shape(answer(case))


YES = {
    "SNOMED CT": {"coding": [{"system": "http://snomed.info/sct", "code": "373066001"}]},
    "SNOMED CT by OID": {"coding": [{"system": "urn:oid:2.16.840.1.113883.6.96", "code": "373066001"}]},
    "SNOMED CT, display": {
        "coding": [
            {"system": "http://snomed.info/sct", "code": "373066001", "display": "Yes (qualifier value)"}
        ],
        "text": "Yes",
    },
    "LOINC": {"coding": [{"system": "http://loinc.org", "code": "LA33-6", "display": "Yes"}], "text": "Yes"},
}


@pytest.mark.parametrize("hook", ["patient-view", "order-select", "order-sign"])
@pytest.mark.parametrize("coded", list(YES), ids=str)
def test_a_red_flag_symptom_answered_with_a_coded_yes(coded: str, hook: str) -> None:
    """A valueBoolean true, or the yes answer code of SNOMED CT or LOINC: R01 stays critical."""

    def change(request: Json) -> None:
        flags = 0
        for _, entry in _resources(request):
            resource = entry["resource"]
            if resource.get("resourceType") == "Observation" and resource.get("valueBoolean") is True:
                del resource["valueBoolean"]
                resource["valueCodeableConcept"] = copy.deepcopy(YES[coded])
                flags += 1
        assert flags, "the example records its red-flag symptoms as yes/no"

    _same_answer("suspected-cord-compression", change, hook)


def test_a_pain_score_sent_as_a_coded_answer_whose_text_and_display_repeat_the_number() -> None:
    def change(request: Json) -> None:
        for _, entry in _resources(request):
            resource = entry["resource"]
            codes = [c.get("code") for c in resource.get("code", {}).get("coding", [])]
            if "72514-3" in codes and "valueInteger" in resource:
                score = resource.pop("valueInteger")
                resource["valueCodeableConcept"] = {
                    "coding": [
                        {"system": "http://loinc.org", "code": "LA-not-a-real-code", "display": str(score)}
                    ],
                    "text": str(score),
                }

    _same_answer("suspected-cord-compression", change)


@pytest.mark.parametrize("scenario", ["thoracic-spine-sins14", "proximal-femur-mirels9"])
def test_a_score_whose_focus_names_its_lesion_by_urn_uuid(scenario: str) -> None:
    """A collection Bundle whose Condition has a urn:uuid fullUrl, and the SINS or Mirels score naming it
    by that: the score still belongs to its lesion (R04 stays critical)."""
    urn = "urn:uuid:9a6d0000-0000-4000-8000-000000000001"

    def change(request: Json) -> None:
        named = {
            focus.get("reference")
            for _, entry in _resources(request)
            for focus in entry["resource"].get("focus", []) or []
        }
        lesion: str | None = None
        for bundle, entry in _resources(request):
            resource = entry["resource"]
            ref = f"{resource.get('resourceType')}/{resource.get('id')}"
            if resource.get("resourceType") == "Condition" and lesion is None and ref in named:
                lesion = ref
                entry["fullUrl"] = urn
                bundle["type"] = "collection"
        moved = 0
        for _, entry in _resources(request):
            for focus in entry["resource"].get("focus", []) or []:
                if focus.get("reference") == lesion:
                    focus["reference"] = urn
                    moved += 1
        assert moved, "a score of the example names its lesion in focus"

    _same_answer(scenario, change)


@pytest.mark.parametrize("partial", ["month", "year"])
def test_a_cord_compression_dated_to_this_month_or_year_is_recent(partial: str) -> None:
    """An onset of "2026-12" was read as 31 December, a day still to come, and lost the R01 red flag."""
    case = _case("rib-blastic-ecog1")
    today = case.today.isoformat()
    compression = {
        "resourceType": "Condition",
        "id": "mscc-1",
        "subject": {"reference": f"Patient/{case.request['context']['patientId']}"},
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "71286001"}]},
        "clinicalStatus": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}
            ]
        },
    }
    dated = dict(compression, onsetDateTime=today[:7] if partial == "month" else today[:4])
    full = dict(compression, onsetDateTime=today)

    def with_condition(condition: Json) -> Callable[[Json], None]:
        return lambda request: request["prefetch"]["conditions"]["entry"].append({"resource": condition})

    request_dated, request_full = copy.deepcopy(case.request), copy.deepcopy(case.request)
    with_condition(dated)(request_dated)
    with_condition(full)(request_full)
    shape = _shape(answer(case, request_dated))
    assert shape == _shape(answer(case, request_full))
    assert shape[0][0] == "critical"
    assert "R01" in shape[0][2]


def test_an_acetaminophen_product_of_unknown_strength_on_top_of_the_maximum_is_an_overdose() -> None:
    """4 g/day of paracetamol and a Percocet draft whose strength cannot be read ("Percocet", no code): the
    total is above 4 g whatever the strength, as it is when the strength is known (SCD 1049221)."""
    case = _case("thoracic-spine-sins14", "order-select")
    patient = case.request["context"]["patientId"]

    def with_draft(medication: Json) -> Json:
        request = copy.deepcopy(case.request)
        draft = {
            "resourceType": "MedicationRequest",
            "id": "draft-percocet",
            "status": "draft",
            "intent": "order",
            "subject": {"reference": f"Patient/{patient}"},
            "medicationCodeableConcept": medication,
            "dosageInstruction": [
                {
                    "timing": {"repeat": {"frequency": 4, "period": 1, "periodUnit": "d"}},
                    "doseAndRate": [{"doseQuantity": {"value": 2, "unit": "tablet", "code": "{tablet}"}}],
                }
            ],
        }
        request["context"]["draftOrders"]["entry"] = [{"resource": draft}]
        request["context"]["selections"] = ["MedicationRequest/draft-percocet"]
        return request

    rx = "http://www.nlm.nih.gov/research/umls/rxnorm"
    for medication in ({"text": "Percocet"}, {"coding": [{"system": rx, "code": "1049221"}]}):
        cards = answer(case, with_draft(medication))["cards"]
        acetaminophen = [c for c in cards if "P20" in c["extension"]["org.fhir-bonemet.rules"]]
        assert acetaminophen, medication
        assert acetaminophen[0]["indicator"] == "critical", medication


def test_a_draft_whose_drug_cannot_be_identified_is_said_not_passed_over() -> None:
    """A gabapentin draft sent as a medicationReference that resolves to nothing and has no display: no rule
    could count it (R09 cannot see the third drug), and the answer was silent."""
    case = _case("opioid-benzodiazepine", "order-select")
    request = copy.deepcopy(case.request)
    for entry in request["context"]["draftOrders"]["entry"]:
        resource = entry["resource"]
        if resource.get("id") == "draft-gabapentin":
            del resource["medicationCodeableConcept"]
            resource["medicationReference"] = {"reference": "Medication/unknown"}
    cards = answer(case, request)["cards"]
    unidentified = [c for c in cards if "P44" in c["extension"]["org.fhir-bonemet.rules"]]
    assert unidentified, [c["summary"] for c in cards]
    assert unidentified[0]["summary"].startswith("Drafted medication not identified")
    # Named drafts need no such card.
    assert not [c for c in answer(case)["cards"] if "P44" in c["extension"]["org.fhir-bonemet.rules"]]


@pytest.mark.parametrize(
    "value",
    [
        {"valueBoolean": True},
        {
            "valueCodeableConcept": {
                "coding": [{"system": "http://loinc.org", "code": "LA33-6", "display": "Yes"}]
            }
        },
        {"valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct", "code": "10828004"}]}},
        {"valueString": "Yes"},
    ],
    ids=["true", "LOINC yes", "SNOMED positive", "text yes"],
)
def test_a_pregnancy_status_answered_yes_is_a_pregnancy(value: Json) -> None:
    """82810-3 answered yes, true or positive was "not recognised": the pregnancy stayed unknown and the
    pregnancy cards (P40, P41) silent beside an active NSAID."""
    case = _case("thoracic-spine-sins14")
    patient = case.request["context"]["patientId"]

    def pregnant(answer: Json) -> Json:
        request = copy.deepcopy(case.request)
        request["prefetch"]["patient"].update(gender="female", birthDate="1992-03-01")
        status = {
            "resourceType": "Observation",
            "id": "pregnancy-status",
            "status": "final",
            "subject": {"reference": f"Patient/{patient}"},
            "code": {"coding": [{"system": "http://loinc.org", "code": "82810-3"}]},
            "effectiveDateTime": case.today.isoformat(),
            **answer,
        }
        request["prefetch"]["conditions"]["entry"].append({"resource": status})
        return request

    coded = {"valueCodeableConcept": {"coding": [{"system": "http://loinc.org", "code": "LA15173-0"}]}}
    expected = _shape(answer(case, pregnant(coded)))
    assert any({"P40", "P41"} & set(rules) for _, _, rules in expected), expected
    assert _shape(answer(case, pregnant(value))) == expected


@pytest.mark.parametrize("code", ["161898004", "129839007"], ids=["falls", "at risk for falls"])
def test_a_fall_recorded_as_a_finding_counts_as_the_condition_does(code: str) -> None:
    """An Observation "Falls" or "At risk for falls" (no value, or true) was ignored: only Conditions were
    read, and a rib-only lesion stayed LOW instead of MODERATE."""
    case = _case("rib-blastic-ecog1")
    patient = case.request["context"]["patientId"]
    sct = {"coding": [{"system": "http://snomed.info/sct", "code": code}]}
    subject = {"reference": f"Patient/{patient}"}
    as_condition = {
        "resourceType": "Condition",
        "id": "fall-1",
        "subject": subject,
        "code": sct,
        "clinicalStatus": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}
            ]
        },
        "onsetDateTime": case.today.isoformat(),
    }
    as_finding = {
        "resourceType": "Observation",
        "id": "fall-1",
        "status": "final",
        "subject": subject,
        "code": sct,
        "effectiveDateTime": case.today.isoformat(),
        "valueBoolean": True,
    }

    def tier(record: Json, key: str) -> str:
        request = copy.deepcopy(case.request)
        request["prefetch"][key]["entry"].append({"resource": record})
        cards = answer(case, request)["cards"]
        exercise = next(c for c in cards if "EX01" in c["extension"]["org.fhir-bonemet.rules"])
        return str(exercise["summary"])

    baseline = _shape(answer(case))
    with_condition = tier(as_condition, "conditions")
    assert with_condition not in [summary for _, summary, _ in baseline]  # the fall raises the tier
    assert tier(as_finding, "observations-scores") == with_condition


def _careplan_activities(body: Json) -> list[str]:
    for card in body["cards"]:
        for suggestion in card.get("suggestions", []):
            for action in suggestion.get("actions", []):
                resource = action.get("resource") or {}
                if resource.get("resourceType") == "CarePlan":
                    return [a["detail"].get("description", "") for a in resource.get("activity", [])]
    return []


@pytest.mark.parametrize(
    ("junction", "single", "restriction"),
    [
        ("T12-L1", "L1", "Avoided for the {} lesion"),  # the lumbar spine bears weight
        ("C7-T1", "T1", "Avoided for the {} lesion"),
        ("L5-S1", "S1", "No hip flexion"),  # the sacrum's pelvic row
    ],
)
def test_a_lesion_at_a_spinal_junction_keeps_the_restrictions_of_both_regions(
    junction: str, single: str, restriction: str
) -> None:
    """A junction written as a range was read as its first region only: "T12-L1" lost the lumbar
    weight-bearing restriction, "L5-S1" the pelvic hip-loading rule."""
    case = _case("rib-blastic-ecog1")

    def at(text: str) -> list[str]:
        request = copy.deepcopy(case.request)
        for _, entry in _resources(request):
            resource = entry["resource"]
            if resource.get("resourceType") == "Condition" and resource.get("bodySite"):
                resource["bodySite"] = [{"text": text}]
        return _careplan_activities(answer(case, request))

    wanted = restriction.format(single)
    assert any(wanted in line for line in at(single))
    assert any(restriction.format(junction) in line for line in at(junction))


REFERRAL_URN = "urn:uuid:3f2c8a4e-1b7d-4c55-9a0e-2d6f1e8b7c90"


def _with_referral_draft(request: Json, *, saved: bool) -> Json:
    """The opioid-benzodiazepine order-select call with a physiotherapy referral drafted beside the
    gabapentin: saved (an id) or not yet saved (no id, a ``urn:uuid`` fullUrl)."""
    changed = copy.deepcopy(request)
    referral: Json = {
        "resourceType": "ServiceRequest",
        "status": "draft",
        "intent": "order",
        "subject": {"reference": f"Patient/{request['context']['patientId']}"},
        "code": {"text": "Physiotherapy referral"},
    }
    entry: Json = {"fullUrl": REFERRAL_URN, "resource": referral}
    if saved:
        referral["id"] = "draft-physio"
        entry = {"resource": referral}
    changed["context"]["draftOrders"]["entry"].append(entry)
    return changed


@pytest.mark.parametrize(
    "selection",
    [
        "https://ehr.example/fhir/MedicationRequest/draft-gabapentin",
        "https://ehr.example/fhir/MedicationRequest/draft-gabapentin/_history/2",
    ],
    ids=["fullUrl", "fullUrl with version"],
)
def test_a_selection_sent_as_the_draft_fullurl_is_the_draft(selection: str) -> None:
    """EHRs send a selection as the draft entry's fullUrl: it was refused with a 400, so the clinician got
    no card at all while ordering gabapentin beside an opioid and a benzodiazepine."""
    case = _case("opioid-benzodiazepine", "order-select")
    request = copy.deepcopy(case.request)
    [entry] = request["context"]["draftOrders"]["entry"]
    entry["fullUrl"] = selection
    request["context"]["selections"] = [selection]
    assert _shape(answer(case, request)) == _shape(answer(case))


@pytest.mark.parametrize(
    "selection",
    [
        "https://ehr.example/fhir/MedicationRequest/draft-gabapentin",
        "https://ehr.example/fhir/MedicationRequest/draft-gabapentin/_history/2",
        "MedicationRequest/draft-gabapentin/_history/2",
    ],
    ids=["absolute", "absolute with version", "relative with version"],
)
def test_a_selection_naming_the_draft_type_and_id_is_the_draft(selection: str) -> None:
    """A selection naming the draft's type and id, absolute or relative, with or without a version, is that
    draft even when the entry carries no fullUrl: a versioned one was refused with a 400."""
    case = _case("opioid-benzodiazepine", "order-select")
    request = copy.deepcopy(case.request)
    request["context"]["selections"] = [selection]
    assert _shape(answer(case, request)) == _shape(answer(case))


def test_an_unsaved_draft_selected_by_its_urn_uuid_is_the_selected_order() -> None:
    """A draft not saved yet has no id, only a ``urn:uuid`` fullUrl; selected by it, the answer is about
    it, as for the same draft saved and selected by ``Type/id``, not about the gabapentin beside it."""
    case = _case("opioid-benzodiazepine", "order-select")
    unsaved = _with_referral_draft(case.request, saved=False)
    unsaved["context"]["selections"] = [REFERRAL_URN]
    saved = _with_referral_draft(case.request, saved=True)
    saved["context"]["selections"] = ["ServiceRequest/draft-physio"]
    answered = answer(case, unsaved)
    assert _shape(answered) == _shape(answer(case, saved))
    assert not [c for c in answered["cards"] if "R09" in c["extension"]["org.fhir-bonemet.rules"]]
