"""The ``fhir-bonemet`` command and its sub-commands."""

from fhir_bonemet.cli.main import main

__all__ = ["main"]
