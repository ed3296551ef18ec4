"""Every resource the service proposes is valid FHIR R4: checked here, once, instead of per call.

The CarePlan and the referral ServiceRequests are built as plain JSON on the request path (model validation
cost more than the reasoning).  These tests hold them to the ``fhir.resources.R4B`` models: every resource in
every action of every example patient's answer on every hook, through the HTTP app, in both write-back
modes' shapes (a created plan, an activated plan).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class

from fhir_bonemet.fhir.outbound.careplan import (
    PLAN_VERSION,
    CarePlanStatus,
    activated,
    content_digest,
    validate_careplan,
)
from fhir_bonemet.fhir.outbound.referrals import validate_referral
from test_answers_golden import current_answers


def _strip(node: Any, top: bool) -> Any:
    """The whole plan without dates or status, walked node by node: the reference the service's digest,
    which copies only the contained Goals' dated parts, must agree with."""
    if isinstance(node, dict):
        drop = ("created", "period", "status", "identifier", "text") if top else ("dueDate", "startDate")
        return {k: _strip(v, False) for k, v in node.items() if k not in drop}
    if isinstance(node, list):
        return [_strip(v, False) for v in node]
    return node


def _resources(answer: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for card in answer.get("cards", []):
        for suggestion in card.get("suggestions", []):
            for action in suggestion.get("actions", []):
                if isinstance(action.get("resource"), dict):
                    yield action["resource"]


@pytest.fixture(scope="module")
def emitted(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    answers = current_answers(Path(tmp_path_factory.mktemp("store")))
    return [resource for answer in answers.values() for resource in _resources(answer["body"])]


def test_the_examples_propose_careplans_and_referrals(emitted: list[dict[str, Any]]) -> None:
    kinds = {resource["resourceType"] for resource in emitted}
    assert {"CarePlan", "ServiceRequest"} <= kinds


def test_every_proposed_resource_validates_against_its_r4b_model(emitted: list[dict[str, Any]]) -> None:
    for resource in emitted:
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
        if resource["resourceType"] == "CarePlan":
            validate_careplan(resource)
            validate_careplan(activated(resource, "plan-1"))
            assert activated(resource, "plan-1")["status"] == CarePlanStatus.ACTIVE.value
        if resource["resourceType"] == "ServiceRequest":
            validate_referral(resource)


def test_an_invalid_plan_is_caught_by_the_check() -> None:
    """The check can fail: a CarePlan without its required intent is rejected."""
    with pytest.raises(ValueError, match="intent"):
        validate_careplan(
            {"resourceType": "CarePlan", "status": "active", "subject": {"reference": "Patient/1"}}
        )


def test_the_plan_identifier_is_the_digest_of_the_standard_canonical_json(
    emitted: list[dict[str, Any]],
) -> None:
    """The digest is computed with orjson; it must equal the one json.dumps's canonical text gives, so the
    identifier of an unchanged plan never changes with the encoder.  ``_strip`` here walks the whole plan;
    the service copies only the dated parts of the contained Goals (where the nested dates are), and must
    agree."""
    plans = [r for r in emitted if r["resourceType"] == "CarePlan"]
    assert plans
    for plan in plans:
        content = {k: v for k, v in plan.items() if k != "identifier"}
        text = json.dumps(_strip(content, True), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        patient = plan["subject"]["reference"]
        expected = hashlib.sha256(f"{patient}\n{PLAN_VERSION}\n{text}".encode()).hexdigest()
        assert plan["identifier"][0]["value"] == expected
        assert content_digest(patient, content) == expected
