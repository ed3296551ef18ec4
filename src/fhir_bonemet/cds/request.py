"""What an EHR sends to ``POST /cds-services/{id}`` (CDS Hooks 2.0), with the hook-specific contexts.

Unknown fields and ``extension`` objects are accepted and ignored everywhere.  ``fhirAuthorization
.access_token`` is a :class:`~pydantic.SecretStr`: it prints as ``**********`` so that no log line or error
can leak it; the FHIR client reads it with ``get_secret_value()`` and must never store it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, Field, SecretStr, ValidationError, ValidationInfo, field_validator

from fhir_bonemet.cds.problems import problems_from_validation
from fhir_bonemet.cds.wire import (
    REFERENCE_PATTERN,
    AbsoluteUrl,
    FhirId,
    InboundModel,
    NonEmptyStr,
    Reference,
    split_reference,
)
from fhir_bonemet.core.model.hooks import Hook
from fhir_bonemet.errors import InvalidRequestError, Problem

__all__ = [
    "CONTEXT_MODELS",
    "CDSRequest",
    "FhirAuthorization",
    "HookContext",
    "OrderSelectContext",
    "OrderSignContext",
    "PatientViewContext",
    "parse_request",
]

# A version-specific reference ends in ``/_history/<version id>`` (``MedicationRequest/103/_history/2``).
_VERSION_SUFFIX = re.compile(r"/_history/[A-Za-z0-9\-.]{1,64}$")
# An absolute http(s) URL whose path ends in ``Type/id`` (``https://ehr.example/fhir/MedicationRequest/103``).
_ABSOLUTE_REFERENCE = r"https?://[^/?#\s]+(?:/[^/?#\s]+)*/[A-Z][A-Za-z]{1,63}/[A-Za-z0-9\-.]{1,64}"


class FhirAuthorization(InboundModel):
    access_token: SecretStr = Field(min_length=1)
    token_type: NonEmptyStr
    # REQUIRED by the spec, tolerated when absent: the CDS Hooks Sandbox copies it from the token response,
    # where it is optional, and the token is usable without it.
    expires_in: int | None = Field(default=None, ge=0)
    scope: NonEmptyStr
    subject: NonEmptyStr
    patient: FhirId | None = None

    @field_validator("token_type")
    @classmethod
    def _bearer(cls, value: str) -> str:
        if value.lower() != "bearer":
            raise ValueError("token_type must be 'Bearer'")
        return "Bearer"


class HookContext(InboundModel):
    """Fields common to the served hooks.  ``userId`` is ``Type/id``; the allowed types depend on the hook."""

    USER_TYPES: ClassVar[frozenset[str]] = frozenset({"Practitioner", "PractitionerRole"})

    userId: Reference
    patientId: FhirId
    encounterId: FhirId | None = None

    @field_validator("userId")
    @classmethod
    def _user_type(cls, value: str) -> str:
        if split_reference(value)[0] not in cls.USER_TYPES:
            raise ValueError(f"userId must reference one of: {', '.join(sorted(cls.USER_TYPES))}")
        return value


class PatientViewContext(HookContext):
    USER_TYPES: ClassVar[frozenset[str]] = frozenset(
        {"Practitioner", "PractitionerRole", "Patient", "RelatedPerson"}
    )


def _draft_order_refs(bundle: Mapping[str, Any]) -> frozenset[str]:
    refs = set()
    for entry in bundle.get("entry") or ():
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict):
            resource_type, resource_id = resource.get("resourceType"), resource.get("id")
            if isinstance(resource_type, str) and isinstance(resource_id, str):
                refs.add(f"{resource_type}/{resource_id}")
    return frozenset(refs)


def _draft_order_full_urls(bundle: Mapping[str, Any]) -> frozenset[str]:
    """The ``fullUrl`` of every draftOrders entry that holds a resource."""
    urls = set()
    for entry in bundle.get("entry") or ():
        if isinstance(entry, dict) and isinstance(entry.get("resource"), dict):
            full_url = entry.get("fullUrl")
            if isinstance(full_url, str) and full_url:
                urls.add(full_url)
    return frozenset(urls)


def _names_draft_order(selection: str, bundle: Mapping[str, Any]) -> bool:
    """Whether a selection names an entry of ``draftOrders``.

    The spec writes selections as ``Type/id``; EHRs also send the entry's ``fullUrl`` (absolute, or a
    ``urn:uuid`` for an order not saved yet, which has no id) or an absolute URL ending in ``Type/id``.
    Either may name a version (``.../Type/id/_history/2``): it is the same order, so the version is
    dropped before the comparison (the reader drops it the same way).
    """
    if selection in _draft_order_full_urls(bundle):
        return True
    selection = _VERSION_SUFFIX.sub("", selection)
    refs = _draft_order_refs(bundle)
    if re.fullmatch(REFERENCE_PATTERN, selection):
        return selection in refs
    if not re.fullmatch(_ABSOLUTE_REFERENCE, selection):
        return False
    resource_type, resource_id = selection.rsplit("/", 2)[1:]
    return f"{resource_type}/{resource_id}" in refs


class OrderSignContext(HookContext):
    # The entries are left as JSON: a malformed draft order is reported by the reader, it does not sink
    # the whole request.
    draftOrders: dict[str, Any]

    @field_validator("draftOrders")
    @classmethod
    def _bundle(cls, value: dict[str, Any]) -> dict[str, Any]:
        if value.get("resourceType") != "Bundle":
            raise ValueError("draftOrders must be a FHIR Bundle (resourceType 'Bundle')")
        if "entry" in value and not isinstance(value["entry"], list):
            raise ValueError("draftOrders.entry must be an array")
        return value

    def draft_order_refs(self) -> frozenset[str]:
        """``Type/id`` of every draft order that carries both."""
        return _draft_order_refs(self.draftOrders)


def _selected_draft_order(value: str, info: ValidationInfo) -> str:
    draft_orders = info.data.get("draftOrders")
    # When draftOrders itself failed validation it is reported there; nothing to compare against here.
    if isinstance(draft_orders, dict) and not _names_draft_order(value, draft_orders):
        raise ValueError(
            "must name an entry of draftOrders (by resourceType/id, by its fullUrl, "
            "or by an absolute URL ending in resourceType/id)"
        )
    return value


class OrderSelectContext(OrderSignContext):
    selections: list[Annotated[NonEmptyStr, AfterValidator(_selected_draft_order)]] = Field(min_length=1)


# One context model per served hook; a Hook is a str, so the wire's hook name looks its model up directly.
CONTEXT_MODELS: Mapping[str, type[HookContext]] = {
    Hook.PATIENT_VIEW: PatientViewContext,
    Hook.ORDER_SELECT: OrderSelectContext,
    Hook.ORDER_SIGN: OrderSignContext,
}


class CDSRequest(InboundModel):
    hook: NonEmptyStr
    hookInstance: NonEmptyStr
    fhirServer: AbsoluteUrl | None = None
    fhirAuthorization: FhirAuthorization | None = None
    context: HookContext  # an instance of the hook's context model (see parse_request)
    prefetch: dict[str, Any] | None = None  # key → resource, Bundle or null, exactly as sent
    extension: dict[str, Any] | None = None

    @field_validator("fhirAuthorization")
    @classmethod
    def _cds_r_1(cls, value: FhirAuthorization | None, info: ValidationInfo) -> FhirAuthorization | None:
        # A fhirServer that failed its own validation is absent from info.data and reported there.
        if value is not None and "fhirServer" in info.data and info.data["fhirServer"] is None:
            raise ValueError("fhirServer is required when fhirAuthorization is present (cds-r-1)")
        return value


def parse_request(body: Mapping[str, Any], context_model: type[HookContext]) -> CDSRequest:
    """Validate a decoded request body; the context is validated with the hook's own model.

    Raises :class:`InvalidRequestError` listing every problem with its location.
    """
    problems: list[Problem] = []
    context: HookContext | None = None
    raw_context = body.get("context")
    if "context" not in body:
        problems.append(Problem("context", "context: Field required", "required"))
    elif not isinstance(raw_context, dict):
        problems.append(Problem("context", "context: must be a JSON object"))
    else:
        try:
            context = context_model.model_validate(raw_context)
        except ValidationError as exc:
            problems.extend(problems_from_validation(exc, "context"))
    # The context was validated above; a validated (or blank) instance passes through unchanged here.
    envelope = {
        **body,
        "context": context if context is not None else HookContext.model_construct(userId="", patientId=""),
    }
    try:
        request = CDSRequest.model_validate(envelope)
    except ValidationError as exc:
        problems.extend(problems_from_validation(exc))
    if problems:
        count = len(problems)
        raise InvalidRequestError(
            f"The request is invalid ({count} problem{'s' if count != 1 else ''})", tuple(problems)
        )
    return request
