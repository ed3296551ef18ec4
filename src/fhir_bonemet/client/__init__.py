"""Outbound HTTP: the FHIR REST client and CDS Hooks prefetch resolution (``requests.Session`` injected)."""

from fhir_bonemet.client.fhir import (
    CreateResult,
    FhirClient,
    FhirServerNotAllowedError,
    FhirTimeoutError,
    SearchResult,
    ServerPolicy,
    Timeouts,
)
from fhir_bonemet.client.prefetch import PrefetchLimits, PrefetchRequest, PrefetchResolver, PrefetchResult

__all__ = [
    "CreateResult",
    "FhirClient",
    "FhirServerNotAllowedError",
    "FhirTimeoutError",
    "PrefetchLimits",
    "PrefetchRequest",
    "PrefetchResolver",
    "PrefetchResult",
    "SearchResult",
    "ServerPolicy",
    "Timeouts",
]
