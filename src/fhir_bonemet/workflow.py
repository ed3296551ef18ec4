"""The imperative shell: the one place that orchestrates I/O for a hook call.

    prefetch (gap-filled from fhirServer) → tolerant read → PatientFacts → pure core → cards (+ CarePlan)

Everything long-lived (terminology, thresholds, evidence sources, the prefetch resolver) is built once by
:meth:`Workflow.from_settings` at start-up, where every knowledge file and the rule catalogue are
validated: a broken file stops the service with a precise message instead of failing mid-request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

# Imported for their side effect: each rule module registers its rules in the catalogue.
import fhir_bonemet.core.engine as engine
from fhir_bonemet.cards.build import CardContext, wire_cards
from fhir_bonemet.cds.protocol import HookDeps
from fhir_bonemet.cds.request import CDSRequest, OrderSelectContext, OrderSignContext
from fhir_bonemet.cds.response import WireResponse
from fhir_bonemet.cds.services import ServiceDefinition
from fhir_bonemet.client.fhir import FhirClient, Timeouts
from fhir_bonemet.client.policy import FhirServerNotAllowedError, ServerPolicy, server_policy
from fhir_bonemet.client.prefetch import PrefetchLimits, PrefetchRequest, PrefetchResolver
from fhir_bonemet.core.model.catalogue import validate_catalogue
from fhir_bonemet.core.model.concepts import ALL_CONCEPTS
from fhir_bonemet.core.model.facts import PatientFacts, ReadIssue
from fhir_bonemet.core.model.findings import Assessment
from fhir_bonemet.core.model.hooks import Hook
from fhir_bonemet.core.model.per_object import per_object
from fhir_bonemet.core.model.thresholds import Thresholds
from fhir_bonemet.core.rulebook import catalogue
from fhir_bonemet.errors import ConfigurationError
from fhir_bonemet.fhir.intake.patient_facts import extract_facts
from fhir_bonemet.fhir.intake.read import read_prefetch, searched_type
from fhir_bonemet.fhir.outbound.careplan import BuiltCarePlan, CarePlanStatus, build_careplan, on_opioid
from fhir_bonemet.fhir.outbound.codes import OutboundCodes, default_codes_path, load_outbound_codes
from fhir_bonemet.fhir.terminology.conceptmaps import DRAFT, NO_CONCEPTMAP, RETIRED
from fhir_bonemet.fhir.terminology.lookup import Terminology
from fhir_bonemet.knowledge import EvidenceSource, load_sources, load_thresholds
from fhir_bonemet.log_keys import safe_hook_instance
from fhir_bonemet.plan_page.publish import plan_content_key, publish_plan, signer_for
from fhir_bonemet.plan_page.view import PlanView, build_plan_view, has_plan_view
from fhir_bonemet.settings import Settings
from fhir_bonemet.writeback import WritebackMode, deliver_careplan

__all__ = ["READ_ISSUES_EXTENSION", "Workflow"]

log = logging.getLogger("fhir_bonemet.workflow")

# Response-level extension listing what could not be read (locations and reasons, never patient data).
READ_ISSUES_EXTENSION = "org.fhir-bonemet.read-issues"
_MAX_REPORTED_ISSUES = 50
# The start-up log line of each kind of ConceptMap note (one line per map or file, naming it in "where").
_NOTE_LOG: Final = {
    DRAFT: "ConceptMap in draft applied",
    RETIRED: "ConceptMap retired: not applied",
    NO_CONCEPTMAP: "ConceptMap file holds no ConceptMap: nothing loaded",
}


def _today() -> date:
    return datetime.now(UTC).date()


def _build_prefetch_rules(settings: Settings) -> tuple[ServerPolicy, PrefetchLimits]:
    """The FHIR servers a prefetch may call and how far it may go, as the settings say."""
    limits = PrefetchLimits(
        timeouts=Timeouts(settings.fhir_connect_timeout_seconds, settings.fhir_read_timeout_seconds),
        max_pages=settings.prefetch_page_cap,
        page_budget_seconds=settings.prefetch_page_budget_ms / 1000,
        max_response_bytes=settings.fhir_max_response_bytes,
    )
    return server_policy(settings), limits


# Settings are fixed at start-up: worked out once per settings object, not on every hook call.
_prefetch_rules = per_object(_build_prefetch_rules)


@dataclass(frozen=True, slots=True)
class Workflow:
    """A hook handler (see :class:`fhir_bonemet.cds.protocol.HookHandler`) with its knowledge loaded."""

    terminology: Terminology
    thresholds: Thresholds
    sources: Mapping[str, EvidenceSource]
    codes: OutboundCodes
    resolver: PrefetchResolver | None = None
    clock: Callable[[], date] = _today

    @classmethod
    def from_settings(cls, settings: Settings, *, clock: Callable[[], date] = _today) -> Workflow:
        """Load and cross-check every knowledge file; raises ConfigurationError naming what is wrong."""
        terminology = Terminology.load(settings.profiles_dir, settings.conceptmap_dirs)
        for skipped in terminology.skipped_mappings:
            if skipped.retired:
                continue  # its map is named once below, not row by row
            # Not fatal (a shared map may hold relations the service does not use), but never silent.
            log.warning(
                "ConceptMap element not applied", extra={"where": skipped.where, "reason": skipped.reason}
            )
        for note in terminology.conceptmap_notes:
            log.warning(_NOTE_LOG[note.kind], extra={"where": note.where, "reason": note.message})
        thresholds = load_thresholds()
        sources = load_sources()
        problems = validate_catalogue(ALL_CONCEPTS, thresholds, sources, catalogue())
        if problems:
            raise ConfigurationError("rule catalogue is inconsistent:\n  " + "\n  ".join(problems))
        codes = load_outbound_codes(default_codes_path(settings.profiles_dir))
        return cls(terminology, thresholds, sources, codes, clock=clock)

    @property
    def _own_identifiers(self) -> frozenset[str]:
        """The identifier systems of what this service proposes (referrals, the CarePlan)."""
        return frozenset((self.codes.referral_identifier_system, self.codes.careplan_identifier_system))

    def _resolver(self, deps: HookDeps) -> PrefetchResolver:
        if self.resolver is not None:
            return self.resolver
        policy, limits = _prefetch_rules(deps.settings)
        return PrefetchResolver(deps.session, policy, limits)

    def __call__(self, service: ServiceDefinition, request: CDSRequest, deps: HookDeps, /) -> WireResponse:
        context = request.context
        auth = request.fhirAuthorization
        # One budget for every outbound call of this hook (prefetch pages, then the CarePlan write).
        deadline = time.monotonic() + deps.settings.hook_deadline_seconds
        prefetch = self._resolver(deps).resolve(
            service.prefetch or {},
            PrefetchRequest(
                hook_instance=request.hookInstance,
                context=context.model_dump(mode="json", exclude_none=True),
                prefetch=request.prefetch,
                fhir_server=request.fhirServer,
                fhir_authorization=_authorization(request),
            ),
            required=frozenset(service.required_prefetch),
            deadline=deadline,
        )
        draft_orders: Mapping[str, Any] | None = None
        selections: tuple[str, ...] = ()
        if isinstance(context, OrderSignContext):
            draft_orders = context.draftOrders
        if isinstance(context, OrderSelectContext):
            selections = tuple(context.selections)
        searched = {key: kind for key, t in (service.prefetch or {}).items() if (kind := searched_type(t))}
        resources = read_prefetch(prefetch.data, searched)
        today = self.clock()
        facts = extract_facts(
            resources,
            self.terminology,
            patient_id=context.patientId,
            draft_orders=draft_orders,
            selections=selections,
            # A partial key's results are read, but beyond them its facts are unknown, not absent.
            unavailable=prefetch.unavailable | prefetch.partial,
            own_identifiers=self._own_identifiers,
            today=today,
        )
        # What could not be fetched and what could not be read are reported together, in one shape.
        fetch_issues = (ReadIssue(i.location, i.message, i.severity) for i in prefetch.issues)
        issues = (*fetch_issues, *facts.issues)
        _log_issues(safe_hook_instance(request.hookInstance), issues)

        assessment = engine.assess(facts, today, self.thresholds, hook=request.hook)
        plan = self._careplan(assessment, facts, today, deps)
        delivery = deliver_careplan(
            plan,
            mode=WritebackMode(deps.settings.writeback_mode),
            client=self._write_client(request, deps, deadline),
            scope=auth.scope if auth is not None else None,
            store=deps.store,
            now=datetime.now(UTC),
            retry_base=timedelta(seconds=deps.settings.outbox_backoff_base_seconds),
        )
        plan_url = self._plan_url(request.hookInstance, assessment, facts, today, deps)
        cards = wire_cards(
            assessment,
            context=CardContext(
                hook=Hook(request.hook),
                hook_instance=request.hookInstance,
                patient_ref=facts.patient_ref,
                today=today,
                user_ref=context.userId,
                encounter_ref=f"Encounter/{context.encounterId}" if context.encounterId else None,
                draft_orders=_drafts_by_ref(draft_orders),
                careplan=delivery.careplan,
                careplan_location=delivery.location,
                careplan_queued=delivery.queued,
                plan_url=plan_url,
                incomplete_keys=tuple(sorted(prefetch.truncated)),
                partial_keys=tuple(sorted(prefetch.partial)),
                unread_keys=tuple(sorted(facts.unavailable - prefetch.partial)),
            ),
            codes=self.codes,
            sources=self.sources,
            thresholds=self.thresholds,
        )
        outcome = {
            "in_population": assessment.in_population,
            "findings": len(assessment.findings),
            "read_issues": len(issues),
        }
        if deps.log_fields is not None:  # on the call's request line: one log line per hook call
            deps.log_fields(**outcome)
        else:
            hook_instance = safe_hook_instance(request.hookInstance)
            log.info("assessed", extra={"hookInstance": hook_instance, **outcome, "cards": len(cards)})
        # Read issues travel even without cards: an empty answer must not pass for "nothing to say" when
        # data could not be read.
        extension = {READ_ISSUES_EXTENSION: _issue_list(issues)} if issues else None
        if deps.hold is not None:  # freed after the answer is sent (freeing a large chart's takes ms)
            deps.hold((prefetch, resources, facts, assessment))
        return WireResponse(cards=cards, extension=extension)

    def _careplan(
        self, assessment: Assessment, facts: PatientFacts, today: date, deps: HookDeps
    ) -> BuiltCarePlan | None:
        if not assessment.in_population or assessment.exercise is None:
            return None
        status = CarePlanStatus.DRAFT if deps.settings.writeback_mode == "write" else CarePlanStatus.ACTIVE
        return build_careplan(
            assessment,
            patient_ref=facts.patient_ref,
            today=today,
            status=status,
            opioid=on_opioid(facts, today),
            codes=self.codes,
        )

    def _plan_url(
        self, hook_instance: str, assessment: Assessment, facts: PatientFacts, today: date, deps: HookDeps
    ) -> str | None:
        """The signed link to the full plan page (stored until the link expires), when there is a plan."""
        if deps.base_url is None or deps.plan_views is None or not has_plan_view(assessment):
            return None

        def render() -> PlanView:
            # Runs once the answer is sent (HookDeps.after_sent), else on the plan-view writer's thread (or
            # when the link is opened before either ran).
            thresholds, sources, codes = self.thresholds, self.sources, self.codes
            view = build_plan_view(
                assessment, facts, today=today, thresholds=thresholds, sources=sources, codes=codes
            )
            assert view is not None  # has_plan_view said so
            return view

        link = publish_plan(
            render,
            hook_instance=hook_instance,
            patient_ref=facts.patient_ref,
            content_key=plan_content_key(assessment),
            views=deps.plan_views,
            signer=signer_for(deps.settings),
            base_url=deps.base_url,
            now=datetime.now(UTC),
            ttl_seconds=deps.settings.plan_link_ttl_seconds,
            # Rendered once the answer is out (see HookDeps.after_sent), not on the writer's thread.
            render_soon=deps.after_sent,
        )
        return link.url if link is not None else None

    def _write_client(self, request: CDSRequest, deps: HookDeps, deadline: float) -> FhirClient | None:
        if deps.settings.writeback_mode != "write" or request.fhirServer is None:
            return None
        auth = request.fhirAuthorization
        try:
            return FhirClient(
                deps.session,
                request.fhirServer,
                policy=server_policy(deps.settings),
                access_token=auth.access_token.get_secret_value() if auth is not None else None,
                timeouts=Timeouts(
                    deps.settings.fhir_connect_timeout_seconds, deps.settings.fhir_read_timeout_seconds
                ),
                max_response_bytes=deps.settings.fhir_max_response_bytes,
                deadline=deadline,
            )
        except FhirServerNotAllowedError:
            # Not a server this service may send the token to (not allowlisted, or credentials in the URL):
            # nothing is written, and the plan travels in the card as a suggestion instead.
            log.warning(
                "careplan write-back skipped: fhirServer not allowed",
                extra={"hookInstance": safe_hook_instance(request.hookInstance)},
            )
            return None


def _authorization(request: CDSRequest) -> Mapping[str, Any] | None:
    auth = request.fhirAuthorization
    if auth is None:
        return None
    # The token leaves its SecretStr wrapper only here, on its way into the Authorization header.
    return {
        "access_token": auth.access_token.get_secret_value(),
        "token_type": auth.token_type,
        "scope": auth.scope,
    }


def _drafts_by_ref(bundle: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    drafts: dict[str, Mapping[str, Any]] = {}
    for entry in (bundle or {}).get("entry") or ():
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and isinstance(resource.get("id"), str):
            drafts[f"{resource.get('resourceType')}/{resource['id']}"] = resource
    return drafts


def _issue_list(issues: tuple[ReadIssue, ...]) -> list[dict[str, str]]:
    shown = [{"location": i.location, "message": i.message, "severity": i.severity} for i in issues]
    if len(shown) > _MAX_REPORTED_ISSUES:
        more = len(shown) - _MAX_REPORTED_ISSUES
        shown = [
            *shown[:_MAX_REPORTED_ISSUES],
            {"location": "", "message": f"{more} more", "severity": "warning"},
        ]
    return shown


def _log_issues(hook_instance: str, issues: tuple[ReadIssue, ...]) -> None:
    # As many lines as the answer shows issues, then one line counting the rest: one line per issue let a
    # 600 kB body of 200,000 malformed entries write 200,000 log lines and hold a worker for 25 s.
    for issue in issues[:_MAX_REPORTED_ISSUES]:
        # Locations and reasons only, resource ids removed (the reader never puts data values into a
        # ReadIssue, but its locations name resources by id).
        fields = {"hookInstance": hook_instance, **issue.loggable()}
        if issue.severity == "information":
            # Nothing was lost (a note from the server, data sent in another shape and used): not a warning.
            log.info("input note", extra=fields)
        else:
            log.warning("unusable input skipped", extra=fields)
    rest = issues[_MAX_REPORTED_ISSUES:]
    if rest:
        skipped = sum(1 for issue in rest if issue.severity != "information")
        extra = {"hookInstance": hook_instance, "more_skipped": skipped, "more_notes": len(rest) - skipped}
        log.warning("more unusable input, not logged one by one", extra=extra)
