"""CDS Hooks 2.0 wire models, one per direction, named as the specification names them.

Inbound (accept and ignore unknown fields): :class:`CDSRequest` with its hook contexts
(:class:`PatientViewContext`, :class:`OrderSelectContext`, :class:`OrderSignContext`),
:class:`FhirAuthorization`, and the feedback body :class:`CDSFeedback` / :class:`Feedback`.

Outbound (unknown fields are errors; absent optional fields are omitted by ``to_wire()``):
:class:`CDSResponse`, :class:`Card`, :class:`Source`, :class:`Suggestion`, :class:`Action`, :class:`Link`,
:class:`Coding`.

Reserved card extension: ``card.extension["org.fhir-bonemet.rules"]`` is an array of the rule ids (strings,
e.g. ``["R01", "P14"]``) that produced the card.  Build it with :func:`rules_extension` or
:func:`with_rule_ids`; read it with :func:`rule_ids_of`.  No other code may use that key.
"""

from __future__ import annotations

from fhir_bonemet.cds.feedback import (
    AcceptedSuggestion,
    CDSFeedback,
    Feedback,
    FeedbackCoding,
    OverrideReason,
)
from fhir_bonemet.cds.request import (
    CONTEXT_MODELS,
    CDSRequest,
    FhirAuthorization,
    HookContext,
    OrderSelectContext,
    OrderSignContext,
    PatientViewContext,
    parse_request,
)
from fhir_bonemet.cds.response import (
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

__all__ = [
    "CONTEXT_MODELS",
    "RULES_EXTENSION",
    "AcceptedSuggestion",
    "Action",
    "CDSFeedback",
    "CDSRequest",
    "CDSResponse",
    "Card",
    "Coding",
    "Feedback",
    "FeedbackCoding",
    "FhirAuthorization",
    "HookContext",
    "Link",
    "OrderSelectContext",
    "OrderSignContext",
    "OverrideReason",
    "PatientViewContext",
    "Source",
    "Suggestion",
    "parse_request",
    "rule_ids_of",
    "rules_extension",
    "with_rule_ids",
]
