"""Grouping findings into concerns, the order in which concerns become cards, and the card budget.

A *concern* is one thing the clinician has to decide about; it becomes one card, led by its most severe
finding.  Findings join the same concern when

* they share a rule id: a finding names the further rules it absorbed in ``related_rules`` (R09 covers
  P14), and the same rule may fire twice (two lesions);
* they belong to the same *family* (:data:`FAMILIES`): the NSAID rules about one drug, the exercise tier
  with its gates, data requests and timing, uncontrolled pain with its dose review and radiotherapy
  referral, the bone-modifying-agent rules.

Then :func:`arrange` keeps what a clinician reads in seconds:

* while a critical concern is active (a red flag, but also an acetaminophen overdose or a drug to stop in
  pregnancy: whatever must be handled first), routine concerns (radiotherapy referral, starting a
  bone-modifying agent, dental check, data requests, exercise timing, mild pain) are folded into one
  "Also, when stable" line on the first critical card;
* advice that needs no action (mild pain, a correct zoledronic-acid dose, exercise timing on a plan that is
  on hold) is folded into another card or, with nowhere to go, left out;
* at most :data:`CARD_BUDGET` cards: the least urgent concern that has a related card (:data:`NEAREST`)
  is folded into the "Also" line of that card, which also offers its suggestions (``carried``): it was
  folded for room, not because it can wait, so the senna order or the cancellation of a second NSAID
  draft it proposes stays one click away.  A card whose suggestions are a choice of one (a red flag's)
  cannot offer them beside its own, and names them instead (:mod:`fhir_bonemet.cards.build`).  Folded
  onto whatever card came last, a dental check before a bone-modifying agent read as part of the bowel
  regimen; only with no related card at all does a concern still go onto the card before it.

Folded findings keep their rule ids in the host card's extension, so every piece of advice stays traceable,
and the host card's detail says what they found missing or could not read
(:func:`fhir_bonemet.cards.detail.detail_markdown`): folding never hides a data gap.
A critical concern is never folded.

Order: critical, then warning, then info; within an indicator by harm (:data:`HARM_ORDER`: red flags, then
sedation and renal or bleeding toxicity, before bowel regimen and routine care); then rule id in natural
order.  Stable for equal input.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from fhir_bonemet.core.model.findings import Category, ExercisePlan, Finding, Indicator, Tier
from fhir_bonemet.core.model.frozen_init import fast_init

__all__ = [
    "CARD_BUDGET",
    "FAMILIES",
    "HARM_ORDER",
    "NEAREST",
    "Concern",
    "arrange",
    "group_concerns",
    "natural_key",
]

CARD_BUDGET = 4

# Rules about the same decision: one card.  The NSAID family is further split per drug (see _family_key).
FAMILIES: dict[str, frozenset[str]] = {
    # P41 (an NSAID in pregnancy) is about the same drug as the kidney and bleeding rules: one card per drug.
    "nsaid": frozenset({"P16", "P17", "P18", "P19", "P41"}),
    "exercise": frozenset({"EX01", "EX02", "EX03", "EX04", "P25"}),
    "pain-control": frozenset({"P01", "P02", "P03", "P04", "P05", "P06", "P11"}),
    "bone-modifying-agent": frozenset({"P07", "P08", "P09", "P10", "P45"}),
    "acetaminophen": frozenset({"P20", "P21"}),
}

# Reading order of warnings (and of infos) by the harm they prevent; rules not listed come after.
HARM_ORDER: tuple[frozenset[str], ...] = (
    frozenset({"R01", "R02", "R03", "R04", "R05", "R06", "R07", "R08"}),  # red flags
    frozenset({"R09", "P48", "P13", "P14", "P46"}),  # respiratory depression
    frozenset({"P41", "P42", "P47"}),  # harm to the fetus, newborn or breastfed infant
    frozenset({"P16", "P17", "P18", "P19", "P23", "P08"}),  # renal or bleeding toxicity
    frozenset({"P20", "P21"}),  # hepatotoxicity
    frozenset({"P09", "P45", "P12"}),  # hypocalcaemia, falls
    frozenset({"P03", "P04", "P05", "P11"}),  # uncontrolled pain
    frozenset({"EX01", "EX02", "EX04"}),  # exercise safety
    frozenset({"P15"}),  # bowel regimen
)

# Routine care that waits while a critical concern is handled.
ROUTINE = frozenset({"P01", "P02", "P06", "P07", "P10", "EX03", "P25"})

# The cards advice of each category may be folded onto, closest first.  A bone-modifying agent treats
# skeletal events and bone pain: without a bone-health card its advice goes with the pain plan.  Analgesic
# safety (an NSAID's, an opioid's bowel regimen) goes with the pain plan it belongs to.
NEAREST: dict[Category, tuple[Category, ...]] = {
    Category.RED_FLAG: (Category.RED_FLAG,),
    Category.MEDICATION_SAFETY: (Category.MEDICATION_SAFETY, Category.PAIN),
    Category.EXERCISE: (Category.EXERCISE,),
    Category.PAIN: (Category.PAIN, Category.BONE_HEALTH),
    Category.BONE_HEALTH: (Category.BONE_HEALTH, Category.PAIN),
}

# The tables above by rule id, the first group naming a rule winning: every finding's place in the card
# order is looked up several times per call.
_HARM_RANK: dict[str, int] = {}
for _rank, _group in enumerate(HARM_ORDER):
    for _rule_id in _group:
        _HARM_RANK.setdefault(_rule_id, _rank)
_FAMILY_OF: dict[str, str] = {}
for _name, _ids in FAMILIES.items():
    for _rule_id in _ids:
        _FAMILY_OF.setdefault(_rule_id, _name)


@lru_cache(maxsize=512)  # rule ids: a few dozen, from the catalogue
def natural_key(rule_id: str) -> tuple[Any, ...]:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", rule_id))


def _harm_rank(rule_id: str) -> int:
    return _HARM_RANK.get(rule_id, len(HARM_ORDER))


def _finding_key(finding: Finding) -> tuple[Any, ...]:
    return (
        -finding.indicator.rank,
        _harm_rank(finding.rule_id),
        finding.category.rank,
        natural_key(finding.rule_id),
    )


def _medication_refs(finding: Finding) -> tuple[str, ...]:
    refs = [a.order_ref for a in finding.order_actions]
    refs += [u.ref for u in finding.used if u.ref and u.ref.startswith("Medication")]
    return tuple(dict.fromkeys(refs))


def _family_key(finding: Finding) -> str | None:
    family = _FAMILY_OF.get(finding.rule_id)
    if family == "nsaid":
        # One card per drug: two NSAIDs (a draft beside an active one) are two decisions.
        refs = _medication_refs(finding)
        return f"nsaid:{refs[0]}" if refs else "nsaid"
    return family


@fast_init
@dataclass(frozen=True, slots=True)
class Concern:
    findings: tuple[Finding, ...]  # most severe first
    folded: tuple[Finding, ...] = ()  # routine advice shown as one "Also" line on this card
    when_stable: bool = False  # the folded advice waits until the critical concern is handled
    # The folded findings whose suggestions this card offers (or, when its own are a choice of one, names):
    # concerns folded to keep the card budget.
    # Routine advice waiting for a red flag to be handled, and advice that needs no action, are not carried.
    carried: tuple[Finding, ...] = ()
    # Every rule behind the concern's own findings, the primary finding's first, each once.  Worked out when
    # the concern is made: the card asks for it several times (uuid, key, extension, referrals).
    rule_ids: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        rule_ids = tuple(dict.fromkeys(r for f in self.findings for r in f.rule_ids))
        object.__setattr__(self, "rule_ids", rule_ids)

    @property
    def primary(self) -> Finding:
        return self.findings[0]

    @property
    def indicator(self) -> Indicator:
        return self.primary.indicator

    @property
    def all_rule_ids(self) -> tuple[str, ...]:
        """The concern's rules, then the rules of the advice folded onto its card."""
        return tuple(dict.fromkeys((*self.rule_ids, *(r for f in self.folded for r in f.rule_ids))))

    @property
    def key(self) -> str:
        """Identifies the concern across retries of the same hook call (input of the card uuid)."""
        return f"{self.primary.category.value}:{'+'.join(sorted(self.rule_ids))}"


