"""CDS Hooks cards from an :class:`~fhir_bonemet.core.findings.Assessment`: one card per concern.

* A *concern* is a group of findings that share a rule id (a finding names further rules it absorbed in
  ``related_rules``; e.g. R09 covers P14).  The most severe finding of the group leads the card; the others
  add their advice and data to it, so nothing fires twice for the same concern.
* Order: critical, then warning, then info; within an indicator red flags first, then medication safety,
  exercise, pain, bone health; then rule id.  The order is stable for the same assessment.
* Every card and suggestion has a uuid derived (uuid5) from hookInstance, the rule ids and the concern, so a
  retried call returns the same uuids and feedback can always be joined to the card it is about.
* Suggestions: ServiceRequest referrals (each referral proposed once per response, on the most severe card
  that asks for it), the CarePlan (on the exercise card, else the first pain card), and, on order-select /
  order-sign, delete or update actions on the draft orders a finding names.  Red-flag cards let the
  clinician choose at most one suggestion; other cards allow any.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from fhir_bonemet.cds.response import RULES_EXTENSION, Card, rule_ids_of
from fhir_bonemet.core.findings import Assessment, Category, ExercisePlan, Finding, OrderAction, Referral
from fhir_bonemet.core.thresholds import Thresholds
from fhir_bonemet.fhir import card_detail
from fhir_bonemet.fhir.careplan import BuiltCarePlan, activated
from fhir_bonemet.fhir.careplan_text import lesion_label
from fhir_bonemet.fhir.outbound_codes import OutboundCodes, load_outbound_codes
from fhir_bonemet.fhir.requests_out import build_referral
from fhir_bonemet.knowledge import EvidenceSource, load_sources, load_thresholds
from fhir_bonemet.store.base import IssuedCard

__all__ = [
    "RULES_EXTENSION",
    "SKELETAL_RISK_EXTENSION",
    "CardContext",
    "build_cards",
    "card_uuid",
    "issued",
]

SKELETAL_RISK_EXTENSION = "org.fhir-bonemet.skeletal-risk"
SERVICE_LABEL = "fhir-bonemet"
_UUID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "http://fhir-bonemet.org/cds-hooks/cards")
_CATEGORY_ORDER = (
    Category.RED_FLAG,
    Category.MEDICATION_SAFETY,
    Category.EXERCISE,
    Category.PAIN,
    Category.BONE_HEALTH,
)
_ORDER_HOOKS = frozenset({"order-select", "order-sign"})
_SUMMARY_LIMIT = 139  # CDS Hooks: summary SHALL be < 140 characters


@dataclass(frozen=True, slots=True)
class CardContext:
    """What the card builder needs to know about the hook call and the write-back outcome."""

    hook: str
    hook_instance: str
    patient_ref: str  # "Patient/123"
    today: date
    user_ref: str | None = None  # "Practitioner/…" or "PractitionerRole/…": requester of referrals
    encounter_ref: str | None = None
    draft_orders: Mapping[str, Mapping[str, Any]] = field(
        default_factory=dict
    )  # "MedicationRequest/1" → JSON
    careplan: BuiltCarePlan | None = None
    careplan_location: str | None = None  # write mode: "CarePlan/…" of the draft written → offer activation
    careplan_queued: bool = False  # write mode: waiting in the outbox → no create action (no duplicate)


def card_uuid(hook_instance: str, rule_ids: tuple[str, ...], concern_key: str) -> str:
    return str(uuid.uuid5(_UUID_NAMESPACE, "\n".join((hook_instance, ",".join(rule_ids), concern_key))))


def _natural(rule_id: str) -> tuple[Any, ...]:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", rule_id))


def _clip(text: str, limit: int = _SUMMARY_LIMIT) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:")
    return f"{cut}…"


@dataclass(slots=True)
class _Concern:
    findings: list[Finding]

    def ordered(self) -> list[Finding]:
        return sorted(
            self.findings, key=lambda f: (-f.indicator.rank, _category_rank(f.category), _natural(f.rule_id))
        )

    @property
    def primary(self) -> Finding:
        return self.ordered()[0]

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r for f in self.ordered() for r in f.rule_ids))

    def sort_key(self) -> tuple[Any, ...]:
        p = self.primary
        return (-p.indicator.rank, _category_rank(p.category), _natural(p.rule_id))


def _category_rank(category: Category) -> int:
    return _CATEGORY_ORDER.index(category) if category in _CATEGORY_ORDER else len(_CATEGORY_ORDER)


def group_concerns(findings: tuple[Finding, ...]) -> list[_Concern]:
    """Findings sharing any rule id form one concern; concerns in card order."""
    concerns: list[_Concern] = []
    for finding in findings:
        ids = set(finding.rule_ids)
        hits = [c for c in concerns if ids & set(c.rule_ids)]
        merged = _Concern([finding])
        for hit in hits:
            merged.findings = hit.findings + merged.findings
            concerns.remove(hit)
        concerns.append(merged)
    return sorted(concerns, key=_Concern.sort_key)


class _CardBuilder:
    def __init__(
        self,
        assessment: Assessment,
        ctx: CardContext,
        codes: OutboundCodes,
        sources: Mapping[str, EvidenceSource],
        thresholds: Thresholds | None,
    ) -> None:
        self.a, self.ctx, self.codes, self.sources, self.thresholds = (
            assessment,
            ctx,
            codes,
            sources,
            thresholds,
        )
        self.claimed_referrals: set[Referral] = set()
        self.claimed_orders: set[tuple[str, str]] = set()
        self.careplan_placed = False

    def card(self, concern: _Concern, carries_plan: bool) -> dict[str, Any]:
        primary, findings, rule_ids = concern.primary, concern.ordered(), concern.rule_ids
        key = f"{primary.category.value}:{'+'.join(sorted(rule_ids))}"
        cid = card_uuid(self.ctx.hook_instance, tuple(sorted(rule_ids)), key)
        extra: list[str] = []
        suggestions = self._referrals(concern, cid) + self._order_actions(findings, cid)
        if carries_plan and self.ctx.careplan is not None:
            plan_suggestion, note = self._careplan(cid)
            extra.append(note)
            if plan_suggestion is not None:
                suggestions.insert(0, plan_suggestion)
        card: dict[str, Any] = {
            "uuid": cid,
            "summary": _clip(primary.summary),
            "indicator": max((f.indicator for f in findings), key=lambda i: i.rank).value,
            "detail": card_detail.detail_markdown(
                findings, sources=self.sources, thresholds=self.thresholds, extra=extra
            ),
            "source": self._source(findings, primary.category),
            "overrideReasons": [self.codes.local(c, d) for c, d in self.codes.override_reasons],
            "extension": {RULES_EXTENSION: list(rule_ids)},
        }
        if primary.category is Category.EXERCISE and self.a.exercise is not None:
            card["extension"][SKELETAL_RISK_EXTENSION] = skeletal_risk(self.a.exercise)
        if suggestions:
            red_flag = primary.category is Category.RED_FLAG
            card["selectionBehavior"] = "at-most-one" if red_flag else "any"
            if red_flag:
                suggestions[0]["isRecommended"] = True
            card["suggestions"] = suggestions
        links = self._links(findings)
        if links:
            card["links"] = links
        return card

    def _suggestion(self, cid: str, key: str, label: str, actions: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "label": _clip(label, 120),
            "uuid": str(uuid.uuid5(_UUID_NAMESPACE, f"{cid}\n{key}")),
            "actions": actions,
        }

    def _referrals(self, concern: _Concern, cid: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for finding in concern.ordered():
            for referral in finding.referrals:
                if referral in self.claimed_referrals:
                    continue
                self.claimed_referrals.add(referral)
                resource = build_referral(
                    referral,
                    finding,
                    patient_ref=self.ctx.patient_ref,
                    today=self.ctx.today,
                    rule_ids=concern.rule_ids,
                    requester_ref=self.ctx.user_ref,
                    encounter_ref=self.ctx.encounter_ref,
                    codes=self.codes,
                )
                display = self.codes.referral(referral).display
                out.append(
                    self._suggestion(
                        cid,
                        f"referral:{referral.value}",
                        display,
                        [
                            {
                                "type": "create",
                                "description": f"Create a draft order: {display}",
                                "resource": resource,
                            }
                        ],
                    )
                )
        return out

    def _order_actions(self, findings: list[Finding], cid: str) -> list[dict[str, Any]]:
        if self.ctx.hook not in _ORDER_HOOKS:
            return []
        out: list[dict[str, Any]] = []
        for finding in findings:
            for act in finding.order_actions:
                draft = self.ctx.draft_orders.get(act.order_ref)
                if draft is None or (act.order_ref, act.action) in self.claimed_orders:
                    continue  # only draft orders of this hook call can be acted on
                self.claimed_orders.add((act.order_ref, act.action))
                action = _order_action(act, draft, finding)
                if action is not None:
                    out.append(
                        self._suggestion(
                            cid, f"order:{act.action}:{act.order_ref}", act.description, [action]
                        )
                    )
        return out

    def _careplan(self, cid: str) -> tuple[dict[str, Any] | None, str]:
        plan = self.ctx.careplan
        assert plan is not None
        if self.ctx.careplan_location:
            resource_id = self.ctx.careplan_location.split("/")[1]
            return self._suggestion(
                cid,
                "careplan:activate",
                "Activate the draft exercise and pain CarePlan",
                [
                    {
                        "type": "update",
                        "description": "Set the draft CarePlan written by fhir-bonemet to active",
                        "resource": activated(plan.resource, resource_id),
                    }
                ],
            ), (
                f"A draft CarePlan was written to the record (`{self.ctx.careplan_location}`); "
                "choose *Activate* to make it active."
            )
        if self.ctx.careplan_queued:
            return None, (
                "The FHIR server could not be reached: the draft CarePlan is queued and will be "
                "written once it answers (never twice)."
            )
        return self._suggestion(
            cid,
            "careplan:create",
            "Create the exercise and pain CarePlan",
            [
                {
                    "type": "create",
                    "description": "Create the CarePlan (with its goals) for this patient",
                    "resource": plan.resource,
                }
            ],
        ), "The suggested CarePlan carries the full plan, goals and narrative."

    def _source(self, findings: list[Finding], category: Category) -> dict[str, Any]:
        evidence = list(dict.fromkeys(e for f in findings for e in f.evidence))
        source: dict[str, Any] = {
            "label": SERVICE_LABEL + (f" (evidence {', '.join(evidence[:4])})" if evidence else ""),
            "topic": self.codes.topic(category),
        }
        urls = [self.sources[e].url for e in evidence if e in self.sources and _absolute(self.sources[e].url)]
        if urls:
            source["url"] = urls[0]
        return source

    def _links(self, findings: list[Finding]) -> list[dict[str, Any]]:
        links: list[dict[str, Any]] = []
        seen: set[str] = set()
        for sid in dict.fromkeys(e for f in findings for e in f.evidence):
            src = self.sources.get(sid)
            if src is None or not _absolute(src.url) or src.url in seen:
                continue
            seen.add(src.url)
            links.append({"label": _clip(f"{sid}: {src.citation}", 90), "url": src.url, "type": "absolute"})
        return links


def _absolute(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _order_action(act: OrderAction, draft: Mapping[str, Any], finding: Finding) -> dict[str, Any] | None:
    if act.action == "delete":
        return {"type": "delete", "description": act.description, "resourceId": act.order_ref}
    if act.action == "update":
        # The finding says what to change in words; the update records that advice on the order itself so the
        # prescriber sees it while editing.  Everything else in the draft is kept exactly as the EHR sent it.
        note = {"text": f"fhir-bonemet {finding.rule_id}: {act.description}"}
        resource = {**draft, "note": [*draft.get("note", []), note]}
        return {"type": "update", "description": act.description, "resource": resource}
    return None


def skeletal_risk(plan: ExercisePlan) -> dict[str, Any]:
    return {
        "overall": plan.tier.value,
        "lesions": [
            {"condition": les.lesion_ref, "site": lesion_label(les), "tier": les.tier.value}
            for les in plan.lesions
        ],
    }


def build_cards(
    assessment: Assessment,
    *,
    context: CardContext,
    codes: OutboundCodes | None = None,
    sources: Mapping[str, EvidenceSource] | None = None,
    thresholds: Thresholds | None = None,
) -> list[Card]:
    """Cards for one hook call, validated against the CDS Hooks wire model (so every response invariant
    holds); ``[]`` outside the population or when nothing fired."""
    if not assessment.in_population or not assessment.findings:
        return []
    builder = _CardBuilder(
        assessment,
        context,
        codes or load_outbound_codes(),
        load_sources() if sources is None else sources,
        load_thresholds() if thresholds is None else thresholds,
    )
    concerns = group_concerns(assessment.findings)
    carrier = next((c for c in concerns if c.primary.category is Category.EXERCISE), None) or next(
        (c for c in concerns if c.primary.category is Category.PAIN), None
    )
    return [Card.model_validate(builder.card(c, c is carrier)) for c in concerns]


def issued(cards: list[Card]) -> list[IssuedCard]:
    """The audit records of what was proposed (no patient data), for ``Store.record_issued_cards``."""
    return [
        IssuedCard(
            uuid=card.uuid,
            rule_ids=rule_ids_of(card),
            indicator=card.indicator,
            suggestion_uuids=tuple(s.uuid for s in card.suggestions or ()),
        )
        for card in cards
    ]
