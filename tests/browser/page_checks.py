"""What a correct plan page shows, checked in the browser against the core's own exercise plan.

The expected lesions, domains and stop-and-call signs are computed here by the core itself, independently
of the page, so a page that drops a marker, a domain or a sign fails these checks.
"""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page

from fhir_bonemet.core.model.findings import ExercisePlan
from fhir_bonemet.plan_page.body_map import TIER_COLOURS


def check_markers(page: Page, plan: ExercisePlan) -> None:
    markers: list[dict[str, Any]] = page.eval_on_selector_all(
        "svg.body-map .marker",
        """els => els.map(el => ({
            tier: el.dataset.tier,
            fill: getComputedStyle(el.querySelector('circle, rect')).fill,
            label: el.getAttribute('aria-label'),
            title: el.querySelector('title') ? el.querySelector('title').textContent : ''}))""",
    )
    assert len(markers) == len(plan.lesions), f"{len(markers)} markers for {len(plan.lesions)} lesions"
    expected = sorted(risk.tier.value for risk in plan.lesions)
    assert sorted(m["tier"] for m in markers) == expected
    for marker in markers:
        assert marker["fill"] == _rgb(TIER_COLOURS[marker["tier"]]), marker
        assert marker["title"]
        assert marker["title"] == marker["label"]
    rows = page.locator("table.lesions tbody tr").count()
    assert rows == len(plan.lesions), "the screen-reader table lists every lesion"


def check_domains(page: Page, plan: ExercisePlan) -> None:
    shown = page.eval_on_selector_all(
        "table.domains tbody tr", "rows => rows.map(r => [r.dataset.domain, r.dataset.status])"
    )
    assert [tuple(row) for row in shown] == [(d.domain, d.status.value) for d in plan.domains]


def check_stop_signs(page: Page, plan: ExercisePlan) -> None:
    signs = page.locator("ul.stop-signs li").all_inner_texts()
    assert [" ".join(s.split()) for s in signs] == list(plan.stop_and_call)


def check_plan_page(page: Page, plan: ExercisePlan) -> None:
    check_markers(page, plan)
    check_domains(page, plan)
    check_stop_signs(page, plan)


def _rgb(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


def pdf_pages(pdf: bytes) -> int:
    return pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages")
