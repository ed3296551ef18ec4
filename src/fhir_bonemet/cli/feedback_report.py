"""Which advice is accepted or overridden, and why: feedback joined to the rule ids of the issued cards.

Every issued card is recorded with its rule ids (``Store.record_issued_cards``); feedback names the card by
uuid.  Joining the two gives, per rule: how many cards it produced, how much feedback came back, how often
the advice was accepted or overridden, and the coded override reasons with counts.  A CDS committee reads
this with ``fhir-bonemet feedback-report`` (a table, or ``--json``).  No patient data is involved.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fhir_bonemet.fhir.outbound.codes import OutboundCodes, load_outbound_codes
from fhir_bonemet.store.base import Store, StoredFeedback, StoredIssuedCard

__all__ = ["FeedbackReport", "OfferedReasons", "RuleStats", "feedback_report", "register"]

NO_REASON = "(no reason given)"
COMMENT_ONLY = "(comment only)"
NOT_OFFERED = "(a reason the card did not offer)"
# What an EHR's own reason code and system look like; anything else (spaces, line breaks, a sentence) is
# free text and is not printed.
_CODE = re.compile(r"[A-Za-z0-9._:/-]{1,64}")
_SYSTEM = re.compile(r"[!-~]{1,200}")


@dataclass(slots=True)
class RuleStats:
    rule_id: str
    cards_issued: int = 0
    feedback: int = 0
    accepted: int = 0
    overridden: int = 0
    override_reasons: Counter[str] = field(default_factory=Counter)

    @property
    def acceptance_rate(self) -> float | None:
        return self.accepted / self.feedback if self.feedback else None

    @property
    def override_rate(self) -> float | None:
        return self.overridden / self.feedback if self.feedback else None

    def as_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule_id,
            "cardsIssued": self.cards_issued,
            "feedback": self.feedback,
            "accepted": self.accepted,
            "overridden": self.overridden,
            "acceptanceRate": self.acceptance_rate,
            "overrideRate": self.override_rate,
            "overrideReasons": [{"reason": r, "count": n} for r, n in _ordered(self.override_reasons)],
        }


@dataclass(frozen=True, slots=True)
class FeedbackReport:
    rules: tuple[RuleStats, ...]
    unmatched_feedback: int  # feedback about cards this store never recorded (other deployment, purged audit)
    # "accepted" feedback naming only suggestions its card never offered: not counted as an acceptance
    unknown_suggestions: int = 0
    # overrides whose coded reason is none of the card's overrideReasons (tallied apart, by code only)
    unoffered_reasons: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "rules": [r.as_json() for r in self.rules],
            "unmatchedFeedback": self.unmatched_feedback,
            "unknownSuggestions": self.unknown_suggestions,
            "unofferedReasons": self.unoffered_reasons,
        }


def _ordered(reasons: Counter[str]) -> list[tuple[str, int]]:
    return sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))


def _natural(rule_id: str) -> tuple[Any, ...]:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", rule_id))


@dataclass(frozen=True, slots=True)
class OfferedReasons:
    """The override reasons every card offers: the local code system, and the display of each code."""

    system: str
    displays: Mapping[str, str]

    @classmethod
    def of(cls, codes: OutboundCodes) -> OfferedReasons:
        return cls(codes.local_system, dict(codes.override_reasons))


def _reason(entry: StoredFeedback, offered: OfferedReasons) -> tuple[str, bool]:
    """The tally label of an override, and whether its coded reason is one the card offered.

    An offered reason is labelled by its code with the service's own display, whether or not the client
    echoed a display (the CDS Hooks Sandbox sends none), so one reason is one tally.  Any other code is
    labelled by system and code only, and only when they look like a code and a URI: a client's display
    or comment is free text and stays out of the report."""
    item = entry.item
    code = item.override_reason_code
    if code:
        display = offered.displays.get(code)
        if display is not None and item.override_reason_system in (None, offered.system):
            return f"{code} ({display})", True
        system = item.override_reason_system
        if not _CODE.fullmatch(code) or (system is not None and not _SYSTEM.fullmatch(system)):
            return NOT_OFFERED, False  # not a code: free text, which may name the patient
        return f"{f'{system}|{code}' if system else code} {NOT_OFFERED}", False
    return (COMMENT_ONLY if item.override_user_comment else NO_REASON), True


def build_report(
    issued: Sequence[StoredIssuedCard],
    feedback: Sequence[StoredFeedback],
    offered_reasons: OfferedReasons | None = None,
) -> FeedbackReport:
    reasons = offered_reasons or OfferedReasons.of(load_outbound_codes())
    stats: dict[str, RuleStats] = {}
    rules_of: dict[str, tuple[str, ...]] = {}
    offered: dict[str, frozenset[str]] = {}
    for record in issued:
        if record.card.uuid in rules_of:
            continue  # the same card recorded again (a retried hook call): counted once
        rules_of[record.card.uuid] = record.card.rule_ids
        offered[record.card.uuid] = frozenset(record.card.suggestion_uuids)
        for rule in record.card.rule_ids:
            stats.setdefault(rule, RuleStats(rule)).cards_issued += 1
    unmatched = unknown = unoffered = 0
    for entry in feedback:
        rules = rules_of.get(entry.item.card_uuid)
        if not rules:
            unmatched += 1
            continue
        accepted = entry.item.outcome == "accepted"
        if accepted and not offered[entry.item.card_uuid] & set(entry.item.accepted_suggestion_ids):
            unknown += 1  # an acceptance of nothing the card offered says nothing about its advice
            continue
        reason, was_offered = ("", True) if accepted else _reason(entry, reasons)
        unoffered += not was_offered
        for rule in rules:
            row = stats[rule]
            row.feedback += 1
            if accepted:
                row.accepted += 1
            else:
                row.overridden += 1
                row.override_reasons[reason] += 1
    ordered = tuple(sorted(stats.values(), key=lambda r: _natural(r.rule_id)))
    return FeedbackReport(ordered, unmatched, unknown, unoffered)


def feedback_report(store: Store, service_id: str | None = None) -> FeedbackReport:
    """Feedback of ``service_id`` (all services when None) joined to every issued card's rule ids."""
    return build_report(store.issued_cards(service_id), store.list_feedback(service_id))


