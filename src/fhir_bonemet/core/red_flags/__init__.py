"""Red flags that come before any advice: cord compression and spinal metastasis (R01, R02),
hypercalcaemia (R03), fracture (R04), pain escalation (R05), critical cytopenia (R08) and results that
could not be read but may be critical (R10).

The medication red flags R06, R07 and R09 are declared with the rules about the medicines they concern
(:mod:`fhir_bonemet.core.pain`) and run in the same red-flag pass.  Importing this package declares every
rule in it.
"""

from fhir_bonemet.core.red_flags import (
    calcium,
    cytopenia,
    fracture,
    pain_escalation,
    spinal,
    unreadable_results,
)

__all__ = ["calcium", "cytopenia", "fracture", "pain_escalation", "spinal", "unreadable_results"]
