"""Every file of the official FHIR R4 examples and the mCODE examples goes through the reader.

The packages are pinned in ``tests/corpus/package.json`` and installed with ``npm ci --prefix tests/corpus``
(``make node-deps``).  Data nobody on this project wrote is the honest test of a tolerant reader.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.facts import PatientFacts
from fhir_bonemet.fhir.intake.patient_facts import extract_facts
from fhir_bonemet.fhir.intake.read import ReadResult, read_values
from fhir_bonemet.fhir.terminology.lookup import Terminology

pytestmark = pytest.mark.corpus

MODULES = Path(__file__).parent / "node_modules"
R4_EXAMPLES = MODULES / "hl7.fhir.r4.examples"
MCODE = MODULES / "hl7.fhir.us.mcode"
BRAIN_METS_PATIENT = "cancer-patient-john-anyperson"


@cache
def _terminology() -> Terminology:
    return Terminology.load()


def _package(root: Path) -> list[Path]:
    if not (root / "package.json").is_file():
        pytest.fail(f"{root.name} is not installed: run `make node-deps` (or `npm ci --prefix tests/corpus`)")
    return sorted(root.rglob("*.json"))


def _read(path: Path) -> tuple[ReadResult, PatientFacts]:
    value = json.loads(path.read_bytes())
    result = read_values([(path.name, value)])
    return result, extract_facts(result, _terminology(), patient_id=None)


def _failures(files: list[Path]) -> Iterator[str]:
    for path in files:
        try:
            _read(path)
        except Exception:
            yield f"{path.relative_to(MODULES)}: {traceback.format_exc(limit=-3)}"


@pytest.mark.parametrize("package", [R4_EXAMPLES, MCODE], ids=["r4-examples", "mcode"])
def test_every_file_is_read_without_an_exception(package: Path) -> None:
    files = _package(package)
    assert len(files) > (5000 if package == R4_EXAMPLES else 170)
    failures = list(_failures(files))
    assert failures == [], f"{len(failures)} of {len(files)} files failed:\n" + "\n".join(failures[:20])


def _mcode_resources() -> list[dict[str, Any]]:
    resources = []
    for path in _package(MCODE):
        if path.parent.name == "example":
            value = json.loads(path.read_bytes())
            if isinstance(value, dict) and value.get("resourceType") != "Bundle":
                resources.append(value)
    return resources


def test_mcode_brain_metastasis_patient_has_no_bone_lesion() -> None:
    resources = _mcode_resources()
    result = read_values([("mcode-examples", resources)])
    facts = extract_facts(result, _terminology(), patient_id=BRAIN_METS_PATIENT)
    assert "Condition/secondary-cancer-condition-brain-mets" in {
        item.ref for item in result.items("Condition")
    }
    assert facts.lesions == ()
    # The record was really read for this patient: demographics and the patient's other facts are there.
    assert facts.birth_date is not None
    assert facts.observations or facts.conditions
    # Resources of the other six mCODE patients were recognised as someone else's and left out.
    assert any(issue.message.startswith("refers to a different patient") for issue in facts.issues)


def test_mcode_ecog_examples_are_read_as_scores() -> None:
    result = read_values([("mcode-examples", _mcode_resources())])
    facts = extract_facts(result, _terminology(), patient_id=None)
    ecog = [o for o in facts.observations if o.concept == c.ECOG]
    assert ecog
    assert all(o.quantity is not None and 0 <= o.quantity.value <= 5 for o in ecog)


def test_r4_analgesic_examples_are_classified() -> None:
    _package(R4_EXAMPLES)
    by_id = {}
    for name in ("medrx0333", "medrx0327", "medrx0308"):
        _, facts = _read(R4_EXAMPLES / f"MedicationRequest-{name}.json")
        [medication] = facts.medications
        by_id[name] = medication
    assert c.OPIOID in by_id["medrx0333"].classes  # contained Medication, SNOMED code with display
    assert by_id["medrx0333"].doses[0].route == "oral"
    assert "fentanyl" in by_id["medrx0327"].ingredients
    assert by_id["medrx0327"].doses[0].per_day == pytest.approx(3 / 7, rel=1e-4)  # three patches a week
    assert {"hydrocodone", "acetaminophen"} <= set(by_id["medrx0308"].ingredients)
