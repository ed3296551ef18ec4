"""URL rules for outbound FHIR calls: which base URLs are acceptable, what counts as the same server,
and how a URL is written into logs and errors (no host, ids, parameter values or credentials)."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

__all__ = ["normalize_base_url", "origin_of", "redact_url", "relative_url_problem"]

_DEFAULT_PORTS = {"http": 80, "https": 443}
_TYPE_SEGMENT = re.compile(r"^[A-Z][A-Za-z]{1,63}$")
# Path segments that name an interaction rather than a resource id, so they may stay in logs.
_KEYWORD_SEGMENT = re.compile(r"^(_history|_search|metadata|\$[A-Za-z-]+)$")


def normalize_base_url(url: str) -> str:
    """``scheme://host[:port]/path`` in canonical form (lower-case scheme and host, no default port, no
    trailing slash); ``ValueError`` when the URL is not a usable FHIR base."""
    if not isinstance(url, str) or not url.strip():
        raise ValueError("the URL is empty")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise ValueError("the URL contains whitespace or control characters")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise ValueError("only http and https FHIR servers are supported")
    if parts.username is not None or parts.password is not None:
        raise ValueError("the URL must not carry credentials")
    if parts.query or parts.fragment:
        raise ValueError("a FHIR base URL has no query or fragment")
    host = parts.hostname
    if not host:
        raise ValueError("the URL has no host")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("the URL has an invalid port") from None
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


def origin_of(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an absolute URL; an unusable URL gets an origin no server has."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        return ("invalid", "", 0)
    return (scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORTS.get(scheme, 0))


def relative_url_problem(relative_url: str) -> str | None:
    """Why ``relative_url`` is not a FHIR URL relative to a base (``Patient/1``, ``Observation?x=y``)."""
    if not relative_url or not relative_url.strip():
        return "it is empty"
    if any(ch.isspace() or ord(ch) < 32 for ch in relative_url) or "\\" in relative_url:
        return "it contains whitespace, control characters or backslashes"
    stripped = relative_url.lstrip("/")
    if relative_url.startswith("//") or urlsplit(stripped).scheme:
        return "it is absolute"
    path = stripped.split("?", 1)[0]
    segments = path.split("/")
    if any(segment in ("", ".", "..") for segment in segments):
        return "it has empty, '.' or '..' path segments"
    if not (_TYPE_SEGMENT.match(segments[0]) or _KEYWORD_SEGMENT.match(segments[0])):
        return "it does not start with a resource type"
    return None


def redact_url(url: str, base_url: str) -> str:
    """A loggable form of ``url``: path below the base with ids replaced by ``{id}``, and parameter
    names with their values replaced by ``*`` (ids and parameter values may identify a patient)."""
    parts = urlsplit(url)
    base_path = urlsplit(base_url).path.rstrip("/")
    path = parts.path
    if base_path and path.startswith(base_path):
        path = path[len(base_path) :]
    segments = [segment for segment in path.strip("/").split("/") if segment]
    # Only positions 0 (``Patient``) and 2 (compartment: ``Patient/{id}/Observation``) hold types; an id
    # that happens to look like a type name is still an id elsewhere.
    kept = [
        segment
        if _KEYWORD_SEGMENT.match(segment) or (index in (0, 2) and _TYPE_SEGMENT.match(segment))
        else "{id}"
        for index, segment in enumerate(segments)
    ]
    redacted = "/".join(kept)
    names = [name for name, _ in parse_qsl(parts.query, keep_blank_values=True)]
    if names:
        redacted += "?" + "&".join(f"{name}=*" for name in names)
    return redacted
