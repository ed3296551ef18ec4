"""The CDS Hooks this service answers, named once for the core, the wire models, the cards and the CLI."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Hook"]


class Hook(StrEnum):
    PATIENT_VIEW = "patient-view"
    ORDER_SELECT = "order-select"
    ORDER_SIGN = "order-sign"

    @property
    def is_order_entry(self) -> bool:
        """Order hooks speak only about the draft orders in focus (and critical red flags, and before an order
        that may load the bone the red-flag warnings that restrict loading and an exercise plan on hold or
        ADL-only, EX04)."""
        return self is not Hook.PATIENT_VIEW
