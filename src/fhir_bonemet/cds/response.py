"""What the service answers to a hook call: ``{"cards": [...], "systemActions": [...]}`` (CDS Hooks 2.0).

The models enforce the spec's response invariants when a card is built, so an invalid card can never
reach an EHR: summary < 140 characters, indicator enum, ``source.label``, ``selectionBehavior`` whenever
there are suggestions (cds-resp-6), at most one recommended suggestion under ``at-most-one`` (cds-resp-1),
a ``display`` on every override reason (cds-resp-4), a description on every action (cds-resp-5), delete ⇒
``resourceId`` and no ``resource`` (cds-resp-2), ``appContext`` only on smart links (cds-resp-3), and a
``uuid`` on every card and suggestion so that feedback can arrive.  Empty optional collections are dropped.

Rule ids: every card names the rules that produced it under one reserved extension key,
``card.extension["org.fhir-bonemet.rules"]``, an array of rule-id strings (e.g. ``["R01", "P14"]``); set it
with :func:`rules_extension` or :func:`with_rule_ids`, read it with :func:`rule_ids_of`.
"""

from __future__ import annotations

import re
import uuid as uuid_module
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from fhir_bonemet.cds.wire import (
    AbsoluteUrl,
    NonEmptyStr,
    OutboundModel,
    Reference,
    Uuid,
    empty_to_none,
    split_reference,
)
from fhir_bonemet.core.model.findings import MAX_SUMMARY

__all__ = [
    "RULES_EXTENSION",
    "Action",
    "CDSResponse",
    "Card",
    "Coding",
    "Link",
    "Source",
    "Suggestion",
    "WireResponse",
    "rule_ids_of",
    "rules_extension",
    "with_rule_ids",
]

RULES_EXTENSION = "org.fhir-bonemet.rules"
_RULE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# The spec says "<140-character"; the core fits every summary to this same limit.
SUMMARY_MAX = MAX_SUMMARY

Extension = Annotated[dict[str, Any] | None, BeforeValidator(empty_to_none)]


def _new_uuid() -> str:
    return str(uuid_module.uuid4())


class Coding(OutboundModel):
    code: NonEmptyStr
    system: NonEmptyStr
    display: NonEmptyStr | None = None


class Source(OutboundModel):
    label: NonEmptyStr
    url: AbsoluteUrl | None = None
    icon: AbsoluteUrl | None = None
    topic: Coding | None = None
    extension: Extension = None


class Action(OutboundModel):
    type: Literal["create", "update", "delete"]
    description: NonEmptyStr
    resource: dict[str, Any] | None = None
    resourceId: Reference | None = None
    extension: Extension = None

    @model_validator(mode="after")
    def _resource_matches_type(self) -> Action:
        if self.type == "delete":
            if self.resourceId is None or self.resource is not None:
                raise ValueError("a delete action needs resourceId and no resource (cds-resp-2)")
            return self
        if not isinstance(self.resource, dict) or not isinstance(self.resource.get("resourceType"), str):
            raise ValueError(f"a {self.type} action needs a FHIR resource with a resourceType")
        if self.type == "create" and self.resourceId is not None:
            raise ValueError("a create action carries the new resource, not a resourceId")
        if self.type == "update":
            resource_id = self.resource.get("id")
            if not isinstance(resource_id, str) or not resource_id:
                raise ValueError("an update action needs the entire resource, including its id")
            if self.resourceId is not None and split_reference(self.resourceId) != (
                self.resource["resourceType"],
                resource_id,
            ):
                raise ValueError("resourceId must reference the updated resource")
        return self


class Suggestion(OutboundModel):
    label: NonEmptyStr
    uuid: Uuid = Field(default_factory=_new_uuid)
    isRecommended: bool | None = None
    actions: Annotated[list[Action] | None, BeforeValidator(empty_to_none)] = None
    extension: Extension = None


class Link(OutboundModel):
    label: NonEmptyStr
    url: AbsoluteUrl
    type: Literal["absolute", "smart"]
    appContext: NonEmptyStr | None = None
    autolaunchable: bool | None = None
    extension: Extension = None

    @model_validator(mode="after")
    def _app_context_only_on_smart(self) -> Link:
        if self.appContext is not None and self.type != "smart":
            raise ValueError("appContext is only allowed on smart links (cds-resp-3)")
        return self