@dataclass(slots=True, eq=False)
class _Group:
    findings: list[Finding] = field(default_factory=list)
    rule_ids: set[str] = field(default_factory=set)
    families: set[str] = field(default_factory=set)


def group_concerns(findings: Sequence[Finding]) -> list[Concern]:
    """Findings sharing a rule id or a family form one concern; concerns come back in card order."""
    groups: list[_Group] = []
    for finding in findings:
        family = _family_key(finding)
        rule_ids, families = set(finding.rule_ids), {family} if family else set()
        # Every group this finding shares a rule or a family with joins it, in order; the rest stay as
        # they are, and the merged group goes last.
        merged = _Group([finding], rule_ids, families)
        apart: list[_Group] = []
        for group in groups:
            if (rule_ids & group.rule_ids) or (families & group.families):
                merged = _Group(
                    group.findings + merged.findings,
                    group.rule_ids | merged.rule_ids,
                    group.families | merged.families,
                )
            else:
                apart.append(group)
        groups = [*apart, merged]
    # Each finding's place in the card order, worked out once: the sorts below ask for it again and again.
    order = {id(f): _finding_key(f) for f in findings}
    concerns = [Concern(tuple(sorted(g.findings, key=lambda f: order[id(f)]))) for g in groups]
    return sorted(concerns, key=lambda c: order[id(c.findings[0])])


