"""The rule catalogue as the engine runs it: complete whoever imports it, each rule evaluated once,
supersession and merging applied from the declarations."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest
from builders import TODAY, condition, lesion, med, obs, patient
from pain_support import TH, oxycodone

from fhir_bonemet.core import engine
from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model import rule as declaration
from fhir_bonemet.core.model.catalogue import Family, RuleSpec, validate_catalogue
from fhir_bonemet.core.model.context import RuleContext
from fhir_bonemet.core.model.facts import SiteClass
from fhir_bonemet.core.model.finding_builder import Trace
from fhir_bonemet.core.model.findings import Category, Finding, Tier
from fhir_bonemet.core.model.rule import Rule
from fhir_bonemet.core.rulebook import CATALOGUE, rules
from fhir_bonemet.errors import KnowledgeError
from fhir_bonemet.knowledge import load_sources, load_thresholds


def test_importing_only_the_model_gives_the_whole_catalogue() -> None:
    """Registration does not depend on which rule modules someone happened to import first."""
    code = (
        "import json, sys; from fhir_bonemet.core.rulebook import catalogue; "
        "ids = list(catalogue()); "
        "print(json.dumps([ids, sorted(m for m in sys.modules if m.startswith('fhir_bonemet.core.'))]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    ids, modules = json.loads(out)
    assert ids == list(CATALOGUE)
    # Every module that declares a rule here was loaded by that one import.
    assert {r.module for r in rules()} <= set(modules)


def test_every_family_has_rules_and_runs_in_family_then_number_order() -> None:
    for family in Family:
        assert rules(family), family
    order = [spec.order for spec in CATALOGUE.values()]
    assert order == sorted(order)
    assert [s.family for s in CATALOGUE.values()] == sorted(
        (s.family for s in CATALOGUE.values()), key=list(Family).index
    )


def test_the_catalogue_is_valid_against_the_knowledge_files() -> None:
    assert validate_catalogue(c.ALL_CONCEPTS, TH, load_sources(), CATALOGUE) == []


def test_a_superseded_rule_must_run_after_its_keeper() -> None:
    bad = RuleSpec("P99", "x", Category.PAIN, frozenset(), frozenset(), (), supersedes=("R01", "P98"))
    problems = validate_catalogue(c.ALL_CONCEPTS, TH, load_sources(), {"P99": bad}, all_rules=CATALOGUE)
    assert problems == [
        "rule P99: supersedes R01, which runs before it",
        "rule P99: supersedes or absorbs unknown rule 'P98'",
    ]


def test_declaring_a_rule_id_twice_fails_at_import() -> None:
    with pytest.raises(ValueError, match="declared twice"):
        declaration.rule("P01", "again", Category.PAIN)(lambda ctx, t: None)


def _triple_cns_on_a_femur() -> object:
    gabapentin = med(c.GABAPENTINOID, ingredients=["gabapentin"])
    lorazepam = med(c.BENZODIAZEPINE, ingredients=["lorazepam"])
    return patient(lesions=[lesion(SiteClass.FEMUR)], medications=[oxycodone(), gabapentin, lorazepam])


def test_every_rule_is_evaluated_at_most_once_per_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """A critical medication red flag (R09) holds exercise without running exercise or pain again."""
    calls: dict[str, int] = {}

    def counted(entry: Rule) -> Rule:
        def fn(ctx: RuleContext, t: Trace) -> Finding | tuple[Finding, ...] | None:
            calls[entry.spec.id] = calls.get(entry.spec.id, 0) + 1
            result = entry.fn(ctx, t)
            return result if result is None or isinstance(result, Finding) else tuple(result)

        return Rule(entry.spec, fn)

    monkeypatch.setattr(declaration, "_RULES", {rid: counted(r) for rid, r in declaration._RULES.items()})
    assessment = engine.assess(_triple_cns_on_a_femur(), TODAY, TH)  # type: ignore[arg-type]
    # R09 fired: the pair rules it supersedes were not evaluated at all.
    assert set(calls) == set(CATALOGUE) - {"P13", "P14"}
    assert set(calls.values()) == {1}
    assert assessment.exercise is not None
    assert assessment.exercise.tier is Tier.HOLD
    assert assessment.exercise.on_hold_reason == "opioid, benzodiazepine and gabapentinoid together (R09)"


def test_supersession_is_applied_by_the_runner() -> None:
    ids = {f.rule_id: f for f in engine.assess(_triple_cns_on_a_femur(), TODAY, TH).findings}  # type: ignore[arg-type]
    assert ids["R09"].related_rules == ("P14", "P13")
    assert not {"P13", "P14"} & set(ids)


def test_cord_compression_names_the_spinal_pain_pattern_instead_of_a_second_card() -> None:
    facts = patient(
        lesions=[lesion(SiteClass.SPINE_THORACIC)],
        conditions=[condition(c.CORD_COMPRESSION, onset_days_ago=2)],
        observations=[obs(c.RF_THORACIC_CERVICAL_PAIN, flag=True, days_ago=1)],
    )
    findings = engine.assess(facts, TODAY, TH).findings
    r01 = next(f for f in findings if f.rule_id == "R01")
    assert r01.related_rules == ("R02",)
    assert "R02" not in {f.rule_id for f in findings}


def test_titles_come_from_the_declaration() -> None:
    for finding in engine.assess(_triple_cns_on_a_femur(), TODAY, TH).findings:  # type: ignore[arg-type]
        assert finding.title == CATALOGUE[finding.rule_id].title


def test_a_renal_band_edge_in_another_unit_stops_start_up(tmp_path: Path) -> None:
    # An eGFR is compared with the clearance edges as is: an edge in mL/s would be compared wrongly.  The
    # service refuses to start, naming the file and key, rather than fail when a card first quotes it.
    shipped = (
        resources.files("fhir_bonemet.knowledge").joinpath("thresholds.toml").read_text(encoding="utf-8")
    )
    start = shipped.index("[pain.za_crcl_min]")
    end = shipped.index("\n[", start + 1)
    edited = shipped[:start] + shipped[start:end].replace('unit = "mL/min"', 'unit = "mL/s"') + shipped[end:]
    assert edited != shipped
    path = tmp_path / "thresholds.toml"
    path.write_text(edited, encoding="utf-8")
    with pytest.raises(KnowledgeError, match=r"pain\.za_crcl_min.*mL/min"):
        load_thresholds(path)
