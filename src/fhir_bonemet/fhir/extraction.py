"""State shared by the fact extractors: terminology, the payload, the patient, and the issue list.

The extractors (``condition_facts``, ``observation_facts``, ``medication_facts``, ``extract``) read one
resource type each; they all report problems the same way (location ``"Observation/abc.valueQuantity"``,
message without patient data) and apply the same patient check.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fhir_bonemet.core.facts import ReadIssue
from fhir_bonemet.fhir.read import Item, ReadResult
from fhir_bonemet.fhir.terminology import Terminology
from fhir_bonemet.fhir.values import JsonDict, clean_codeable, relative_ref


@dataclass(slots=True)
class Extraction:
    terminology: Terminology
    payload: ReadResult
    patient_id: str | None  # None: accept every subject (offline tools reading files of many patients)
    issues: list[ReadIssue] = field(default_factory=list)
    _same_patient: dict[str, bool] = field(default_factory=dict)  # reference → names this patient

    def issue(self, item: Item, path: str, message: str) -> None:
        self.issues.append(ReadIssue(f"{item.ref}.{path}" if path else item.ref, message))

    def codeable(self, item: Item, key: str) -> JsonDict | None:
        """``item.data[key]`` as a usable CodeableConcept; a present but malformed one is reported."""
        raw = item.data.get(key)
        if raw is None:
            return None
        value = clean_codeable(raw)
        if value is None:
            self.issue(item, key, "not a CodeableConcept; element ignored")
        elif value is not raw:
            self.issue(item, f"{key}.coding", "a coding is not a JSON object; that coding ignored")
        return value

    def codeables(self, item: Item, key: str) -> list[tuple[int, JsonDict]]:
        """``item.data[key]`` as (position, CodeableConcept) pairs; malformed elements reported, skipped."""
        raw = item.data.get(key)
        if raw is None:
            return []
        elements = raw if isinstance(raw, list) else [raw]
        kept: list[tuple[int, JsonDict]] = []
        for position, element in enumerate(elements):
            value = clean_codeable(element)
            if value is None:
                self.issue(item, f"{key}[{position}]", "not a CodeableConcept; element ignored")
            else:
                kept.append((position, value))
        return kept

    def belongs_to_patient(self, item: Item, key: str = "subject") -> bool:
        """False when the resource names a *different* patient; such a resource is reported and skipped.

        A resource naming no patient, or one through a reference that cannot be checked, is kept: the
        prefetch queries are already scoped to the patient.
        """
        if self.patient_id is None:
            return True
        subject = item.data.get(key)
        raw = subject.get("reference") if isinstance(subject, dict) else None
        if not isinstance(raw, str):
            return True
        same = self._same_patient.get(raw)
        if same is None:
            reference = relative_ref(raw)
            checkable = reference is not None and reference.startswith(("Patient/", "urn:"))
            same = self._names_patient(reference) if checkable and reference else True
            self._same_patient[raw] = same
        if not same:
            self.issue(item, key, "refers to a different patient; resource ignored")
        return same

    def _names_patient(self, reference: str) -> bool:
        if reference.startswith("urn:"):
            target = self.payload.resolve(reference)
            if target is None or target.get("resourceType") != "Patient" or not target.get("id"):
                return True
            return bool(target.get("id") == self.patient_id)
        return reference == f"Patient/{self.patient_id}"
