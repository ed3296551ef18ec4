"""Cost linear in the chart: absurd body-site lists are capped and reported, each fact attributed once.

Wall-clock limits would be flaky; the tests count the work instead: how many lesions the reasoning sees,
and how often a fact is matched against the lesions (``lesion_sites.attribute``), which was once per
lesion per fact (lesions x facts x lesions) before.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from reader_fixtures import BONE_MET_CODE, condition, facts_of, observation, quantity, site, terminology

from fhir_bonemet.core.evidence import lesions as lesion_evidence_module
from fhir_bonemet.core.evidence.lesion_sites import attribute
from fhir_bonemet.core.evidence.lesions import lesion_evidence
from fhir_bonemet.core.model.facts import BodySite, BoneLesion, SiteClass
from fhir_bonemet.fhir.intake.conditions import MAX_BODY_SITES
from fhir_bonemet.knowledge import load_thresholds

TODAY = date(2025, 3, 10)
BONES = (("421060004", "Spine"), ("113197003", "Rib"), ("816092008", "Pelvis"), ("71341001", "Femur"))


def _many_sites(count: int) -> dict[str, Any]:
    return condition(
        "met-many",
        BONE_MET_CODE,
        sites=[site(*BONES[i % len(BONES)], text=f"site {i}") for i in range(count)],
    )


def _observations(count: int) -> list[dict[str, Any]]:
    local = terminology().local_system
    found = []
    for i in range(count):
        if i % 2:
            found.append(
                observation(f"pain-{i}", "http://loinc.org", "72514-3", **quantity(4 + i % 5, "{score}"))
            )
        else:
            found.append(
                observation(
                    f"sins-{i}",
                    local,
                    "sins-total",
                    valueInteger=7 + i % 6,
                    bodySite=site(text=f"T{1 + i % 12}"),
                )
            )
    return found


def test_four_thousand_body_sites_are_capped_reported_and_the_rest_read_cautiously() -> None:
    facts = facts_of(_many_sites(4000))
    assert len(facts.lesions) == MAX_BODY_SITES + 1
    # What was not read stands as one lesion of unknown site: weight-bearing and axial for every rule.
    assert facts.lesions[-1].site == BodySite(site=SiteClass.UNKNOWN)
    issue = next(i for i in facts.issues if i.location == "Condition/met-many.bodySite")
    assert "4000 body sites" in issue.message
    assert f"first {MAX_BODY_SITES}" in issue.message


def test_up_to_the_cap_every_site_is_a_lesion_and_nothing_is_reported() -> None:
    facts = facts_of(_many_sites(MAX_BODY_SITES))
    assert len(facts.lesions) == MAX_BODY_SITES
    assert SiteClass.UNKNOWN not in {lesion.site.site for lesion in facts.lesions}
    assert not [i for i in facts.issues if i.location.endswith("bodySite")]


def _counted_attribution(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls = [0]

    def counting(*args: Any, **kwargs: Any) -> tuple[BoneLesion, ...]:
        calls[0] += 1
        return attribute(*args, **kwargs)

    monkeypatch.setattr(lesion_evidence_module, "attribute", counting)
    return calls


@pytest.mark.parametrize("sites", [5, 4000])
def test_each_observation_is_attributed_at_most_once_whatever_the_number_of_lesions(
    monkeypatch: pytest.MonkeyPatch, sites: int
) -> None:
    observations = _observations(60)
    facts = facts_of(_many_sites(sites), *observations)
    calls = _counted_attribution(monkeypatch)
    evidence = lesion_evidence(facts, TODAY, load_thresholds())
    assert len(evidence) == len(facts.lesions)
    # Distinct (focus, body site) combinations among the facts bound the matching work, not the lesions.
    assert 0 < calls[0] <= len(observations)
    sins = [ev.sins for ev in evidence if ev.sins is not None]
    assert sins, "the spinal lesions got their SINS"


def test_a_spine_score_still_reaches_every_spinal_lesion_it_may_describe() -> None:
    """The cached attribution answers as the direct one did: a SINS at T-unspecified is shared."""
    facts = facts_of(_many_sites(8), *_observations(2))
    evidence = {ev.lesion.index: ev for ev in lesion_evidence(facts, TODAY, load_thresholds())}
    spinal = [
        i
        for i, ev in evidence.items()
        if ev.lesion.site.site in {SiteClass.SPINE_THORACIC, SiteClass.SPINE_UNSPECIFIED}
    ]
    assert spinal
    for index in spinal:
        assert evidence[index].sins is not None
        assert evidence[index].sins.shared == (len(spinal) > 1)
