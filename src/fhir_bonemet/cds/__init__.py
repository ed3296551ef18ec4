"""The CDS Hooks 2.0 protocol, as the specification names it.

* wire models (:mod:`.models`, split into :mod:`.request`, :mod:`.response` and :mod:`.feedback`);
* service definitions for discovery (:mod:`.services`);
* error bodies: OperationOutcome with locations (:mod:`.problems`);
* the seam between the web layer and the clinical workflow (:mod:`.protocol`): :class:`HookHandler`,
  :class:`HookDeps` and the verified caller, :class:`ClientIdentity`.

It knows nothing of FHIR resources, rules or HTTP frameworks; the cards (:mod:`fhir_bonemet.cards`) are
built on its response models, and the web layer (:mod:`fhir_bonemet.web`) serves them.
"""

from fhir_bonemet.cds.models import (
    CONTEXT_MODELS,
    RULES_EXTENSION,
    AcceptedSuggestion,
    Action,
    Card,
    CDSFeedback,
    CDSRequest,
    CDSResponse,
    Coding,
    Feedback,
    FeedbackCoding,
    FhirAuthorization,
    HookContext,
    Link,
    OrderSelectContext,
    OrderSignContext,
    OverrideReason,
    PatientViewContext,
    Source,
    Suggestion,
    parse_request,
    rule_ids_of,
    rules_extension,
    with_rule_ids,
)
from fhir_bonemet.cds.problems import operation_outcome
from fhir_bonemet.cds.protocol import ClientIdentity, HookDeps, HookHandler
from fhir_bonemet.cds.services import ServiceCatalogue, ServiceDefinition, load_services

__all__ = [
    "CONTEXT_MODELS",
    "RULES_EXTENSION",
    "AcceptedSuggestion",
    "Action",
    "CDSFeedback",
    "CDSRequest",
    "CDSResponse",
    "Card",
    "ClientIdentity",
    "Coding",
    "Feedback",
    "FeedbackCoding",
    "FhirAuthorization",
    "HookContext",
    "HookDeps",
    "HookHandler",
    "Link",
    "OrderSelectContext",
    "OrderSignContext",
    "OverrideReason",
    "PatientViewContext",
    "ServiceCatalogue",
    "ServiceDefinition",
    "Source",
    "Suggestion",
    "load_services",
    "operation_outcome",
    "parse_request",
    "rule_ids_of",
    "rules_extension",
    "with_rule_ids",
]
