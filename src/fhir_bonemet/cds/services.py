"""Service definitions, kept as data in ``cds_hooks/*.json`` and checked when the service starts.

Each file holds one discovery entry (``id``, ``hook``, ``title``, ``description``, ``prefetch``,
``usageRequirements``, ``extension``).  The project extension ``org.fhir-bonemet.required-prefetch`` lists
the prefetch keys without which the service cannot decide anything (it answers 412 when they can neither
be prefetched nor fetched); it is published in discovery, where it also tells integrators what to prefetch.

Start-up checks (a failure raises :class:`ConfigurationError` naming the file): the JSON shape, a served
hook, prefetch templates that are relative FHIR read/search URLs within the CDS Hooks 2.0 recommended
subset, and prefetch tokens from the 2.0 set only (``{{context.<field>}}`` for the hook's prefetch-token
fields, ``{{userPractitionerId}}``, ``{{userPractitionerRoleId}}``, ``{{userPatientId}}``,
``{{userRelatedPersonId}}``).  FHIRPath tokens such as ``{{today()}}`` belong to the 3.0 ballot: rejected.

The Observation searches are not written in the files: they are generated from the terminology at start-up
(:mod:`fhir_bonemet.cds.prefetch_templates`), passed to :func:`load_services` and checked the same way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from fhir_bonemet.cds.problems import problems_from_validation
from fhir_bonemet.core.model.hooks import Hook
from fhir_bonemet.errors import ConfigurationError
from fhir_bonemet.project_dirs import SERVICES

__all__ = ["REQUIRED_PREFETCH_EXTENSION", "ServiceCatalogue", "ServiceDefinition", "load_services"]

REQUIRED_PREFETCH_EXTENSION = "org.fhir-bonemet.required-prefetch"

# Context fields each served hook marks "Prefetch Token: Yes" (CDS Hooks Library 1.0.1).
PREFETCH_CONTEXT_FIELDS: Mapping[str, frozenset[str]] = {
    hook: frozenset({"userId", "patientId", "encounterId"}) for hook in Hook
}
USER_TOKENS = frozenset(
    {"userPractitionerId", "userPractitionerRoleId", "userPatientId", "userRelatedPersonId"}
)
_TOKEN = re.compile(r"\{\{(.*?)\}\}")
_TEMPLATE = re.compile(r"^(?P<type>[A-Z][A-Za-z]+)(?:/(?P<id>[^/?]+)|\?(?P<query>.+))$")
_SPECIAL_PARAMS = frozenset({"_count", "_sort", "_id"})


def template_tokens(template: str) -> list[str]:
    return [token.strip() for token in _TOKEN.findall(template)]


def _check_template(hook: str, key: str, template: str) -> None:
    for token in template_tokens(template):
        field = token.removeprefix("context.")
        if token.startswith("context.") and field in PREFETCH_CONTEXT_FIELDS[hook]:
            continue
        if token in USER_TOKENS:
            continue
        raise ValueError(
            f"prefetch[{key}]: token {{{{{token}}}}} is not a CDS Hooks 2.0 prefetch token for {hook}"
        )
    bare = _TOKEN.sub("x", template)
    if "{" in bare or "}" in bare:
        raise ValueError(f"prefetch[{key}]: unbalanced token braces")
    match = _TEMPLATE.match(bare)
    if match is None:
        raise ValueError(f"prefetch[{key}]: must be a relative FHIR read (Type/id) or search (Type?params)")
    for name, _ in parse_qsl(match.group("query") or "", keep_blank_values=True):
        base, _, modifier = name.partition(":")
        if base.startswith("_") and base not in _SPECIAL_PARAMS:
            raise ValueError(f"prefetch[{key}]: {base} is outside the recommended prefetch subset")
        if modifier and modifier != "in":
            raise ValueError(
                f"prefetch[{key}]: modifier :{modifier} is outside the recommended prefetch subset"
            )


class ServiceDefinition(BaseModel):
    """One discovery entry.  Field names are the spec's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    hook: str
    title: str = Field(min_length=1)
    description: str = Field(min_length=1)
    prefetch: dict[str, str] | None = None
    usageRequirements: str | None = Field(default=None, min_length=1)
    extension: dict[str, Any] | None = None

    @field_validator("hook")
    @classmethod
    def _served_hook(cls, value: str) -> str:
        if value not in set(Hook):
            raise ValueError(f"hook must be one of the served hooks: {', '.join(Hook)}")
        return value

    @model_validator(mode="after")
    def _check(self) -> ServiceDefinition:
        if self.prefetch is not None and not self.prefetch:
            raise ValueError("prefetch must be omitted rather than empty")
        if self.extension is not None and not self.extension:
            raise ValueError("extension must be omitted rather than empty")
        for key, template in (self.prefetch or {}).items():
            _check_template(self.hook, key, template)
        required = (self.extension or {}).get(REQUIRED_PREFETCH_EXTENSION, [])
        if not isinstance(required, list) or not all(isinstance(key, str) for key in required):
            raise ValueError(f"extension.{REQUIRED_PREFETCH_EXTENSION} must be an array of prefetch keys")
        unknown = sorted(set(required) - set(self.prefetch or {}))
        if unknown:
            raise ValueError(f"extension.{REQUIRED_PREFETCH_EXTENSION} names unknown prefetch keys {unknown}")
        return self

    @property
    def required_prefetch(self) -> tuple[str, ...]:
        return tuple((self.extension or {}).get(REQUIRED_PREFETCH_EXTENSION, ()))

    def discovery_entry(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class ServiceCatalogue:
    """The loaded services, looked up by (id, hook).

    One id may serve several hooks (the spec's way to update stale guidance), so calls dispatch on both.
    """

    def __init__(self, services: Iterable[ServiceDefinition]) -> None:
        self.services = tuple(sorted(services, key=lambda s: (s.id, s.hook)))
        self._by_id: dict[str, dict[str, ServiceDefinition]] = {}
        for service in self.services:
            hooks = self._by_id.setdefault(service.id, {})
            if service.hook in hooks:
                raise ConfigurationError(f"service {service.id!r} is defined twice for hook {service.hook!r}")
            hooks[service.hook] = service

    def has_id(self, service_id: str) -> bool:
        return service_id in self._by_id

    def hooks_of(self, service_id: str) -> tuple[str, ...]:
        return tuple(self._by_id.get(service_id, {}))

    def get(self, service_id: str, hook: str) -> ServiceDefinition | None:
        return self._by_id.get(service_id, {}).get(hook)

    def discovery(self) -> dict[str, Any]:
        return {"services": [service.discovery_entry() for service in self.services]}


def load_services(directory: Path, generated_prefetch: Mapping[str, str] | None = None) -> ServiceCatalogue:
    """Load every ``*.json`` directly in ``directory`` (examples in sub-folders are not services).

    ``generated_prefetch``: templates built at start-up (the Observation searches of
    :mod:`fhir_bonemet.cds.prefetch_templates`) added to every service's prefetch and checked like the
    written ones; a file that writes a generated key itself is refused, so the two never disagree.
    """
    SERVICES.require(directory)
    generated = dict(generated_prefetch or {})
    services = []
    for path in sorted(directory.glob("*.json")):
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"{path}: not readable JSON: {exc}") from exc
        if generated and isinstance(raw, dict):
            prefetch = raw.get("prefetch")
            written: dict[str, Any] = prefetch if isinstance(prefetch, dict) else {}
            clash = sorted(set(written) & set(generated))
            if clash:
                raise ConfigurationError(
                    f"{path}: prefetch keys {clash} are generated from the terminology; remove them"
                )
            raw = {**raw, "prefetch": {**written, **generated}}
        try:
            services.append(ServiceDefinition.model_validate(raw))
        except ValidationError as exc:
            details = "; ".join(problem.message for problem in problems_from_validation(exc))
            raise ConfigurationError(f"{path}: invalid service definition: {details}") from exc
    if not services:
        # The CDS Hooks Sandbox treats an empty discovery list as a failure; so does this service.
        raise ConfigurationError(f"{directory} holds no service definitions (*.json)")
    return ServiceCatalogue(services)
