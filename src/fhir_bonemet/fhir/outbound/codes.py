"""Codes and display texts for what the service sends: CarePlan, Goal, ServiceRequest, and the card topics
and override reasons (data only: the cards in :mod:`fhir_bonemet.cards` decide how to use them).

They live in one data file, ``profiles/outbound-codes.toml``, so that no clinical or local code is scattered
through the builders as a literal.  The file is read once and validated: a missing section or code raises
:class:`~fhir_bonemet.errors.TerminologyError` naming the key, so the service refuses to start rather than
emit a card without a code.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from fhir_bonemet.core.model.findings import Category, Referral, Tier
from fhir_bonemet.errors import TerminologyError
from fhir_bonemet.project_dirs import PROFILES

__all__ = ["OutboundCodes", "ReferralCode", "Schedule", "default_codes_path", "load_outbound_codes"]

FILE_NAME = "outbound-codes.toml"
_PRIORITIES = ("routine", "urgent", "asap", "stat")
_PERIOD_UNITS = ("s", "min", "h", "d", "wk", "mo", "a")


@dataclass(frozen=True, slots=True)
class ReferralCode:
    key: str  # the core Referral value, e.g. "radiation-oncology"
    local: str
    display: str
    priority: str
    snomed: str | None = None
    snomed_display: str | None = None


@dataclass(frozen=True, slots=True)
class Schedule:
    """A recurring activity's frequency: ``frequency`` times per ``period`` ``period_unit``."""

    frequency: int
    period: float
    period_unit: str
    basis: str
    note: str
    source: str | None = None
    # The label, worked out once when the schedule is loaded: the CarePlan and the plan view show a schedule's
    # label several times per call.
    _label: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        unit = {"d": "day", "wk": "week", "h": "hours", "mo": "month", "min": "minutes", "s": "seconds"}
        every = unit.get(self.period_unit, self.period_unit)
        per = f"every {self.period:g} {every}" if self.period != 1 else f"per {every}"
        times = "once" if self.frequency == 1 else f"{self.frequency} times"
        tag = "service default" if self.basis == "service-default" else self.basis
        object.__setattr__(self, "_label", f"{times} {per} ({tag})")

    def label(self) -> str:
        """ "3 times per week (service default)": how often, and on what basis."""
        return self._label


