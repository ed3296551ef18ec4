"""Suggestions a card offers: referrals, the CarePlan, and changes to the clinician's pending orders.

* Referrals become draft ServiceRequests; each referral is proposed once per response, on the most severe
  card that asks for it, and not at all when the same referral is already among this call's draft orders
  (the clinician accepted it a moment ago).
* The CarePlan: a *create* action (suggest mode, or write mode when nothing could be written), an *update*
  that activates the draft written to the record (write mode), or nothing while the write waits in the
  outbox (offering it again would risk a duplicate) or when a CarePlan is already among the draft orders.
* On order-select / order-sign, a finding's order actions become real changes (see
  :mod:`fhir_bonemet.cards.orders`): cancel a draft, change its dose, or order what is missing; each draft
  order is acted on once per response.

Labels start with a verb and name the order.  Every suggestion's uuid derives from its card's uuid and what
it proposes, so retries give the same uuids.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from datetime import date
from typing import Any

from fhir_bonemet.cards.concerns import Concern
from fhir_bonemet.cards.orders import plan_order, referenced_medication, senna_order
from fhir_bonemet.core.model.findings import Referral
from fhir_bonemet.core.model.hooks import Hook
from fhir_bonemet.core.model.thresholds import Thresholds
from fhir_bonemet.fhir.outbound.careplan import BuiltCarePlan, activated
from fhir_bonemet.fhir.outbound.codes import OutboundCodes
from fhir_bonemet.fhir.outbound.referrals import build_referral

__all__ = ["UUID_NAMESPACE", "SuggestionBuilder", "stable_uuid"]

UUID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "http://fhir-bonemet.org/cds-hooks/cards")
_NAMESPACE_BYTES = UUID_NAMESPACE.bytes
Json = dict[str, Any]


def stable_uuid(name: str) -> str:
    """``str(uuid.uuid5(UUID_NAMESPACE, name))``: the SHA-1 name-based uuid of RFC 4122 (section 4.3),
    written straight from the digest; building a ``uuid.UUID`` to print it cost twice as much, for every
    card and suggestion of every answer."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name.encode(), usedforsecurity=False).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _suggestion(card_uuid: str, key: str, label: str, actions: list[Json], recommended: bool = False) -> Json:
    out: Json = {
        "label": label,
        "uuid": stable_uuid(f"{card_uuid}\n{key}"),
        "actions": actions,
    }
    if recommended:
        out["isRecommended"] = True
    return out


def _codes_of(resource: Mapping[str, Any]) -> set[tuple[str, str]]:
    code = resource.get("code")
    codings = code.get("coding") if isinstance(code, Mapping) else None
    if not isinstance(codings, list):
        return set()
    return {(str(c.get("system")), str(c.get("code"))) for c in codings if isinstance(c, Mapping)}


