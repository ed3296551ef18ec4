"""The body diagram: a front and a back skeleton (SVG) with one marker per lesion, coloured by its tier.

Placement reads only the lesion's site class, its recorded level text ("T9", "L3") and its side.  The
front view is drawn facing the reader (the patient's right on the reader's left); the back view is seen from
behind (the patient's right on the reader's right).  Spine and scapula lesions are shown on the back view,
every other site on the front view; a lesion without a recorded site sits in a labelled box under the
diagram, so it is never silently left out.

Each marker is keyboard-focusable and carries its tier and reasons as ``<title>`` and ``aria-label``; the
page repeats them in a table for screen readers.  Colour is never the only signal: the tier is in the
label, the legend and the table, and hold/ADL-only markers are squares.
"""

from __future__ import annotations

import re
from collections import Counter
from html import escape
from typing import Any

__all__ = ["TIER_COLOURS", "TIER_NAMES", "body_map_svg", "marker_position"]

# Tier colours: each has at least 4.5:1 contrast with white, so the marker stands out on the page.
TIER_COLOURS = {
    "low": "#17692e",
    "moderate": "#8a4b00",
    "high": "#b3141b",
    "adl-only": "#5b2a86",
    "hold": "#1f2937",
}
TIER_NAMES = {
    "low": "Low",
    "moderate": "Moderate",
    "high": "High",
    "adl-only": "ADL only",
    "hold": "On hold",
}
_SQUARE_TIERS = frozenset({"adl-only", "hold"})

VIEW_WIDTH = 200
VIEW_HEIGHT = 440
_MID = VIEW_WIDTH / 2
_BACK_X = VIEW_WIDTH + 40  # the back view starts here
_UNKNOWN_Y = VIEW_HEIGHT + 30

# Front-view position of each site class on the patient's right (dx from the midline, y), or on the
# midline (dx = 0).  The side flips the sign of dx.
_FRONT: dict[str, tuple[float, float]] = {
    "skull": (0, 32),
    "clavicle": (26, 86),
    "sternum": (0, 112),
    "rib": (30, 122),
    "humerus-proximal": (50, 104),
    "humerus": (54, 124),
    "upper-limb": (58, 150),
    "pelvis": (26, 226),
    "femur-proximal": (28, 256),
    "femur": (30, 292),
    "lower-limb": (30, 360),
}
_BACK: dict[str, tuple[float, float]] = {
    "scapula": (32, 116),
    "sacrum": (0, 232),
    "spine-cervical": (0, 70),
    "spine-thoracic": (0, 128),
    "spine-lumbar": (0, 196),
    "spine-unspecified": (0, 150),
}
_LEVEL = re.compile(r"^\s*([CTLS])\s*(\d{1,2})\b", re.IGNORECASE)
_RIB_NUMBER = re.compile(r"\b(?:rib\s*(\d{1,2})|(\d{1,2})(?:st|nd|rd|th)\s+rib)\b", re.IGNORECASE)


def _spine_y(level_text: str) -> float | None:
    """y of a vertebral level: C1-C7 from 60, T1-T12 from 88, L1-L5 from 178, S from 226."""
    match = _LEVEL.match(level_text)
    if match is None:
        return None
    region, number = match.group(1).upper(), int(match.group(2))
    start, step, count = {"C": (58, 4, 7), "T": (88, 7.2, 12), "L": (178, 9, 5), "S": (226, 3, 5)}[region]
    return float(start + step * (min(max(number, 1), count) - 1))


def marker_position(lesion: dict[str, Any]) -> tuple[str, float, float]:
    """("front" | "back" | "unknown", x, y) in diagram coordinates for one lesion of the plan view."""
    site = str(lesion.get("site_class") or "unknown")
    side = lesion.get("laterality")
    sign = -1.0 if side == "left" else 1.0  # patient's right by default; "left" mirrors
    if site in _BACK:
        dx, y = _BACK[site]
        if site.startswith("spine") or site == "sacrum":
            y = _spine_y(str(lesion.get("level") or "")) or y
        # Seen from behind, the patient's right is on the reader's right.
        return "back", _BACK_X + _MID + sign * dx, y
    if site in _FRONT:
        dx, y = _FRONT[site]
        if site == "rib":
            found = _RIB_NUMBER.search(str(lesion.get("level") or ""))
            if found:
                y = 92 + 6.5 * min(int(found.group(1) or found.group(2)), 12)
        return "front", _MID - sign * dx, y
    return "unknown", _MID, _UNKNOWN_Y


def _pair(m: float, dx1: float, y1: float, dx2: float, y2: float) -> str:
    left = f'<line x1="{m - dx1}" y1="{y1}" x2="{m - dx2}" y2="{y2}"/>'
    return left + f'<line x1="{m + dx1}" y1="{y1}" x2="{m + dx2}" y2="{y2}"/>'


