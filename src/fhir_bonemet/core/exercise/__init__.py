"""Exercise safety: skeletal risk per lesion and per person, the site-by-domain matrix, the prescription
(:mod:`.plan`), the findings EX01-EX03 that describe it (:mod:`.findings`), and EX04 before an order that
may load the bone while the plan is on hold or ADL-only (:mod:`.order_entry`).  Importing this package
declares every rule in it.
"""

from fhir_bonemet.core.exercise import findings, order_entry, plan

__all__ = ["findings", "order_entry", "plan"]