@dataclass(frozen=True, slots=True)
class OutboundCodes:
    local_system: str
    snomed_system: str
    careplan_identifier_system: str
    referral_identifier_system: str
    topics: dict[str, str]  # card source topic per finding category
    override_reasons: tuple[tuple[str, str], ...]
    careplan_categories: dict[str, str]
    activities: dict[str, str]
    goal_category_system: str
    goal_categories: dict[str, str]
    performers: dict[str, str]
    schedules: dict[str, Schedule]
    referrals: dict[str, ReferralCode]
    referral_category: tuple[str, str]
    goal_measures: dict[str, dict[str, str]]
    # Codings every card carries (its topic, the override reasons), made once when the table is loaded; a
    # card copies them (see :meth:`topic_coding`, :meth:`override_codings`).
    _topics: dict[str, dict[str, str]] = field(init=False, repr=False, compare=False)
    _override_reasons: tuple[dict[str, str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        topics = {category: self.local(category, display) for category, display in self.topics.items()}
        object.__setattr__(self, "_topics", topics)
        reasons = tuple(self.local(code, display) for code, display in self.override_reasons)
        object.__setattr__(self, "_override_reasons", reasons)

    def topic_coding(self, category: str) -> dict[str, str]:
        """The card source's topic for a finding category (a new dict)."""
        return dict(self._topics[category])

    def override_codings(self) -> list[dict[str, str]]:
        """The card's override reasons (new dicts)."""
        return list(map(dict, self._override_reasons))

    def local(self, code: str, display: str) -> dict[str, str]:
        return {"system": self.local_system, "code": code, "display": display}

    def activity(self, code: str) -> dict[str, str]:
        try:
            return self.local(code, self.activities[code])
        except KeyError:
            raise TerminologyError(f"{FILE_NAME}: [activities] has no code {code!r}") from None

    def performer(self, tier: Tier) -> str:
        return self.performers[tier.value]

    def referral(self, referral: Referral) -> ReferralCode:
        return self.referrals[referral.value]


def default_codes_path(profiles_dir: Path | None = None) -> Path:
    """``outbound-codes.toml`` in ``profiles_dir`` (default: the source tree's, see
    :mod:`fhir_bonemet.project_dirs`); a missing directory is reported by the setting that names it."""
    return PROFILES.require(profiles_dir) / FILE_NAME


def _table(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict) or not value:
        raise TerminologyError(f"{FILE_NAME}: [{key}] must be a non-empty table")
    return value


def _strings(data: dict[str, Any], key: str) -> dict[str, str]:
    table = _table(data, key)
    for code, display in table.items():
        if not isinstance(display, str) or not display:
            raise TerminologyError(f"{FILE_NAME}: [{key}].{code} must be a non-empty display string")
    return {str(k): str(v) for k, v in table.items()}


def _str(data: dict[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise TerminologyError(f"{FILE_NAME}: {where}.{key} must be a non-empty string")
    return value


def _schedule(name: str, raw: Any) -> Schedule:
    where = f"[schedule.{name}]"
    if not isinstance(raw, dict):
        raise TerminologyError(f"{FILE_NAME}: {where} must be a table")
    freq, period, unit = raw.get("frequency"), raw.get("period"), raw.get("period_unit")
    if not isinstance(freq, int) or freq < 1 or not isinstance(period, int | float) or period <= 0:
        raise TerminologyError(f"{FILE_NAME}: {where} needs a positive integer frequency and positive period")
    if unit not in _PERIOD_UNITS:
        raise TerminologyError(f"{FILE_NAME}: {where}.period_unit must be one of {', '.join(_PERIOD_UNITS)}")
    return Schedule(
        freq, float(period), unit, _str(raw, "basis", where), str(raw.get("note", "")), raw.get("source")
    )


def _referral(key: str, raw: Any) -> ReferralCode:
    where = f"[referrals.{key}]"
    if not isinstance(raw, dict):
        raise TerminologyError(f"{FILE_NAME}: {where} must be a table")
    priority = _str(raw, "priority", where)
    if priority not in _PRIORITIES:
        raise TerminologyError(f"{FILE_NAME}: {where}.priority must be one of {', '.join(_PRIORITIES)}")
    snomed = raw.get("snomed")
    if snomed is not None and not isinstance(raw.get("snomed_display"), str):
        raise TerminologyError(f"{FILE_NAME}: {where} has a snomed code but no snomed_display")
    return ReferralCode(
        key,
        _str(raw, "local", where),
        _str(raw, "display", where),
        priority,
        snomed,
        raw.get("snomed_display"),
    )


def parse_outbound_codes(data: dict[str, Any]) -> OutboundCodes:
    """Validate the parsed file: every topic, referral and tier the core can produce must have an entry."""
    topics = _strings(data, "topics")
    performers = _strings(data, "performers")
    referrals = {k: _referral(k, v) for k, v in _table(data, "referrals").items()}
    for wanted, have, section in (
        ({c.value for c in Category}, topics, "topics"),
        ({t.value for t in Tier}, performers, "performers"),
        ({r.value for r in Referral}, referrals, "referrals"),
    ):
        missing = sorted(wanted - set(have))
        if missing:
            raise TerminologyError(f"{FILE_NAME}: [{section}] lacks {', '.join(missing)}")
    goal_cats = dict(_table(data, "goal_categories"))
    ids = _table(data, "identifier_systems")
    category = _table(data, "referral_category")
    schedules = {name: _schedule(name, raw) for name, raw in _table(data, "schedule").items()}
    for name in ("exercise", "pain-diary", "pain-reassessment", "review"):
        if name not in schedules:
            raise TerminologyError(f"{FILE_NAME}: [schedule.{name}] is missing")
    measures: dict[str, dict[str, str]] = {}
    for name, raw in _table(data, "goal_measures").items():
        where = f"[goal_measures.{name}]"
        if not isinstance(raw, dict):
            raise TerminologyError(f"{FILE_NAME}: {where} must be a table")
        measures[name] = {k: _str(raw, k, where) for k in ("system", "code", "display")}
    return OutboundCodes(
        local_system=_str(data, "local_system", "top level"),
        snomed_system=_str(data, "snomed_system", "top level"),
        careplan_identifier_system=_str(ids, "careplan", "[identifier_systems]"),
        referral_identifier_system=_str(ids, "referral", "[identifier_systems]"),
        topics=topics,
        override_reasons=tuple(_strings(data, "override_reasons").items()),
        careplan_categories=_strings(data, "careplan_categories"),
        activities=_strings(data, "activities"),
        goal_category_system=_str(goal_cats, "system", "[goal_categories]"),
        goal_categories={k: str(v) for k, v in goal_cats.items() if k != "system"},
        performers=performers,
        schedules=schedules,
        referrals=referrals,
        referral_category=(
            _str(category, "code", "[referral_category]"),
            _str(category, "display", "[referral_category]"),
        ),
        goal_measures=measures,
    )


@cache
def load_outbound_codes(path: Path | None = None) -> OutboundCodes:
    file = path or default_codes_path()
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise TerminologyError(f"{file}: cannot be read: {exc}") from exc
    return parse_outbound_codes(data)
