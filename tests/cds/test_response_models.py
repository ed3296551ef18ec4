"""Response wire models: every CDS Hooks 2.0 card invariant is enforced when a card is built."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from cds_helpers import example
from pydantic import ValidationError

from fhir_bonemet.cds.models import (
    RULES_EXTENSION,
    Action,
    Card,
    CDSResponse,
    Coding,
    Link,
    Source,
    Suggestion,
    rule_ids_of,
    rules_extension,
    with_rule_ids,
)

SOURCE = {"label": "fhir-bonemet"}


def card(**fields: Any) -> Card:
    return Card.model_validate(
        {"summary": "Hold exercise pending review", "indicator": "warning", "source": SOURCE, **fields}
    )


def create_action(**fields: Any) -> dict[str, Any]:
    resource = {"resourceType": "ServiceRequest", "status": "draft", "intent": "proposal"}
    return {"type": "create", "description": "Order a whole-spine MRI", "resource": resource, **fields}


class TestCard:
    def test_summary_of_139_characters_is_accepted_140_is_not(self) -> None:
        assert len(card(summary="x" * 139).summary) == 139
        with pytest.raises(ValidationError, match="at most 139 characters"):
            card(summary="x" * 140)

    @pytest.mark.parametrize("summary", ["", "   ", "First line\nsecond line"])
    def test_summary_must_be_one_non_blank_line(self, summary: str) -> None:
        with pytest.raises(ValidationError, match="summary"):
            card(summary=summary)

    @pytest.mark.parametrize("indicator", ["info", "warning", "critical"])
    def test_indicator_enum_values_are_accepted(self, indicator: str) -> None:
        assert card(indicator=indicator).indicator == indicator

    @pytest.mark.parametrize("indicator", ["hard-stop", "error", "success", "Critical"])
    def test_other_indicators_are_rejected(self, indicator: str) -> None:
        with pytest.raises(ValidationError, match="indicator"):
            card(indicator=indicator)

    def test_source_label_is_required(self) -> None:
        with pytest.raises(ValidationError, match=r"source\.label"):
            card(source={"url": "https://example.org"})
        with pytest.raises(ValidationError, match=r"source\.label"):
            card(source={"label": ""})

    def test_source_urls_must_be_absolute(self) -> None:
        with pytest.raises(ValidationError, match="absolute"):
            card(source={"label": "x", "url": "/relative"})
        with pytest.raises(ValidationError, match="absolute"):
            card(source={"label": "x", "icon": "icon.png"})

    def test_suggestions_require_selection_behavior(self) -> None:
        with pytest.raises(ValidationError, match="cds-resp-6"):
            card(suggestions=[{"label": "Order MRI"}])
        built = card(suggestions=[{"label": "Order MRI"}], selectionBehavior="at-most-one")
        assert built.selectionBehavior == "at-most-one"

    def test_selection_behavior_values(self) -> None:
        with pytest.raises(ValidationError, match="selectionBehavior"):
            card(suggestions=[{"label": "a"}], selectionBehavior="all")
        with pytest.raises(ValidationError, match="only meaningful"):
            card(selectionBehavior="any")

    def test_at_most_one_allows_a_single_recommended_suggestion(self) -> None:
        two = [{"label": "a", "isRecommended": True}, {"label": "b", "isRecommended": True}]
        with pytest.raises(ValidationError, match="cds-resp-1"):
            card(suggestions=two, selectionBehavior="at-most-one")
        assert len(card(suggestions=two, selectionBehavior="any").suggestions or []) == 2

    def test_override_reasons_need_display(self) -> None:
        reason = {"code": "already-reviewed", "system": "http://fhir-bonemet.org/fhir/CodeSystem/override"}
        with pytest.raises(ValidationError, match="cds-resp-4"):
            card(overrideReasons=[reason])
        assert card(overrideReasons=[{**reason, "display": "Already reviewed"}]).overrideReasons

    def test_every_card_and_suggestion_gets_a_distinct_uuid(self) -> None:
        first, second = card(suggestions=[{"label": "a"}, {"label": "b"}], selectionBehavior="any"), card()
        uuids = [first.uuid, second.uuid, *(s.uuid for s in first.suggestions or [])]
        assert len(set(uuids)) == 4
        for value in uuids:
            assert str(uuid.UUID(value)) == value

    def test_given_uuids_must_be_uuids_and_unique_within_a_card(self) -> None:
        with pytest.raises(ValidationError, match="UUID"):
            card(uuid="card-1")
        same = "e56e1945-20b3-4393-8503-a1a20fd73152"
        with pytest.raises(ValidationError, match="unique"):
            card(
                suggestions=[{"label": "a", "uuid": same}, {"label": "b", "uuid": same}],
                selectionBehavior="any",
            )

    def test_misspelt_fields_are_errors_not_silently_dropped(self) -> None:
        with pytest.raises(ValidationError, match="selectionbehavior"):
            card(selectionbehavior="any")


class TestAction:
    def test_delete_needs_resource_id_and_no_resource(self) -> None:
        ok = Action(type="delete", description="Cancel the duplicate order", resourceId="ServiceRequest/1")
        assert ok.to_wire() == {
            "type": "delete",
            "description": "Cancel the duplicate order",
            "resourceId": "ServiceRequest/1",
        }
        with pytest.raises(ValidationError, match="cds-resp-2"):
            Action(type="delete", description="x")
        with pytest.raises(ValidationError, match="cds-resp-2"):
            Action.model_validate(create_action(type="delete", resourceId="ServiceRequest/1"))

    def test_create_and_update_carry_a_resource(self) -> None:
        with pytest.raises(ValidationError, match="needs a FHIR resource"):
            Action(type="create", description="x")
        with pytest.raises(ValidationError, match="needs a FHIR resource"):
            Action(type="update", description="x", resource={"id": "1"})
        with pytest.raises(ValidationError, match="including its id"):
            Action.model_validate(create_action(type="update"))
        with pytest.raises(ValidationError, match="not a resourceId"):
            Action.model_validate(create_action(resourceId="ServiceRequest/1"))

    def test_update_resource_id_must_match_the_resource(self) -> None:
        resource = {"resourceType": "MedicationRequest", "id": "103", "status": "draft"}
        assert Action(
            type="update",
            description="Reduce the dose",
            resource=resource,
            resourceId="MedicationRequest/103",
        )
        with pytest.raises(ValidationError, match="must reference the updated resource"):
            Action(
                type="update",
                description="Reduce the dose",
                resource=resource,
                resourceId="MedicationRequest/9",
            )

    def test_description_is_required(self) -> None:
        with pytest.raises(ValidationError, match="description"):
            Action.model_validate({"type": "delete", "resourceId": "ServiceRequest/1"})

    def test_type_enum(self) -> None:
        with pytest.raises(ValidationError, match="type"):
            Action.model_validate(create_action(type="patch"))

    def test_resource_id_is_a_relative_reference(self) -> None:
        with pytest.raises(ValidationError, match="resourceId"):
            Action(type="delete", description="x", resourceId="https://ehr.example.org/ServiceRequest/1")


class TestLink:
    def test_app_context_only_on_smart_links(self) -> None:
        with pytest.raises(ValidationError, match="cds-resp-3"):
            Link(label="Plan", url="https://app.example.org", type="absolute", appContext="{}")
        smart = Link(
            label="Plan", url="https://app.example.org/launch", type="smart", appContext='{"plan":1}'
        )
        assert smart.to_wire()["appContext"] == '{"plan":1}'

    def test_link_type_and_url(self) -> None:
        with pytest.raises(ValidationError, match="type"):
            Link.model_validate({"label": "x", "url": "https://a.example", "type": "relative"})
        with pytest.raises(ValidationError, match="absolute"):
            Link(label="x", url="app/launch", type="smart")


class TestWireOutput:
    def test_absent_and_empty_optionals_are_omitted(self) -> None:
        built = card(suggestions=[], overrideReasons=[], links=[], extension={}, detail=None)
        assert built.to_wire() == {
            "uuid": built.uuid,
            "summary": "Hold exercise pending review",
            "indicator": "warning",
            "source": SOURCE,
        }

    def test_suggestion_without_actions_omits_them(self) -> None:
        suggestion = Suggestion(label="Refer to acute oncology", actions=[])
        assert suggestion.to_wire() == {"label": "Refer to acute oncology", "uuid": suggestion.uuid}

    def test_no_guidance_is_exactly_an_empty_card_list(self) -> None:
        assert CDSResponse(cards=[]).to_wire() == {"cards": []}
        assert CDSResponse(cards=[], systemActions=[]).to_wire() == {"cards": []}

    def test_no_null_anywhere_in_a_full_card(self) -> None:
        built = card(
            detail="**Whole-spine MRI** within 24 h.",
            source={
                "label": "NICE NG234",
                "url": "https://www.nice.org.uk/guidance/ng234",
                "topic": Coding(code="mscc", system="http://fhir-bonemet.org/fhir/CodeSystem/bonemet"),
            },
            suggestions=[
                Suggestion(
                    label="Order MRI", isRecommended=True, actions=[Action.model_validate(create_action())]
                )
            ],
            selectionBehavior="at-most-one",
            links=[Link(label="Guideline", url="https://www.nice.org.uk/guidance/ng234", type="absolute")],
            extension=rules_extension(["R01"]),
        )
        text = CDSResponse(cards=[built]).model_dump_json(exclude_none=True)
        assert "null" not in text
        assert "[]" not in text
        assert "{}" not in text

    def test_the_spec_example_response_round_trips(self) -> None:
        spec = example("response.example.json")
        wire = CDSResponse.model_validate(spec).to_wire()
        assert wire["cards"][0] == spec["cards"][0]
        second = dict(wire["cards"][1])
        assert uuid.UUID(second.pop("uuid"))  # the spec example leaves it out; we always add one
        assert second == spec["cards"][1]

    def test_card_uuids_are_unique_within_a_response(self) -> None:
        one = card()
        with pytest.raises(ValidationError, match="unique"):
            CDSResponse(cards=[one, one])


class TestRulesExtension:
    def test_rule_ids_are_carried_under_the_reserved_key(self) -> None:
        built = card(extension=rules_extension(["R01", "P14"], {"com.example.other": 1}))
        assert built.to_wire()["extension"] == {RULES_EXTENSION: ["R01", "P14"], "com.example.other": 1}
        assert rule_ids_of(built) == ("R01", "P14")
        assert RULES_EXTENSION == "org.fhir-bonemet.rules"

    def test_with_rule_ids_returns_a_validated_copy(self) -> None:
        original = card(extension={"com.example.other": True})
        tagged = with_rule_ids(original, ["R03"])
        assert rule_ids_of(tagged) == ("R03",)
        assert tagged.uuid == original.uuid
        assert tagged.extension == {"com.example.other": True, RULES_EXTENSION: ["R03"]}
        assert rule_ids_of(original) == ()

    @pytest.mark.parametrize("value", [[], "R01", [""], ["R01", "R01"], [1], ["R 01"]])
    def test_malformed_rule_id_lists_are_rejected(self, value: Any) -> None:
        with pytest.raises(ValidationError, match=RULES_EXTENSION.replace(".", r"\.")):
            card(extension={RULES_EXTENSION: value})


def test_source_model_is_spec_shaped() -> None:
    source = Source(
        label="Zika Virus Management",
        url="https://example.com/cdc-zika-virus-mgmt",
        icon="https://example.com/cdc-zika-virus-mgmt/100.png",
        topic=Coding(
            system="http://example.org/cds-services/fhir/CodeSystem/topics",
            code="12345",
            display="Mosquito born virus",
        ),
    )
    assert source.to_wire() == {
        "label": "Zika Virus Management",
        "url": "https://example.com/cdc-zika-virus-mgmt",
        "icon": "https://example.com/cdc-zika-virus-mgmt/100.png",
        "topic": {
            "system": "http://example.org/cds-services/fhir/CodeSystem/topics",
            "code": "12345",
            "display": "Mosquito born virus",
        },
    }
