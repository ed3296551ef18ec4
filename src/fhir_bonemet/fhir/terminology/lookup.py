"""The terminology layer: incoming codes → the concept ids the rules reason on.

Loaded once at start-up from ``profiles/`` (CodeSystem, one enumerated ValueSet per concept id of
:mod:`~fhir_bonemet.core.model.concepts`, code-system aliases, the offline medication tables) plus any
integrator
ConceptMaps.  Every file is validated when loaded; a malformed one raises
:class:`~fhir_bonemet.errors.TerminologyError` naming the file and element, so the service does not start
with half its codes.  Lookups are dictionary lookups (a code family match costs one lookup per distinct
family length of that system).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

from fhir_bonemet.core.model.concepts import ALL_CONCEPTS
from fhir_bonemet.core.model.facts import Strength
from fhir_bonemet.core.model.frozen_init import fast_init
from fhir_bonemet.errors import TerminologyError
from fhir_bonemet.fhir.terminology.answers import ANSWER_MEANINGS
from fhir_bonemet.fhir.terminology.conceptmaps import Mapping as ConceptMapping
from fhir_bonemet.fhir.terminology.conceptmaps import Note, Skipped, load_conceptmaps
from fhir_bonemet.fhir.terminology.medications import MedicationTables, load_medication_tables
from fhir_bonemet.fhir.terminology.valuesets import (
    LOCAL_SYSTEM,
    CodeIndex,
    Key,
    load_local_codes,
    load_systems,
    load_valuesets,
)
from fhir_bonemet.project_dirs import PROFILES

__all__ = [
    "LOCAL_SYSTEM",
    "CodingVerdict",
    "MedicationCodes",
    "Terminology",
]

RXNORM: Final = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC: Final = "http://www.whocc.no/atc"
_EMPTY: Final[frozenset[str]] = frozenset()


@dataclass(frozen=True, slots=True)
class CodingVerdict:
    """What the service makes of one (system, code): for ``map-check`` and for audit."""

    system: str | None  # canonical system (aliases resolved)
    code: str | None
    understood: frozenset[str]  # concept ids, directly or through a ConceptMap
    mapped_via: str | None  # url of the ConceptMap that supplied concepts, if any
    unknown: bool  # no concept at all
    unverified: bool = False  # every direct match is a code awaiting verification
    family: str | None = None  # the code family (match-prefix) that matched, if any
    conditional: frozenset[str] = frozenset()  # concepts that apply only for some routes (requires-route)
    direct: frozenset[str] = frozenset()  # the part of ``understood`` the ValueSets give without ConceptMaps
    # What the code says as a coded value (answers.ANSWER_MEANINGS: "lesion-type: lytic", "yes"), as a
    # project answer code or through a ConceptMap; ``answer_mapped``: through a ConceptMap.
    answer: frozenset[str] = frozenset()
    answer_mapped: bool = False


def _one_pack_volume(
    packs: list[tuple[float, tuple[Strength, ...]]], strengths: tuple[Strength, ...]
) -> float | None:
    """The pack volume the names state, kept only when they all state the same one and each name that
    states it gives the strengths the medication is counted with: a volume from one name (100 mL) beside
    a concentration from another (4 mg/5 mL) would multiply into a dose no one ordered."""
    volumes = {volume for volume, _ in packs}
    if len(volumes) != 1 or any(given != strengths for _, given in packs):
        return None
    return volumes.pop()


@fast_init  # one per medication and per coding read on every hook call
@dataclass(frozen=True, slots=True)
class MedicationCodes:
    """A medication reduced to what the rules need."""

    ingredients: tuple[str, ...]  # canonical ingredient names, in the order found
    classes: frozenset[str]  # medication concept ids
    strengths: tuple[Strength, ...]
    dose_form: str | None
    route: str | None
    pack_volume_ml: float | None = None  # volume of one pack (mL), from a name that states it unambiguously


_NO_MEDICATION: Final = MedicationCodes((), _EMPTY, (), None, None)


def _codings(codeable_concept: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    codings = codeable_concept.get("coding")
    if isinstance(codings, list):
        return (c for c in codings if isinstance(c, Mapping))
    return ()


class Terminology:
    local_system: str = LOCAL_SYSTEM

    def __init__(
        self,
        index: CodeIndex,
        medications: MedicationTables,
        maps: dict[Key, tuple[ConceptMapping, ...]],
        local_codes: frozenset[str] = frozenset(),
        skipped: Sequence[Skipped] = (),
        notes: Sequence[Note] = (),
    ) -> None:
        self._index = index
        self._meds = medications
        self._maps = maps
        # Local answer codes → the project answer codes they are mapped onto, as the intake compares them.
        self._answer_maps: dict[Key, tuple[Key, ...]] = {
            key: codes
            for key, mappings in maps.items()
            if (codes := tuple(dict.fromkeys(m.answer_code for m in mappings if m.answer_code is not None)))
        }
        self.maps_answers: bool = bool(self._answer_maps)  # so readers skip the translation when none is
        # ConceptMap elements or targets not applied (an equivalence the service does not apply, or an
        # element that maps nothing): map-check lists them and the service logs them at start-up.
        self.skipped_mappings: tuple[Skipped, ...] = tuple(skipped)
        # Whole maps or files named likewise: a draft map applied, a retired one not, a file loading nothing.
        self.conceptmap_notes: tuple[Note, ...] = tuple(notes)
        self._local_codes = local_codes
        self.concept_ids: frozenset[str] = frozenset(index.valuesets)
        # Medication classes are the concepts whose ValueSets hold RxNorm or ATC codes.
        members = [m for ms in index.exact.values() for m in ms]
        members += [m for fam in index.prefixes.values() for ms in fam.values() for m in ms]
        self.medication_concepts: frozenset[str] = frozenset(
            m.concept for m in members if m.system in (RXNORM, ATC)
        )
        displays: dict[str, list[str]] = {cid: [index.titles.get(cid, cid)] for cid in self.concept_ids}
        for member in members:
            displays[member.concept].append(member.display)
        self._displays = {cid: tuple(texts) for cid, texts in displays.items()}
        self._known = self._known_codings()
        # A record names the same few medication codes on every call: what each (system, code) says is
        # worked out once per process, bounded so that a stream of codes never seen before cannot grow it.
        self._coded_medication = lru_cache(maxsize=4096)(self._read_medication_coding)
        # Codes the profiles do not name as written (a code family member such as ICD-10-CM C50.911, a
        # system spelled another way) come back on every call too: each is looked up once, likewise bounded.
        self._looked_up = lru_cache(maxsize=4096)(self._lookup)

    @property
    def known_codings(self) -> Mapping[tuple[object, object], frozenset[str]]:
        """:meth:`concepts_for_coding`'s answer for every coding the profiles name, as written (read-only
        use): a caller that reads many codings can look each up here first, with no call in between."""
        return self._known

    def _known_codings(self) -> dict[tuple[object, object], frozenset[str]]:
        """The answer of :meth:`concepts_for_coding` for every code the ValueSets enumerate and every
        ConceptMap source code, under each spelling of its system and as written or normalised.

        Records carry these codes over and over; one dictionary lookup answers them on the hot path
        instead of resolving the system alias, normalising the code and collecting ValueSet members.
        Any other coding (a code family member, an unknown code, odd whitespace) is looked up as before.
        """
        spellings: dict[str, list[str]] = {}
        for alias, canonical in self._index.systems.by_alias.items():
            spellings.setdefault(canonical, []).append(alias)
        written: dict[Key, set[str]] = {}
        for key, members in self._index.exact.items():
            written.setdefault(key, {key[1]}).update(m.code for m in members)
        for key in self._maps:
            written.setdefault(key, {key[1]})
        known: dict[tuple[object, object], frozenset[str]] = {}  # keys are (system, code) strings
        for (system, _), codes in written.items():
            for alias in spellings.get(system, [system]):
                for code in codes:
                    known[(alias, code)] = self._lookup(alias, code)
        return known

    @classmethod
    def load(cls, profiles_dir: Path | None = None, conceptmap_dirs: Sequence[Path] = ()) -> Terminology:
        root = PROFILES.require(profiles_dir)
        systems = load_systems(root / "systems.json")
        local_codes = load_local_codes(root / "CodeSystem-bonemet.json")
        index = load_valuesets(root / "valuesets", systems, ALL_CONCEPTS, local_codes)
        medications = load_medication_tables(root / "medications", ALL_CONCEPTS)
        skipped: list[Skipped] = []
        notes: list[Note] = []
        maps = load_conceptmaps([Path(d) for d in conceptmap_dirs], index, skipped, notes)
        terminology = cls(index, medications, maps, local_codes, skipped, notes)
        terminology._check_medications(root / "medications")
        return terminology

    # ------------------------------------------------------------------------------------- lookups

    def _key(self, system: str | None, code: str | None) -> Key | None:
        if not isinstance(system, str) or not isinstance(code, str) or not system.strip() or not code.strip():
            return None
        canonical = self._index.systems.canonical(system)
        return canonical, self._index.systems.normalise(canonical, code)

    def _direct(self, key: Key) -> frozenset[str]:
        return frozenset(m.concept for m in self._index.members(*key))

    def search_key(self, system: str | None, code: str | None) -> Key | None:
        """``(canonical system, normalised code)``: how codes are compared (``None`` for a blank one)."""
        return self._key(system, code)

    def canonical_system(self, system: str) -> str:
        """The canonical URI of a code system spelled any known way (``urn:oid:2.16.840.1.113883.6.1``)."""
        return self._index.systems.canonical(system)

    def concepts_for_coding(self, system: str | None, code: str | None) -> frozenset[str]:
        if isinstance(system, str) and isinstance(code, str):
            known = self._known.get((system, code))
            if known is not None:
                return known
            return self._looked_up(system, code)
        return self._lookup(system, code)

    def _lookup(self, system: str | None, code: str | None) -> frozenset[str]:
        key = self._key(system, code)
        if key is None:
            return _EMPTY
        found = self._direct(key)
        mapped = self._maps.get(key)
        if mapped:
            found = found.union(*(m.concepts for m in mapped))
        return found

    def concepts_for(self, codeable_concept: Mapping[str, Any] | None) -> frozenset[str]:
        if not isinstance(codeable_concept, Mapping):
            return _EMPTY
        found: set[str] = set()
        for coding in _codings(codeable_concept):
            found |= self.concepts_for_coding(coding.get("system"), coding.get("code"))
        return frozenset(found)

    def explain(self, system: str | None, code: str | None) -> CodingVerdict:
        key = self._key(system, code)
        if key is None:
            return CodingVerdict(system, code, _EMPTY, None, unknown=True)
        members = self._index.members(*key)
        mapped = self._maps.get(key, ())
        direct = frozenset(m.concept for m in members)
        understood = direct.union(*(m.concepts for m in mapped))
        conditional = frozenset(m.concept for m in self._index.routed.get(key, ())) - understood
        family = next((m.code for m in members if m.prefix), None)
        mapped_answer = frozenset().union(*(m.answer for m in mapped))
        answer = ANSWER_MEANINGS.get(key, _EMPTY) | mapped_answer
        return CodingVerdict(
            system=key[0],
            code=code,
            understood=understood,
            mapped_via=mapped[0].map_url if mapped else None,
            unknown=not understood and not conditional and not answer and not self._known_medication(key),
            unverified=bool(members) and not mapped and all(m.verification == "unverified" for m in members),
            family=family,
            conditional=conditional,
            direct=direct,
            answer=answer,
            answer_mapped=bool(mapped_answer),
        )

    def with_mapped_answers(self, codeable: object) -> object:
        """A coded value (``valueCodeableConcept``, ``interpretation``) with, after its own codings, the
        project answer coding each ConceptMap-mapped local coding stands for; unchanged (the same object)
        when none is mapped.

        The intake then reads the answer as it reads one sent in the project's codes: the hospital's
        "LYT" mapped onto ``lytic`` is a lytic lesion, its "Y" mapped onto SNOMED CT |Yes| a yes.  The
        received codings stay first and untouched, so a card that quotes the value quotes what was sent.
        """
        if not self._answer_maps or not isinstance(codeable, dict):
            return codeable
        codings = codeable.get("coding")
        if not isinstance(codings, list):
            return codeable
        added: list[dict[str, str]] = []
        for coding in codings:
            if isinstance(coding, dict):
                key = self._key(coding.get("system"), coding.get("code"))
                if key is not None:
                    added += [{"system": s, "code": c} for s, c in self._answer_maps.get(key, ())]
        if not added:
            return codeable
        return {**codeable, "coding": [*codings, *added]}

    def search_codes(self, concepts: frozenset[str]) -> list[tuple[str, str]]:
        """``(system, code)`` pairs a search must name to find every record of ``concepts``: the codes the
        ValueSets enumerate (code families and route-bound codes cannot be searched by exact code and are
        left out) followed by the ConceptMap source codes (the EHR's own codes) that map onto them."""
        found: list[tuple[str, str]] = []
        for members in self._index.exact.values():
            found += [(m.system, m.code) for m in members if m.concept in concepts]
        for key, mappings in self._maps.items():
            if any(m.concepts & concepts for m in mappings):
                found.append(key)
        return list(dict.fromkeys(found))

    def mapped_codes(self) -> dict[Key, frozenset[str]]:
        """Every ConceptMap source ``(system, code)`` with the concepts it maps onto."""
        return {key: frozenset().union(*(m.concepts for m in maps)) for key, maps in self._maps.items()}

    def _known_medication(self, key: Key) -> bool:
        system, code = key
        if system == RXNORM:
            return code in self._meds.products or code in self._meds.by_rxcui
        return system == ATC and (code in self._meds.by_atc or code in self._meds.by_atc_combination)

    def title(self, concept: str) -> str:
        return self._index.titles[concept]

    def displays(self, concept: str) -> tuple[str, ...]:
        """Title and code displays of a concept's ValueSet (for suggesting a concept for an unknown code)."""
        return self._displays.get(concept, ())

    def is_local_code(self, system: str | None, code: str | None) -> bool:
        """A code of the project CodeSystem (also the values, e.g. ``lytic``, that name no concept)."""
        key = self._key(system, code)
        return key is not None and key[0] == LOCAL_SYSTEM and key[1] in self._local_codes

    # ------------------------------------------------------------------------------------- medications

    def classify_medication(self, codeable_concept: Mapping[str, Any] | None) -> MedicationCodes:
        """Ingredients, classes, strengths, dose form and route of a medication CodeableConcept.

        Codes first (RxNorm product table, RxNorm ingredient/salt codes, ATC codes, ConceptMaps), then the
        text and the coding displays.  Ingredients found either way are combined: a name in the text that
        the code did not explain is kept, because missing an opioid is the unsafe error.
        """
        if not isinstance(codeable_concept, Mapping):
            return _NO_MEDICATION
        meds = self._meds
        found = _Gathered()
        texts: list[str] = []
        text = codeable_concept.get("text")
        if isinstance(text, str):
            texts.append(text)
        for coding in _codings(codeable_concept):
            display = coding.get("display")
            if isinstance(display, str):
                texts.append(display)
            system, code = coding.get("system"), coding.get("code")
            if not isinstance(system, str) or not isinstance(code, str):
                continue  # no code to read (strings only: the memo is keyed by them)
            coded = self._coded_medication(system, code)
            if coded is None:
                continue
            found.add(coded.ingredients, coded.strengths, coded.dose_form, coded.route)
            found.classes |= coded.classes
        packs: list[tuple[float, tuple[Strength, ...]]] = []
        for said in texts:
            reading = meds.text.read(said)
            found.add(reading.ingredients, reading.strengths, reading.dose_form, reading.route)
            if reading.pack_volume_ml is not None:
                packs.append((reading.pack_volume_ml, reading.strengths))
        for name in found.ingredients:
            found.classes |= meds.ingredients[name].classes_for(found.route)
        return found.codes(_one_pack_volume(packs, found.strengths))

    def _read_medication_coding(self, system: str, code: str) -> MedicationCodes | None:
        """What one medication coding says through its code alone (the product table, the ingredient and
        ATC tables, ConceptMaps); ``None`` for a blank one.  Memoised per (system, code) as
        ``_coded_medication``: it depends on the loaded tables only."""
        key = self._key(system, code)
        if key is None:
            return None
        meds = self._meds
        found = _Gathered()
        keys = [key] + [
            (m.target_system, self._index.systems.normalise(m.target_system, m.target_code))
            for m in self._maps.get(key, ())
        ]
        for system, code in keys:
            found.classes |= self.concepts_for_coding(system, code) & self.medication_concepts
            product = meds.products.get(code) if system == RXNORM else None
            if product is not None:
                ingredients = (s.ingredient for s in product.strengths)
                found.add(ingredients, product.strengths, product.dose_form, product.route)
            name = (
                meds.by_rxcui.get(code)
                if system == RXNORM
                else meds.by_atc.get(code)
                if system == ATC
                else None
            )
            if name is not None:
                found.add_ingredients((name,))
            elif system == ATC:
                found.add_ingredients(meds.by_atc_combination.get(code, ()))
        return found.codes()

    def _check_medications(self, directory: Path) -> None:
        """The medication tables and the ValueSets must tell the same story about every RxCUI."""
        meds = self._meds
        for ingredient in meds.ingredients.values():
            for rxcui in ingredient.rxcuis:
                in_valuesets = self.concepts_for_coding(RXNORM, rxcui) & self.medication_concepts
                if in_valuesets != ingredient.classes:
                    raise TerminologyError(
                        f"{directory / 'ingredients.json'}: {ingredient.name} (RxCUI {rxcui}) has classes "
                        f"{sorted(ingredient.classes)} but the ValueSets give {sorted(in_valuesets)}; "
                        "regenerate with profiles/build.py"
                    )
        for product in meds.products.values():
            expected = frozenset().union(
                *(meds.ingredients[s.ingredient].classes_for(product.route) for s in product.strengths)
            )
            in_valuesets = self.concepts_for_coding(RXNORM, product.rxcui) & self.medication_concepts
            if in_valuesets != expected:
                raise TerminologyError(
                    f"{directory / 'rxnorm-products.json'}: RxCUI {product.rxcui} has classes "
                    f"{sorted(expected)} from its ingredients but the ValueSets give {sorted(in_valuesets)}; "
                    "regenerate with profiles/build.py"
                )


class _Gathered:
    """What the codes and words of one medication say, combined as they are read: ingredients in the order
    first found (a name the code did not explain is kept), the first strengths, dose form and route found,
    the classes of all."""

    __slots__ = ("classes", "dose_form", "ingredients", "route", "strengths")

    def __init__(self) -> None:
        self.ingredients: list[str] = []
        self.classes: set[str] = set()
        self.strengths: tuple[Strength, ...] = ()
        self.dose_form: str | None = None
        self.route: str | None = None

    def add_ingredients(self, names: Iterable[str]) -> None:
        for name in names:
            if name not in self.ingredients:
                self.ingredients.append(name)

    def add(
        self, names: Iterable[str], strengths: tuple[Strength, ...], dose_form: str | None, route: str | None
    ) -> None:
        self.add_ingredients(names)
        self.strengths = self.strengths or strengths
        self.dose_form = self.dose_form or dose_form
        self.route = self.route or route

    def codes(self, pack_volume_ml: float | None = None) -> MedicationCodes:
        return MedicationCodes(
            tuple(self.ingredients),
            frozenset(self.classes),
            self.strengths,
            self.dose_form,
            self.route,
            pack_volume_ml,
        )
