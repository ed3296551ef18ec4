"""What was received but could not be read, put on the cards of the rules it concerns.

The rules decide on readable data; this pass makes sure no card hides a gap behind them:

* a result of a concept a rule declares, received but unreadable (no unit, unknown unit, comparator,
  text) and not superseded by a newer readable one, is named on that rule's card with why it was not used;
* a medication source that could not be read (fetch failed, OperationOutcome) is named on the cards of
  every rule that reads medications: "no opioid" then means "none seen"; so is a medicine received under a
  code the service does not know with no name (it may be the opioid);
* a pregnancy status answered *unknown* that no later definite status settles is named on the cards of the
  rules that read pregnancy, as a status recorded with no answer is (it is data received, not a gap in
  the reading, but "unknown" beside a bone-modifying agent is what the prescriber must check);
* a result received under a code not understood whose name names a concept ("Calcium, serum") takes the
  place of each line saying that concept is missing (a :class:`MissingFact` with that ``concept``): the
  card says a result so named was received and not read, never that there is none.  Its value stays
  unknown and the advice as cautious as without it;
* a read issue about a resource a card relies on (a dose unit not understood on its medication order) is
  named on that card, not only in the response's extension.

Nothing here makes advice less cautious: it only adds lines.  Standard library only: part of the pure core.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from fhir_bonemet.core.evidence.pregnancy import unknown_status
from fhir_bonemet.core.evidence.unreadable import CODE_NOT_UNDERSTOOD, missing_line, pending
from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.catalogue import RuleSpec
from fhir_bonemet.core.model.context import RuleContext
from fhir_bonemet.core.model.fact_index import instant
from fhir_bonemet.core.model.facts import NamedUnread
from fhir_bonemet.core.model.findings import Finding, MissingFact
from fhir_bonemet.core.model.queries import within_days
from fhir_bonemet.core.model.thresholds import Thresholds

__all__ = ["MEDICATIONS_UNREAD", "annotate"]

# Missing, not "received but not read": the list was not received (the fetch failed, the EHR sent an
# error in its place) or only in part (results beside an error).
MEDICATIONS_UNREAD = MissingFact(
    "the full medication list (not read, or read only in part)",
    "medicines may be active that the service could not see; none is assumed absent",
)
# Lookback per kind of result (a laboratory value's by default): a score is current for longer.
_SCORE_LOOKBACK = {
    c.PAIN_SCORE: "lookback.pain_score_days",
    c.SINS_TOTAL: "lookback.score_days",
    c.MIRELS_TOTAL: "lookback.score_days",
    c.ECOG: "lookback.score_days",
    c.KPS: "lookback.score_days",
    # A red-flag symptom answer is current for as long as the red flags look back for symptoms.
    **dict.fromkeys(
        (*c.MSCC_NEURO_SYMPTOMS, *c.SPINAL_MET_SYMPTOMS, c.RF_ONJ_SYMPTOM, c.SYMPTOMATIC_HYPERCALCAEMIA),
        "red_flags.symptom_lookback_days",
    ),
    # The other yes/no findings, over the lookback of the rule that reads them.
    c.FEVER: "exercise.fever_lookback_days",
    c.PAIN_MECHANICAL: "lookback.pain_score_days",
    c.FALLS_HISTORY: "lookback.score_days",
    c.FALL_RISK: "lookback.score_days",
    c.PREGNANCY: "pregnancy.record_lookback_days",
    c.PREGNANCY_STATUS: "pregnancy.record_lookback_days",
    c.LACTATION: "pregnancy.record_lookback_days",
}
# An impending fracture does not heal by itself: the lesions read its record at any age (evidence.lesions).
_ANY_AGE = frozenset({c.IMPENDING_FRACTURE})
_ANY_AGE_DAYS = 36500.0
_MAX_ISSUE_LINES = 2  # a card names at most this many read issues of its own resources


def annotate(findings: Iterable[Finding], ctx: RuleContext, specs: Mapping[str, RuleSpec]) -> list[Finding]:
    """Each finding with the unreadable data that concerns it added to ``missing``."""
    facts, th = ctx.facts, ctx.th
    concepts_unread = {u.concept for u in facts.unreadable}
    unknown = unknown_status(ctx.index, ctx.today, th)
    received_named = _named_unread(ctx)
    if not (concepts_unread or facts.medications_unknown or facts.issues or unknown or received_named):
        return list(findings)  # everything received was read: nothing to add to any card
    unknown_meds = _unclassified(ctx)
    issues = _IssueIndex(ctx)
    out: list[Finding] = []
    for finding in findings:
        if received_named and any(m.concept in received_named for m in finding.missing):
            missing = tuple(_received_named(m, received_named) for m in finding.missing)
            finding = replace(finding, missing=missing)
        declared: set[str] = set()
        for rule_id in finding.rule_ids:
            spec = specs.get(rule_id)
            if spec is not None:
                declared |= set(spec.concepts)
        added: list[MissingFact] = []
        for concept in sorted(declared & concepts_unread):
            days = _lookback_days(concept, th)
            added.extend(
                missing_line(u) for u in pending(ctx.index, (concept,), ctx.today, days, name_undated=True)
            )
        if facts.medications_unknown and declared & c.MEDICATION_CLASSES:
            added.append(MEDICATIONS_UNREAD)
        if unknown_meds and declared & c.MEDICATION_CLASSES:
            added.append(unknown_meds)
        # Not when the rule read that status itself (a later unknown over a pregnant one): it said why.
        if unknown and c.PREGNANCY_STATUS in declared and unknown[0].ref not in {u.ref for u in finding.used}:
            added.append(unknown[1])
        added.extend(issues.lines(finding))
        # A rule that read the value cautiously named it already, with what it made of it: said once.
        named = {m.what for m in finding.missing}
        fresh = [m for m in dict.fromkeys(added) if m.what not in named]
        out.append(replace(finding, missing=(*fresh, *finding.missing)) if fresh else finding)
    return out


def _lookback_days(concept: str, th: Thresholds) -> float:
    """How far back a result of ``concept`` still counts for the rules that read it."""
    if concept in _ANY_AGE:
        return _ANY_AGE_DAYS
    return th.v(_SCORE_LOOKBACK.get(concept, "lookback.lab_days"))


def _named_unread(ctx: RuleContext) -> dict[str, NamedUnread]:
    """The newest result of each concept received under a code not understood and named as that concept,
    within the lookback of the concept (an undated one, or one dated unreadably, may be recent: it counts)."""
    newest: dict[str, NamedUnread] = {}
    for result in ctx.facts.named_unread:
        for concept in result.concepts:
            if not (
                result.effective is None
                or result.date_unreadable
                or within_days(result.effective, ctx.today, _lookback_days(concept, ctx.th))
            ):
                continue
            kept = newest.get(concept)
            if kept is None or (
                result.effective is not None
                and (kept.effective is None or instant(result.effective) > instant(kept.effective))
            ):
                newest[concept] = result
    return newest


def _received_named(gap: MissingFact, named: Mapping[str, NamedUnread]) -> MissingFact:
    """``gap`` when it is not a concept's missing result, or none of that concept was received under a code
    not understood; else the line naming what was received in its place: the value is not known, and what
    the rule assumed without it still holds ("not assumed normal")."""
    concept = gap.concept
    result = named.get(concept) if concept is not None and not gap.unreadable else None
    if concept is None or result is None:
        return gap
    when = f", {result.effective.date().isoformat()}" if result.effective is not None else ""
    return MissingFact(
        f"Result named {result.name!r} ({CODE_NOT_UNDERSTOOD}{when})",
        f"value not read; {gap.consequence}; verify it",
        unreadable=True,
        ref=result.ref,
        concept=concept,
    )


def _unclassified(ctx: RuleContext) -> MissingFact | None:
    """The medicines received with a code this service does not know and no name: nothing says what they
    are, so every check of a medication class may be missing one (a formulary code no ConceptMap maps)."""
    unknown = [m for m in ctx.meds if not m.classes and not m.ingredients and not m.display]
    if not unknown:
        return None
    count = f"{len(unknown)} medicine{'s' if len(unknown) > 1 else ''}"
    return MissingFact(
        f"{count} under a code this service does not know, with no name",
        "none counted; any of them may be a medicine this advice is about",
        True,
    )


class _IssueIndex:
    """The read issues that can name a gap (not information: there nothing was lost), by the resource they
    are about, each with its position among all issues; made once per call, not scanned per finding."""

    def __init__(self, ctx: RuleContext) -> None:
        self._by_ref: dict[str, list[tuple[int, str, str]]] = {}
        # A birth date sent but not read is named on every card with why (core.population.age_caveat).
        said = f"{ctx.facts.patient_ref}.birthDate" if ctx.facts.birth_date_unread is not None else None
        for position, issue in enumerate(ctx.facts.issues):
            if issue.severity != "information" and issue.location != said:
                self._by_ref.setdefault(_resource_of(issue.location), []).append(
                    (position, issue.location, issue.message)
                )
        # Already named with what was received (an unreadable result): no issue line repeats it.
        self._unreadable = {u.ref for u in ctx.facts.unreadable} if self._by_ref else set()

    def lines(self, finding: Finding) -> list[MissingFact]:
        """The issues about the resources ``finding`` used or orders, in the order they were met, at most
        :data:`_MAX_ISSUE_LINES`."""
        if not self._by_ref:
            return []
        refs = {u.ref for u in finding.used if u.ref} | {a.order_ref for a in finding.order_actions}
        # Already named with what was received (an unreadable result, a dose unit not understood).
        refs -= self._unreadable | {m.ref or m.what for m in finding.missing if m.unreadable}
        met = sorted(issue for ref in refs for issue in self._by_ref.get(ref, ()))
        # The location, element included, and the message: the cards say both in clinical words ("patient
        # record (date of death)", "dose frequency": cards.detail.plain), the response's read issues keep
        # them exact.
        return [
            MissingFact(location, f"{message.split(';')[0]}; not used", True)
            for _, location, message in met[:_MAX_ISSUE_LINES]
        ]


def _resource_of(location: str) -> str:
    """``"MedicationRequest/a.dosageInstruction[0]"`` → ``"MedicationRequest/a"``."""
    head, _, rest = location.partition("/")
    return f"{head}/{rest.split('.', 1)[0]}" if rest else location
