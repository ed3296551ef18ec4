"""The plan page and the handout in a real browser, for every example patient.

Each plan is published by a real hook call and opened through the link of its exercise card.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
import requests
from page_checks import check_domains, check_markers, check_plan_page, check_stop_signs, pdf_pages
from plan_server import ANCHOR, SCENARIOS, PlanServer
from playwright.sync_api import Browser, Page

import fhir_bonemet.core.engine as engine
from fhir_bonemet.cli.examples_runner import prefetched_request
from fhir_bonemet.core.model.findings import ExercisePlan
from fhir_bonemet.fhir.intake.patient_facts import extract_facts
from fhir_bonemet.fhir.intake.read import read_prefetch
from fhir_bonemet.fhir.terminology.lookup import Terminology
from fhir_bonemet.knowledge import load_thresholds

pytestmark = pytest.mark.browser


def core_plan(scenario: str, today: date = ANCHOR) -> ExercisePlan | None:
    """The exercise plan as the core computes it, independently of the page."""
    request = prefetched_request(scenario)
    facts = extract_facts(
        read_prefetch(request["prefetch"]), Terminology.load(), patient_id=request["context"]["patientId"]
    )
    return engine.assess(facts, today, load_thresholds(), hook="patient-view").exercise


PLANNED = [s for s in SCENARIOS if core_plan(s) is not None]


@pytest.fixture(scope="module")
def links(plan_server: PlanServer) -> dict[str, str | None]:
    return {scenario: plan_server.plan_link(scenario) for scenario in SCENARIOS}


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    opened = context.new_page()
    yield opened
    context.close()


def open_page(page: Page, url: str) -> list[str]:
    """Load ``url`` and return every console error and failed request (there should be none)."""
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type in ("error", "warning") else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("requestfailed", lambda req: problems.append(f"failed: {req.url}"))
    response = page.goto(url)
    assert response is not None
    assert response.status == 200
    page.wait_for_load_state("networkidle")
    return problems


def test_every_example_with_bone_metastases_gets_a_plan_link(links: dict[str, str | None]) -> None:
    assert PLANNED, "the examples include patients with an exercise plan"
    for scenario in SCENARIOS:
        assert (links[scenario] is not None) == (scenario in PLANNED), scenario


@pytest.mark.parametrize("scenario", PLANNED)
def test_plan_page_shows_every_lesion_domain_and_sign_without_console_errors(
    page: Page, links: dict[str, str | None], scenario: str
) -> None:
    url = links[scenario]
    assert url is not None
    assert open_page(page, url) == []
    plan = core_plan(scenario)
    assert plan is not None
    check_plan_page(page, plan)


@pytest.mark.parametrize("scenario", PLANNED)
def test_keyboard_focus_reaches_every_marker(page: Page, links: dict[str, str | None], scenario: str) -> None:
    url = links[scenario]
    assert url is not None
    open_page(page, url)
    expected = set(page.eval_on_selector_all(".marker", "els => els.map(e => e.dataset.lesion)"))
    reached: set[str] = set()
    for _ in range(60):
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement && document.activeElement.dataset.lesion")
        if focused:
            reached.add(focused)
        if reached == expected:
            break
    assert reached == expected


def serious_violations(browser: Browser, axe_source: str, url: str, spoil: str | None = None) -> list[Any]:
    """axe-core's serious and critical violations on ``url`` (after running ``spoil`` on the page)."""
    # axe is injected as a script, which the page's own CSP (no script at all) rightly forbids.
    context = browser.new_context(bypass_csp=True)
    try:
        page = context.new_page()
        page.goto(url)
        if spoil is not None:
            page.evaluate(spoil)
        page.add_script_tag(content=axe_source)
        result: dict[str, Any] = page.evaluate("async () => await axe.run(document)")
    finally:
        context.close()
    return [
        (v["id"], v["help"], [n["target"] for n in v["nodes"]][:3])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.parametrize("scenario", PLANNED)
@pytest.mark.parametrize("which", ["", "/handout"])
def test_axe_finds_no_serious_or_critical_violation(
    browser: Browser, axe_source: str, links: dict[str, str | None], scenario: str, which: str
) -> None:
    url = links[scenario]
    assert url is not None
    assert serious_violations(browser, axe_source, url + which) == []


def test_axe_would_report_a_marker_without_a_name(
    browser: Browser, axe_source: str, links: dict[str, str | None]
) -> None:
    url = links[PLANNED[0]]
    assert url is not None
    spoil = """() => document.querySelectorAll('.marker').forEach(m => {
        m.removeAttribute('aria-label'); m.querySelector('title').remove(); })"""
    found = serious_violations(browser, axe_source, url, spoil)
    assert found, "axe-core reports an unnamed image marker"


@pytest.mark.parametrize("scenario", PLANNED)
@pytest.mark.parametrize("paper", ["A4", "Letter"])
def test_printed_handout_fits_on_two_pages(
    page: Page, links: dict[str, str | None], scenario: str, paper: str
) -> None:
    url = links[scenario]
    assert url is not None
    open_page(page, url + "/handout")
    page.emulate_media(media="print")
    assert page.locator("ul.stop-signs li").count() >= 3
    assert 1 <= pdf_pages(page.pdf(format=paper)) <= 2


@pytest.mark.parametrize("scenario", PLANNED[:2])
def test_the_handout_pdf_fits_on_two_pages(links: dict[str, str | None], scenario: str) -> None:
    url = links[scenario]
    assert url is not None
    for paper in ("A4", "Letter"):
        response = requests.get(f"{url}/handout.pdf", params={"paper": paper}, timeout=30)
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/pdf"
        assert response.content.startswith(b"%PDF")
        assert 1 <= pdf_pages(response.content) <= 2


def test_checks_fail_when_a_marker_a_domain_or_a_sign_is_missing(
    page: Page, links: dict[str, str | None]
) -> None:
    scenario = PLANNED[0]
    url = links[scenario]
    plan = core_plan(scenario)
    assert url is not None
    assert plan is not None
    for selector, check in (
        ("svg.body-map .marker", check_markers),
        ("table.domains tbody tr", check_domains),
        ("ul.stop-signs li", check_stop_signs),
    ):
        open_page(page, url)
        check(page, plan)
        page.eval_on_selector(selector, "el => el.remove()")
        with pytest.raises(AssertionError):
            check(page, plan)


def test_altered_and_unknown_links_show_no_patient_data(page: Page, links: dict[str, str | None]) -> None:
    url = links[PLANNED[0]]
    assert url is not None
    head, mac = url.rsplit(".", 1)
    altered = f"{head}.{mac[:-2]}{'AA' if not mac.endswith('AA') else 'BB'}"
    for bad in (altered, altered + "/handout", altered + "/handout.pdf"):
        response = page.goto(bad)
        assert response is not None
        assert response.status == 403
        text = page.inner_text("body")
        assert "not valid" in text
        assert "lesion" not in text.lower()
        assert "Condition/" not in text


def test_pages_are_not_cached_and_allow_only_their_own_resources(links: dict[str, str | None]) -> None:
    url = links[PLANNED[0]]
    assert url is not None
    for path in ("", "/handout", "/handout.pdf"):
        headers = requests.get(url + path, timeout=30).headers
        assert headers["cache-control"] == "no-store"
        csp = headers["content-security-policy"]
        assert "default-src 'none'" in csp
        assert "style-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp
        assert "script-src" not in csp


def test_pages_show_no_patient_name_birth_date_or_patient_reference(plan_server: PlanServer) -> None:
    request = prefetched_request(PLANNED[0])
    patient = request["prefetch"]["patient"]
    url = plan_server.plan_link(PLANNED[0])
    assert url is not None
    html = requests.get(url, timeout=30).text + requests.get(url + "/handout", timeout=30).text
    names = [n for name in patient.get("name", ()) for n in (*name.get("given", ()), name.get("family"))]
    for value in [*filter(None, names), patient.get("birthDate"), f"Patient/{patient['id']}"]:
        assert value not in html
