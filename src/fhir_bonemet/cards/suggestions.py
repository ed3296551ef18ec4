"""Suggestions a card offers: referrals, the CarePlan, and actions on the hook's draft orders.

* Referrals become draft ServiceRequests; each referral is proposed once per response, on the most severe
  card that asks for it.
* The CarePlan: a *create* action (suggest mode, or write mode when nothing could be written), an *update*
  that activates the draft written to the record (write mode), or nothing while the write waits in the
  outbox (offering it again would risk a duplicate).
* On order-select / order-sign, a finding's order actions on draft orders of this call: *delete* with
  ``resourceId``, or *update* with the entire resource; each draft order is acted on once per response.

Every suggestion's uuid derives from its card's uuid and what it proposes, so retries give the same uuids.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date
from typing import Any

from fhir_bonemet.cards.concerns import Concern
from fhir_bonemet.core.model.findings import Finding, OrderAction, Referral
from fhir_bonemet.core.model.hooks import Hook
from fhir_bonemet.fhir.outbound.careplan import BuiltCarePlan, activated
from fhir_bonemet.fhir.outbound.codes import OutboundCodes
from fhir_bonemet.fhir.outbound.referrals import build_referral

__all__ = ["UUID_NAMESPACE", "SuggestionBuilder"]

UUID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "http://fhir-bonemet.org/cds-hooks/cards")
Json = dict[str, Any]


def _suggestion(card_uuid: str, key: str, label: str, actions: list[Json]) -> Json:
    return {
        "label": label,
        "uuid": str(uuid.uuid5(UUID_NAMESPACE, f"{card_uuid}\n{key}")),
        "actions": actions,
    }


def order_action(act: OrderAction, draft: Mapping[str, Any], finding: Finding) -> Json | None:
    if act.action == "delete":
        return {"type": "delete", "description": act.description, "resourceId": act.order_ref}
    if act.action == "update":
        # The finding says in words what to change; the update records that advice on the draft order so the
        # prescriber sees it while editing.  Everything else in the draft stays exactly as the EHR sent it.
        note = {"text": f"fhir-bonemet {finding.rule_id}: {act.description}"}
        resource = {**draft, "note": [*draft.get("note", []), note]}
        return {"type": "update", "description": act.description, "resource": resource}
    return None


class SuggestionBuilder:
    """Builds suggestions for the cards of one response, remembering what was already proposed."""

    def __init__(
        self,
        codes: OutboundCodes,
        *,
        hook: Hook,
        patient_ref: str,
        today: date,
        user_ref: str | None,
        encounter_ref: str | None,
        draft_orders: Mapping[str, Mapping[str, Any]],
    ) -> None:
        self.codes, self.hook, self.patient_ref, self.today = codes, Hook(hook), patient_ref, today
        self.user_ref, self.encounter_ref, self.draft_orders = user_ref, encounter_ref, draft_orders
        self._referrals: set[Referral] = set()
        self._orders: set[str] = set()

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
                display = self.codes.referral(referral).display
                action = {
                    "type": "create",
                    "description": f"Create a draft order: {display}",
                    "resource": resource,
                }
                out.append(_suggestion(card_uuid, f"referral:{referral.value}", display, [action]))
        return out

    def order_actions(self, concern: Concern, card_uuid: str) -> list[Json]:
        if not self.hook.is_order_entry:
            return []
        out: list[Json] = []
        for finding in concern.findings:
            for act in finding.order_actions:
                draft = self.draft_orders.get(act.order_ref)
                if draft is None or act.order_ref in self._orders:
                    continue  # only this call's draft orders can be acted on, and each only once
                action = order_action(act, draft, finding)
                if action is not None:
                    self._orders.add(act.order_ref)
                    key = f"order:{act.action}:{act.order_ref}"
                    out.append(_suggestion(card_uuid, key, act.description, [action]))
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
            note = f"A draft CarePlan was written to the record (`{location}`); choose *{label}* to use it."
            return _suggestion(card_uuid, "careplan:activate", label, [action]), note
        if queued:
            return None, (
                "The FHIR server could not be reached: the draft CarePlan is queued and will be written "
                "once the server answers (never twice)."
            )
        action = {
            "type": "create",
            "description": "Create the CarePlan, with its goals, for this patient",
            "resource": plan.resource,
        }
        label = "Create the exercise and pain CarePlan"
        return _suggestion(card_uuid, "careplan:create", label, [action]), (
            "The suggested CarePlan carries the whole plan: activities, goals, stop-and-call criteria."
        )