class SuggestionBuilder:
    """Builds suggestions for the cards of one response, remembering what was already proposed."""

    def __init__(
        self,
        codes: OutboundCodes,
        thresholds: Thresholds,
        *,
        hook: Hook,
        patient_ref: str,
        today: date,
        user_ref: str | None,
        encounter_ref: str | None,
        draft_orders: Mapping[str, Mapping[str, Any]],
    ) -> None:
        self.codes, self.thresholds, self.hook = codes, thresholds, Hook(hook)
        self.patient_ref, self.today = patient_ref, today
        self.user_ref, self.encounter_ref, self.draft_orders = user_ref, encounter_ref, draft_orders
        self._referrals: set[Referral] = set()
        self._orders: set[str] = set()
        self._planned: set[str] = set()
        drafts = [r for r in draft_orders.values() if isinstance(r, Mapping)]
        self._pending = [r for r in drafts if r.get("resourceType") == "ServiceRequest"]
        self._careplan_pending = any(r.get("resourceType") == "CarePlan" for r in drafts)

    def _already_drafted(self, resource: Mapping[str, Any]) -> bool:
        if not self._pending:  # most calls: no referral among the draft orders
            return False
        wanted = _codes_of(resource)
        return any(wanted & _codes_of(pending) for pending in self._pending)

    def unoffered(self, concern: Concern, card_uuid: str) -> list[Json]:
        """What ``concern`` would propose here, built without counting as proposed: a card that cannot
        offer it (its suggestions are a choice of one) names it instead, and another card may still
        offer the same referral or change the same draft."""
        memory = (set(self._referrals), set(self._orders), set(self._planned))
        try:
            referrals = self.referrals(concern, card_uuid)
            return referrals + self.order_actions(concern, card_uuid) + self.new_orders(concern, card_uuid)
        finally:
            self._referrals, self._orders, self._planned = memory

    def referrals(self, concern: Concern, card_uuid: str) -> list[Json]:
        out: list[Json] = []
        for finding in concern.findings:
            for referral in finding.referrals:
                if referral in self._referrals:
                    continue
                self._referrals.add(referral)
                resource = build_referral(
                    referral,
                    finding,
                    patient_ref=self.patient_ref,
                    today=self.today,
                    rule_ids=concern.rule_ids,
                    requester_ref=self.user_ref,
                    encounter_ref=self.encounter_ref,
                    codes=self.codes,
                )
                if self._already_drafted(resource):
                    continue
                display = self.codes.referral(referral).display
                action = {
                    "type": "create",
                    "description": f"Create a draft order: {display}",
                    "resource": resource,
                }
                label = f"Order {display[0].lower()}{display[1:]}"
                out.append(_suggestion(card_uuid, f"referral:{referral.value}", label, [action]))
        return out

    def order_actions(self, concern: Concern, card_uuid: str) -> list[Json]:
        if not self.hook.is_order_entry:
            return []
        out: list[Json] = []
        for finding in concern.findings:
            for act in finding.order_actions:
                draft = self.draft_orders.get(act.order_ref)
                if draft is None:
                    continue  # only this call's draft orders can be acted on
                planned = plan_order(
                    act,
                    draft,
                    self.thresholds,
                    finding,
                    patient_ref=self.patient_ref,
                    today=self.today,
                    requester=self.user_ref,
                    medication=referenced_medication(draft, self.draft_orders),
                )
                if planned is None or planned.key in self._planned:
                    continue
                if planned.action["type"] != "create":  # a new order leaves the draft as it is
                    if act.order_ref in self._orders:
                        continue  # each draft is changed once per response
                    self._orders.add(act.order_ref)
                self._planned.add(planned.key)
                suggestion = _suggestion(
                    card_uuid, planned.key, planned.label, [planned.action], planned.recommended
                )
                out.append(suggestion)
        return out

    def new_orders(self, concern: Concern, card_uuid: str) -> list[Json]:
        """What is missing, ordered on any hook: a stimulant laxative beside the opioid (P15).  (Calcium and
        vitamin D are ordered only where the core asks for them on a draft: it knows when calcium is high.)"""
        out: list[Json] = []
        for finding in concern.findings:
            if finding.rule_id != "P15":
                continue
            planned = senna_order(
                finding, patient_ref=self.patient_ref, today=self.today, requester=self.user_ref
            )
            if planned.key in self._planned:
                continue
            self._planned.add(planned.key)
            out.append(
                _suggestion(card_uuid, planned.key, planned.label, [planned.action], planned.recommended)
            )
        return out

    def careplan(
        self, plan: BuiltCarePlan, card_uuid: str, *, location: str | None, queued: bool
    ) -> tuple[Json | None, str]:
        """The CarePlan suggestion (if any) and a sentence for the card's detail saying where the plan is."""
        if location:
            action = {
                "type": "update",
                "description": "Set the draft CarePlan written by fhir-bonemet to active",
                "resource": activated(plan.resource, location.split("/")[-1]),
            }
            label = "Activate the draft exercise and pain CarePlan"
            note = f"A draft CarePlan was written to the record; choose *{label}* to use it."
            return _suggestion(card_uuid, "careplan:activate", label, [action]), note
        if queued:
            return None, (
                # Also said when another call for the same plan is still writing it: true either way.
                "The draft CarePlan is queued: it will be written to the record once the FHIR server "
                "confirms it (never twice)."
            )
        if self._careplan_pending:
            return None, "The exercise and pain CarePlan is among the pending orders."
        action = {
            "type": "create",
            "description": "Create the CarePlan, with its goals, for this patient",
            "resource": plan.resource,
        }
        label = "Create the exercise and pain CarePlan"
        return _suggestion(card_uuid, "careplan:create", label, [action]), (
            "The CarePlan holds the full plan: every exercise domain with its dose, goals, stop criteria."
        )
