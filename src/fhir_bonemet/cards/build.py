"""CDS Hooks cards from an :class:`~fhir_bonemet.core.model.findings.Assessment`: one card per concern.

* Concerns and their order: :mod:`fhir_bonemet.cards.concerns` (critical red flags first, nothing
  twice); suggestions: :mod:`fhir_bonemet.cards.suggestions`; detail text:
  :mod:`fhir_bonemet.cards.detail`.
* Every card and suggestion has a uuid derived (uuid5) from hookInstance, the rule ids and the concern, so a
  retried call returns the same uuids and feedback is always joined to the card it is about.
* ``extension["org.fhir-bonemet.rules"]`` names the rule ids; exercise cards also carry
  ``extension["org.fhir-bonemet.skeletal-risk"]`` = ``{"overall": tier, "lesions": [{"condition", "site",
  "tier"}]}`` with tiers ``low`` / ``moderate`` / ``high`` / ``hold`` / ``adl-only``.
* Concerns, the folding of routine advice and the card budget: :func:`fhir_bonemet.cards.concerns.arrange`.
* The indicator is the rule's own: a red flag whose advice is urgent declares itself critical (R03 from
  its urgent band, R08 at its critical thresholds), so the colour and the words come from one place.
* Red-flag cards, and cards offering alternative changes to one order, let the clinician choose at most
  one suggestion; the safest is marked recommended.  What a concern folded onto such a card for room
  proposes would compete with the card's own choice, so it is not offered there: the detail names it
  (**Not offered on this card**).  Each card is validated by the CDS Hooks wire model, so every response
  invariant holds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

from fhir_bonemet.cards import detail as card_detail
from fhir_bonemet.cards.concerns import Concern, arrange, group_concerns
from fhir_bonemet.cards.evidence import CardEvidence, card_evidence
from fhir_bonemet.cards.suggestions import SuggestionBuilder, stable_uuid
from fhir_bonemet.cds.response import Card, rules_extension
from fhir_bonemet.core.data_gaps import MEDICATIONS_UNREAD
from fhir_bonemet.core.evidence.lesion_sites import site_label
from fhir_bonemet.core.model.findings import (
    Assessment,
    Category,
    ExercisePlan,
    fit_summary,
    shorten,
    spoken_list,
)
from fhir_bonemet.core.model.frozen_init import fast_init
from fhir_bonemet.core.model.hooks import Hook
from fhir_bonemet.core.model.thresholds import Thresholds
from fhir_bonemet.fhir.outbound.careplan import BuiltCarePlan
from fhir_bonemet.fhir.outbound.codes import OutboundCodes
from fhir_bonemet.knowledge import EvidenceSource

__all__ = [
    "PLAN_LINK_LABEL",
    "SKELETAL_RISK_EXTENSION",
    "CardContext",
    "build_cards",
    "card_uuid",
    "skeletal_risk",
]

SKELETAL_RISK_EXTENSION = "org.fhir-bonemet.skeletal-risk"
SUGGESTION_LABEL_LIMIT = 120
PLAN_LINK_LABEL = "Open the full plan"


@fast_init
@dataclass(frozen=True, slots=True)
class CardContext:
    """What the card builder needs to know about the hook call and the write-back outcome."""

    hook: Hook
    hook_instance: str
    patient_ref: str  # "Patient/123"
    today: date
    user_ref: str | None = None  # "Practitioner/…" or "PractitionerRole/…": requester of referrals
    encounter_ref: str | None = None
    # Draft orders of order-select / order-sign by reference ("MedicationRequest/1" → resource JSON).
    draft_orders: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    careplan: BuiltCarePlan | None = None
    careplan_location: str | None = None  # write mode: "CarePlan/…" of the draft written → offer activation
    careplan_queued: bool = False  # write mode: waiting in the outbox → no create action (no duplicate)
    plan_url: str | None = None  # signed link to the full plan page and handout (plan_page)
    # Prefetch keys read only in part (a later page failed or the paging budget ran out): the newest
    # results were used, older ones may be missing, and every card says so.
    incomplete_keys: tuple[str, ...] = ()
    # Prefetch keys whose results came with an error from the EHR (an OperationOutcome beside them): what
    # was sent was used, nothing beyond it is assumed absent, and every card says so.
    partial_keys: tuple[str, ...] = ()
    # Optional prefetch keys that could be neither prefetched nor fetched: a finding they would hold (a
    # red-flag symptom, a pregnancy) cannot be on any card, and every card says so.
    unread_keys: tuple[str, ...] = ()


# What each prefetch key holds, as a clinician names it: a card speaks of "red-flag symptoms", not of
# "observations-flags" (the key stays in the response's read issues, for the integrator).  A split key
# ("observations-labs-2") holds the same data as its group; a panel search ("observation-panels-labs")
# only the part reported inside panels, and says so.
_DATA_NAMES = {
    "patient": "patient record",
    "conditions": "conditions",
    "medication-requests": "medication orders",
    "medication-statements": "medication statements",
    "procedures": "procedures",
    "pain": "pain scores",
    "labs": "laboratory results",
    "scores": "performance status and lesion scores",
    "flags": "red-flag symptoms",
    "pregnancy": "pregnancy status",
}
_SPLIT_SUFFIX = re.compile(r"-\d+$")
_MEDICATION_KEYS = frozenset({"medication-requests", "medication-statements"})


def data_names(keys: Sequence[str]) -> str:
    """ "red-flag symptoms and laboratory results": the data of some prefetch keys, each kind once."""
    names: list[str] = []
    for key in keys:
        base = _SPLIT_SUFFIX.sub("", key)
        group = base.removeprefix("observations-").removeprefix("observation-panels-")
        name = _DATA_NAMES.get(group, key)
        if base.startswith("observation-panels-") and group in _DATA_NAMES:
            name = f"{name} reported in panels"
        if name not in names:
            names.append(name)
    return spoken_list(names)


def incomplete_data_note(partial: tuple[str, ...], unread: tuple[str, ...]) -> str:
    """The line a card carries when some prefetch keys came with an error or could not be had at all."""
    parts: list[str] = []
    if partial:
        parts.append(f"the EHR reported an error with the {data_names(partial)}, and what it sent was used")
    if unread:
        parts.append(f"the {data_names(unread)} could not be read, so nothing in them is on these cards")
    return f"*Data may be incomplete:* {'; '.join(parts)} (see the response's read issues)."


def incomplete_history_note(keys: tuple[str, ...]) -> str:
    """The line a card carries when some prefetch keys were read only in part."""
    return (
        f"*Older history may be incomplete:* only the newest {data_names(keys)} could be read (see the "
        "response's read issues); the advice rests on the newest results."
    )


def card_uuid(hook_instance: str, rule_ids: tuple[str, ...], concern_key: str) -> str:
    return stable_uuid("\n".join((hook_instance, ",".join(sorted(rule_ids)), concern_key)))


def clip(text: str, limit: int) -> str:
    """A label on one line of at most ``limit`` characters, cut at a word boundary when it must be shortened.
    (Summaries are fitted by the core, :func:`~fhir_bonemet.core.model.findings.fit_summary`.)"""
    return shorten(" ".join(text.split()), limit)


def skeletal_risk(plan: ExercisePlan) -> dict[str, Any]:
    lesions = [
        {"condition": les.lesion_ref, "site": site_label(les.site), "tier": les.tier.value}
        for les in plan.lesions
    ]
    return {"overall": plan.tier.value, "lesions": lesions}


class _CardBuilder:
    def __init__(
        self,
        assessment: Assessment,
        ctx: CardContext,
        codes: OutboundCodes,
        sources: Mapping[str, EvidenceSource],
        thresholds: Thresholds,
    ) -> None:
        self.assessment, self.ctx, self.codes = assessment, ctx, codes
        self.sources, self.thresholds = sources, thresholds
        self.suggest = SuggestionBuilder(
            codes,
            thresholds,
            hook=ctx.hook,
            patient_ref=ctx.patient_ref,
            today=ctx.today,
            user_ref=ctx.user_ref,
            encounter_ref=ctx.encounter_ref,
            draft_orders=ctx.draft_orders,
        )

    def card(self, concern: Concern, carries_plan: bool) -> dict[str, Any]:
        primary, findings = concern.primary, list(concern.findings)
        # Source ids, each once: the concern's, then those of the advice folded onto its card, which is as
        # much this card's advice as its rule ids are.
        evidence = card_evidence(
            self.sources, tuple(dict.fromkeys(e for f in (*findings, *concern.folded) for e in f.evidence))
        )
        cid = card_uuid(self.ctx.hook_instance, concern.rule_ids, concern.key)
        red_flag = primary.category is Category.RED_FLAG
        suggestions = self._suggestions(concern, cid, red_flag)
        exclusive = (
            _alternatives(suggestions)
            or (red_flag and _routes_only(suggestions))
            or (primary.one_change_only and _draft_changes(suggestions) > 1)
        )
        unoffered: list[str] = []
        if concern.carried and not exclusive:
            # What a concern folded for room proposes stays on offer here, after the card's own.
            # Each referral and each draft's change is still offered once per answer (SuggestionBuilder).
            suggestions += self._suggestions(Concern(concern.carried), cid, red_flag=False)
        elif concern.carried:
            # Not on a card whose suggestions exclude each other (at-most-one: a red flag's alternative
            # routes, or alternative changes to one draft): taking the folded advice's order would rule out
            # the card's own, so every one of them conflicts with it.  The card names them instead, so none
            # is dropped in silence: the clinician orders them separately.
            unoffered = [
                clip(s["label"], SUGGESTION_LABEL_LIMIT)
                for s in self.suggest.unoffered(Concern(concern.carried), cid)
            ]
        extra: list[str] = []
        if carries_plan and self.ctx.careplan is not None:
            plan_suggestion, note = self.suggest.careplan(
                self.ctx.careplan, cid, location=self.ctx.careplan_location, queued=self.ctx.careplan_queued
            )
            extra.append(note)
            if plan_suggestion is not None:
                suggestions.insert(0, plan_suggestion)
        if self.ctx.incomplete_keys:
            extra.append(incomplete_history_note(self.ctx.incomplete_keys))
        partial, unread = self.ctx.partial_keys, self.ctx.unread_keys
        if any(MEDICATIONS_UNREAD in f.missing for f in (*findings, *concern.folded)):
            # The card's Missing notes (its own, or the folded advice's) name the medication list: said once.
            partial = tuple(k for k in partial if k not in _MEDICATION_KEYS)
            unread = tuple(k for k in unread if k not in _MEDICATION_KEYS)
        if partial or unread:
            extra.append(incomplete_data_note(partial, unread))
        plan = self.assessment.exercise if primary.category is Category.EXERCISE else None
        detail = card_detail.detail_markdown(
            findings,
            evidence=evidence.labels,
            folded=concern.folded,
            when_stable=concern.when_stable,
            plan=plan,
            extra=extra,
            unoffered=unoffered,
        )
        card: dict[str, Any] = {
            "uuid": cid,
            "summary": fit_summary(card_detail.plain(primary.summary)),
            "indicator": primary.indicator.value,  # the primary finding is the most severe of the concern
            "detail": detail,
            "source": self._source(evidence, primary.category),
            "overrideReasons": self.codes.override_codings(),
            "extension": _rules_extension(concern.all_rule_ids),
        }
        if primary.category is Category.EXERCISE and self.assessment.exercise is not None:
            card["extension"][SKELETAL_RISK_EXTENSION] = skeletal_risk(self.assessment.exercise)
        for suggestion in suggestions:
            suggestion["label"] = clip(suggestion["label"], SUGGESTION_LABEL_LIMIT)
        if suggestions:
            card["selectionBehavior"] = "at-most-one" if exclusive else "any"
            # A red flag's first suggestion is its urgent route (or, without one, the change to make): the
            # one to take.  Under ``any`` it is recommended beside the safest change to each draft.
            if red_flag and (not exclusive or not any(s.get("isRecommended") for s in suggestions)):
                suggestions[0]["isRecommended"] = True
            if exclusive:
                _one_recommended(suggestions)
            card["suggestions"] = suggestions
        links = [{"label": label, "url": url, "type": "absolute"} for label, url in evidence.links]
        if self.ctx.plan_url is not None and primary.category in (Category.EXERCISE, Category.PAIN):
            links.insert(0, {"label": PLAN_LINK_LABEL, "url": self.ctx.plan_url, "type": "absolute"})
        if links:
            card["links"] = links
        return card

    def _suggestions(self, concern: Concern, cid: str, red_flag: bool) -> list[dict[str, Any]]:
        referrals = self.suggest.referrals(concern, cid)
        orders = self.suggest.order_actions(concern, cid) + self.suggest.new_orders(concern, cid)
        # A red flag leads with its referral; elsewhere the change to the order is the point of the card.
        return referrals + orders if red_flag else orders + referrals

    def _source(self, evidence: CardEvidence, category: Category) -> dict[str, Any]:
        source: dict[str, Any] = {"label": evidence.source_label, "topic": self.codes.topic_coding(category)}
        if evidence.url is not None:
            source["url"] = evidence.url
        return source


def build_cards(
    assessment: Assessment,
    *,
    context: CardContext,
    codes: OutboundCodes,
    sources: Mapping[str, EvidenceSource],
    thresholds: Thresholds,
) -> list[Card]:
    """Cards for one hook call, validated against the CDS Hooks wire model (so every response invariant
    holds); ``[]`` outside the population or when nothing fired."""
    cards = wire_cards(assessment, context=context, codes=codes, sources=sources, thresholds=thresholds)
    return [Card.model_validate(card) for card in cards]


def wire_cards(
    assessment: Assessment,
    *,
    context: CardContext,
    codes: OutboundCodes,
    sources: Mapping[str, EvidenceSource],
    thresholds: Thresholds,
) -> list[dict[str, Any]]:
    """The cards of :func:`build_cards` as the JSON that goes on the wire, not validated per call: the
    hook's hot path.  The builders write the wire form itself (no ``null``, no empty collection), so
    validating and serialising them through :class:`Card` gives them back unchanged; the test suite
    checks that for every example answer."""
    if not assessment.in_population or not assessment.findings:
        return []
    builder = _CardBuilder(assessment, context, codes, sources, thresholds)
    concerns = arrange(group_concerns(assessment.findings), assessment.exercise)
    # The CarePlan rides on the first exercise card, else on the first pain card.
    carrier = next((c for c in concerns if c.primary.category is Category.EXERCISE), None) or next(
        (c for c in concerns if c.primary.category is Category.PAIN), None
    )
    return [builder.card(c, c is carrier) for c in concerns]


def _rules_extension(rule_ids: tuple[str, ...]) -> dict[str, Any]:
    """The card's extension naming its rules: a dict and list of its own (an exercise card adds to it)."""
    return {name: list(value) for name, value in _checked_rules_extension(rule_ids).items()}