def _pct(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.0%}"


def render_table(report: FeedbackReport) -> str:
    header = (
        "Rule",
        "Issued",
        "Feedback",
        "Accepted",
        "Overridden",
        "Accept%",
        "Override%",
        "Override reasons",
    )
    rows = [header] + [
        (
            r.rule_id,
            str(r.cards_issued),
            str(r.feedback),
            str(r.accepted),
            str(r.overridden),
            _pct(r.acceptance_rate),
            _pct(r.override_rate),
            ", ".join(f"{reason} x{n}" for reason, n in _ordered(r.override_reasons)) or "-",
        )
        for r in report.rules
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row[:-1], widths, strict=True)) + "  " + row[-1]
        for row in rows
    ]
    if not report.rules:
        lines.append("(no cards issued yet)")
    if report.unmatched_feedback:
        lines.append(f"{report.unmatched_feedback} feedback item(s) name cards this store never issued.")
    if report.unknown_suggestions:
        lines.append(
            f"{report.unknown_suggestions} acceptance(s) name only suggestions their card never offered"
            " (not counted)."
        )
    if report.unoffered_reasons:
        lines.append(
            f"{report.unoffered_reasons} override(s) give a reason the card did not offer"
            " (marked so among their rules' reasons)."
        )
    return "\n".join(lines)


def _run(args: argparse.Namespace) -> int:
    from fhir_bonemet.settings import Settings
    from fhir_bonemet.store import open_store

    store = open_store(Settings())
    try:
        report = feedback_report(store, args.service)
    finally:
        store.close()
    print(json.dumps(report.as_json(), indent=2) if args.json else render_table(report))
    return 0


def register(subparsers: Any) -> None:
    """Add ``feedback-report`` to the ``fhir-bonemet`` command line."""
    parser = subparsers.add_parser(
        "feedback-report",
        help="acceptance and override rates per rule, with override reasons",
        description="Feedback joined to the rule ids of issued cards: per rule, cards issued, feedback, "
        "accepted, overridden, rates and override reasons.",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--service", default=None, help="only this CDS service id (default: all)")
    parser.set_defaults(func=_run)
