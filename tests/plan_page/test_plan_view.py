"""The plan view and what is drawn from it: marker placement, the handout wording, the PDF."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

import fhir_bonemet.core.engine as engine
from fhir_bonemet.cli.examples_runner import default_examples_dir, load_manifest, prefetched_request
from fhir_bonemet.core.model.unit_text import readable_units
from fhir_bonemet.fhir.intake.patient_facts import extract_facts
from fhir_bonemet.fhir.intake.read import read_prefetch
from fhir_bonemet.fhir.outbound.codes import load_outbound_codes
from fhir_bonemet.fhir.terminology.lookup import Terminology
from fhir_bonemet.knowledge import load_sources, load_thresholds
from fhir_bonemet.plan_page.body_map import body_map_svg, marker_position
from fhir_bonemet.plan_page.handout import handout_content, plain_sign, render_handout
from fhir_bonemet.plan_page.page import render_plan_page
from fhir_bonemet.plan_page.pdf import handout_pdf
from fhir_bonemet.plan_page.view import PlanView, build_plan_view

ANCHOR = date.fromisoformat(load_manifest(default_examples_dir())["anchorDate"])


def view_of(scenario: str) -> PlanView | None:
    request = prefetched_request(scenario)
    facts = extract_facts(
        read_prefetch(request["prefetch"]), Terminology.load(), patient_id=request["context"]["patientId"]
    )
    thresholds = load_thresholds()
    assessment = engine.assess(facts, ANCHOR, thresholds, hook="patient-view")
    return build_plan_view(
        assessment,
        facts,
        today=ANCHOR,
        thresholds=thresholds,
        sources=load_sources(),
        codes=load_outbound_codes(),
    )


def test_the_view_is_plain_json_with_every_lesion_domain_and_sign() -> None:
    view = view_of("thoracic-spine-sins14")
    assert view is not None
    assert json.loads(json.dumps(view)) == view
    assert [les["label"] for les in view["lesions"]] == ["T9 lesion"]
    assert view["lesions"][0]["tier"] == "high"
    assert "SINS 14" in view["lesions"][0]["reasons"]
    assert {d["code"] for d in view["domains"]} >= {"ex-aerobic-wb", "ex-resist-trunk", "ex-impact"}
    trunk = next(d for d in view["domains"] if d["code"] == "ex-resist-trunk")
    assert trunk["status"] == "avoid"
    assert trunk["causes"] == ["T9 lesion"]
    assert len(view["stop_and_call"]) == 4
    assert view["review_on"] == "2025-07-28"  # 8 weeks (service default) after the anchor date
    assert any(
        "acetaminophen 4000 mg/day" in line for m in view["pain"]["medications"] for line in m["daily"]
    )
    assert any(e["id"] == "S10" and e["url"].startswith("http") for e in view["evidence"])
    assert all(not (u["ref"] or "").startswith("Patient/") for u in view["used"])


def test_a_read_issue_on_the_patient_record_is_named_on_the_page_without_its_reference() -> None:
    # A read issue reached the page's "missing" list as its FHIR location ("Patient/<id>.deceasedBoolean"):
    # the patient's own reference, which the view never keeps, and an element name the cards say in words.
    # The unreadable birth date makes the screening advice search the patient record.
    request = prefetched_request("thoracic-spine-sins14")
    request["prefetch"]["patient"].update(birthDate="1950-13-45", deceasedBoolean="no")
    facts = extract_facts(
        read_prefetch(request["prefetch"]), Terminology.load(), patient_id=request["context"]["patientId"]
    )
    thresholds = load_thresholds()
    view = build_plan_view(
        engine.assess(facts, ANCHOR, thresholds, hook="patient-view"),
        facts,
        today=ANCHOR,
        thresholds=thresholds,
        sources=load_sources(),
        codes=load_outbound_codes(),
    )
    assert view is not None
    said = [m["what"] for m in view["missing"]]
    assert "patient record (deceased)" in said
    assert not any("Patient/" in what for what in said)


def test_no_view_outside_the_population() -> None:
    assert view_of("brain-only-metastasis") is None


def test_units_are_shown_the_way_clinicians_read_them() -> None:
    assert readable_units("245 10*9/L") == "245 ×10⁹/L"
    assert readable_units("38.4 Cel") == "38.4 °C"
    assert readable_units("14 {score}") == "14"


@pytest.mark.parametrize("scenario", ["opioid-benzodiazepine", "thoracic-spine-sins14"])
def test_the_findings_on_the_page_give_units_as_the_cards_do(scenario: str) -> None:
    """The page quoted the findings with their UCUM codes ("for 3 d"), where the cards read "for 3 days"."""
    view = view_of(scenario)
    assert view is not None
    findings = [*view["red_flags"], *view["exercise_findings"], *view["pain"]["findings"]]
    texts = [t for f in findings for t in (f["summary"], f["rationale"], *f["recommendations"])]
    assert texts
    assert [t for t in texts if readable_units(t) != t] == []


def lesion(site: str, level: str = "", side: str | None = None) -> dict[str, Any]:
    return {"id": "l", "label": "x", "site_class": site, "level": level, "laterality": side, "tier": "low"}


def test_markers_sit_on_their_bone_level_and_side() -> None:
    t4, t11 = (marker_position(lesion("spine-thoracic", lv)) for lv in ("T4", "T11"))
    assert t4[0] == t11[0] == "back"
    assert t4[2] < t11[2]
    assert marker_position(lesion("spine-lumbar", "L3"))[2] > t11[2]
    left = marker_position(lesion("femur-proximal", side="left"))
    right = marker_position(lesion("femur-proximal", side="right"))
    assert left[0] == right[0] == "front"
    assert left[1] > right[1]  # front view: the patient's left is on the reader's right
    assert (
        marker_position(lesion("scapula", side="left"))[1]
        < marker_position(lesion("scapula", side="right"))[1]
    )
    assert marker_position(lesion("unknown"))[0] == "unknown"


def test_every_lesion_gets_one_focusable_labelled_marker() -> None:
    lesions = [lesion("rib"), lesion("rib"), lesion("unknown")]
    svg = body_map_svg(lesions)
    assert svg.count('class="marker"') == 3
    assert svg.count('tabindex="0"') == 3
    assert "Site not recorded" in svg


def test_handout_is_plain_and_keeps_every_warning_sign() -> None:
    view = view_of("rib-blastic-ecog1")
    assert view is not None
    content = handout_content(view)
    assert len(content.stop_signs) == 3  # the review line is not a warning sign
    words = " ".join([content.intro, *(a + " " + b for a, b in (*content.allowed, *content.avoid))])
    for jargon in ("SINS", "NRS", "RPE", "tier", "lesion", "ECOG", "1RM"):
        assert jargon not in words
    assert content.avoid
    assert all(why.count(".") == 1 for _, why in content.avoid)
    html = render_handout(view, pdf_href="/x.pdf")
    assert "Number to call" in html
    assert html.count("<td></td>") == 3 * 7 + 1  # three rows to fill in for each day, and the corner


def test_stop_signs_become_plain_words() -> None:
    assert plain_sign("A fall: stop and contact the team.") == "You have a fall."
    sign = plain_sign(
        "New or worse pain at a lesion (NRS rise of 2 or more lasting over 24 h): stop and call."
    )
    assert sign is not None
    assert "24 hours" in sign
    assert "NRS" not in sign
    assert plain_sign("Re-assess every 8 weeks, and on any new lesion.") is None


@pytest.mark.parametrize("paper", ["A4", "Letter"])
def test_the_pdf_handout_has_at_most_two_pages(paper: str) -> None:
    view = view_of("thoracic-spine-sins14")
    assert view is not None
    pdf = handout_pdf(view, paper)  # type: ignore[arg-type]
    assert pdf.startswith(b"%PDF")
    assert 1 <= pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages") <= 2


def test_patient_text_is_escaped_on_the_page() -> None:
    view = view_of("thoracic-spine-sins14")
    assert view is not None
    view["lesions"][0]["label"] = '<img src=x onerror="alert(1)">'
    view["used"][0]["value"] = "<script>alert(1)</script>"
    html = render_plan_page(view, handout_href="/h", pdf_href="/p")
    assert "<script>" not in html
    assert "<img" not in html
