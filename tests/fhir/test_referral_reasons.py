"""Why a referral was proposed travels with it: reasonReference to the Conditions and Observations the finding
used, and, for a finding resting on medication orders alone (R09), its concern as reasonCode, since R4 and the
referral profile allow only Conditions and Observations as reasonReference."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from fhir_bonemet.cli.examples_runner import default_examples_dir, load_manifest, prefetched_request
from fhir_bonemet.core.model.findings import Category, Finding, Indicator, Referral, UsedFact
from fhir_bonemet.fhir.outbound.codes import load_outbound_codes
from fhir_bonemet.fhir.outbound.referrals import build_referral, validate_referral
from fhir_bonemet.main import build_app
from fhir_bonemet.settings import Settings
from fhir_bonemet.workflow import Workflow

CODES = load_outbound_codes()
SEDATING_REVIEW = "Referral to a pain or palliative care specialist (review of the sedating regimen)"
TODAY = date(2025, 6, 1)
MEDS = (
    UsedFact("Oxycodone 10 mg", "active (MedicationRequest)", "MedicationRequest/oxy", "2025-05-01"),
    UsedFact("Lorazepam 1 mg", "active (MedicationStatement)", "MedicationStatement/lzp"),
    UsedFact("Gabapentin 300 mg", "draft order", "MedicationRequest/draft-gaba"),
    UsedFact("Daily oral morphine equivalents", "15 mg/day"),
)


def finding(rule_id: str, title: str, used: tuple[UsedFact, ...], referral: Referral) -> Finding:
    return Finding(
        rule_id=rule_id,
        title=title,
        category=Category.RED_FLAG,
        indicator=Indicator.CRITICAL,
        summary="summary",
        rationale="rationale",
        evidence=(),
        used=used,
        referrals=(referral,),
    )


def referral(f: Finding) -> dict[str, Any]:
    resource = build_referral(f.referrals[0], f, patient_ref="Patient/p", today=TODAY, codes=CODES)
    validate_referral(resource)
    return resource


def test_a_referral_on_medication_orders_alone_names_its_concern_as_reason_code() -> None:
    resource = referral(
        finding(
            "R09", "Opioid, benzodiazepine and gabapentinoid together", MEDS, Referral.SEDATING_REGIMEN_REVIEW
        )
    )
    assert resource["reasonCode"] == [{"text": "R09 Opioid, benzodiazepine and gabapentinoid together"}]
    # The orders that raised it are not reasonReference targets in R4: they stay the supporting information.
    assert "reasonReference" not in resource
    assert resource["supportingInfo"] == [
        {"reference": "MedicationRequest/oxy"},
        {"reference": "MedicationStatement/lzp"},
        {"reference": "MedicationRequest/draft-gaba"},
    ]
    # Element order as the typed model writes it: reasonCode before supportingInfo.
    keys = list(resource)
    assert keys.index("reasonCode") < keys.index("supportingInfo")


def test_a_referral_about_a_condition_or_observation_points_to_it_and_adds_no_reason_code() -> None:
    used = (
        UsedFact("Pathological fracture", "active", "Condition/fx"),
        UsedFact("SINS (T9)", "14", "Observation/sins"),
        UsedFact("Surgical fixation (T9 lesion)", "completed", "Procedure/fix"),
    )
    resource = referral(finding("R04", "Pathological or impending fracture", used, Referral.SPINE_SURGERY))
    assert resource["reasonReference"] == [{"reference": "Condition/fx"}, {"reference": "Observation/sins"}]
    assert "reasonCode" not in resource


def test_the_r09_referral_of_the_example_patient_carries_its_reason(tmp_path: Path) -> None:
    """Through the service: the example on an opioid and a benzodiazepine, a gabapentin draft selected."""
    examples = default_examples_dir()
    anchor = date.fromisoformat(load_manifest(examples)["anchorDate"])
    settings = Settings(auth_required=False, data_dir=tmp_path)
    app = build_app(settings, handler=Workflow.from_settings(settings, clock=lambda: anchor))
    with TestClient(app) as client:
        services = {s["hook"]: s["id"] for s in client.get("/cds-services").json()["services"]}
        body = client.post(
            f"/cds-services/{services['order-select']}",
            json=prefetched_request("opioid-benzodiazepine", "order-select", today=anchor),
        ).json()
    (card,) = [c for c in body["cards"] if c["extension"]["org.fhir-bonemet.rules"][0] == "R09"]
    requests = [
        a["resource"]
        for s in card["suggestions"]
        for a in s["actions"]
        if a["type"] == "create" and a["resource"]["resourceType"] == "ServiceRequest"
    ]
    labels = [s["label"] for s in card["suggestions"]]
    assert f"Order {SEDATING_REVIEW[0].lower()}{SEDATING_REVIEW[1:]}" in labels
    assert not any("interventional" in label for label in labels)
    assert requests, "R09 proposes a review of the sedating regimen"
    for resource in requests:
        # What the referral is for, said the same way in its label, code and text: not an intervention.
        coding = resource["code"]["coding"][0]
        assert (coding["code"], coding["display"]) == ("ref-sedating-regimen-review", SEDATING_REVIEW)
        assert resource["code"]["text"] == SEDATING_REVIEW
        validate_referral(resource)
        assert resource["reasonCode"][0]["text"].startswith("R09 ")
        assert {r["reference"].split("/")[0] for r in resource["supportingInfo"]} == {"MedicationRequest"}