# Rule ids come from the rule catalogue, and a service meets some dozens of combinations of them: each is
# checked once (rules_extension raises on an id that is not one), not on every card.
@lru_cache(maxsize=1024)
def _checked_rules_extension(rule_ids: tuple[str, ...]) -> Mapping[str, Any]:
    return rules_extension(rule_ids)


def _one_recommended(suggestions: list[dict[str, Any]]) -> None:
    """Under ``at-most-one`` only the first recommended suggestion stays recommended (cds-resp-1): a red
    flag about several drafts (an opioid, a benzodiazepine and a gabapentinoid, "stop one") offers each
    cancellation as the safest change to its own draft, and the clinician may take only one of them."""
    recommended = [s for s in suggestions if s.get("isRecommended")]
    for suggestion in recommended[1:]:
        del suggestion["isRecommended"]


def _routes_only(suggestions: list[dict[str, Any]]) -> bool:
    """A red flag's referrals are alternative routes to one urgent assessment (the spinal cord compression
    pathway, or acute oncology): the clinician takes one.  Its changes to draft orders are not alternatives
    to that route but part of the same response (order the calcium review *and* cancel the calcium
    supplement), so a card that offers both lets the clinician take every suggestion (``any``): under
    ``at-most-one`` taking the referral would rule out the cancellation."""
    return all(
        a["type"] == "create" and a["resource"]["resourceType"] == "ServiceRequest"
        for s in suggestions
        for a in s["actions"]
    )


def _draft_changes(suggestions: list[dict[str, Any]]) -> int:
    return sum(1 for s in suggestions if any(a["type"] in ("delete", "update") for a in s["actions"]))


def _alternatives(suggestions: list[dict[str, Any]]) -> bool:
    """Two suggestions changing the same draft order (cancel it, or lower its dose) exclude each other."""
    targets = [
        a.get("resourceId") or f"{a['resource']['resourceType']}/{a['resource'].get('id')}"
        for s in suggestions
        for a in s["actions"]
        if a["type"] in ("delete", "update")
    ]
    return len(targets) != len(set(targets))
