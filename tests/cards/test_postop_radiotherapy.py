"""Post-operative radiotherapy after a fixation, through the service (P06; S14 [III,B]).

Once a lesion is fixed after its Mirels, R04 no longer asks for its fixation, and its card was the only
one that said "consider post-operative radiotherapy".  The example femur patient, fixed after the score,
must still be offered the radiation-oncology referral; with a new score after the operation R04 stays
critical and the referral waits on its card, "when stable".
"""

from __future__ import annotations

import copy
import json
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from fhir_bonemet.cli.examples_runner import (
    default_examples_dir,
    load_manifest,
    prefetch_of,
    prefetched_request,
)
from fhir_bonemet.main import build_app
from fhir_bonemet.settings import Settings
from fhir_bonemet.workflow import Workflow

SCENARIO = "proximal-femur-mirels9"
LOCAL = "http://fhir-bonemet.org/fhir/CodeSystem/bonemet"
RULES = "org.fhir-bonemet.rules"
Json = dict[str, Any]


@cache
def _resources() -> tuple[Json, ...]:
    bundle = json.loads((default_examples_dir() / SCENARIO / "bundle.json").read_text(encoding="utf-8"))
    return tuple(entry["resource"] for entry in bundle["entry"])


def _procedure(rid: str, system: str, code: str, performed: str, status: str = "completed") -> Json:
    met = next(r for r in _resources() if r["id"] == "bm-femur-mirels9-met")
    return {
        "resourceType": "Procedure",
        "id": rid,
        "status": status,
        "code": {"coding": [{"system": system, "code": code}]},
        "subject": {"reference": "Patient/bm-femur-mirels9"},
        "performedDateTime": performed,
        "bodySite": copy.deepcopy(met["bodySite"]),
    }


def _fixation(performed: str) -> Json:
    return _procedure("fix", LOCAL, "surgical-fixation", performed)


def _radiotherapy(performed: str) -> Json:
    return _procedure("rt", "http://snomed.info/sct", "108290001", performed)


def _cards(tmp_path: Path, *added: Json, pain: int = 2) -> list[Json]:
    """patient-view for the example with ``added`` resources and its pain score set to ``pain`` (2: mild, so
    the focal-pain part of P06 stays silent and what is left is the post-operative suggestion)."""
    examples = default_examples_dir()
    anchor = date.fromisoformat(load_manifest(examples)["anchorDate"])
    resources = [copy.deepcopy(r) for r in _resources()]
    for resource in resources:
        if resource["id"] == "bm-femur-mirels9-pain":
            resource["valueInteger"] = pain
    request = prefetched_request(SCENARIO, "patient-view", today=anchor)
    request["prefetch"] = prefetch_of([*resources, *added])
    settings = Settings(auth_required=False, data_dir=tmp_path)
    app = build_app(settings, handler=Workflow.from_settings(settings, clock=lambda: anchor))
    with TestClient(app) as client:
        services = {s["hook"]: s["id"] for s in client.get("/cds-services").json()["services"]}
        response = client.post(f"/cds-services/{services['patient-view']}", json=request)
    assert response.status_code == 200, response.text
    cards: list[Json] = response.json()["cards"]
    return cards


def _rules(card: Json) -> list[str]:
    rules: list[str] = card["extension"][RULES]
    return rules


def test_a_femur_fixed_after_its_mirels_is_offered_a_radiation_oncology_referral(tmp_path: Path) -> None:
    cards = _cards(tmp_path, _fixation("2025-05-29"))  # the Mirels 9 is of 2025-05-28
    assert not any("R04" in _rules(card) for card in cards)
    (card,) = [card for card in cards if _rules(card)[0] == "P06"]
    assert card["indicator"] == "info"
    assert card["summary"].startswith("Left proximal femur lesion fixed 2025-05-29, no radiotherapy since")
    assert "post-operative radiotherapy" in card["detail"]
    labels = [s["label"] for s in card["suggestions"]]
    assert "Order referral to radiation oncology" in labels
    # The referral points to the lesion it is about.
    (referral,) = [
        a["resource"]
        for s in card["suggestions"]
        for a in s["actions"]
        if a["resource"]["resourceType"] == "ServiceRequest"
    ]
    assert {"reference": "Condition/bm-femur-mirels9-met"} in referral["reasonReference"]


def test_radiotherapy_after_the_fixation_leaves_no_referral(tmp_path: Path) -> None:
    cards = _cards(tmp_path, _fixation("2025-05-29"), _radiotherapy("2025-05-31"))
    assert not any("P06" in _rules(card) for card in cards)
    labels = [s["label"] for card in cards for s in card.get("suggestions", [])]
    assert "Order referral to radiation oncology" not in labels


def test_with_r04_still_critical_the_postoperative_referral_waits_on_its_card(tmp_path: Path) -> None:
    # Fixed on 2025-04-20, then scored Mirels 9 on 2025-05-28: R04 fires on the new score (critical).  The
    # routine radiotherapy suggestion is folded onto that card, not a card of its own.
    cards = _cards(tmp_path, _fixation("2025-04-20"))
    first = cards[0]
    assert first["indicator"] == "critical"
    assert _rules(first)[0] == "R04"
    assert "P06" in _rules(first)
    assert "Also, when stable" in first["detail"]
    assert [card for card in cards if _rules(card)[0] == "P06"] == []
