"""Prefetch template tokens, exactly as CDS Hooks 2.0 defines them.

A token is ``{{context.<field>}}`` (a root-level hook context field with a primitive value) or one of the
user identifiers ``{{userPractitionerId}}``, ``{{userPractitionerRoleId}}``, ``{{userPatientId}}``,
``{{userRelatedPersonId}}``, which are the id part of ``context.userId`` when it names that resource type.
FHIRPath tokens (``{{today()}}``) belong to the 3.0 ballot and are not resolved.

Values are substituted into a URL, so they must look like FHIR ids (``[A-Za-z0-9-.]{1,64}``) or
references (``Type/id``); anything else (``123&_count=9999``, ``../x``) makes the token unresolvable.
Error messages name the token, never its value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from fhir_bonemet.client.urls import relative_url_problem

__all__ = ["RenderedUrl", "UnresolvedTokenError", "expected_resource_type", "render_template"]

_TOKEN = re.compile(r"\{\{\s*(.*?)\s*\}\}")
_CONTEXT_FIELD = re.compile(r"^context\.([A-Za-z][A-Za-z0-9_]*)$")
_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_REFERENCE = re.compile(r"^([A-Z][A-Za-z]{1,63})/([A-Za-z0-9\-.]{1,64})$")
_USER_TOKENS = {
    "userPractitionerId": "Practitioner",
    "userPractitionerRoleId": "PractitionerRole",
    "userPatientId": "Patient",
    "userRelatedPersonId": "RelatedPerson",
}


class UnresolvedTokenError(ValueError):
    """A template token has no usable value in this hook call."""

    def __init__(self, token: str, reason: str) -> None:
        super().__init__(f"prefetch token {{{{{token}}}}} cannot be resolved: {reason}")
        self.token = token
        self.reason = reason


@dataclass(frozen=True, slots=True)
class RenderedUrl:
    """A rendered template: a URL relative to the FHIR base, read (``Type/id``) or search."""

    url: str
    read_type: str | None  # the resource type when the URL is an instance read, else None
    read_id: str | None = None  # the resource id when the URL is an instance read, else None

    @property
    def is_read(self) -> bool:
        return self.read_type is not None


def render_template(template: str, context: Mapping[str, Any]) -> RenderedUrl:
    """Substitute every token; :class:`UnresolvedTokenError` (or ``ValueError`` for a template that is
    not a relative FHIR URL) when that is impossible."""
    url = _TOKEN.sub(lambda match: _resolve(match.group(1), context), template)
    if "{{" in url or "}}" in url:
        raise ValueError("the prefetch template has unbalanced token braces")
    problem = relative_url_problem(url)
    if problem:
        raise ValueError(f"the rendered prefetch template is not a relative FHIR URL: {problem}")
    path, _, query = url.partition("?")
    reference = _REFERENCE.match(path.strip("/"))
    if reference is None or query:
        return RenderedUrl(url=url, read_type=None)
    return RenderedUrl(url=url, read_type=reference.group(1), read_id=reference.group(2))


# Templates are the services' own configuration, a few dozen strings asked about on every hook call: each is
# worked out once.
@lru_cache(maxsize=256)
def expected_resource_type(template: str) -> str | None:
    """What a template's answer must be, decided from the template alone (so it also works when a token
    cannot be resolved): ``"Bundle"`` for a search, the type for a read (``Patient/{{context.patientId}}``
    → ``"Patient"``), ``None`` for a read whose type comes from a token (``{{context.userId}}``)."""
    path, _, query = template.partition("?")
    if query:
        return "Bundle"
    segments = path.strip("/").split("/")
    if len(segments) == 1 and _TOKEN.fullmatch(segments[0]):
        return None
    if len(segments) == 2 and re.match(r"^[A-Z][A-Za-z]{1,63}$", segments[0]):
        return segments[0]
    return "Bundle"


def _resolve(token: str, context: Mapping[str, Any]) -> str:
    if token in _USER_TOKENS:
        expected_type = _USER_TOKENS[token]
        reference = _reference(context.get("userId"))
        if reference is None:
            raise UnresolvedTokenError(token, "context.userId is absent or not a Type/id reference")
        if reference[0] != expected_type:
            raise UnresolvedTokenError(token, f"context.userId is not a {expected_type}")
        return reference[1]
    field = _CONTEXT_FIELD.match(token)
    if field is None:
        raise UnresolvedTokenError(token, "not a CDS Hooks 2.0 prefetch token")
    name = field.group(1)
    if name not in context or context[name] is None:
        raise UnresolvedTokenError(token, f"context.{name} is absent")
    value = context[name]
    if not isinstance(value, str):
        raise UnresolvedTokenError(token, f"context.{name} is not a string")
    if name == "userId":
        if _reference(value) is None:
            raise UnresolvedTokenError(token, "context.userId is not a Type/id reference")
        return value
    if _ID.match(value) or _REFERENCE.match(value):
        return value
    raise UnresolvedTokenError(token, f"context.{name} is not a FHIR id")


def _reference(value: object) -> tuple[str, str] | None:
    if not isinstance(value, str):
        return None
    match = _REFERENCE.match(value)
    return (match.group(1), match.group(2)) if match else None
