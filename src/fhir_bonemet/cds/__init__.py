"""The CDS Hooks 2.0 HTTP layer: wire models, service definitions, JWT verification, routes, app factory."""

from __future__ import annotations

from fhir_bonemet.cds.app import create_app
from fhir_bonemet.cds.protocol import HookDeps, HookHandler

__all__ = ["HookDeps", "HookHandler", "create_app"]
