"""What an EHR sends to ``POST /cds-services/{id}/feedback``: ``{"feedback": [Feedback, ...]}``.

Invariants: cds-fb-1 (outcome is ``accepted`` or ``overridden``), cds-fb-2 (``accepted`` ⇒
``acceptedSuggestions``), cds-fb-3 (an ``overrideReason`` has a ``reason``, a ``userComment`` or both).
``outcomeTimestamp`` is an RFC 3339 date-time with an offset; it is stored in UTC (a leap second,
23:59:60 UTC, as 23:59:59.999999).

Leniency, on purpose: the override ``reason`` Coding may lack ``display`` (the service supplied it on the
card; the CDS Hooks Sandbox sends only ``code`` and ``system``) and even ``system`` (the Sandbox omits it
when the card's reason had none).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from fhir_bonemet.cds.wire import InboundModel, NonEmptyStr
from fhir_bonemet.store.base import FeedbackItem

__all__ = ["AcceptedSuggestion", "CDSFeedback", "Feedback", "FeedbackCoding", "OverrideReason"]

# ASCII digits only (``\d`` also takes "２０２６"), and the whole string (``$`` also allows a final newline).
_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?"
    r"(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))"
)


def parse_rfc3339(value: Any) -> datetime:
    """RFC 3339 §5.6 ``date-time`` → aware UTC datetime (fractions beyond microseconds are truncated, a leap
    second is 23:59:59.999999 UTC)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("must carry a UTC offset")
        return value.astimezone(UTC)
    match = _RFC3339.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError("must be an RFC 3339 date-time such as 1985-04-12T23:20:50.52Z")
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = match.groups()
    if not zulu and (int(off_h) > 23 or int(off_m) > 59):
        raise ValueError("the UTC offset must be at most 23:59")
    if zulu:
        tz = UTC
    else:
        offset = timedelta(hours=int(off_h), minutes=int(off_m))
        tz = timezone(-offset if sign == "-" else offset)
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    # RFC 3339 §5.7 allows second 60, a leap second; datetime has none, so it is held as the last instant
    # of the second before it.  Only where a leap second can fall: the end of a UTC day.
    leap = second == "60"
    if leap:
        second, micro = "59", 999_999
    try:
        parsed = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tzinfo=tz
        )
        # At the edges of the calendar (0001-01-01T00:00+01:00) the UTC instant does not exist.
        utc = parsed.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise ValueError("must be a valid calendar date and time representable in UTC") from exc
    if leap and (utc.hour, utc.minute) != (23, 59):
        raise ValueError("a leap second (second 60) falls only at 23:59:60 UTC")
    return utc


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold U+0000, and no clinician types it: refuse it as bad input (400)
    # instead of letting the store fail (503).
    if "\x00" in value:
        raise ValueError("must not contain the NUL character (U+0000)")
    return value


Text = Annotated[NonEmptyStr, AfterValidator(_no_nul)]


class FeedbackCoding(InboundModel):
    code: Text
    system: Text | None = None
    display: Text | None = None


class OverrideReason(InboundModel):
    reason: FeedbackCoding | None = None
    userComment: Text | None = None

    @model_validator(mode="after")
    def _cds_fb_3(self) -> OverrideReason:
        if self.reason is None and self.userComment is None:
            raise ValueError("an overrideReason needs a reason, a userComment or both (cds-fb-3)")
        return self


class AcceptedSuggestion(InboundModel):
    id: Text


class Feedback(InboundModel):
    card: Text
    outcome: Literal["accepted", "overridden"]  # cds-fb-1
    acceptedSuggestions: list[AcceptedSuggestion] | None = None
    overrideReason: OverrideReason | None = None
    outcomeTimestamp: Annotated[datetime, BeforeValidator(parse_rfc3339)]
    extension: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _cds_fb_2(self) -> Feedback:
        if self.outcome == "accepted" and not self.acceptedSuggestions:
            raise ValueError("an accepted outcome needs acceptedSuggestions (cds-fb-2)")
        return self

    def to_item(self) -> FeedbackItem:
        reason = self.overrideReason.reason if self.overrideReason else None
        return FeedbackItem(
            card_uuid=self.card,
            outcome=self.outcome,
            outcome_timestamp=self.outcomeTimestamp,
            accepted_suggestion_ids=tuple(s.id for s in self.acceptedSuggestions or ()),
            override_reason_code=reason.code if reason else None,
            override_reason_system=reason.system if reason else None,
            override_reason_display=reason.display if reason else None,
            override_user_comment=self.overrideReason.userComment if self.overrideReason else None,
        )


class CDSFeedback(InboundModel):
    """The feedback request body."""

    feedback: list[Feedback] = Field(min_length=1)

    def to_items(self) -> list[FeedbackItem]:
        return [entry.to_item() for entry in self.feedback]
