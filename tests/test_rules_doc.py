"""docs/rules.md is the rule catalogue as the service loads it; it must never drift from the code."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from fhir_bonemet.cli.main import main
from fhir_bonemet.cli.rules import catalogue_rows, render_markdown
from fhir_bonemet.core.rulebook import CATALOGUE

DOC = Path(__file__).resolve().parents[1] / "docs" / "rules.md"


def test_docs_rules_md_matches_the_catalogue() -> None:
    assert DOC.read_text(encoding="utf-8") == render_markdown(catalogue_rows()), (
        "regenerate with: fhir-bonemet rules --markdown > docs/rules.md"
    )


def test_every_rule_the_clinical_model_describes_is_in_the_catalogue() -> None:
    """docs/clinical-model.md explains the reasoning with rule ids; each must name a rule that exists."""
    text = (DOC.parent / "clinical-model.md").read_text(encoding="utf-8")
    cited = set(re.findall(r"\b(?:R|P|EX)\d{2}\b", text))
    assert cited, "the clinical model cites rule ids"
    assert cited - CATALOGUE.keys() == set()
    # The families the engine runs are all described.
    assert {r[:2].rstrip("0123456789") for r in CATALOGUE} <= {r[:2].rstrip("0123456789") for r in cited}


def test_the_clinical_model_cites_the_declared_evidence_of_each_rule_it_tabulates() -> None:
    text = (DOC.parent / "clinical-model.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| ((?:R|P)\d{2}) \|.*\| ([^|]*) \|$", text, flags=re.MULTILINE)
    assert len(rows) >= 20
    for rule_id, cell in rows:
        declared = CATALOGUE[rule_id].evidence
        if declared:
            assert set(re.findall(r"S\d+[ab]?", cell)) == set(declared), rule_id


def test_every_clinical_model_anchor_cited_in_the_code_resolves() -> None:
    text = (DOC.parent / "clinical-model.md").read_text(encoding="utf-8")
    anchors = {
        re.sub(r"[^a-z0-9 -]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in text.splitlines()
        if line.startswith("#")
    }
    src = DOC.parents[1] / "src" / "fhir_bonemet"
    cited = {
        (path.name, anchor)
        for path in src.rglob("*.py")
        for anchor in re.findall(r"clinical-model\.md#([a-z0-9-]+)", path.read_text(encoding="utf-8"))
    }
    assert cited
    assert {(name, anchor) for name, anchor in cited if anchor not in anchors} == set()


def test_rules_command_lists_evidence_and_review_status(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "--json"]) == 0
    rows = {row["id"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["R04"]["evidence"]
    assert not rows["R04"]["awaiting_review"]
    assert rows["P24"]["awaiting_review"]
    assert all(t["basis"] in {"evidence", "service-default", "unverified"} for t in rows["P16"]["thresholds"])


def test_the_readme_names_the_rule_id_ranges_of_the_catalogue() -> None:
    """README.md's "Clinical knowledge" gives the rule ids as ranges (`R01`–`R10`, …): together they are
    exactly the catalogue, so a new rule family or a rule beyond a range shows here."""
    readme = (DOC.parents[1] / "README.md").read_text(encoding="utf-8")
    (line,) = [chunk for chunk in readme.split("\n- ") if chunk.startswith("Rules: ")]
    named: set[str] = set()
    for prefix, first, last in re.findall(r"`([A-Z]+)(\d{2})`–`[A-Z]+(\d{2})`", line):
        named |= {f"{prefix}{n:02d}" for n in range(int(first), int(last) + 1)}
    assert named == set(CATALOGUE)
