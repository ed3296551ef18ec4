"""The exception tree of fhir-bonemet.

::

    BonemetError                      base of everything the service raises on purpose
    ├── ConfigurationError            settings, knowledge or profile files are wrong: no start
    │   ├── KnowledgeError            thresholds.toml / sources.toml malformed or inconsistent
    │   └── TerminologyError          a ValueSet / CodeSystem / ConceptMap in profiles/ is malformed
    ├── RequestError                  the caller sent something unusable → 4xx with an OperationOutcome
    │   ├── UnknownServiceError       404: no service with that id
    │   ├── HookMismatchError         400: the service does not serve that hook
    │   ├── InvalidRequestError       400: body fails validation (carries locations)
    │   ├── UnsupportedMediaTypeError 415: the body is not JSON, or is content-encoded (gzip, …)
    │   └── PreconditionFailedError   412: required FHIR data could neither be prefetched nor fetched
    ├── AuthenticationError           401: missing or invalid JWT (the response never says why)
    └── FhirClientError               an outbound FHIR call failed (status, timeout, malformed body)

Every error carries structured fields and a message that says how to fix the problem; none carries patient
data, so each can be logged and returned as is.
"""

from __future__ import annotations

from dataclasses import dataclass


class BonemetError(Exception):
    """Base class of every error fhir-bonemet raises on purpose."""


class ConfigurationError(BonemetError):
    """The service cannot start with this configuration; the message names the file and the fix."""


class KnowledgeError(ConfigurationError):
    """thresholds.toml or sources.toml is malformed or inconsistent."""


class TerminologyError(ConfigurationError):
    """A terminology resource in profiles/ or a ConceptMap directory is malformed."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem with a request: FHIRPath-like location plus a message, never patient data."""

    location: str
    message: str
    code: str = "invalid"  # OperationOutcome.issue.code


class RequestError(BonemetError):
    status_code = 400
    headers: tuple[tuple[str, str], ...] = ()  # response headers the answer must carry

    def __init__(self, message: str, problems: tuple[Problem, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.problems = problems or (Problem(location="", message=message),)


class UnknownServiceError(RequestError):
    status_code = 404


class HookMismatchError(RequestError):
    status_code = 400


class InvalidRequestError(RequestError):
    status_code = 400


class UnsupportedMediaTypeError(RequestError):
    status_code = 415
    # RFC 9110 §15.5.16: a refused content coding is answered with the codings that are accepted.
    headers = (("Accept-Encoding", "identity"),)


class PreconditionFailedError(RequestError):
    status_code = 412


class AuthenticationError(BonemetError):
    """401; the detail is for logs only and never returned to the caller."""


class FhirClientError(BonemetError):
    """An outbound call to the FHIR server failed."""

    def __init__(self, message: str, *, status: int | None = None, url_path: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.url_path = url_path  # path and query without host or token, safe to log