def _skeleton(x0: float, back: bool) -> str:
    """A plain, decorative skeleton outline (hidden from assistive technology)."""
    m = x0 + _MID
    parts = [
        f'<ellipse cx="{m}" cy="32" rx="20" ry="24"/>',
        f'<line x1="{m}" y1="56" x2="{m}" y2="232" class="spine"/>' if back else "",
        f'<path d="M{m - 40} 92 Q{m} 76 {m + 40} 92"/>',
        f'<ellipse cx="{m}" cy="130" rx="38" ry="42" class="cage"/>',
        f'<line x1="{m}" y1="96" x2="{m}" y2="158"/>' if not back else "",
        f'<path d="M{m - 34} 210 Q{m} 256 {m + 34} 210 L{m + 28} 240 Q{m} 252 {m - 28} 240 Z"/>',
        # Arms (upper, fore) and legs (thigh, shin), mirrored about the midline.
        _pair(m, 44, 94, 58, 180),
        _pair(m, 58, 184, 64, 250),
        _pair(m, 24, 244, 30, 330),
        _pair(m, 30, 336, 32, 420),
    ]
    if back:
        parts.append(f'<path d="M{m - 44} 100 L{m - 20} 104 L{m - 30} 140 Z"/>')
        parts.append(f'<path d="M{m + 44} 100 L{m + 20} 104 L{m + 30} 140 Z"/>')
    return "".join(p for p in parts if p)


def _marker(lesion: dict[str, Any], x: float, y: float) -> str:
    tier = str(lesion["tier"])
    colour = TIER_COLOURS.get(tier, TIER_COLOURS["hold"])
    side = lesion.get("laterality")
    side_note = "" if side in ("left", "right", "midline", "bilateral") else "; side not recorded"
    reasons = ", ".join(lesion.get("reasons") or ()) or "no specific reason recorded"
    text = f"{lesion['label']}: {TIER_NAMES.get(tier, tier)} tier ({reasons}){side_note}"
    if tier in _SQUARE_TIERS:
        shape = f'<rect x="{x - 8:.1f}" y="{y - 8:.1f}" width="16" height="16" rx="2" fill="{colour}"/>'
    else:
        shape = f'<circle cx="{x:.1f}" cy="{y:.1f}" r="8.5" fill="{colour}"/>'
    return (
        f'<g class="marker" tabindex="0" role="img" aria-label="{escape(text)}" '
        f'data-lesion="{escape(str(lesion["id"]))}" data-tier="{escape(tier)}" data-colour="{colour}">'
        f"<title>{escape(text)}</title>{shape}"
        f'<circle class="ring" cx="{x:.1f}" cy="{y:.1f}" r="12" fill="none"/></g>'
    )


def body_map_svg(lesions: list[dict[str, Any]]) -> str:
    """The diagram for the plan view's lesions, as inline SVG."""
    placed = [(lesion, *marker_position(lesion)) for lesion in lesions]
    has_unknown = any(view == "unknown" for _, view, _, _ in placed)
    height = _UNKNOWN_Y + 24 if has_unknown else VIEW_HEIGHT
    seen: Counter[tuple[float, float]] = Counter()
    markers: list[str] = []
    for lesion, _view, x, y in placed:
        # Two lesions at the same spot (two rib lesions without numbers) sit side by side, not on top.
        shift = seen[(x, y)]
        seen[(x, y)] += 1
        markers.append(_marker(lesion, x + 18 * shift, y))
    unknown_box = (
        f'<rect x="{_MID - 70}" y="{_UNKNOWN_Y - 16}" width="140" height="32" class="unknown-box"/>'
        f'<text x="{_MID - 64}" y="{_UNKNOWN_Y + 4}" class="caption">Site not recorded</text>'
        if has_unknown
        else ""
    )
    width = _BACK_X + VIEW_WIDTH
    return (
        f'<svg class="body-map" viewBox="0 0 {width} {height}" role="group" '
        f'aria-labelledby="body-map-title" xmlns="http://www.w3.org/2000/svg">'
        f'<g class="skeleton" aria-hidden="true">{_skeleton(0, back=False)}{_skeleton(_BACK_X, back=True)}'
        f'<text x="{_MID}" y="{VIEW_HEIGHT - 2}" class="caption" text-anchor="middle">Front</text>'
        f'<text x="{_BACK_X + _MID}" y="{VIEW_HEIGHT - 2}" class="caption" text-anchor="middle">Back</text>'
        f'<text x="8" y="14" class="caption">R</text>'
        f'<text x="{VIEW_WIDTH - 16}" y="14" class="caption">L</text>'
        f'<text x="{_BACK_X + 8}" y="14" class="caption">L</text>'
        f'<text x="{_BACK_X + VIEW_WIDTH - 16}" y="14" class="caption">R</text>'
        f"{unknown_box}</g>"
        f"{''.join(markers)}</svg>"
    )
