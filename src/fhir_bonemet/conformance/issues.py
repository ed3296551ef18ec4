"""One finding of a conformance check, located by a FHIRPath expression into the file it came from."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Issue"]


@dataclass(frozen=True, slots=True)
class Issue:
    severity: str  # "error" | "warning" | "information" (OperationOutcome.issue.severity)
    location: str  # FHIRPath, e.g. "Bundle.entry[3].resource.code.coding[0]"
    message: str
    check: str  # "profile" (the Node validator), "binding" (required bindings) or "input" (not FHIR JSON)
    profile: str | None = None  # canonical URL of the profile checked, None for the base definition

    @property
    def is_error(self) -> bool:
        return self.severity in ("error", "fatal")
