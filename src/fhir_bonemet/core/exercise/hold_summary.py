"""The summary of a card about an exercise plan on hold (EX01, EX04): "Exercise on hold (<reasons>): <what
to do>", within the CDS Hooks summary limit.

The hold reasons are the plan's, joined by "; " (:func:`~fhir_bonemet.core.exercise.plan.build_plan`).  A
calcium reported in mmol/L reads "corrected Ca 3.20 mmol/L (12.8 mg/dL)", and two reasons with a named
draft order ran past the limit: the summary was cut at its end, and lost what to do ("...: defer…").  What
to do is the point of the card, so the reasons give way first: each loses its trailing bracket (the mg/dL
equivalent of a calcium, a red flag's id, which cards strip anyway), then the last ones are counted rather
than named ("and 1 more").  The card's detail lists every gate that holds in full.

Standard library only: this module is part of the pure core.
"""

from __future__ import annotations

import re

from fhir_bonemet.core.model.findings import MAX_SUMMARY, fit_summary

__all__ = ["on_hold_summary"]

_TRAILING_BRACKET = re.compile(r" \([^()]*\)$")


def on_hold_summary(reason: str, then: str) -> str:
    """ "Exercise on hold (``reason``): ``then``", with the reasons shortened as far as needed to fit.

    Lengths are those of the core's text: the card layer only shortens it (ids and threshold markers go;
    a unit such as 10*9/L keeps its length), so what fits here fits on the card.  When even one shortened
    reason leaves no room, ``then`` is what gets cut (a draft order of a very long name).
    """
    full = reason.split("; ")
    brief = [_TRAILING_BRACKET.sub("", r) for r in full]
    candidates = [full, brief, *(brief[:shown] for shown in range(len(brief) - 1, 0, -1))]
    text = ""
    for named in candidates:
        rest = len(full) - len(named)
        text = f"Exercise on hold ({'; '.join(named)}{f' and {rest} more' if rest else ''}): {then}"
        if len(text) <= MAX_SUMMARY:
            return text
    return fit_summary(text)
