"""A result received under a code not understood, whose name named a concept (core.data_gaps): each line
saying that concept's result is missing becomes a line naming what was received, with what the rule
assumed without it; the advice itself is as without the result.  Outside the concept's lookback it no
longer stands for a current result, and the line says "missing" as before."""

from __future__ import annotations

from dataclasses import replace

from builders import TODAY, at, obs, patient

from fhir_bonemet.core.engine import assess
from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.facts import NamedUnread, PatientFacts
from fhir_bonemet.core.model.findings import MissingFact
from fhir_bonemet.knowledge import load_thresholds

TH = load_thresholds()


def _facts(*named: NamedUnread) -> PatientFacts:
    """A patient with a bone metastasis and an ECOG, no blood counts and no calcium."""
    return replace(patient(observations=[obs(c.ECOG, 1, days_ago=1)]), named_unread=named)


def _gaps(facts: PatientFacts) -> list[MissingFact]:
    return [m for f in assess(facts, TODAY, TH).findings for m in f.missing]


def _calcium(days_ago: float | None) -> NamedUnread:
    when = at(days_ago) if days_ago is not None else None
    return NamedUnread("Observation/ca", frozenset({c.LAB_CALCIUM}), "Calcium, serum", when)


def test_a_calcium_named_under_a_code_not_understood_replaces_the_missing_calcium() -> None:
    before = _gaps(_facts())
    assert [m for m in before if m.concept == c.LAB_CALCIUM], "the patient's cards say calcium is missing"
    after = _gaps(_facts(_calcium(3)))
    calcium = [m for m in after if m.concept == c.LAB_CALCIUM]
    assert calcium
    assert all(m.unreadable and m.ref == "Observation/ca" for m in calcium)
    assert all(m.what.startswith("Result named 'Calcium, serum' (code not understood, ") for m in calcium)
    # What the rule assumed without a calcium still holds, said after "value not read".
    assert any(m.consequence == "value not read; not assumed normal; verify it" for m in calcium)
    # Every other gap is as it was.
    assert [m for m in after if m.concept != c.LAB_CALCIUM] == [
        m for m in before if m.concept != c.LAB_CALCIUM
    ]


def test_an_undated_named_calcium_is_named_and_an_old_one_is_not() -> None:
    undated = [m for m in _gaps(_facts(_calcium(None))) if m.concept == c.LAB_CALCIUM]
    assert undated
    assert all(m.what == "Result named 'Calcium, serum' (code not understood)" for m in undated)
    old = TH.v("lookback.lab_days") + 5
    stale = [m for m in _gaps(_facts(_calcium(old))) if m.concept == c.LAB_CALCIUM]
    assert stale
    assert not any(m.unreadable for m in stale)


def test_a_result_named_as_another_concept_changes_no_line() -> None:
    albumin = NamedUnread("Observation/alb", frozenset({c.LAB_ALBUMIN}), "Albumin", at(1))
    assert _gaps(_facts(albumin)) == _gaps(_facts())
