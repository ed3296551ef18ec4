"""Error bodies: every 4xx/5xx answer is a FHIR ``OperationOutcome`` that says what is wrong and where.

Locations are FHIRPath-like (``context.selections[1]``).  Messages come from our validators or pydantic's
fixed texts and never quote the submitted values, so an error body cannot carry patient data.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import ValidationError

from fhir_bonemet.errors import InvalidRequestError, Problem

__all__ = ["location_of", "operation_outcome", "problems_from_validation", "validation_failure"]

# pydantic error types → OperationOutcome.issue.code (http://hl7.org/fhir/issue-type)
_ISSUE_CODES = {"missing": "required", "json_invalid": "structure", "model_type": "structure"}


def location_of(loc: Iterable[int | str], prefix: str = "") -> str:
    """``("context", "selections", 1)`` → ``context.selections[1]``."""
    text = prefix
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text = f"{text}.{part}" if text else str(part)
    return text


def _message(error: Any) -> str:
    message = str(error.get("msg", "is invalid"))
    # Our validators raise ValueError("…"), which pydantic prefixes; the prefix helps no one.
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix) :]
    return message


def problems_from_validation(exc: ValidationError, prefix: str = "") -> tuple[Problem, ...]:
    problems = []
    for error in exc.errors(include_input=False, include_url=False, include_context=False):
        location = location_of(error["loc"], prefix)
        message = _message(error)
        problems.append(
            Problem(
                location=location,
                message=f"{location}: {message}" if location else message,
                code=_ISSUE_CODES.get(error["type"], "invalid"),
            )
        )
    return tuple(problems)


def validation_failure(what: str, exc: ValidationError, prefix: str = "") -> InvalidRequestError:
    problems = problems_from_validation(exc, prefix)
    count = len(problems)
    return InvalidRequestError(f"{what} is invalid ({count} problem{'s' if count != 1 else ''})", problems)


def operation_outcome(problems: Sequence[Problem], severity: str = "error") -> dict[str, Any]:
    issues = []
    for problem in problems:
        issue: dict[str, Any] = {"severity": severity, "code": problem.code, "diagnostics": problem.message}
        if problem.location:
            issue["location"] = [problem.location]
            issue["expression"] = [problem.location]
        issues.append(issue)
    return {"resourceType": "OperationOutcome", "issue": issues}
