"""Every example, fixture and profile example of the repository conforms to its profiles: 0 errors.

"Its profiles" are the ones a resource claims in meta.profile plus the project profile its content calls
for (a bone-metastasis Condition, a SINS, Mirels or lesion-type Observation, ...), checked by the
independent Node validator and by the exact required-binding check.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from fhir_bonemet.conformance.check import ValidatedResource, read_subjects, validate_subjects
from fhir_bonemet.core.model.hooks import Hook
from fhir_bonemet.project_dirs import EXAMPLES, PROFILES, SOURCE_TREE

SD = "http://fhir-bonemet.org/fhir/StructureDefinition/"
NOT_FHIR = {"scenarios.json", "expected.json"}  # manifests of the example and vignette folders


def _files() -> list[Path]:
    examples = sorted(EXAMPLES.default.rglob("*.json"))
    # The golden answers are CDS Hooks responses, not FHIR data; what they propose is checked as emitted.
    fixtures = sorted(
        p
        for p in (SOURCE_TREE / "tests" / "data").rglob("*.json")
        if "golden" not in p.relative_to(SOURCE_TREE).parts
    )
    profiles = PROFILES.default
    terminology = [profiles / "CodeSystem-bonemet.json", *sorted((profiles / "valuesets").glob("*.json"))]
    generated = [
        p for p in sorted((profiles / "generated").glob("*.json")) if "StructureDefinition-" not in p.name
    ]
    return [p for p in examples + fixtures + terminology + generated if p.name not in NOT_FHIR]


FILES = _files()


@pytest.fixture(scope="module")
def results() -> dict[str, list[ValidatedResource]]:
    subjects = []
    for path in FILES:
        found, problems = read_subjects(path)
        assert not problems, (path, problems)
        # A hook request of the examples may carry no FHIR content (the service fetches it).
        assert found or path.stem in {h.value for h in Hook}, f"{path} holds no resource"
        subjects += found
    by_file: dict[str, list[ValidatedResource]] = {str(p): [] for p in FILES}
    for result in validate_subjects(subjects):
        by_file[result.subject.source].append(result)
    return by_file


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(SOURCE_TREE)))
def test_file_has_no_validation_errors(results: dict[str, list[ValidatedResource]], path: Path) -> None:
    errors = [
        f"{r.label} {i.location}: {i.message} ({i.profile or 'base'})"
        for r in results[str(path)]
        for i in r.errors
    ]
    assert errors == []


def test_the_project_profiles_were_applied_not_just_the_base_definitions(
    results: dict[str, list[ValidatedResource]],
) -> None:
    used = Counter(p for rs in results.values() for r in rs for p in r.profiles if p and p.startswith(SD))
    names = {p.removeprefix(SD) for p in used}
    assert names >= {
        "bonemet-bone-metastasis-condition",
        "bonemet-sins",
        "bonemet-mirels",
        "bonemet-lesion-type",
        "bonemet-exercise-careplan",
        "bonemet-referral-servicerequest",
        "bonemet-suggested-medicationrequest",
        "bonemet-annotated-draft-medicationrequest",
        "bonemet-valueset",
        "bonemet-codesystem",
        "bonemet-local-code-conceptmap",
    }
    # Every example patient's bone metastasis was checked, and every concept ValueSet (plus the example).
    assert used[SD + "bonemet-bone-metastasis-condition"] >= 8
    assert used[SD + "bonemet-valueset"] > len(list((PROFILES.default / "valuesets").glob("*.json")))


def test_draft_orders_of_requests_and_vignettes_are_checked(
    results: dict[str, list[ValidatedResource]],
) -> None:
    roots = [r.subject.root for rs in results.values() for r in rs]
    assert sum(root.startswith("context.draftOrders") for root in roots) >= 5  # examples' order hooks
    assert sum(root.startswith("draftOrders") for root in roots) >= 3  # pain vignettes


def test_a_fixture_without_a_body_site_is_warned_about_not_rejected(
    results: dict[str, list[ValidatedResource]],
) -> None:
    path = str(SOURCE_TREE / "tests" / "data" / "vignettes" / "exercise" / "v21_site_unknown.json")
    (condition,) = [r for r in results[path] if r.subject.resource["resourceType"] == "Condition"]
    assert condition.errors == []
    assert [(i.severity, i.location) for i in condition.issues] == [("warning", "Bundle.entry[1].resource")]
    assert "bonemet-site-known" in condition.issues[0].message
