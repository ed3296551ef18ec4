"""Building blocks shared by the CDS Hooks wire models.

Two base classes, one per direction, because the two directions have opposite duties:

- :class:`InboundModel` (what EHRs send): unknown fields are accepted and ignored, as CDS Hooks requires
  for forward compatibility;
- :class:`OutboundModel` (what we answer): unknown fields are an error (a misspelt spec field must fail
  here, not be silently dropped), and :meth:`OutboundModel.to_wire` omits every absent optional field, since
  CDS Hooks forbids ``null`` and empty values.
"""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints

__all__ = [
    "FHIR_ID_PATTERN",
    "REFERENCE_PATTERN",
    "AbsoluteUrl",
    "FhirId",
    "InboundModel",
    "NonEmptyStr",
    "OutboundModel",
    "Reference",
    "Uuid",
    "split_reference",
]

FHIR_ID_PATTERN = r"^[A-Za-z0-9\-.]{1,64}$"
# A relative reference `Type/id`, as used by userId and Action.resourceId (selections may also be a fullUrl).
REFERENCE_PATTERN = r"^[A-Z][A-Za-z]{1,63}/[A-Za-z0-9\-.]{1,64}$"
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

NonEmptyStr = Annotated[str, StringConstraints(min_length=1)]
FhirId = Annotated[str, StringConstraints(pattern=FHIR_ID_PATTERN)]
Reference = Annotated[str, StringConstraints(pattern=REFERENCE_PATTERN)]


def _absolute_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError("must be an absolute http(s) URL")
    # A host no resolver accepts (a 5,000-character name) is refused here, as the caller's error, rather
    # than failing later inside the HTTP client as an unexpected one.
    host = (parts.hostname or "").rstrip(".")
    if not host or len(host) > 253 or any(not 0 < len(label) <= 63 for label in host.split(".")):
        raise ValueError("must name a valid host")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number from 0 to 65535
    except ValueError:
        raise ValueError("must have a valid port") from None
    return value


def _uuid(value: str) -> str:
    if not _UUID.match(value):
        raise ValueError("must be a UUID (8-4-4-4-12 hexadecimal digits)")
    return value


AbsoluteUrl = Annotated[str, AfterValidator(_absolute_url)]
Uuid = Annotated[str, AfterValidator(_uuid)]


def split_reference(reference: str) -> tuple[str, str]:
    """``"MedicationRequest/103"`` → ``("MedicationRequest", "103")``."""
    resource_type, _, resource_id = reference.partition("/")
    return resource_type, resource_id


class InboundModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class OutboundModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    def to_wire(self) -> dict[str, Any]:
        """The JSON object to send: absent optional fields are omitted, never ``null``."""
        return self.model_dump(mode="json", exclude_none=True)


def empty_to_none(value: Any) -> Any:
    """Normalise an empty optional collection to "absent" (CDS Hooks forbids ``[]`` and ``{}``)."""
    if isinstance(value, list | dict | tuple) and len(value) == 0:
        return None
    return value