def _zoledronic_dose_as_advised(finding: Finding, _plan: ExercisePlan | None) -> bool:
    # A zoledronic-acid dose that matches renal function ("Zoledronic acid: 4 mg advised for CrCl 73"):
    # nothing to change, nothing missing.  A dose above the advice, unknown renal function or an agent not
    # recommended at all say otherwise in their summary and keep their card.
    return (
        finding.indicator is not Indicator.CRITICAL
        and finding.summary.startswith("Zoledronic acid:")
        and not finding.order_actions
        and not finding.missing
    )


# Advice that asks for nothing to be done now, by rule: it never leads a card of its own.  Keyed by rule id,
# so a concern whose rules are none of these is kept whole without a call per finding.
_NEEDS_NO_ACTION: dict[str, Callable[[Finding, ExercisePlan | None], bool]] = {
    "P02": lambda _f, _plan: True,  # mild pain: regular simple analgesia is a remark, not an alert
    "P08": _zoledronic_dose_as_advised,
    "P25": lambda _f, plan: plan is not None and plan.tier in (Tier.HOLD, Tier.ADL_ONLY),
}


def _needs_no_action(finding: Finding, plan: ExercisePlan | None) -> bool:
    check = _NEEDS_NO_ACTION.get(finding.rule_id)
    return check is not None and check(finding, plan)


def _without(concern: Concern, drop: Sequence[Finding]) -> Concern | None:
    if not drop:
        return concern
    kept = tuple(f for f in concern.findings if f not in drop)
    return replace(concern, findings=kept) if kept else None


def arrange(concerns: Sequence[Concern], plan: ExercisePlan | None) -> list[Concern]:
    """The concerns that become cards, in order, with routine advice folded (see the module docstring)."""
    folded_quiet: list[Finding] = []  # needs no action: an "Also" line wherever it fits
    on_hold: list[Finding] = []
    out: list[Concern] = []
    for concern in concerns:
        quiet = [f for f in concern.findings if _needs_no_action(f, plan)]
        if not quiet:
            out.append(concern)
            continue
        # Exercise timing means nothing while exercise is on hold: it is left out, not folded.
        quiet_fold = [f for f in quiet if f.rule_id != "P25"]
        rest = _without(concern, quiet)
        if rest is None:
            folded_quiet += quiet_fold
            continue
        out.append(replace(rest, folded=(*rest.folded, *quiet_fold)) if quiet_fold else rest)

    critical = next((i for i, c in enumerate(out) if c.indicator is Indicator.CRITICAL), None)
    if critical is not None:
        kept: list[Concern] = []
        for concern in out:
            if concern.indicator is Indicator.CRITICAL:
                kept.append(concern)
                continue
            if concern.primary.rule_id in ROUTINE or concern.indicator is Indicator.INFO:
                on_hold.extend(concern.findings)
                continue
            # A routine finding merged into an urgent concern (radiotherapy referral beside uncontrolled
            # pain) waits as well; the rest of the concern stays.
            routine = [f for f in concern.findings if f.rule_id in ROUTINE]
            on_hold.extend(routine)
            rest = _without(concern, routine)
            if rest is not None:
                kept.append(rest)
        out = kept
        first = next(i for i, c in enumerate(out) if c.indicator is Indicator.CRITICAL)
        host = out[first]
        out[first] = replace(host, folded=(*host.folded, *on_hold, *folded_quiet), when_stable=True)
        folded_quiet = []

    while len(out) > CARD_BUDGET:
        fold = _budget_fold(out)
        if fold is None:
            break
        gone, at = fold
        host, last = out[at], out[gone]
        out[at] = replace(
            host,
            folded=(*host.folded, *last.findings, *last.folded),
            carried=(*host.carried, *last.findings, *last.carried),
        )
        del out[gone]
    for finding in folded_quiet:
        # Advice that needs no action joins its closest card, else the last one (it asks for nothing).
        near = _nearest(out, finding.category, len(out))
        quiet_at = len(out) - 1 if near is None else near
        if quiet_at >= 0:
            out[quiet_at] = replace(out[quiet_at], folded=(*out[quiet_at].folded, finding))
    return out


def _nearest(out: Sequence[Concern], category: Category, skip: int) -> int | None:
    """The index of the card closest to advice of ``category`` (:data:`NEAREST`), the least urgent among
    equals (folded advice gathers at the end, as it is read); never ``skip`` (the concern being folded).
    None when no card is related."""
    for related in NEAREST[category]:
        for i in range(len(out) - 1, -1, -1):
            if i != skip and out[i].primary.category is related:
                return i
    return None


def _budget_fold(out: Sequence[Concern]) -> tuple[int, int] | None:
    """Which concern to fold for room, and onto which card: the least urgent one (never a critical one)
    with a related card.  With none related (six concerns need two of one category, so only when those
    are critical), the last onto the card before it, as long as the last is not critical."""
    for i in range(len(out) - 1, -1, -1):
        if out[i].indicator is Indicator.CRITICAL:
            continue
        at = _nearest(out, out[i].primary.category, i)
        if at is not None:
            return i, at
    if out[-1].indicator is Indicator.CRITICAL:
        return None
    return len(out) - 1, len(out) - 2
