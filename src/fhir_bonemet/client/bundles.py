"""Structural checks on FHIR JSON received over the wire (prefetch values and server responses).

These checks decide whether a payload can be *used at all*: a Bundle whose ``entry`` is not a list of
objects, or that carries OperationOutcomes reporting an error, is a failed read, not data (one with only
information or warnings is a note beside the data).  Judging individual resources is the reader's job
(``fhir_bonemet.fhir``); one malformed resource inside a well-formed Bundle passes here.
Messages never quote the payload, so they are safe to log and to return.

The payloads are parsed JSON, whose objects are ``dict``: the checks test for ``dict``, which costs a
fraction of an ``isinstance`` against the ``Mapping`` ABC, and a heavy prefetch has thousands of entries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fhir_bonemet.bundle_outcomes import data_count, failures

__all__ = [
    "BundledRead",
    "JsonObject",
    "next_link",
    "outcome_failure",
    "payload_problem",
    "read_answered_as_bundle",
    "result_count",
]

JsonObject = dict[str, Any]


def payload_problem(
    value: object, *, expected_type: str | None = None, failed_outcomes: bool = True
) -> str | None:
    """Why ``value`` is not a usable FHIR resource (or Bundle), or ``None`` when it is.

    ``expected_type``: the resourceType the request implies (``"Bundle"`` for a search, ``"Patient"`` for
    ``Patient/123``); ``None`` accepts any type.  ``failed_outcomes=False``: OperationOutcome entries
    reporting an error do not make a Bundle unusable here (the caller weighs them with
    :func:`outcome_failure` and :func:`result_count`).
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
        return _bundle_problem(value, failed_outcomes)
    return None


def outcome_failure(bundle: Mapping[str, Any]) -> str | None:
    """What the Bundle's entries reporting an error say, counted; ``None`` without any.

    Failures within a Bundle inside the results count as the Bundle's own (:mod:`fhir_bonemet.bundle_outcomes`
    judges both): the results are missing a part either way."""
    found = failures(bundle)
    if not found:
        return None
    parts = []
    if found.outer:
        entries = "entry" if found.outer == 1 else "entries"
        parts.append(f"{found.outer} OperationOutcome {entries} reporting an error")
    if found.inner:
        errors = "error" if found.inner == 1 else "errors"
        parts.append(f"{found.inner} {errors} within a Bundle inside its results")
    return f"the Bundle contains {' and '.join(parts)}"


def result_count(bundle: Mapping[str, Any]) -> int:
    """Resources that are data (any but an OperationOutcome or a Bundle), in the Bundles inside too."""
    return data_count(bundle)


@dataclass(frozen=True, slots=True)
class BundledRead:
    """What a Bundle sent in answer to a read (``Patient/123``) holds: the resource read, or why not.

    ``notes``: OperationOutcome entries beside it that report no failure (information or warnings about
    the search, ``search.mode`` ``outcome``); they are not data, but they are said, never dropped."""

    resource: JsonObject | None
    problem: str | None = None
    notes: int = 0
    # The Bundle holds no resource at all (``total`` 0 or absent): the search found nothing, which for a
    # read is "not found", as a 404 is, not a malformed answer.
    found_nothing: bool = False


def read_answered_as_bundle(value: object, resource_type: str, resource_id: str) -> BundledRead | None:
    """For a read (``Patient/123``) answered with a Bundle: the resource read, when the Bundle holds that
    one resource (and nothing else but OperationOutcome notes), else why not; ``None`` when ``value`` is
    not a Bundle at all.

    Some EHRs and proxies satisfy a read with a search (``Patient?_id=123``): the resource is then in the
    answer, wrapped, often beside a note from the server.  Anything less certain (several of them,
    another id or none, another resource beside it, an outcome reporting an error, a next page) is not
    taken for it.  Problems name counts and types, never ids."""
    if not isinstance(value, dict) or value.get("resourceType") != "Bundle":
        return None
    problem = payload_problem(value)
    if problem is None and next_link(value) is not None:
        problem = "the Bundle has a next page"
    if problem is not None:
        return BundledRead(None, problem)
    entries = value.get("entry")
    found: list[JsonObject] = []
    others = notes = 0
    for entry in entries if isinstance(entries, list) else ():
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            return BundledRead(None, "a Bundle entry is not a resource")
        kind = resource.get("resourceType")
        if kind == "OperationOutcome":
            notes += 1  # payload_problem passed: information or warnings only
        elif kind == resource_type:
            found.append(resource)
        else:
            others += 1
    if len(found) > 1:
        return BundledRead(None, f"the Bundle holds {len(found)} {resource_type} resources, not one")
    if not found and not others and value.get("total", 0) == 0:
        return BundledRead(None, f"the Bundle holds no {resource_type}", notes, found_nothing=True)
    if not found:
        return BundledRead(None, f"the Bundle holds no {resource_type}")
    if found[0].get("id") != resource_id:
        return BundledRead(None, f"the {resource_type} in the Bundle is not the one read (another id)")
    if others:
        return BundledRead(None, f"the Bundle holds other resources beside the {resource_type}")
    return BundledRead(found[0], notes=notes)


def _bundle_problem(bundle: Mapping[str, Any], failed_outcomes: bool = True) -> str | None:
    entries = bundle.get("entry", [])
    if entries is None:
        return None
    if not isinstance(entries, list):
        return f"Bundle.entry is {_json_kind(entries)}, not an array"
    # A malformed entry (a string, a resource that is not an object) is one bad resource among good ones:
    # the reader skips and reports it; it must not throw away the whole key.
    if failed_outcomes:
        # CDS Hooks 2.0: OperationOutcome entries in prefetched data signal a failed query.
        failure = outcome_failure(bundle)
        if failure is not None:
            return failure
    links = bundle.get("link", [])
    if links is None:
        return None
    if not isinstance(links, list):
        return "Bundle.link is not an array of objects"
    for link in links:  # a plain loop: every prefetch key's Bundle is checked, and most have one link
        if not isinstance(link, dict):
            return "Bundle.link is not an array of objects"
    return None


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
