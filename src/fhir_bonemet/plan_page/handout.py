"""The patient handout: the same plan in plain words, for the person who does the exercising.

Written for a reading age of about 11-12: short sentences, everyday words, no scores or codes.  It lists
what they may do and how often, what to avoid with one line of why, the warning signs that mean "stop and
call" (with a blank for the number), and a weekly pain and exercise log.  :func:`handout_content` is the
one source of the wording; the HTML (:func:`render_handout`) and the PDF (:mod:`.pdf`) both lay it out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fhir_bonemet.plan_page.layout import document, e
from fhir_bonemet.plan_page.view import PlanView

__all__ = ["HandoutContent", "handout_content", "plain_sign", "render_handout"]

PLAIN_DOMAINS = {
    "ex-aerobic-wb": "Walking and other activity on your feet",
    "ex-aerobic-nwb": "Exercise bike, swimming or other seated activity",
    "ex-resist-upper": "Strength exercises for your arms",
    "ex-resist-trunk": "Strength exercises for your back and tummy",
    "ex-resist-lower": "Strength exercises for your legs",
    "ex-flex": "Stretching",
    "ex-balance": "Balance exercises",
    "ex-impact": "Jumping, running and contact sports",
    "ex-adl-only": "Everyday activities, like washing, dressing and moving around at home",
}
PLAIN_SITES = {
    "spine-cervical": "neck bones",
    "spine-thoracic": "back bones (spine)",
    "spine-lumbar": "lower back bones (spine)",
    "spine-unspecified": "spine",
    "sacrum": "bottom of your spine",
    "pelvis": "hip bones (pelvis)",
    "femur-proximal": "thigh bone near the hip",
    "femur": "thigh bone",
    "lower-limb": "leg bone",
    "humerus-proximal": "upper arm bone near the shoulder",
    "humerus": "upper arm bone",
    "upper-limb": "arm bone",
    "rib": "ribs",
    "sternum": "breastbone",
    "scapula": "shoulder blade",
    "clavicle": "collarbone",
    "skull": "skull",
    "unknown": "bones",
}
_PAIN_SIGN = re.compile(r"rise of (\d+) or more lasting over (\d+) h")
_FREQUENCY = re.compile(r"^(once|\d+ times) (per|every) ([\w. ]+?) \(")


@dataclass(frozen=True, slots=True)
class HandoutContent:
    intro: str
    allowed: tuple[tuple[str, str], ...]  # (activity, how / how often)
    avoid: tuple[tuple[str, str], ...]  # (activity, why in one line)
    stop_signs: tuple[str, ...]
    next_check: str
    how_often: str


def plain_sign(item: str) -> str | None:
    """A stop-and-call sign in plain words; None for a line that is not a warning sign (the review)."""
    if item.startswith("Re-assess"):
        return None
    pain = _PAIN_SIGN.search(item)
    if item.startswith("New or worse pain") and pain:
        return (
            f"Bone pain that is new, or {pain.group(1)} or more points worse (out of 10), "
            f"and lasts more than {pain.group(2)} hours."
        )
    if "weakness" in item and "bladder" in item:
        return (
            "New weakness or numbness in your legs, trouble walking, or problems controlling your "
            "bladder or bowels. Get help straight away: this is urgent."
        )
    if item.startswith("A fall"):
        return "You have a fall."
    return item


def _how_often(view: PlanView) -> str:
    found = _FREQUENCY.match(view["sessions"])
    if found is None:
        return str(view["sessions"])
    times, _, unit = found.groups()
    return f"{times} a {unit}"


def _why(domain: dict[str, Any], sites: dict[str, str]) -> str:
    if domain["causes"]:
        where = sorted({sites[c] for c in domain["causes"] if c in sites}) or ["bones"]
        return f"It could put too much strain on the weak spot in your {' and '.join(where)}."
    if any(x.startswith("On hold") for x in domain["exclusions"]):
        return "Your team needs to check you first. They will tell you when you can start."
    return "Your team has asked you not to do this for now."


def handout_content(view: PlanView) -> HandoutContent:
    sites = {les["label"]: PLAIN_SITES.get(les["site_class"], "bones") for les in view["lesions"]}
    how_often = _how_often(view)
    held = view["tier"] in ("hold", "adl-only")
    allowed: list[tuple[str, str]] = []
    avoid: list[tuple[str, str]] = []
    for d in view["domains"]:
        name = PLAIN_DOMAINS.get(d["code"], d["name"].capitalize())
        if d["status"] == "avoid":
            avoid.append((name, _why(d, sites)))
        elif d["code"] == "ex-adl-only":
            allowed.append((name, "Every day, gently, as your team has shown you."))
        else:
            only = ", but only the movements your team showed you" if d["exclusions"] else ""
            how = f"{how_often}{only}."
            allowed.append((name, how[0].upper() + how[1:]))
    if held:
        intro = (
            "Please do not start exercise sessions yet. Your team needs to check the weak spots in your "
            "bones first. Keep doing your everyday activities, gently."
        )
    elif view["tier"] == "high":
        intro = "You can exercise, but only with a physiotherapist with you at every session to start with."
    else:
        intro = (
            "Exercise is good for you, even with cancer in your bones. Start with your team showing you how, "
            "then build up slowly."
        )
    signs = tuple(s for s in (plain_sign(i) for i in view["stop_and_call"]) if s)
    return HandoutContent(
        intro=intro,
        allowed=tuple(allowed),
        avoid=tuple(avoid),
        stop_signs=signs,
        next_check=(
            f"Your team will check this plan again by {view['review_on']}, or sooner if anything changes."
        ),
        how_often=how_often,
    )


def _log_table() -> str:
    days = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    head = "".join(f'<th scope="col">{d}</th>' for d in days)
    rows = "".join(
        f'<tr><th scope="row">{label}</th>' + "<td></td>" * len(days) + "</tr>"
        for label in ("Pain (0 to 10)", "Exercise done (what, how long)", "Notes")
    )
    return (
        '<table class="log"><caption>My week: pain and exercise</caption>'
        f"<thead><tr><td></td>{head}</tr></thead><tbody>{rows}</tbody></table>"
    )


def render_handout(view: PlanView, *, pdf_href: str) -> str:
    content = handout_content(view)
    allowed = "".join(f"<li><strong>{e(a)}.</strong> {e(how)}</li>" for a, how in content.allowed)
    avoid = "".join(f"<li><strong>{e(a)}.</strong> {e(why)}</li>" for a, why in content.avoid)
    signs = "".join(f"<li>{e(s)}</li>" for s in content.stop_signs)
    body = (
        '<main class="handout-body"><h1>My exercise and pain plan</h1>'
        f'<p class="lead">{e(content.intro)}</p>'
        '<section aria-labelledby="can-do"><h2 id="can-do">What I can do</h2>'
        f'<ul class="allowed">{allowed or "<li>Only what your team tells you.</li>"}</ul></section>'
        '<section aria-labelledby="avoid"><h2 id="avoid">What to avoid, and why</h2>'
        f'<ul class="avoid">{avoid or "<li>Nothing extra for now.</li>"}</ul></section>'
        '<section aria-labelledby="stop" class="stop"><h2 id="stop">Stop and call if you have</h2>'
        f'<ul class="stop-signs">{signs}</ul>'
        '<p class="call">Number to call: <span class="blank">&nbsp;</span></p></section>'
        f"<p>{e(content.next_check)}</p>"
        f'<section class="log-section">{_log_table()}</section>'
        f'<p class="no-print"><a href="{e(pdf_href)}">Download this handout as a PDF</a></p></main>'
    )
    return document("My exercise and pain plan", body, body_class="handout")
