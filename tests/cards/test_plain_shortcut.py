"""Bedside text and its shortcuts: a text in which none of the passes that remove internal
vocabulary can match is given back as it is, and a pass whose hint a text lacks is skipped, exactly as
running every pass would give it."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from fhir_bonemet.cards.detail import (
    _ELEMENT_WORDS,
    _FHIR_HINT,
    _FHIR_NAMES,
    _INTERNAL,
    plain,
    readable_units,
)

# Texts made of the pieces the passes look for, so that near-misses ("R0", "(Medication", "[D") come up.
_PIECES = st.sampled_from(
    [
        "R04", "P02", "EX01", "S25", "S25a", "R1", "(", ")", ";", ",", ".", ":", " ", "  ", "\t", "\xa0",
        "§", "§ 2.2", "§2.2-3", "[D]", "\\[M\\]", "[D", "(MedicationRequest)", "(Medication",
        "(service default)", "latestNRS", "NRS", "see ", "with ", "red flag ", "10*9/L", "mg/d", "{score}",
        "7", "x", "T9", "/", "Patient/bm-1", "MedicationRequest/a", ".birthDate", ".dosageInstruction[0]",
        "IU/L", "Hb/Hct", "timing.repeat.frequency", "a Dosage", "a list of Dosage", ".maxDosePerPeriod",
        "birthDate", "gender",
    ]
)  # fmt: skip


def _every_pass(text: str) -> str:
    text = readable_units(" ".join(text.split()))
    for internal in _INTERNAL:
        text = internal.pattern.sub(internal.replacement, text)
    return text.strip()


@settings(max_examples=1000)
@given(st.lists(_PIECES, max_size=10).map("".join) | st.text(max_size=40))
def test_the_shortcut_gives_what_every_pass_gives(text: str) -> None:
    assert plain.__wrapped__(text) == _every_pass(text)  # the function itself, not its cache


def test_internal_vocabulary_is_removed() -> None:
    assert plain("Above 3000 mg/d (S25).") == "Above 3000 mg/day."
    assert plain("fracture (R04): hold") == "fracture: hold"
    assert plain("active (MedicationRequest)") == "active"
    assert plain("Moderate pain (NRS 6)") == "Moderate pain (NRS 6)"  # nothing to change


def test_record_references_are_named_in_clinical_words() -> None:
    """A read issue's location ("Patient/bm-1.deceasedDateTime") reached the card as it was: an id that
    means nothing at the bedside, and may lead to the patient.  The card names the kind of record and the
    element; the response's read issues keep the location."""
    assert (
        plain("Patient/bm-thoracic-1.deceasedDateTime: not a date; not used")
        == "patient record (date of death): not a date; not used"
    )
    assert plain("MedicationRequest/apap.dosageInstruction[0].timing: x") == "medication order (dosage): x"
    assert plain("the same drug as MedicationStatement/s-2") == "the same drug as medication statement"
    assert plain("Observation/ca-S12.referenceRange: x") == "observation (reference range): x"
    # Units and word pairs are not references.
    assert (
        plain("Calcium 2.9 mmol/L; ALP 300 IU/L; Hb/Hct low")
        == "Calcium 2.9 mmol/L; ALP 300 IU/L; Hb/Hct low"
    )


def test_fhir_names_in_a_read_issue_are_said_in_clinical_words() -> None:
    """A read issue's message names FHIR elements and datatypes; the card says them as a clinician would
    (the response's read issues keep them exact).  Prose is left alone."""
    assert (
        plain("MedicationRequest/a.dosageInstruction[0]: timing.repeat.frequency is not a positive number")
        == "medication order (dosage): dose frequency is not a positive number"
    )
    assert plain("not a list of Dosage; not used") == "not a list of dosage instructions; not used"
    assert plain("maxDosePerPeriod not understood") == "maximum dose per period not understood"
    assert plain("gender and a Dosageform") == "gender and a Dosageform"  # whole FHIR names only


def test_every_fhir_name_holds_the_hint_that_lets_plain_look_for_it() -> None:
    names = [name for name in _ELEMENT_WORDS if _FHIR_NAMES.fullmatch(name)]
    assert "timing.repeat.frequency" in names
    assert all(_FHIR_HINT.search(name) for name in names)


def test_a_reference_whose_id_starts_with_a_dot_or_dash_is_not_skipped() -> None:
    """A FHIR id may start with "." or "-": the shortcut once looked only for a letter or digit after the
    "/", so "(Medication/." kept its reference where every pass removes it (found by the property test)."""
    for text in ("(Medication/.", "Observation/-a1 not read"):
        assert plain.__wrapped__(text) == _every_pass(text)
