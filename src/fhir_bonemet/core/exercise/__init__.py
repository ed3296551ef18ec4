"""Exercise safety: skeletal risk per lesion and per person, the site-by-domain matrix, the prescription
(:mod:`.plan`), and the findings EX01-EX03 that describe it (:mod:`.findings`).  Importing this package
declares every rule in it.
"""

from fhir_bonemet.core.exercise import findings, plan

__all__ = ["findings", "plan"]
