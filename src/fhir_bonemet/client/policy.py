"""Which FHIR servers the service may call, decided before any request is made.

The base URL in a hook request (``fhirServer``) comes from the caller.  Calling whatever it names would let
any caller point the service, and the access token it sends, at any host; so only base URLs on an
allowlist are called.  ``allow_any`` (any http(s) server) exists for local development and must be asked
for explicitly.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from fhir_bonemet.client.urls import normalize_base_url
from fhir_bonemet.errors import ConfigurationError, FhirClientError

if TYPE_CHECKING:
    from fhir_bonemet.settings import Settings

__all__ = ["FhirServerNotAllowedError", "ServerPolicy", "server_policy"]


class FhirServerNotAllowedError(FhirClientError):
    """The FHIR server URL is not http(s) or not on the allowlist; nothing was sent."""


class ServerPolicy:
    """Which FHIR servers may be called: an allowlist of base URLs, or any http(s) server if explicitly
    allowed (local development only)."""

    def __init__(self, allowed_base_urls: Iterable[str] = (), *, allow_any: bool = False) -> None:
        self.allow_any = allow_any
        allowed: set[str] = set()
        for url in allowed_base_urls:
            try:
                allowed.add(normalize_base_url(url))
            except ValueError as exc:
                raise ConfigurationError(
                    f"FHIR server allowlist entry {url!r} is not a base URL: {exc}"
                ) from None
        self.allowed = frozenset(allowed)

    def check(self, base_url: str) -> str:
        """The normalized base URL, or :class:`FhirServerNotAllowedError`."""
        try:
            normalized = normalize_base_url(base_url)
        except ValueError as exc:
            raise FhirServerNotAllowedError(f"fhirServer is not usable: {exc}") from None
        if not self.allow_any and normalized not in self.allowed:
            raise FhirServerNotAllowedError(
                "fhirServer is not on the allowlist of FHIR servers; add its base URL to the allowlist"
            )
        return normalized


def server_policy(settings: Settings) -> ServerPolicy:
    """The FHIR servers the settings allow: the allowlist, or any server where explicitly allowed (local
    development, and by default with ``--no-auth``)."""
    return ServerPolicy(settings.fhir_server_allowlist, allow_any=settings.allows_any_fhir_server)
