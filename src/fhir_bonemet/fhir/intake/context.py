"""State shared by the fact extractors: terminology, the payload, the patient, and the issue list.

The extractors (``condition_facts``, ``observation_facts``, ``medication_fact``, ``extract_facts``) read one
resource type each; they all report problems the same way (location ``"Observation/abc.valueQuantity"``,
message without patient data) and apply the same patient check.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import orjson

from fhir_bonemet.core.model.facts import BodySite, NamedUnread, ReadIssue, UnreadableValue
from fhir_bonemet.fhir.intake.read import Item, ReadResult
from fhir_bonemet.fhir.intake.result_names import ResultNames
from fhir_bonemet.fhir.intake.sites import read_body_site
from fhir_bonemet.fhir.intake.values import JsonDict, as_list, clean_codeable, codeable_display, relative_ref
from fhir_bonemet.fhir.terminology.lookup import MedicationCodes, Terminology

_NO_CONCEPTS: frozenset[str] = frozenset()


@dataclass(slots=True)
class Extraction:
    terminology: Terminology
    payload: ReadResult
    patient_id: str | None  # None: accept every subject (offline tools reading files of many patients)
    # The day of the hook call, where the caller knows it: a date recorded after it (an abatement still to
    # come) cannot mean the thing has already happened.  None: offline tools, which take dates as given.
    today: date | None = None
    issues: list[ReadIssue] = field(default_factory=list)
    unreadable: list[UnreadableValue] = field(default_factory=list)  # results received but not usable
    # Results under a code not understood whose name says what they are (named on the cards, never read).
    named_unread: list[NamedUnread] = field(default_factory=list)
    _same_patient: dict[str, bool] = field(default_factory=dict)  # reference → names this patient
    # A record repeats the same codes hundreds of times (one lab code per result, one product per order):
    # terminology answers are pure functions of the codings.  The codes the profiles name are answered by
    # the terminology's own table; each distinct other one is looked up once per call, here.
    _concepts: dict[Hashable, frozenset[str]] = field(default_factory=dict)  # per (system, code)
    _medications: dict[Hashable, MedicationCodes] = field(default_factory=dict)
    # Years of follow-up repeat the same few body sites (one lesion imaged again and again): each distinct
    # bodySite is read once, keyed on its canonical JSON.
    _sites: dict[bytes, tuple[BodySite, bool]] = field(default_factory=dict)
    # Results name the same few resources over and over (the lesion in ``focus``): each reference is parsed
    # once.
    _references: dict[str, str | None] = field(default_factory=dict)  # as written → relative reference
    # Both readers of Observations (results, and records of a procedure) need each one's code and concepts.
    _observation_codes: dict[str, tuple[JsonDict | None, frozenset[str]]] = field(default_factory=dict)
    # A long record writes the same few result codes hundreds of times, nearly always as one coding and no
    # text: what such a code says (its concepts, and the words a clinician reads) is worked out once per
    # distinct (system, code, display).
    _single_codings: dict[tuple[object, object, object], tuple[frozenset[str], str | None]] = field(
        default_factory=dict
    )
    # The names of the concepts, built the first time a code is not understood (most requests: never).
    _result_names: ResultNames | None = None
    # ``terminology.known_codings``, read for every coding: held here, not asked of the property each time.
    _known: Mapping[tuple[object, object], frozenset[str]] = field(init=False)

    def __post_init__(self) -> None:
        self._known = self.terminology.known_codings

    def body_site(self, body_site: JsonDict) -> tuple[BodySite, bool]:
        """:func:`~fhir_bonemet.fhir.intake.sites.read_body_site`, each distinct bodySite read once."""
        try:
            key = orjson.dumps(body_site, option=orjson.OPT_SORT_KEYS)
        except TypeError:  # not plain JSON (cannot happen for a parsed body): read it, do not remember
            return read_body_site(body_site, self.terminology)
        found = self._sites.get(key)
        if found is None:
            found = self._sites[key] = read_body_site(body_site, self.terminology)
        return found

    def issue(self, item: Item, path: str, message: str) -> None:
        self.issues.append(ReadIssue(f"{item.ref}.{path}" if path else item.ref, message))

    def note(self, item: Item, path: str, message: str) -> None:
        """A read issue of severity information: the data was used, read in a way the sender should know."""
        location = f"{item.ref}.{path}" if path else item.ref
        self.issues.append(ReadIssue(location, message, severity="information"))

    def concepts_for(self, codeable: Mapping[str, Any] | None) -> frozenset[str]:
        """``terminology.concepts_for`` (the union over the codings), each (system, code) looked up once."""
        if not isinstance(codeable, dict):  # parsed JSON: an object is a dict (the ABC check costs more)
            return self.terminology.concepts_for(codeable)
        codings = codeable.get("coding")
        found = _NO_CONCEPTS
        if not isinstance(codings, list):
            return found
        known = self._known
        for coding in codings:
            if isinstance(coding, dict):
                key = (coding.get("system"), coding.get("code"))
                try:
                    concepts = known.get(key)  # the codes the profiles name: one lookup, no call
                except TypeError:  # a malformed (unhashable) system or code
                    concepts = None
                if concepts is None:
                    concepts = self._coding_concepts(key)
                found = found | concepts if found else concepts
        return found

    def _coding_concepts(self, key: tuple[Any, Any]) -> frozenset[str]:
        """A coding the profiles do not name (a code family member, an unknown code), looked up once."""
        try:
            concepts = self._concepts.get(key)
        except TypeError:  # a malformed (unhashable) system or code: look it up, do not remember
            return self.terminology.concepts_for_coding(*key)
        if concepts is None:
            concepts = self._concepts[key] = self.terminology.concepts_for_coding(*key)
        return concepts

    def observation_code(self, item: Item) -> tuple[JsonDict | None, frozenset[str]]:
        """An Observation's ``code`` if usable (:func:`clean_codeable`) and its concepts, read once per
        resource (keyed by reference: the payload holds one resource per reference)."""
        found = self._observation_codes.get(item.ref)
        if found is None:
            code = clean_codeable(item.data.get("code"))
            concepts = self.concepts_for(code) if code is not None else _NO_CONCEPTS
            found = self._observation_codes[item.ref] = (code, concepts)
        return found

    def observation_code_display(self, item: Item) -> tuple[JsonDict | None, frozenset[str], str | None]:
        """:meth:`observation_code`, and the code's :func:`codeable_display`."""
        found = self._observation_codes.get(item.ref)
        raw = item.data.get("code")
        if found is None and type(raw) is dict and "text" not in raw:
            codings = raw.get("coding")
            if type(codings) is list and len(codings) == 1 and type(coding := codings[0]) is dict:
                # One coding, a JSON object, and no text: the code is usable as it is (clean_codeable
                # keeps it), its concepts are its coding's, and its display is that coding's.
                key = (coding.get("system"), coding.get("code"), coding.get("display"))
                try:
                    known = self._single_codings.get(key)
                    if known is None:
                        known = self._single_codings[key] = (self.concepts_for(raw), codeable_display(raw))
                except TypeError:  # a malformed (unhashable) element: read, not remembered
                    known = (self.concepts_for(raw), codeable_display(raw))
                self._observation_codes[item.ref] = (raw, known[0])
                return raw, known[0], known[1]
        code, concepts = found if found is not None else self.observation_code(item)
        return code, concepts, codeable_display(code)

    def concepts_named(self, code: Mapping[str, Any]) -> tuple[frozenset[str], str | None]:
        """:meth:`~fhir_bonemet.fhir.intake.result_names.ResultNames.named`: the concepts a code's words
        name (for a code not understood), and the words that named them."""
        if self._result_names is None:
            self._result_names = ResultNames(self.terminology)
        return self._result_names.named(code)

    def classify_medication(self, codeable: Mapping[str, Any] | None) -> MedicationCodes:
        """``terminology.classify_medication``, remembered per distinct text and codings."""
        if not isinstance(codeable, Mapping):
            return self.terminology.classify_medication(codeable)
        codings = tuple((c.get("system"), c.get("code"), c.get("display")) for c in _codings(codeable))
        key = (codeable.get("text"), codings)
        try:
            return self._medications[key]
        except KeyError:
            codes = self._medications[key] = self.terminology.classify_medication(codeable)
            return codes
        except TypeError:  # a malformed (unhashable) element: classify it, do not remember
            return self.terminology.classify_medication(codeable)

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

    def focus(self, resource: JsonDict) -> tuple[str, ...]:
        """The literal references in ``resource.focus`` (what an Observation is about), in order."""
        focus = resource.get("focus")
        if focus is None:
            return ()
        found: list[str] = []
        for element in as_list(focus):
            raw = element.get("reference") if isinstance(element, dict) else None
            if not isinstance(raw, str):
                continue
            try:
                reference = self._references[raw]
            except KeyError:
                reference = relative_ref(raw)
                if reference is not None and reference.startswith("urn:"):
                    # "urn:uuid:…" names a Bundle entry by its fullUrl: the resource's own ref is what the
                    # lesions are matched by (a SINS whose focus was a urn:uuid matched no lesion).
                    reference = self.payload.ref_for(reference) or reference
                self._references[raw] = reference
            if reference is not None:
                found.append(reference)
        return tuple(found)

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


def _codings(codeable: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    # The codings the terminology reads (the same filter as ``Terminology``): JSON objects in a list.
    codings = codeable.get("coding")
    return [c for c in codings if isinstance(c, Mapping)] if isinstance(codings, list) else []
