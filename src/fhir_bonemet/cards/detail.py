"""The Markdown ``detail`` of a card, short enough to read in seconds.

In this order: what to do (bullets), one line of why with the key dated values in readable units, what was
missing (and that the advice stayed cautious), routine advice folded onto this card ("Also") followed by
what that advice found missing or could not read (each gap naming the advice it affects, none the card
already names), one evidence line linking primary sources (DOI or PubMed), those of the folded advice
included, and the decision-support line, once.

Rule ids stay in the card's extension, threshold keys and resource ids in the logs and the CarePlan: the
prose carries none of them, nor internal markers of the knowledge files (``[D]``, ``§2.2``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import replace
from datetime import date
from functools import lru_cache
from typing import NamedTuple, TypeVar

from fhir_bonemet.core.evidence.unreadable import NO_ANSWER
from fhir_bonemet.core.model.findings import (
    DomainStatus,
    ExercisePlan,
    Finding,
    MissingFact,
    Tier,
    UsedFact,
    shorten,
)
from fhir_bonemet.core.model.unit_text import readable_units

__all__ = ["DISCLAIMER", "detail_markdown", "md_escape", "plain"]

DISCLAIMER = "Decision support only: the treating team decides."
MAX_ACTION_BULLETS = 5
MAX_VALUES = 3
MAX_MISSING = 3
LINE_LIMIT = 140
_H = TypeVar("_H", bound=Hashable)
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<|~])")


class _Pass(NamedTuple):
    """One substitution of :func:`plain`, and a pattern found in every text the substitution would change
    (``hint``).  A hint starts with a character or a class of them, so the engine tries it only where that
    character is; most of the patterns start with ``\\s*`` and were tried at every position of the text.  A
    text without the hint is left as it is: the substitution would not change it."""

    pattern: re.Pattern[str]
    replacement: str | Callable[[re.Match[str]], str]
    hint: re.Pattern[str]


def _pass(pattern: str, replacement: str, hint: str) -> _Pass:
    return _Pass(re.compile(pattern), replacement, re.compile(hint))


# The kinds of record a card may have to name, in clinical words.  A reference ("Patient/bm-1",
# "MedicationRequest/apap.dosageInstruction[0]") is for the response's read issues and the logs: on a card
# it is an id that means nothing at the bedside and may lead to the patient.  Only these types are read as
# references, so that a unit ("IU/L") or a pair of words ("Hb/Hct") is never taken for one.
_RECORD_KINDS = {
    "Patient": "patient record",
    "Observation": "observation",
    "Condition": "condition record",
    "MedicationRequest": "medication order",
    "MedicationStatement": "medication statement",
    "MedicationAdministration": "medication administration",
    "MedicationDispense": "medication dispense",
    "Medication": "medication record",
    "Procedure": "procedure record",
    "ServiceRequest": "service order",
    "DeviceRequest": "device order",
    "NutritionOrder": "nutrition order",
    "VisionPrescription": "vision prescription",
    "CommunicationRequest": "communication request",
    "SupplyRequest": "supply request",
    "Immunization": "immunization record",
    "AllergyIntolerance": "allergy record",
    "DiagnosticReport": "report",
    "QuestionnaireResponse": "questionnaire answer",
    "Encounter": "encounter record",
    "Bundle": "bundle",
    "OperationOutcome": "server message",
}
# The elements and FHIR datatypes read issues name, as a clinician says them: in a location's first element
# ("MedicationRequest/a.dosageInstruction[0]" → "medication order (dosage)"; any other element is its name
# in words) and in a message ("timing.repeat.frequency is not a positive number" → "dose frequency is not a
# positive number").  The response's read issues keep the exact FHIR location and message.
_ELEMENT_WORDS = {
    "birthDate": "birth date",
    "deceasedDateTime": "date of death",
    "deceasedBoolean": "deceased",
    "gender": "sex",
    "dosageInstruction": "dosage",
    "doseAndRate": "dose",
    "effectiveDateTime": "date",
    "effectivePeriod": "date",
    "effectiveInstant": "date",
    "valueQuantity": "value",
    "valueCodeableConcept": "answer",
    "onsetDateTime": "onset date",
    "abatementDateTime": "abatement date",
    "recordedDate": "recorded date",
    "authoredOn": "order date",
    "clinicalStatus": "clinical status",
    "verificationStatus": "verification status",
    "medicationCodeableConcept": "medicine",
    "medicationReference": "medicine",
    "timing.repeat.frequency": "dose frequency",
    "timing.repeat.frequencyMax": "maximum dose frequency",
    "timing.repeat.period": "dosing interval",
    "timing.repeat.periodMax": "maximum dosing interval",
    "maxDosePerPeriod": "maximum dose per period",
    "Medication.amount": "pack size",
    "context.patientId": "the patient this request is about",
    "a list of Dosage": "a list of dosage instructions",
    "a Dosage": "a dosage instruction",
    "a CodeableConcept": "a coded value",
    "a Quantity": "a value with a unit",
    "a Reference": "a reference to a record",
}
# The FHIR names among them as a message may hold them: a path, a camelCase element, a datatype (a plain
# word such as "gender" is prose, left as it is).  Whole names only, longest first.
_FHIR_NAMES = re.compile(
    r"(?<![\w.])(?:"
    + "|".join(
        re.escape(name)
        for name in sorted(_ELEMENT_WORDS, key=len, reverse=True)
        if "." in name or name != name.lower()
    )
    + r")(?![\w])"
)
# In every one of them: a lowercase letter before a capital (camelCase) or before a dot and another
# lowercase letter (a path), or a capital after "a " or "of " (a datatype).  Cheaper to search for than
# the names themselves, which are tried at every position of every card text.
_FHIR_HINT = re.compile(r"[a-z](?:[A-Z]|\.[a-z])|[af] [A-Z]")
# "Type/id", then an element path whose first element is named, as in the read issues' locations
# (core/model/facts.py): "Observation/a.code" is the code of Observation/a.
# A FHIR id may itself hold dots ("apap.v2"): the id is the shortest that leaves the rest an element path
# ending where the reference does (not before more of an id, a dot and a letter or digit, or an index), so
# "MedicationRequest/apap.v2.dosageInstruction[0]" is the dosage of MedicationRequest/apap.v2.
_RECORD_REF = re.compile(
    r"\b(" + "|".join(sorted(_RECORD_KINDS, key=len, reverse=True)) + r")/[A-Za-z0-9\-.]{1,64}?"
    r"(?:\.([a-z][A-Za-z]*)(?:\[\d+\])?(?:\.[a-z][A-Za-z]*(?:\[\d+\])?)*)?"
    r"(?![A-Za-z0-9\-\[]|\.[A-Za-z0-9])"
)


def _record_words(match: re.Match[str]) -> str:
    """ "patient record (date of death)" for ``Patient/bm-1.deceasedDateTime``."""
    kind, element = _RECORD_KINDS[match[1]], match[2]
    if not element:
        return kind
    words = _ELEMENT_WORDS.get(element) or re.sub(r"(?<=[a-z])(?=[A-Z])", " ", element).lower()
    return f"{kind} ({words})"


# Internal vocabulary that means nothing at the bedside.
_INTERNAL = (
    # First: an id may hold what the later passes remove ("lab-S12"), and the whole reference goes.
    _Pass(_RECORD_REF, _record_words, re.compile(r"[A-Za-z]/[A-Za-z0-9\-.]")),
    # After the references, whose element the pass above names: what remains is a message's FHIR names.
    _Pass(_FHIR_NAMES, lambda m: _ELEMENT_WORDS[m[0]], _FHIR_HINT),
    _pass(
        r"\s*\((?:see |with |red flag )?(?:R|P|EX|S)\d{2}[ab]?(?:[,/ ]+(?:R|P|EX|S)\d{2}[ab]?)*\)",
        "",
        r"\((?:see |with |red flag )?(?:R|P|EX|S)\d\d",
    ),
    _pass(r"\s*\b(?:red flag )?(?:R|P|EX)\d{2}\b:?", "", r"[RPX]\d\d"),
    _pass(r",?\s*\bS\d{2}[ab]?\b", "", r"S\d\d"),  # evidence ids: the evidence line names the sources
    _pass(r"\s*\((?:MedicationRequest|MedicationStatement)\)", "", r"\(Medication"),
    _pass(r"\s*\(service default\)", "", r"\(service default\)"),
    _pass(r"\s*\\?\[[DM]\\?\]", "", r"\[[DM]"),
    _pass(r"\s*§\s?\d+(?:\.\d+)*(?:-\d+(?:\.\d+)*)?", "", "§"),
    _pass(r"\blatestNRS\b", "latest pain score", "latestNRS"),
    # What the passes above removed from a list leaves its separators behind: "(; platelets 15)".
    _pass(r"\((?:\s*[;,])+\s*", "(", r"\(\s*[;,]"),
    _pass(r"(?:\s*[;,])+\s*\)", ")", r"[;,]\s*\)"),
    _pass(r"([;,])(?:\s*[;,])+", r"\1", r"[;,]\s*[;,]"),
    _pass(r"\(\s*\)", "", r"\(\s*\)"),
    _pass(r"\s+([,.;:)])", r"\1", r"\s[,.;:)]"),
)


def md_escape(text: str) -> str:
    """Patient data is shown literally: no character of it may become Markdown or HTML."""
    # On one line with single spaces.  Most texts are so already (dozens per call): a printable text holds
    # no whitespace but the space (every other one is a control or separator character), so it needs no
    # splitting unless a space is doubled or at an end.
    if not text.isprintable() or "  " in text or text[:1] == " " or text[-1:] == " ":
        text = " ".join(text.split())
    # Most strings have nothing to escape (dozens per call): each special character is looked for with
    # ``in``, a byte scan, where a search for the set has the engine test every character of the text
    # against it (some 50 instructions a character, several times the nine scans together).
    special = (
        "\\" in text or "`" in text or "*" in text or "_" in text or "[" in text
        or "]" in text or "<" in text or "|" in text or "~" in text
    )  # fmt: skip
    return _MD_SPECIAL.sub(r"\\\1", text) if special else text


# Whether any of _INTERNAL may match a text whose whitespace is single spaces (as :func:`plain` makes it):
# every match holds a record reference (a letter, "/", then a character a FHIR id may start with: a letter,
# a digit, "-" or "."), a rule or evidence id (R04, P01, EX01, S25), "(Medication", "(service default)",
# "[D" or "[M", "§", "latestNRS", a separator after another or after an opening bracket, a separator or an
# opening bracket before a closing one, a space before punctuation, or what every FHIR name of
# ``_ELEMENT_WORDS`` holds (``_FHIR_HINT``).  Most texts hold none, and a text none of the passes matches
# comes out of them unchanged.  Every alternative but the FHIR hint starts with a literal character or "/"
# after a letter, so the engine tries a match only where one of those is; the hint's classes cost some 10 %
# on a clean text, where the names themselves cost 35 %.
_ANY_INTERNAL = re.compile(
    r"(?<=[A-Za-z])/[A-Za-z0-9\-.]|R\d\d|P\d\d|X\d\d|S\d\d|\((?:Medication|service default\)|\s*[;,)])|\[[DM]"
    r"|§|latestNRS|;\s*[;,)]|,\s*[;,)]| [,.;:)]|" + _FHIR_HINT.pattern
)


# A pure function of its text, and many texts repeat from call to call: rule recommendations and rationales
# are written in the rules.  Some texts carry a patient's values ("Platelets 45 10*9/L", a lesion's site):
# the bounded cache keeps those fragments in this process's memory (never in a log or on disk, with no
# identifier beside them).  Without it, plain cost about 1.5 M instructions a call even with the hints above
# (13.66 M against 12.11 M for a typical call), as every text pays for the searches that tell it is clean.
@lru_cache(maxsize=8192)
def plain(text: str) -> str:
    """Text for the bedside: readable units, no rule ids, record references, threshold markers or section
    numbers."""
    text = readable_units(" ".join(text.split()))
    if _ANY_INTERNAL.search(text) is not None:
        for internal in _INTERNAL:
            if internal.hint.search(text) is not None:
                text = internal.pattern.sub(internal.replacement, text)
    return text.strip()


def _clip(text: str, limit: int = LINE_LIMIT) -> str:
    return shorten(text, limit)


# A line of the detail and its Markdown, remembered like plain and for the same texts: the rules'
# recommendations and rationales come back call after call, and escaping them cost more than the rest of
# their rendering (a Unicode scan of each text for characters to normalise and nine for Markdown).
@lru_cache(maxsize=8192)
def _line(text: str, limit: int = LINE_LIMIT) -> tuple[str, str]:
    """``text`` at the bedside (:func:`plain`) in at most ``limit`` characters, and that line escaped."""
    line = _clip(plain(text), limit)
    return line, md_escape(line)


def _unique(items: Iterable[_H]) -> list[_H]:
    return list(dict.fromkeys(items))


def _first_unique(items: Iterable[_H], n: int) -> list[_H]:
    """The first ``n`` distinct items, in order; the rest are never rendered (a card shows a few)."""
    seen: dict[_H, None] = {}
    for item in items:
        seen[item] = None
        if len(seen) == n:
            break
    return list(seen)


# Month names as strftime's %b writes them in the C locale, the service's: a table is several times
# cheaper than strftime, and never depends on the process locale.
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _when(iso: str | None) -> str:
    if not iso:
        return ""
    try:
        day = date.fromisoformat(iso[:10])
    except ValueError:
        return ""
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def _value(fact: UsedFact) -> str:
    when = _when(fact.when)
    text = f"{plain(fact.label)} {plain(fact.value)}" + (f" ({when})" if when else "")
    return md_escape(text)


def _based_on(findings: Sequence[Finding]) -> list[str]:
    """The values on the "Based on" line, in the order the rules used them: the first :data:`MAX_VALUES`,
    and every derived value besides (at most as many again).

    A derived value (no record behind it: a daily MME or acetaminophen total, a computed clearance, an age)
    is what the advice rests on and what its summary or steps name; the records are there to trace it and
    the concern.  A cut after the first three left the figure out whenever records came first: the MME on
    an opioid-with-benzodiazepine card as soon as a second opioid was active, the clearance on a
    zoledronic-acid dose card.  A derived value past the cut is added rather than put in a record's place,
    which would drop what the card is about (the benzodiazepine of that card)."""
    facts = [fact for finding in findings for fact in finding.used]
    # Past the last derived value, once the first values are in, a record changes nothing: its value is
    # said already or comes after the cut.  Rendering stops there (the exercise card's nine records and
    # more, of which three are shown).
    last_derived = len(facts) - 1
    while last_derived >= 0 and facts[last_derived].ref is not None:
        last_derived -= 1
    shown: dict[str, bool] = {}  # each distinct value, and whether any fact rendering it is derived
    for i, fact in enumerate(facts):
        if i > last_derived and len(shown) >= MAX_VALUES:
            break
        text = _value(fact)
        shown[text] = shown.get(text, False) or fact.ref is None
    derived = [text for text, is_derived in shown.items() if is_derived][:MAX_VALUES]
    kept = {*list(shown)[:MAX_VALUES], *derived}
    return [text for text in shown if text in kept]


def _missing(fact: MissingFact) -> str:
    return md_escape(_clip(plain(fact.what), 80))


def _one_per_record(facts: Iterable[MissingFact]) -> list[MissingFact]:
    """One line per record received but not read.  Findings merged onto one card may each name the same
    record, one with what its rule made of it ("read as fever: exercise held"), another only "not used":
    the record is named once, with what the rules made of it when one did.

    Two rules may read it differently (the exercise gate holds on a symptom answer, R03 asks for the
    symptoms to be checked now): keeping the first dropped the other's effect.  The line joins the distinct
    effects: the first rule's reading in full, the others' effects without their reading (the line has one
    already), "verify it" once at the end."""
    by_what: dict[str, list[MissingFact]] = {}
    for fact in facts:
        by_what.setdefault(fact.what, []).append(fact)
    out: list[MissingFact] = []
    for group in by_what.values():
        read = [f for f in group if not f.consequence.startswith("not used")] or group[:1]
        parts: list[str] = []
        effects: set[str] = set()  # each said once, whatever reading it came with
        verify = False
        for n, fact in enumerate(read):
            for part in fact.consequence.split("; "):
                effect = part.split(": ", 1)[-1]
                if part == "verify it":
                    verify = True
                elif effect not in effects:
                    effects.add(effect)
                    # "not read as symptomatic (...): check the symptoms now" after a first reading
                    parts.append(effect if n else part)
        joined = "; ".join([*parts, "verify it"] if verify else parts)
        out.append(read[0] if joined == read[0].consequence else replace(read[0], consequence=joined))
    return out


def _unread(fact: MissingFact) -> str:
    """What was received and why it was not used: "Platelets '30' (no unit, ...): not used (...)".  Under
    the no-answer heading the heading says it: "Fever (asked-unknown, 2025-06-01): read as fever"."""
    return md_escape(_clip(plain(f"{_named(fact)}: {fact.consequence}"), 200))


def _named(fact: MissingFact) -> str:
    """The record a gap names, without "recorded with no answer" where its heading says so."""
    return fact.what.replace(f"{_NO_ANSWER_MARK} ", "(") if _no_answer(fact) else fact.what


# A finding recorded with no answer (a dataAbsentReason: asked-unknown, asked-declined) was received and
# nothing in it was misread: "Received but not read" was untrue of it, so it has a heading of its own.
_NO_ANSWER_MARK = f"({NO_ANSWER}:"


def _no_answer(fact: MissingFact) -> bool:
    return fact.unreadable and _NO_ANSWER_MARK in fact.what


# The plan's stop signs are worded from the thresholds alone: the same few for every patient.
@lru_cache(maxsize=64)
def _stop_and_call(stop_and_call: tuple[str, ...]) -> str:
    signs = [
        re.split(r"[:(]", item, maxsplit=1)[0].strip()
        for item in stop_and_call
        if not item.lower().startswith("re-assess")  # the review schedule lives in the CarePlan
    ]
    return "Stop and call the team on: " + "; ".join(s[0].lower() + s[1:] for s in signs if s) + "."


def exercise_todo(plan: ExercisePlan) -> list[str]:
    """The exercise card's short prescription: tier, key restrictions, what to do.  The whole plan (every
    domain with its dose, progression) travels in the CarePlan."""
    from fhir_bonemet.core.exercise.findings import DOMAIN_NAMES  # one naming of the domains

    todo = [plan.supervision]
    if plan.tier not in (Tier.HOLD, Tier.ADL_ONLY):  # there the supervision line says it all
        avoided = [DOMAIN_NAMES[d.domain] for d in plan.domains if d.status is DomainStatus.AVOID]
        limited = [DOMAIN_NAMES[d.domain] for d in plan.domains if d.status is DomainStatus.RESTRICTED]
        if avoided:
            todo.append(f"Avoid {', '.join(avoided)}.")
        if limited and plan.tier is Tier.HIGH:  # the plan's high-tier doses: light, sparing every lesion
            todo.append(f"Limit {', '.join(limited)}: light, nothing that loads a lesion.")
        elif limited:
            # Below the high tier a domain is limited by a site exclusion ("elbow only") or an intensity cap
            # (haemoglobin, platelets): "light" contradicted the plan's moderate dose, and a haemoglobin
            # cap has nothing to do with a lesion.  The plan carries each limit.
            todo.append(f"Limit {', '.join(limited)}: within the exclusions and intensity the plan sets.")
    if plan.stop_and_call:
        todo.append(_stop_and_call(plan.stop_and_call))
    return todo


def _gap_lines(gaps: Sequence[MissingFact]) -> list[str]:
    """What was received but not read, what was recorded without an answer, what the records disagree on,
    and what was missing."""
    out: list[str] = []
    received = _one_per_record(m for m in gaps if m.unreadable)
    for heading, lines in (
        (_UNREAD, [m for m in received if not _no_answer(m)]),
        (_NO_ANSWER, [m for m in received if _no_answer(m)]),
    ):
        # One more than is shown, to know whether to say "and more".
        unread = _first_unique(map(_unread, lines), MAX_MISSING + 1)
        if unread:
            shown = "; ".join(unread[:MAX_MISSING]) + (" and more" if len(unread) > MAX_MISSING else "")
            out += ["", f"**{heading}:** {shown}."]
    conflicts = _first_unique((_unread(m) for m in gaps if m.conflict), MAX_MISSING)
    if conflicts:
        out += ["", f"**Records disagree:** {'; '.join(conflicts)}."]
    absent = (m for m in gaps if not (m.unreadable or m.conflict))
    missing = _first_unique(map(_missing, absent), MAX_MISSING + 1)
    if missing:
        shown = "; ".join(missing[:MAX_MISSING]) + (" and more" if len(missing) > MAX_MISSING else "")
        out += ["", f"**Missing:** {shown} (advice kept on the cautious side)."]
    return out


# The four kinds of data gap, in the order a card names them, with the heading of each.
_UNREAD, _NO_ANSWER, _CONFLICT, _ABSENT = (
    "Received but not read",
    "Recorded without an answer",
    "Records disagree",
    "Missing",
)


def _gap_kind(fact: MissingFact) -> str:
    if fact.unreadable:
        return _NO_ANSWER if _no_answer(fact) else _UNREAD
    return _CONFLICT if fact.conflict else _ABSENT


def _advice_topic(finding: Finding) -> str:
    """The folded advice a gap belongs to, in a few words: its title (a rule's title is a topic, "Dental
    examination before a bone-modifying agent"), else the start of its summary."""
    topic = plain(finding.title) or plain(finding.summary)
    return md_escape(_clip(topic, 60))


def _reading(fact: MissingFact) -> list[str]:
    """The parts of what a rule made of a gap ("not used (no unit)", "verify it"), as the card words them."""
    return [plain(part) for part in fact.consequence.split("; ") if part.strip()]


def _reading_of_named(fact: MissingFact, parts: Sequence[str]) -> str:
    """A gap the card names already, read differently by folded advice: the record by its short name (the
    card's own line gives it in full) and the parts of the reading that line lacks."""
    name = _clip(plain(_named(fact)).split(": ", 1)[0], 60)
    return md_escape(_clip(f"{name}: {'; '.join(parts)}", 200))


def _folded_gap_lines(findings: Sequence[Finding], folded: Sequence[Finding]) -> list[str]:
    """What the advice folded onto this card found missing, could not read or found in conflict.

    The "Also" line names folded advice by its summary only; without these lines a folded finding's gaps
    were lost, and a value received but unreadable read as no value at all.  Each gap is said once: one the
    card already names for its own findings, or the folded advice's summary states, is not repeated, and
    one several folded findings share is named with all of them.  Each is followed by the advice it
    affects, so the clinician knows which advice rests on the cautious assumption.

    A record the card names already for its own findings may mean something else to the folded advice (read
    another way, or a gap that changes that advice: "an NSAID is suggested only after renal function is
    checked").  That reading is kept, said without what the card says already: the record by its short name
    and only the parts of the reading the card's own line lacks."""
    # (kind, what) -> the parts of what the card's own findings made of that record ("not used (no unit)").
    own: dict[tuple[str, str], set[str]] = {}
    for mine in findings:
        for fact in mine.missing:
            own.setdefault((_gap_kind(fact), plain(fact.what)), set()).update(_reading(fact))
    # (kind, what) -> the rendered gap and the topics of the folded advice it affects, in order.
    gaps: dict[tuple[str, str], tuple[str, list[str]]] = {}
    for finding in folded:
        for fact in finding.missing:
            key = (_gap_kind(fact), plain(fact.what))
            # A gap the folded advice's own summary says ("No dental examination on record: arrange one"):
            # said once.
            if key[1].lower() in plain(finding.summary).lower():
                continue
            if key in own:
                distinct = [part for part in _reading(fact) if part not in own[key]]
                if not distinct:  # the card's own line says it all
                    continue
                # Its own key: what this advice made of the record, not the record the card names.
                key = (key[0], f"{key[1]}\n{'; '.join(distinct)}")
                text = _reading_of_named(fact, distinct)
            else:
                text = _missing(fact) if key[0] == _ABSENT else _unread(fact)
            topics = gaps.setdefault(key, (text, []))[1]
            topic = _advice_topic(finding)
            if topic not in topics:
                topics.append(topic)
    out: list[str] = []
    for kind in (_UNREAD, _NO_ANSWER, _CONFLICT, _ABSENT):
        # Gaps shared by the same advice are one group: "a; b (Advice)", each advice named once.
        groups: dict[tuple[str, ...], list[str]] = {}
        for (gap_kind, _what), (text, topics) in gaps.items():
            if gap_kind == kind:
                groups.setdefault(tuple(topics), []).append(text)
        if not groups:
            continue
        parts = [
            "; ".join(texts[:MAX_MISSING])
            + (" and more" if len(texts) > MAX_MISSING else "")
            + f" ({' and '.join(topics)})"
            for topics, texts in groups.items()
        ]
        shown = "; ".join(parts[:MAX_MISSING]) + (" and more" if len(parts) > MAX_MISSING else "")
        tail = " (advice kept on the cautious side)" if kind == _ABSENT else ""
        out += ["", f"**{kind} (advice under Also):** {shown}{tail}."]
    return out


_POINTER = re.compile(r"\(see ([A-Z]+\d\d)\)\.?$")


def _points_to(text: str) -> str | None:
    """The rule a recommendation ends by pointing to ("... (see P06)."), if any."""
    found = _POINTER.search(text)
    return found.group(1) if found else None


def detail_markdown(
    findings: Sequence[Finding],
    *,
    evidence: Sequence[str] = (),
    folded: Sequence[Finding] = (),
    when_stable: bool = False,
    plan: ExercisePlan | None = None,
    extra: Sequence[str] = (),
    unoffered: Sequence[str] = (),
) -> str:
    """Detail text for one concern; ``findings[0]`` leads, the rest were merged into it, ``folded`` is
    routine advice from other concerns shown as one line; ``evidence`` the evidence line's source labels
    (:class:`fhir_bonemet.cards.evidence.CardEvidence`, those of the folded advice included);
    ``unoffered`` the labels of what the folded advice proposes that this card cannot offer (its
    suggestions are a choice of one)."""
    primary = findings[0]
    if plan is not None and primary.rule_id == "EX01":
        todo = exercise_todo(plan)
    else:
        todo = list(primary.recommendations) or [primary.summary]
    # What the merged findings add comes before the lead's secondary advice: it is a decision of its own.
    merged = [f.summary for f in findings[1:] if f.summary != primary.summary]
    if merged:
        # A lead's line that points to another rule's advice ("consider palliative radiotherapy (see P06)")
        # says again what that advice's own line says when it is merged into this card.
        here = {f.rule_id for f in findings[1:]}
        todo = [text for text in todo if _points_to(text) not in here]
    todo = [*todo[:2], *merged, *todo[2:]]
    # Each line once (the escaped form follows from the line).
    lines = _first_unique((line for line in map(_line, todo) if line[0]), MAX_ACTION_BULLETS)
    out = [f"- {escaped}" for _, escaped in lines]
    out += [f"\n{line}" for line in extra]

    why = _line(primary.rationale, 180)[1]
    values = _based_on(findings)
    if values:
        why += f" Based on: {'; '.join(values)}."
    out += ["", f"**Why:** {why}"]

    gaps = [m for f in findings for m in f.missing]
    if gaps:  # most cards have none: the three passes below are for those that do
        out += _gap_lines(gaps)

    if folded:
        head = "Also, when stable" if when_stable else "Also"
        notes = _unique(_clip(plain(f.summary), 110) for f in folded)
        out += ["", f"**{head}:** {md_escape('; '.join(notes))}."]
        if any(f.missing for f in folded):
            out += _folded_gap_lines(findings, folded)
        if unoffered:
            labels = "; ".join(md_escape(label) for label in _unique(unoffered))
            out += ["", f"**Not offered on this card** (its suggestions are a choice of one): {labels}."]

    if any(f.unverified for f in findings):
        out += ["", "Parts of this advice await clinical review."]

    if evidence:
        out += ["", f"**Evidence:** {' · '.join(evidence)}"]
    out += ["", f"*{DISCLAIMER}*"]
    return "\n".join(out)
