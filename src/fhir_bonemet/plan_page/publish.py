"""At hook time: keep the plan view for as long as its link is valid, and make the signed link.

The view is rendered and stored in the background (:class:`~fhir_bonemet.store.plan_views.PlanViews`); the
hook answer waits only for the lookup that keeps a retried call's link identical."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson

from fhir_bonemet.core.model.findings import Assessment
from fhir_bonemet.core.model.per_object import per_object
from fhir_bonemet.fhir.outbound.careplan import sha256_holding_gil
from fhir_bonemet.plan_page.links import LinkClaims, LinkSigner, load_link_secret
from fhir_bonemet.plan_page.view import PlanView
from fhir_bonemet.settings import Settings
from fhir_bonemet.store.plan_views import PlanViews

__all__ = ["PlanLink", "plan_content_key", "plan_path", "publish_plan", "signer_for"]

log = logging.getLogger("fhir_bonemet.plan_page")


@dataclass(frozen=True, slots=True)
class PlanLink:
    url: str
    expires_at: datetime


def plan_path(token: str) -> str:
    return f"/plan/{token}"


def plan_content_key(assessment: Assessment) -> str:
    """A digest of what the plan page shows: every finding (rule, colour, words, the data it used) and the
    exercise tier.  Equal for a retry of the same call; different once the patient's data differ."""
    # The parts are joined and encoded at once (the same digest as feeding them one by one).
    parts: list[str] = []
    for finding in assessment.findings:
        parts.append(f"{finding.rule_id}\x1f{finding.indicator}\x1f{finding.summary}\x1f{finding.rationale}")
        for used in finding.used:
            parts.append(f"\x1e{used.label}\x1f{used.value}\x1f{used.ref}\x1f{used.when}")
        parts.append("\x1d")
    plan = assessment.exercise
    if plan is not None:
        parts.append(f"{plan.tier}\x1f{plan.on_hold_reason}")
    return sha256_holding_gil("".join(parts).encode())[:32]


def publish_plan(
    render: Callable[[], PlanView],
    *,
    hook_instance: str,
    patient_ref: str,
    content_key: str,
    views: PlanViews,
    signer: LinkSigner,
    base_url: str,
    now: datetime,
    ttl_seconds: int,
    render_soon: Callable[[Callable[[], object]], None] | None = None,
) -> PlanLink | None:
    """Keep the view ``render`` makes and return its link; None (and the cards go out without it) if the
    store cannot be read.

    A retried hook call (same hookInstance, same patient, same data: ``content_key``, see
    :func:`plan_content_key`) finds its plan still kept and gets the very same link, so the cards of a
    retry are identical to the first answer.  The same hookInstance sent again with other data gets a plan
    of its own: the first link must not show a plan the new cards contradict.

    ``render_soon``, when given, is handed the new view's renderer to run at a moment of its choosing
    (after the answer is sent); the background writer then only stores what it made.
    """
    plan_id = signer.plan_id(hook_instance, patient_ref, content_key)
    patient_key = signer.patient_key(patient_ref)
    try:
        existing = views.plan_expiry(plan_id, now)
        if existing is not None and existing[0] == patient_key:
            expires_at = existing[1]
        else:
            expires_at = now.replace(microsecond=0) + timedelta(seconds=ttl_seconds)
            # orjson's UTF-8 bytes go to the store as they are (see PlanViews.plan_put).
            renderer = views.plan_put(plan_id, patient_key, lambda: orjson.dumps(render()), expires_at)
            if render_soon is not None:
                render_soon(renderer)
    except Exception as exc:
        log.error("plan view not stored", extra={"error_type": type(exc).__name__})
        return None
    token = signer.sign(LinkClaims(plan_id, patient_key, int(expires_at.timestamp())))
    return PlanLink(base_url.rstrip("/") + plan_path(token), expires_at)


# One signer per data directory and secret, however many settings objects name them.
_SIGNERS: dict[tuple[str, str], LinkSigner] = {}


def _signer_for(settings: Settings) -> LinkSigner:
    """The signer of these settings, loaded once per process (the key file is read on first use)."""
    secret = settings.plan_link_secret.get_secret_value() if settings.plan_link_secret is not None else ""
    cache_key = (str(settings.data_dir.resolve()), hashlib.sha256(secret.encode("utf-8")).hexdigest())
    signer = _SIGNERS.get(cache_key)
    if signer is None:
        signer = _SIGNERS.setdefault(cache_key, LinkSigner(load_link_secret(settings)))
    return signer


# Once per settings object: resolving the data directory and hashing the secret on every hook call cost
# more than signing the link.
signer_for = per_object(_signer_for)