class Card(OutboundModel):
    uuid: Uuid = Field(default_factory=_new_uuid)
    summary: Annotated[str, Field(min_length=1, max_length=SUMMARY_MAX)]
    detail: NonEmptyStr | None = None  # GitHub-flavoured Markdown
    indicator: Literal["info", "warning", "critical"]
    source: Source
    suggestions: Annotated[list[Suggestion] | None, BeforeValidator(empty_to_none)] = None
    selectionBehavior: Literal["at-most-one", "any"] | None = None
    overrideReasons: Annotated[list[Coding] | None, BeforeValidator(empty_to_none)] = None
    links: Annotated[list[Link] | None, BeforeValidator(empty_to_none)] = None
    extension: Extension = None

    @model_validator(mode="after")
    def _card_invariants(self) -> Card:
        if not self.summary.strip():
            raise ValueError("summary must not be blank")
        if "\n" in self.summary or "\r" in self.summary:
            raise ValueError("summary is one sentence on one line; put the rest in detail")
        if self.suggestions is not None:
            if self.selectionBehavior is None:
                raise ValueError("a card with suggestions needs selectionBehavior (cds-resp-6)")
            recommended = sum(1 for suggestion in self.suggestions if suggestion.isRecommended)
            if self.selectionBehavior == "at-most-one" and recommended > 1:
                raise ValueError("at most one suggestion may be recommended under at-most-one (cds-resp-1)")
            uuids = [suggestion.uuid for suggestion in self.suggestions]
            if len(set(uuids)) != len(uuids):
                raise ValueError("suggestion uuids must be unique within a card")
        elif self.selectionBehavior is not None:
            raise ValueError("selectionBehavior is only meaningful on a card with suggestions")
        for reason in self.overrideReasons or ():
            if reason.display is None:
                raise ValueError("every override reason needs a display (cds-resp-4)")
        if self.extension is not None and RULES_EXTENSION in self.extension:
            _check_rule_ids(self.extension[RULES_EXTENSION])
        return self


class CDSResponse(OutboundModel):
    cards: list[Card]
    systemActions: Annotated[list[Action] | None, BeforeValidator(empty_to_none)] = None
    extension: Extension = None

    @model_validator(mode="after")
    def _unique_card_uuids(self) -> CDSResponse:
        uuids = [card.uuid for card in self.cards]
        if len(set(uuids)) != len(uuids):
            raise ValueError("card uuids must be unique within a response")
        return self


@dataclass(frozen=True, slots=True)
class WireResponse:
    """A response built directly in wire form (plain JSON), for the hot path.

    Validating every card against :class:`Card` on every call cost more than building it.  The builders
    that return this (:func:`fhir_bonemet.cards.build.wire_cards`) are held to the models in the test suite
    instead: every example answer must validate as a :class:`CDSResponse` and serialise back to itself
    (tests/cds/test_answers_wire.py), and :func:`fhir_bonemet.cards.build.build_cards` validates the same
    dicts for every other test.
    """

    cards: list[dict[str, Any]]
    extension: dict[str, Any] | None = None

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"cards": self.cards}
        if self.extension:
            wire["extension"] = self.extension
        return wire


def _check_rule_ids(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not value:
        raise ValueError(f"extension {RULES_EXTENSION} must be a non-empty array of rule ids")
    for rule_id in value:
        if not isinstance(rule_id, str) or not _RULE_ID.match(rule_id):
            raise ValueError(f"extension {RULES_EXTENSION} must hold rule-id strings such as 'R01'")
    if len(set(value)) != len(value):
        raise ValueError(f"extension {RULES_EXTENSION} lists a rule id twice")
    return tuple(value)


def rules_extension(rule_ids: Sequence[str], extension: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A card ``extension`` object naming the rules behind the card (merged into ``extension`` if given)."""
    merged = dict(extension or {})
    merged[RULES_EXTENSION] = list(_check_rule_ids(list(rule_ids)))
    return merged


def with_rule_ids(card: Card, rule_ids: Sequence[str]) -> Card:
    """A copy of ``card`` (validated again) whose extension names ``rule_ids``."""
    data = card.model_dump(exclude_none=True)
    data["extension"] = rules_extension(rule_ids, card.extension)
    return Card.model_validate(data)


def rule_ids_of(card: Card) -> tuple[str, ...]:
    if card.extension is None or RULES_EXTENSION not in card.extension:
        return ()
    return tuple(card.extension[RULES_EXTENSION])
