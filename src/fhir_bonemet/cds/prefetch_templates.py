"""Observation prefetch templates generated at start-up from what the service understands.

The service reads Observations by code.  Which codes it understands is data: the enumerated ValueSets in
``profiles/valuesets`` and the integrator's ConceptMaps (``BONEMET_CONCEPTMAP_DIRS``), whose *source* codes
are the hospital's own ``system|code`` pairs.  A template written by hand lists the ValueSet codes only, so
an EHR executing it never sends a mapped local code (and the service, fetching for itself, never asks for
it).  Generating the Observation templates from the loaded terminology closes that gap: the same templates
are published in discovery and used for the service's own gap-filling fetch.

Observations are split into groups whose *newest* results matter (pain; laboratory; performance status and
lesion scores; symptoms and flags).  Each group is one search sorted newest first with a ``_count`` that
covers its lookback on a busy chart, so that a typical EHR answers in one page and a heavy chart's older
history is what falls off, not this week's pain score.

Panels.  The reader takes a value from an Observation's ``component`` as from the Observation itself (a
pain-assessment panel with the pain score in a component, a blood count with the platelets, a red-flag
screen with one yes/no component per symptom), but ``code=`` matches only the Observation's own code: a
panel is found by ``component-code=``.  So each group has a twin search for the same codes in components,
``observation-panels-<group>`` (``observation-panels-labs``), with the same sort and count.  A server without
that search parameter fails only the twin key (the service then says observations could not all be read).
The twins are published only with ``BONEMET_PANEL_SEARCHES=true``: they double every call's Observation
searches, for a reporting style few EHRs use for these values.

Templates stay in the CDS Hooks 2.0 recommended subset (``patient``, token parameters ``code`` and
``component-code`` with ``system|code`` tokens, ``_sort``, ``_count``).  A GET URL longer than
:data:`URL_LIMIT` characters is refused by common servers and proxies, so a code list that would exceed it
is split over several keys (``observations-labs``, ``observations-labs-2``, …, and
``observation-panels-labs-2``); the tolerant reader merges whatever keys arrive, so split keys need no
special handling downstream.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote

from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.settings import Settings

__all__ = [
    "OBSERVATION_GROUPS",
    "URL_LIMIT",
    "ObservationGroup",
    "encoded_url_length",
    "generated_prefetch",
    "observation_templates",
    "panel_key",
]

URL_LIMIT: Final = 2000
"""Longest GET URL a generated template may produce, in characters after percent-encoding.  2,000 is the
conservative figure that older proxies, IIS defaults and several FHIR gateways accept; 8,000 would suit
most modern servers but not all of them, and splitting costs only one more (small) request."""
BASE_URL_ALLOWANCE: Final = 256  # room left for the EHR's FHIR base URL in front of the relative template
ID_ALLOWANCE: Final = 64  # a FHIR id is at most 64 characters: the rendered {{context.patientId}}

# Characters requests leaves as they are in a URL (requests.utils.requote_uri); `|` becomes `%7C`.
_URL_SAFE: Final = "!#$%&'()*+,/:;=?@[]~"
_PATIENT_TOKEN: Final = "{{context.patientId}}"  # noqa: S105 (a prefetch token, not a secret)
CODE: Final = "code"
COMPONENT_CODE: Final = "component-code"  # R4 Observation search parameter on Observation.component.code


@dataclass(frozen=True, slots=True)
class ObservationGroup:
    """One Observation search: the concepts it reads and how many of the newest results it asks for."""

    key: str
    concepts: frozenset[str]
    count: int
    why: str  # how ``count`` covers the group's lookback (documented in docs/integration.md)


OBSERVATION_GROUPS: Final[tuple[ObservationGroup, ...]] = (
    ObservationGroup(
        "observations-pain",
        frozenset({c.PAIN_SCORE, c.PAIN_MECHANICAL, c.PAIN_MECHANISM, c.FATIGUE_SCORE}),
        100,
        "pain scored every 4 h on a ward for the 7-day lookback is 42 results, with room for the mechanism "
        "and fatigue rows",
    ),
    ObservationGroup(
        "observations-labs",
        frozenset(name for name in c.ALL_CONCEPTS if name.startswith("lab-")),
        300,
        "a daily inpatient panel of about ten analytes over the 30-day lookback",
    ),
    ObservationGroup(
        "observations-scores",
        frozenset(
            {c.ECOG, c.KPS, c.SINS_TOTAL, c.MIRELS_TOTAL, c.LESION_TYPE, c.MORSE_FALL_SCALE, c.BODY_WEIGHT}
            | {c.FALLS_HISTORY, c.FALL_RISK}  # a fall, or a fall-risk screen, recorded as a finding
        ),
        100,
        "weekly performance status, fall score and weight over the 90-day lookback plus every lesion score",
    ),
    ObservationGroup(
        "observations-flags",
        frozenset(
            {name for name in c.ALL_CONCEPTS if name.startswith("rf-")}
            | {
                c.IMPENDING_FRACTURE,
                c.SYMPTOMATIC_HYPERCALCAEMIA,
                c.DENTAL_EXAM,
                c.SURGICAL_REVIEW,
                c.FEVER,
            }
        ),
        200,
        "a daily nursing screen of the eleven red-flag symptoms over the 14-day lookback",
    ),
    ObservationGroup(
        "observations-pregnancy",
        frozenset({c.PREGNANCY, c.LACTATION, c.PREGNANCY_STATUS, c.GESTATIONAL_AGE}),
        50,
        "a pregnancy status and a gestational age at each antenatal visit over the 300-day lookback",
    ),
)


def encoded_url_length(template: str) -> int:
    """Length of the GET URL the template yields for the longest patient id, as sent on the wire."""
    rendered = template.replace(_PATIENT_TOKEN, "x" * ID_ALLOWANCE)
    return len(quote(rendered, safe=_URL_SAFE))


def _template(codes: Sequence[str], count: int, parameter: str = CODE) -> str:
    return f"Observation?patient={_PATIENT_TOKEN}&{parameter}={','.join(codes)}&_sort=-date&_count={count}"


def _split(codes: Sequence[str], count: int, limit: int, parameter: str = CODE) -> list[list[str]]:
    """Greedy chunks of ``codes`` whose templates stay within ``limit`` (order kept)."""
    chunks: list[list[str]] = []
    current: list[str] = []
    for code in codes:
        if encoded_url_length(_template([code], count, parameter)) > limit:
            raise ValueError(f"the code {code!r} alone makes a prefetch URL longer than {limit} characters")
        if current and encoded_url_length(_template([*current, code], count, parameter)) > limit:
            chunks.append(current)
            current = []
        current.append(code)
    if current:
        chunks.append(current)
    return chunks


def observation_templates(
    codes_for: Callable[[frozenset[str]], Iterable[tuple[str, str]]],
    groups: Sequence[ObservationGroup] = OBSERVATION_GROUPS,
    url_limit: int = URL_LIMIT,
    *,
    panels: bool = False,
) -> dict[str, str]:
    """Prefetch key → template for every group, then (``panels``) every group's twin search for the same
    codes in components; ``codes_for(concepts)`` gives the ``(system, code)`` pairs to search for (ValueSet
    codes and ConceptMap source codes, see ``Terminology.search_codes``)."""
    limit = url_limit - BASE_URL_ALLOWANCE
    searches: list[tuple[str, Callable[[str], str]]] = [(CODE, str)]
    if panels:
        searches.append((COMPONENT_CODE, panel_key))
    templates: dict[str, str] = {}
    for parameter, key_of in searches:
        for group in groups:
            tokens = list(dict.fromkeys(_token(system, code) for system, code in codes_for(group.concepts)))
            if not tokens:
                continue
            base = key_of(group.key)
            for number, chunk in enumerate(_split(tokens, group.count, limit, parameter), start=1):
                key = base if number == 1 else f"{base}-{number}"
                templates[key] = _template(chunk, group.count, parameter)
    return templates


def panel_key(group_key: str) -> str:
    """The key of a group's search in panel components: ``observations-labs`` → ``observation-panels-labs``
    (not ``observations-labs-…``, which names the group's own split keys)."""
    return "observation-panels-" + group_key.removeprefix("observations-")


def _token(system: str, code: str) -> str:
    # A search token's own separators must be escaped inside a value (FHIR R4 §3.1.1.5.7 "Escaping").
    def escape(text: str) -> str:
        return text.replace("\\", "\\\\").replace(",", "\\,").replace("|", "\\|").replace("$", "\\$")

    return f"{escape(system)}|{escape(code)}"


def group_of(concept: str, groups: Sequence[ObservationGroup] = OBSERVATION_GROUPS) -> str | None:
    """The key of the group that reads ``concept``, if any."""
    return next((group.key for group in groups if concept in group.concepts), None)


def template_keys(templates: Mapping[str, str], group_key: str) -> list[str]:
    """The keys a group was split into (``observations-labs``, ``observations-labs-2``, …)."""
    return [key for key in templates if key == group_key or key.startswith(f"{group_key}-")]


def generated_prefetch(settings: Settings) -> dict[str, str]:
    """The Observation templates for the configured profiles and ConceptMap directories.

    Loads the terminology itself (a few tens of milliseconds) so that discovery can be built before, and
    independently of, the hook handler; a broken ValueSet or ConceptMap stops start-up here already.
    """
    # Imported here: the CDS wire layer does not otherwise depend on the terminology.
    from fhir_bonemet.fhir.terminology.lookup import Terminology

    terminology = Terminology.load(settings.profiles_dir, settings.conceptmap_dirs)
    return observation_templates(terminology.search_codes, panels=settings.panel_searches)
