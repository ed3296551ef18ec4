"""The exercise and red-flag rules are registered consistently with the knowledge files."""

from __future__ import annotations

from fhir_bonemet.core.model.catalogue import Family, validate_catalogue
from fhir_bonemet.core.model.concepts import ALL_CONCEPTS
from fhir_bonemet.core.rulebook import CATALOGUE
from fhir_bonemet.knowledge import load_sources, load_thresholds

MINE = tuple(rid for rid, spec in CATALOGUE.items() if spec.family in (Family.EXERCISE, Family.RED_FLAGS))


def test_every_rule_is_registered_and_valid() -> None:
    assert set(MINE) <= set(CATALOGUE)
    mine = {rule_id: CATALOGUE[rule_id] for rule_id in MINE}
    assert (
        validate_catalogue(ALL_CONCEPTS, load_thresholds(), load_sources(), mine, all_rules=CATALOGUE) == []
    )


def test_every_exercise_and_red_flag_threshold_is_used_by_a_rule() -> None:
    """A value in the reviewed file that no rule declares would be reviewed for nothing (or drift)."""
    declared = {key for rule_id in MINE for key in CATALOGUE[rule_id].thresholds}
    own = {key for key in load_thresholds() if key.startswith(("exercise.", "red_flags."))}
    assert own - declared == set()


def test_every_threshold_says_where_it_comes_from() -> None:
    for key, threshold in load_thresholds().items():
        if key.startswith(("exercise.", "red_flags.")):
            assert threshold.unit, key
            assert threshold.basis in ("evidence", "service-default", "unverified"), key
            assert (threshold.basis == "evidence") is (threshold.source is not None), key
