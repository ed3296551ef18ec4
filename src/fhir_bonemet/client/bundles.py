"""Structural checks on FHIR JSON received over the wire (prefetch values and server responses).

These checks decide whether a payload can be *used at all*: a Bundle whose ``entry`` is not a list of
objects, or that carries OperationOutcomes, is a failed read, not data.  Judging individual resources is
the reader's job (``fhir_bonemet.fhir``); one malformed resource inside a well-formed Bundle passes here.
Messages never quote the payload, so they are safe to log and to return.

The payloads are parsed JSON, whose objects are ``dict``: the checks test for ``dict``, which costs a
fraction of an ``isinstance`` against the ``Mapping`` ABC, and a heavy prefetch has thousands of entries.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "JsonObject",
    "bundle_outcome_count",
    "next_link",
    "payload_problem",
    "read_answered_as_bundle",
]

JsonObject = dict[str, Any]


def payload_problem(value: object, *, expected_type: str | None = None) -> str | None:
    """Why ``value`` is not a usable FHIR resource (or Bundle), or ``None`` when it is.

    ``expected_type``: the resourceType the request implies (``"Bundle"`` for a search, ``"Patient"`` for
    ``Patient/123``); ``None`` accepts any type.
    """
    if not isinstance(value, dict):
        return f"expected a JSON object, got {_json_kind(value)}"
    resource_type = value.get("resourceType")
    if not isinstance(resource_type, str) or not resource_type:
        return "the object has no resourceType"
    if resource_type == "OperationOutcome":
        return "the value is an OperationOutcome (the data could not be provided)"
    if expected_type is not None and resource_type != expected_type:
        return f"expected a {expected_type}, got a {resource_type}"
    if resource_type == "Bundle":
        return _bundle_problem(value)
    return None


def read_answered_as_bundle(value: object, resource_type: str, resource_id: str) -> JsonObject | None:
    """The resource a read (``Patient/123``) asked for, when ``value`` is a usable Bundle holding that one
    resource and nothing else; else ``None``.

    Some EHRs satisfy a read template with a search (``Patient?_id=123``): the resource is then in the
    request, wrapped.  Anything less certain (another resource beside it, another id or none, an outcome,
    a next page) is not taken for it: the key stays a failed prefetch."""
    if not isinstance(value, dict) or value.get("resourceType") != "Bundle":
        return None
    if payload_problem(value) is not None or next_link(value) is not None:
        return None
    entries = value.get("entry")
    if not isinstance(entries, list) or len(entries) != 1 or not isinstance(entries[0], dict):
        return None
    resource = entries[0].get("resource")
    if (
        isinstance(resource, dict)
        and resource.get("resourceType") == resource_type
        and resource.get("id") == resource_id
    ):
        return resource
    return None


def _bundle_problem(bundle: Mapping[str, Any]) -> str | None:
    entries = bundle.get("entry", [])
    if entries is None:
        return None
    if not isinstance(entries, list):
        return f"Bundle.entry is {_json_kind(entries)}, not an array"
    # A malformed entry (a string, a resource that is not an object) is one bad resource among good ones:
    # the reader skips and reports it; it must not throw away the whole key.
    outcomes = bundle_outcome_count(bundle)
    if outcomes:
        # CDS Hooks 2.0: OperationOutcome entries in prefetched data signal a failed query.
        return (
            f"the Bundle contains {outcomes} OperationOutcome entr{'y' if outcomes == 1 else 'ies'} "
            "reporting an error"
        )
    links = bundle.get("link", [])
    if links is None:
        return None
    if not isinstance(links, list):
        return "Bundle.link is not an array of objects"
    for link in links:  # a plain loop: every prefetch key's Bundle is checked, and most have one link
        if not isinstance(link, dict):
            return "Bundle.link is not an array of objects"
    return None


_NOT_FAILURES = frozenset({"information", "warning"})


def bundle_outcome_count(bundle: Mapping[str, Any]) -> int:
    """Number of entries whose resource is an OperationOutcome reporting a failure.

    A searchset may carry an OperationOutcome beside its results (``search.mode`` ``outcome``) with only
    information or warnings about the search ("some results may be restricted"); that is data with a note,
    not a failed query, and the reader names it as a read issue.  An outcome with an error or fatal issue,
    or whose issues cannot be read, is a failure: the results beside it cannot be trusted to be whole."""
    entries = bundle.get("entry")
    if not isinstance(entries, list):
        return 0
    count = 0
    for entry in entries:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and resource.get("resourceType") == "OperationOutcome":
            count += _reports_failure(resource)
    return count


def _reports_failure(outcome: Mapping[str, Any]) -> bool:
    issues = outcome.get("issue")
    if not isinstance(issues, list) or not issues:
        return True
    return any(not isinstance(i, dict) or i.get("severity") not in _NOT_FAILURES for i in issues)


def next_link(bundle: Mapping[str, Any]) -> str | None:
    """The URL of ``link[relation=next]``, if the Bundle has one."""
    links = bundle.get("link")
    if not isinstance(links, list):
        return None
    for link in links:
        if isinstance(link, dict) and link.get("relation") == "next":
            url = link.get("url")
            if isinstance(url, str) and url:
                return url
    return None


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
