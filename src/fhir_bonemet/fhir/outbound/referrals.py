"""ServiceRequest referrals proposed by cards, as FHIR R4 JSON shaped like ``fhir.resources.R4B`` writes it.

A referral is created by the EHR only when a clinician accepts the card's suggestion, so it is sent as
``status = draft`` / ``intent = order``: it joins the clinician's pending orders to be reviewed and signed.
Each carries a stable ``identifier`` (patient + referral + rule ids) so an EHR can recognise a repeat of the
same proposal, the Conditions and Observations the finding used (``reasonReference`` / ``supportingInfo``;
a finding that used neither, R09 on medication orders, names its concern in ``reasonCode`` instead), and a
note naming the rule, so the receiving service knows why it was asked.

Each request is built as plain JSON in the order the typed ``ServiceRequest`` model serialises it, which a
test proves identical to the model's own serialisation for every example patient; the test suite validates
every referral the examples produce with :func:`validate_referral`, so the model runs in the tests, not per
call.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import date
from html import escape
from typing import Any

from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.servicerequest import ServiceRequest

from fhir_bonemet.core.model.findings import Finding, Indicator, Referral
from fhir_bonemet.core.model.unit_text import readable_units
from fhir_bonemet.fhir.outbound.codes import OutboundCodes
from fhir_bonemet.fhir.outbound.elements import typed_element

__all__ = ["build_referral", "referral_priority", "validate_referral"]

_REQUESTER_TYPES = ("Practitioner/", "PractitionerRole/")
_XHTML = "http://www.w3.org/1999/xhtml"


def referral_priority(referral: Referral, finding: Finding, codes: OutboundCodes) -> str:
    """The data file's priority, raised from routine to urgent when the finding is critical."""
    priority = codes.referral(referral).priority
    if finding.indicator is Indicator.CRITICAL and priority == "routine":
        return "urgent"
    return priority


def _unique(refs: Iterable[str | None], prefixes: tuple[str, ...]) -> list[dict[str, str]]:
    seen: dict[str, None] = {}
    for ref in refs:
        if ref and ref.startswith(prefixes):
            seen.setdefault(ref, None)
    return [{"reference": r} for r in seen]


def build_referral(
    referral: Referral,
    finding: Finding,
    *,
    patient_ref: str,
    today: date,
    rule_ids: tuple[str, ...] | None = None,
    requester_ref: str | None = None,
    encounter_ref: str | None = None,
    codes: OutboundCodes,
) -> dict[str, Any]:
    """One draft ServiceRequest for ``referral``, justified by ``finding``; R4 JSON, validated as a typed
    ServiceRequest."""
    code = codes.referral(referral)
    rules = rule_ids or finding.rule_ids
    coding = [codes.local(code.local, code.display)]
    if code.snomed and code.snomed_display:
        coding.append({"system": codes.snomed_system, "code": code.snomed, "display": code.snomed_display})
    digest = hashlib.sha256("\n".join((patient_ref, referral.value, *sorted(rules))).encode()).hexdigest()
    priority = referral_priority(referral, finding, codes)
    # Units as the cards show them ("platelets 15 ×10⁹/L", not the UCUM code "15 10*9/L"): the same count
    # must read the same on the card and on the referral it proposes.
    reason = readable_units(f"{finding.rule_id} {finding.title}: {finding.summary}")
    # Elements in definition order, as the typed model would write them.
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "text": {
            "status": "generated",
            "div": (
                f'<div xmlns="{_XHTML}"><p><b>{escape(code.display)}</b> ({escape(priority)})</p>'
                f"<p>{escape(reason)}</p></div>"
            ),
        },
        "identifier": [{"system": codes.referral_identifier_system, "value": digest}],
        "status": "draft",
        "intent": "order",
        "category": [
            {
                "coding": [
                    {
                        "system": codes.snomed_system,
                        "code": codes.referral_category[0],
                        "display": codes.referral_category[1],
                    }
                ]
            }
        ],
        "priority": priority,
        "code": {"coding": coding, "text": code.display},
        "subject": {"reference": patient_ref},
    }
    if encounter_ref and encounter_ref.startswith("Encounter/"):
        resource["encounter"] = {"reference": encounter_ref}
    resource["authoredOn"] = today.isoformat()
    if requester_ref and requester_ref.startswith(_REQUESTER_TYPES):
        resource["requester"] = {"reference": requester_ref}
    used_refs = [u.ref for u in finding.used]
    reasons = _unique(used_refs, ("Condition/", "Observation/"))
    if reasons:
        resource["reasonReference"] = reasons
    else:
        # A finding resting on medication orders alone (R09: an opioid, a benzodiazepine and a
        # gabapentinoid together) has no Condition or Observation to point to, and R4 (and the referral
        # profile) allow only those as reasonReference: the orders go in supportingInfo, and the concern
        # is given here as the reason, so the referral never arrives without one.
        resource["reasonCode"] = [{"text": f"{finding.rule_id} {finding.title}"}]
    supporting = _unique(
        used_refs, ("Observation/", "MedicationRequest/", "MedicationStatement/", "Procedure/")
    )
    if supporting:
        resource["supportingInfo"] = supporting
    why = readable_units(finding.rationale)
    resource["note"] = [{"text": f"Proposed by fhir-bonemet (rules {', '.join(rules)}). {reason} Why: {why}"}]
    return resource


def validate_referral(resource: dict[str, Any]) -> None:
    """Validate ``resource`` as a typed R4B ServiceRequest (raises pydantic's ValidationError).  The
    category and the referral code come from the code table: checked as typed elements validated once."""
    checked = {
        **resource,
        "category": [typed_element(CodeableConcept, c) for c in resource["category"]],
        "code": typed_element(CodeableConcept, resource["code"]),
    }
    ServiceRequest.model_validate(checked)
