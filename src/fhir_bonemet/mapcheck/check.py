"""Which of an EHR's codes does the service understand?  (The ``fhir-bonemet map-check`` command is
:mod:`fhir_bonemet.cli.map_check`.)

Before go-live an integrator exports sample data (Bundles, NDJSON, CDS Hooks requests) and runs this check.
For every distinct (system, code) found in a Coding it reports: understood (which concepts, or which answer
a coded value in that code gives), mapped through which ConceptMap (a question code onto concepts, or a
hospital's answer code onto a project answer), a local project code, or unknown; how often and where (file
position and element path, never patient data).  For unknown codes at a place the rules read
(``Observation.code``, ``Condition.bodySite``, medication codes, ...) it names the rules that would have used
them and, from the coding's display, the concept it most likely meant.  For every understood or mapped
code it also says whether a prefetch template requests the records it sits on
(:mod:`~fhir_bonemet.mapcheck.fetching`): a mapped local code that no Observation search names would never
reach the rules.  It lists the ConceptMap
elements the service will not apply (a ``narrower``, ``specializes``, ``inexact`` or ``relatedto`` target;
an element with only ``disjoint`` targets or none; every element of a ``retired`` map), and names each map
in ``draft`` (applied), each retired map and each file that holds no ConceptMap.  The exit status is 1
when an input or ConceptMap could not be read, 2 when a required concept
(:data:`~fhir_bonemet.mapcheck.places.REQUIRED`) has no usable data, 3 when an understood or mapped code
would never be fetched, 4 when a ConceptMap element is not applied.

Inputs are read as a stream (NDJSON line by line), so a 100 MB bulk export is checked in bounded memory:
what is kept is one entry per distinct code.  On a terminal, progress is shown on stderr.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.catalogue import RuleSpec
from fhir_bonemet.core.model.concepts import ALL_CONCEPTS
from fhir_bonemet.core.rulebook import CATALOGUE
from fhir_bonemet.fhir.terminology.conceptmaps import Note, Skipped
from fhir_bonemet.fhir.terminology.lookup import Terminology
from fhir_bonemet.mapcheck import places
from fhir_bonemet.mapcheck.fetching import FetchCoverage
from fhir_bonemet.mapcheck.inputs import InputProblem, Located, iter_inputs
from fhir_bonemet.mapcheck.progress import Progress

MAX_EXAMPLES: Final = 3
INPUT_EXIT: Final = 1  # an input file or a ConceptMap could not be read: the report is incomplete
REQUIRED_EXIT: Final = 2  # a required concept has no usable data in the files
UNFETCHED_EXIT: Final = 3  # an understood or mapped code sits on records no prefetch template requests
NOT_APPLIED_EXIT: Final = 4  # a ConceptMap element or target is not applied (or maps nothing)
_INDEX = re.compile(r"\[\d+\]")
_WORD = re.compile(r"[a-z0-9]+")
_STOP: Final = frozenset({"the", "and", "for", "with", "without", "in", "of", "or", "by", "per", "to", "on"})


@dataclass(slots=True)
class CodeReport:
    system: str
    code: str
    display: str | None
    status: str  # "understood" | "mapped" | "local" | "unknown"
    concepts: tuple[str, ...] = ()
    answers: tuple[str, ...] = ()  # what the code says as a coded value ("lesion-type: lytic", "yes")
    mapped_via: str | None = None
    unverified: bool = False
    family: str | None = None
    count: int = 0
    places: set[str] = field(default_factory=set)
    examples: list[str] = field(default_factory=list)
    rules: tuple[str, ...] = ()  # understood: rules reading its concepts; unknown: rules that would have
    likely: tuple[str, ...] = ()  # unknown at a rule-relevant place: concepts its display resembles
    fetched: bool | None = None  # understood/mapped: whether a prefetch template requests its records
    fetched_by: tuple[str, ...] = ()  # the prefetch keys that do

    @property
    def relevant(self) -> bool:
        return any(p in places.PLACES for p in self.places)


@dataclass(frozen=True, slots=True)
class Coverage:
    concepts: tuple[str, ...]  # any one of them will do
    required: bool
    present: bool


@dataclass(slots=True)
class MapCheckReport:
    files: list[str]
    resources: int = 0
    codings: int = 0
    codes: list[CodeReport] = field(default_factory=list)
    coverage: list[Coverage] = field(default_factory=list)
    problems: list[InputProblem] = field(default_factory=list)
    not_applied: list[Skipped] = field(default_factory=list)  # ConceptMap elements the service ignores
    # Whole maps or files: a draft map (applied), a retired one (its elements are in not_applied), a file
    # holding no ConceptMap.  Named, never an exit status of their own.
    conceptmap_notes: list[Note] = field(default_factory=list)

    @property
    def unfetched(self) -> list[CodeReport]:
        """Understood or mapped codes whose records no prefetch template would ever request."""
        return [e for e in self.codes if e.status in ("understood", "mapped") and e.fetched is False]

    @property
    def exit_code(self) -> int:
        if self.problems:
            return INPUT_EXIT
        if any(cov.required and not cov.present for cov in self.coverage):
            return REQUIRED_EXIT
        if self.unfetched:
            return UNFETCHED_EXIT
        return NOT_APPLIED_EXIT if self.not_applied else 0


def _codings(value: Any, path: str, where: str) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """(normalised path, indexed path, Coding) for every Coding under ``value``."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("contained", "meta", "text") and path.count(".") == 0:
                continue  # contained resources are checked on their own; meta and narrative carry no codes
            if key == "coding" and isinstance(item, list):
                for i, coding in enumerate(item):
                    if isinstance(coding, dict):
                        yield f"{path}.coding", f"{where}.coding[{i}]", coding
            elif key == "valueCoding" and isinstance(item, dict):
                yield f"{path}.valueCoding", f"{where}.valueCoding", item
            else:
                yield from _codings(item, f"{path}.{key}", f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _codings(item, path, f"{where}[{i}]")


def _is_real(resource: Mapping[str, Any]) -> bool:
    status = resource.get("status")
    if isinstance(status, str) and status in places.NOT_REAL_STATUS.get(
        str(resource.get("resourceType")), ()
    ):
        return False
    verification = resource.get("verificationStatus")
    codings = verification.get("coding") if isinstance(verification, dict) else None
    codes = [x.get("code") for x in codings if isinstance(x, dict)] if isinstance(codings, list) else []
    return not any(isinstance(code, str) and code in places.NOT_REAL_VERIFICATION for code in codes)


class MapChecker:
    def __init__(
        self,
        terminology: Terminology,
        catalogue: Mapping[str, RuleSpec],
        fetching: FetchCoverage | None = None,
    ) -> None:
        self.terminology = terminology
        self.catalogue = catalogue
        self.fetching = fetching
        # Word sets of each concept's title and code displays, for guessing what an unknown code meant.
        self._texts = {
            cid: [ws for ws in (frozenset(_words(t)) for t in terminology.displays(cid)) if ws]
            for cid in terminology.concept_ids
        }

    def check(self, located: Iterable[Located], report: MapCheckReport) -> MapCheckReport:
        found: dict[tuple[str, str], CodeReport] = {}
        present: set[str] = set()
        for item in located:
            report.resources += 1
            resource_concepts: dict[str, set[str]] = {}
            kind = str(item.resource.get("resourceType"))
            for path, indexed, coding in _codings(item.resource, kind, kind):
                report.codings += 1
                entry = self._entry(found, coding)
                entry.count += 1
                entry.places.add(path)
                if len(entry.examples) < MAX_EXAMPLES:
                    entry.examples.append(f"{item.location}: {indexed}")
                if path in places.PLACES:
                    resource_concepts.setdefault(path, set()).update(entry.concepts)
            if _is_real(item.resource):
                present |= self._usable(kind, resource_concepts)
        for entry in found.values():
            self._explain_rules(entry)
            if self.fetching is not None and entry.status in ("understood", "mapped"):
                verdict = self.fetching.verdict(entry.system, entry.code, entry.places, entry.concepts)
                entry.fetched, entry.fetched_by = verdict.fetched, verdict.keys
        report.codes = sorted(
            found.values(), key=lambda e: (e.status != "unknown", not e.relevant, e.system, e.code)
        )
        groups = [(g, True) for g in places.REQUIRED] + [(g, False) for g in places.RECOMMENDED]
        report.coverage = [Coverage(g, req, bool(present & set(g))) for g, req in groups]
        return report

    def _entry(self, found: dict[tuple[str, str], CodeReport], coding: Mapping[str, Any]) -> CodeReport:
        system, code = coding.get("system"), coding.get("code")
        key = (system if isinstance(system, str) else "", code if isinstance(code, str) else "")
        entry = found.get(key)
        if entry is None:
            verdict = self.terminology.explain(*key)
            if verdict.understood:
                status = "understood" if verdict.direct else "mapped"
            elif verdict.answer_mapped:
                status = "mapped"  # a hospital's answer code (a coded value) mapped onto a project answer
            elif self.terminology.is_local_code(*key):
                status = "local"
            elif not verdict.unknown:
                # A medication the tables know, a route-dependent class, or a project answer code.
                status = "understood"
            else:
                status = "unknown"
            display = coding.get("display")
            entry = CodeReport(
                system=verdict.system or key[0],
                code=key[1],
                display=display[:80] if isinstance(display, str) else None,
                status=status,
                concepts=tuple(sorted(verdict.understood | verdict.conditional)),
                answers=tuple(sorted(verdict.answer)),
                mapped_via=verdict.mapped_via,
                unverified=verdict.unverified,
                family=verdict.family,
            )
            found[key] = entry
        return entry

    def _usable(self, kind: str, found: dict[str, set[str]]) -> set[str]:
        usable = {cid for concepts in found.values() for cid in concepts}
        # mCODE pattern: a secondary malignancy whose bodySite is a bone is a bone metastasis.
        site = found.get(f"{kind}.bodySite.coding", set()) - {c.LATERALITY, c.QUALIFIER_PROXIMAL}
        if (
            kind == "Condition"
            and c.SECONDARY_MALIGNANCY in found.get("Condition.code.coding", set())
            and site
        ):
            usable.add(c.BONE_METASTASIS)
        return usable

    def _explain_rules(self, entry: CodeReport) -> None:
        if entry.concepts:
            entry.rules = self._rules_for(frozenset(entry.concepts))
            return
        # An answer ("lesion-type: lytic") is read by the rules that read its question's concept; a bare
        # yes or no answers whichever finding it is the value of.
        answered = frozenset(a.partition(": ")[0] for a in entry.answers if ": " in a)
        if answered:
            entry.rules = self._rules_for(answered)
            return
        kinds = {places.PLACES[p] for p in entry.places if p in places.PLACES}
        if entry.status != "unknown" or not kinds:
            return
        pool = frozenset().union(
            *(places.candidates(k, ALL_CONCEPTS, self.terminology.medication_concepts) for k in kinds)
        )
        entry.likely = self._guess(entry.display, pool)
        if places.SITE in kinds:
            pool = pool | places.SITE_CARRIERS
        entry.rules = self._rules_for(frozenset(entry.likely) or pool)

    def _rules_for(self, concepts: frozenset[str]) -> tuple[str, ...]:
        wanted = concepts | (places.SITE_CARRIERS if concepts & places.SITES else frozenset())
        # The red flags declared on_loading_orders speak at order entry because a draft may load the bone
        # (the engine shows them); they read no order code themselves, so their declaration says so.
        loading = c.BONE_LOADING_ORDER in wanted
        return tuple(
            sorted(
                rid
                for rid, spec in self.catalogue.items()
                if spec.concepts & wanted or (loading and spec.on_loading_orders)
            )
        )

    def _guess(self, display: str | None, pool: frozenset[str]) -> tuple[str, ...]:
        words = frozenset(_words(display or ""))
        if not words:
            return ()
        scores = {
            cid: max((_resemblance(words, text) for text in self._texts.get(cid, ())), default=_NO_MATCH)
            for cid in pool
        }
        best = max(scores.values(), default=_NO_MATCH)
        return tuple(sorted(cid for cid, s in scores.items() if s == best)) if best[2] > 0 else ()


# Words that make a concept a variant of a plainer one: "Ionised calcium", "Calcium corrected for albumin"
# (spelled as _words() spells them).
_QUALIFIERS: Final = frozenset({"ionised", "corrected"})
_NO_MATCH: Final = (False, False, 0.0, 0.0)


def _resemblance(words: frozenset[str], text: frozenset[str]) -> tuple[bool, bool, float, float]:
    """How well one concept display (``text``) matches a coding's display (``words``), best first.

    Exact words first; then a display that names no qualifier the coding's display lacks, so "Calcium"
    never suggests ionised calcium (its bands would be read against a total calcium); then the share of the
    coding's words the display explains; then the share of the display's words found ("Femur" matches
    the display "Femur" fully, the title "Lower limb bones other than femur" only by one word in six).
    """
    shared = len(words & text)
    if not shared:
        return _NO_MATCH
    return (words == text, not (text - words) & _QUALIFIERS, shared / len(words), shared / len(text))


# Spellings of one word, so a display in either matches: "ionized" calcium is "ionised", "adjusted" is
# "corrected", and the abbreviations laboratories print are the words the concepts' displays spell out
# ("eGFR" is the "Estimated GFR" of "Glomerular filtration rate", "Vit D" and "Vitamin D" the
# "25-hydroxyvitamin D").  Applied to both sides, so either spelling meets the other.
_SYNONYMS: Final[dict[str, tuple[str, ...]]] = {
    "ionized": ("ionised",),
    "adjusted": ("corrected",),
    "hemoglobin": ("haemoglobin",),
    "hgb": ("haemoglobin",),
    "hb": ("haemoglobin",),
    "plt": ("platelet",),
    "anc": ("neutrophil",),
    "hydroxyvitamin": ("vitamin",),
    "vit": ("vitamin",),
    "gfr": ("glomerular", "filtration", "rate"),
    "egfr": ("estimated", "glomerular", "filtration", "rate"),
    "crcl": ("creatinine", "clearance"),
}


def _words(text: str) -> Iterator[str]:
    """Lower-case words without stop words; a plural "s" is dropped so "platelets" meets "platelet"."""
    for found in _WORD.findall(text.lower()):
        if len(found) > 1 and found not in _STOP:
            for word in _SYNONYMS.get(found, (found,)):
                yield word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def published_templates(
    terminology: Terminology, services_dir: Path | None = None, *, panel_searches: bool = False
) -> dict[str, str]:
    """Every prefetch template discovery would publish with this terminology (all services together), with
    the panel searches when the service runs with ``BONEMET_PANEL_SEARCHES=true`` (``panel_searches``)."""
    from fhir_bonemet.cds.prefetch_templates import observation_templates
    from fhir_bonemet.cds.services import load_services
    from fhir_bonemet.project_dirs import SERVICES

    catalogue = load_services(
        services_dir or SERVICES.default,
        observation_templates(terminology.search_codes, panels=panel_searches),
    )
    templates: dict[str, str] = {}
    for service in catalogue.services:
        templates.update(service.prefetch or {})
    return templates


def run_check(
    files: list[Path],
    conceptmap_dirs: list[Path],
    profiles_dir: Path | None = None,
    *,
    services_dir: Path | None = None,
    progress: Progress | None = None,
    panel_searches: bool = False,
) -> MapCheckReport:
    """Load the terminology (with the ConceptMaps), stream the files, check every coding."""
    terminology = Terminology.load(profiles_dir, conceptmap_dirs)
    templates = published_templates(terminology, services_dir, panel_searches=panel_searches)
    fetching = FetchCoverage(templates, terminology)
    report = MapCheckReport(
        files=[str(f) for f in files],
        not_applied=list(terminology.skipped_mappings),
        conceptmap_notes=list(terminology.conceptmap_notes),
    )
    located = iter_inputs(files, report.problems, progress)
    return MapChecker(terminology, dict(CATALOGUE), fetching).check(located, report)
