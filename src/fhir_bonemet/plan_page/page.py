"""The clinician page: the whole plan behind the cards, with the body diagram.

Sections, in reading order: red flags, the diagram and its lesion table, the exercise domains (with the
lesion behind each limit), supervision / progression / review, stop-and-call signs, the pain plan, then the
data used, what was missing, the service defaults and the evidence.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from fhir_bonemet.cards.detail import DISCLAIMER
from fhir_bonemet.plan_page.body_map import TIER_COLOURS, TIER_NAMES, body_map_svg
from fhir_bonemet.plan_page.layout import document, e
from fhir_bonemet.plan_page.view import PlanView

__all__ = ["STATUS_WORDS", "render_plan_page"]

STATUS_WORDS = {"permitted": "Allowed", "restricted": "Allowed with limits", "avoid": "Avoid"}


def _list(items: list[str], cls: str = "") -> str:
    if not items:
        return ""
    attr = f' class="{cls}"' if cls else ""
    return f"<ul{attr}>" + "".join(f"<li>{e(i)}</li>" for i in items) + "</ul>"


def _link(url: str, text: str) -> str:
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.netloc:
        return f'<a href="{e(url)}" rel="noopener noreferrer">{e(text)}</a>'
    return e(text)


def _tier_badge(tier: str) -> str:
    return f'<span class="tier tier-{e(tier)}">{e(TIER_NAMES.get(tier, tier))}</span>'


def _finding_block(f: dict[str, Any]) -> str:
    rules = ", ".join(f["rule_ids"])
    review = ' <span class="muted">(awaiting clinical review)</span>' if f.get("unverified") else ""
    return (
        f'<article class="finding indicator-{e(f["indicator"])}">'
        f'<h4>{e(f["title"])} <span class="rule">{e(rules)}</span>{review}</h4>'
        f'<p><strong>{e(f["summary"])}</strong></p><p class="muted">Why: {e(f["rationale"])}</p>'
        f"{_list(f['recommendations'])}</article>"
    )


def _lesions(view: PlanView) -> str:
    legend = "".join(
        f'<li><span class="swatch tier-{e(t)}"></span>{e(TIER_NAMES[t])}</li>' for t in TIER_COLOURS
    )
    rows = "".join(
        f'<tr><th scope="row">{e(les["label"])}</th><td>{_tier_badge(les["tier"])}</td>'
        f"<td>{e(', '.join(les['reasons']) or '-')}</td>"
        f"<td>{e(', '.join(les['avoided']) or '-')}</td><td>{e(', '.join(les['restricted']) or '-')}</td>"
        f"<td><code>{e(les['ref'])}</code></td></tr>"
        for les in view["lesions"]
    )
    return (
        '<section aria-labelledby="body-map-title"><h2 id="body-map-title">Where the lesions are</h2>'
        '<div class="diagram">'
        f"{body_map_svg(view['lesions'])}"
        '<div><p class="muted">Hover or focus a marker for its tier and the reasons. '
        "Squares: exercise on hold or daily activities only.</p>"
        f'<ul class="legend" aria-label="Tier colours">{legend}</ul></div></div>'
        '<table class="lesions"><caption>Lesions, their tier and what each one rules out</caption>'
        '<thead><tr><th scope="col">Lesion</th><th scope="col">Tier</th><th scope="col">Reasons</th>'
        '<th scope="col">Avoid</th><th scope="col">Restricted</th><th scope="col">Record</th></tr></thead>'
        f"<tbody>{rows}</tbody></table></section>"
    )


def _domains(view: PlanView) -> str:
    rows = []
    for d in view["domains"]:
        limits = [x for x in (d.get("dose"), *d["exclusions"]) if x]
        rows.append(
            f'<tr data-domain="{e(d["code"])}" data-status="{e(d["status"])}">'
            f'<th scope="row">{e(d["name"].capitalize())}</th>'
            f'<td><span class="status status-{e(d["status"])}">'
            f"{e(STATUS_WORDS.get(d['status'], d['status']))}</span></td><td>{_list(limits) or '-'}</td>"
            f"<td>{e(', '.join(d['causes']) or '-')}</td></tr>"
        )
    return (
        '<section aria-labelledby="domains-title"><h2 id="domains-title">Exercise, domain by domain</h2>'
        '<table class="domains"><caption>Allowed, restricted or avoid, with the lesion that causes it'
        '</caption><thead><tr><th scope="col">Domain</th><th scope="col">Advice</th>'
        '<th scope="col">Dose and limits</th><th scope="col">Caused by</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></section>"
    )


def _supervision(view: PlanView) -> str:
    extra = ""
    if view["gates"]:
        extra += f"<h3>Limits from blood results or symptoms</h3>{_list(view['gates'])}"
    if view["person_factors"]:
        extra += f"<h3>Person factors</h3>{_list(view['person_factors'])}"
    return (
        '<section aria-labelledby="supervision-title"><h2 id="supervision-title">Supervision, progression '
        "and review</h2><dl>"
        f"<dt>Supervision</dt><dd>{e(view['supervision'])}</dd>"
        f"<dt>Sessions</dt><dd>{e(view['sessions'])}</dd>"
        f"<dt>Progression</dt><dd>{e(view['progression'])}</dd>"
        f'<dt>Review</dt><dd>By <time datetime="{e(view["review_on"])}">{e(view["review_on"])}</time> '
        f"({e(view['review_every'])})</dd></dl>{extra}</section>"
    )


def _stop(view: PlanView) -> str:
    return (
        '<section aria-labelledby="stop-title" class="stop"><h2 id="stop-title">Stop and call</h2>'
        f"{_list(view['stop_and_call'], 'stop-signs')}</section>"
    )


def _pain(view: PlanView) -> str:
    pain = view["pain"]
    if pain["medications"]:
        rows = "".join(
            f'<tr><th scope="row">{e(m["display"])}</th><td>{_list(m["daily"])}</td>'
            f"<td>{e('; '.join(m['instructions']) or '-')}</td><td>{e(m['since'] or '-')}</td>"
            f"<td><code>{e(m['ref'])}</code></td></tr>"
            for m in pain["medications"]
        )
        meds = (
            "<table><caption>Analgesics in use, with daily totals</caption><thead><tr>"
            '<th scope="col">Medication</th><th scope="col">Daily total</th><th scope="col">Instructions</th>'
            f'<th scope="col">Since</th><th scope="col">Record</th></tr></thead><tbody>{rows}</tbody></table>'
        )
    else:
        meds = "<p>No analgesic in use was found in the record.</p>"
    findings = "".join(_finding_block(f) for f in pain["findings"]) or "<p>No pain finding.</p>"
    return (
        '<section aria-labelledby="pain-title"><h2 id="pain-title">Pain plan</h2>'
        f"{meds}{_list(pain['totals'], 'totals')}<h3>Findings</h3>{findings}"
        f"<h3>What to reassess, and when</h3><p>{e(pain['reassess'])}</p></section>"
    )


def _provenance(view: PlanView) -> str:
    used = "".join(
        f'<tr><th scope="row">{e(u["label"])}</th><td>{e(u["value"])}</td><td>{e(u["when"] or "-")}</td>'
        f"<td>{'<code>' + e(u['ref']) + '</code>' if u['ref'] else 'derived value'}</td>"
        f"<td>{e(', '.join(u['rules']))}</td></tr>"
        for u in view["used"]
    )
    missing = (
        "<ul>" + "".join(f"<li>{e(m['what'])}: {e(m['consequence'])}</li>" for m in view["missing"]) + "</ul>"
        if view["missing"]
        else "<p>Nothing the rules needed was missing.</p>"
    )
    defaults = "".join(
        f"<li><code>{e(d['key'])}</code> = {e(d['value'])}{': ' + e(d['note']) if d['note'] else ''}</li>"
        for d in view["defaults"]
    )
    evidence = "".join(
        f"<li><strong>{e(s['id'])}</strong> {_link(s['url'], s['citation'])}</li>" for s in view["evidence"]
    )
    return (
        '<section aria-labelledby="data-title"><h2 id="data-title">Data used</h2>'
        '<table class="used"><caption>Patient data the rules relied on</caption><thead><tr>'
        '<th scope="col">Item</th><th scope="col">Value</th><th scope="col">Date</th>'
        f'<th scope="col">Record</th><th scope="col">Rules</th></tr></thead><tbody>{used}</tbody></table>'
        f"<h3>Missing or unreadable</h3>{missing}"
        f"<h3>Service defaults applied</h3><ul>{defaults or '<li>None</li>'}</ul>"
        f'<h3>Evidence</h3><ul class="evidence">{evidence}</ul></section>'
    )


def render_plan_page(view: PlanView, *, handout_href: str, pdf_href: str) -> str:
    """The clinician page for one stored plan view."""
    flags = "".join(_finding_block(f) for f in view["red_flags"])
    hold = f'<p class="hold">{e(view["on_hold_reason"])}</p>' if view.get("on_hold_reason") else ""
    body = (
        '<header class="top"><h1>Bone metastases: exercise and pain plan</h1>'
        f'<p>Made on <time datetime="{e(view["made_on"])}">{e(view["made_on"])}</time>. '
        f"Overall skeletal-risk tier: {_tier_badge(view['tier'])}</p>"
        f'<p class="muted">{e(view["tier_reason"])}</p>{hold}'
        f'<nav aria-label="Handout"><a href="{e(handout_href)}">Patient handout</a> · '
        f'<a href="{e(pdf_href)}">Handout as PDF</a></nav></header><main>'
        + (
            f'<section aria-labelledby="flags-title"><h2 id="flags-title">Red flags</h2>{flags}</section>'
            if flags
            else ""
        )
        + _lesions(view)
        + _domains(view)
        + _supervision(view)
        + _stop(view)
        + _pain(view)
        + _provenance(view)
        + f'</main><footer><p class="muted">{e(DISCLAIMER)}</p></footer>'
    )
    return document("Bone metastases plan", body, body_class="plan")
