"""The per-call fact index orders results exactly as the shared queries do, whatever the input order."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

from builders import lesion, obs, patient

from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.fact_index import FactIndex, instant
from fhir_bonemet.core.model.facts import ObservationFact
from fhir_bonemet.core.model.queries import observations


def _results(rnd: random.Random, zones: bool) -> list[ObservationFact]:
    out = []
    for i in range(60):
        when: datetime | None = datetime(2025, 5, 1, 8) + timedelta(hours=rnd.randrange(0, 800))
        if zones and when is not None and i % 3 == 0:
            when = when.replace(tzinfo=timezone(timedelta(hours=rnd.choice([-5, 0, 2]))))
        if i % 17 == 0:
            when = None
        out.append(ObservationFact(f"Observation/{rnd.randrange(10**6)}", c.LAB_PLATELETS, when))
    # Duplicated times, so that ties are broken by reference.
    out += [ObservationFact(f"Observation/tie-{k}", c.LAB_PLATELETS, datetime(2025, 5, 20, 9)) for k in "ba"]
    return out


def test_same_order_as_select_observations() -> None:
    rnd = random.Random(3)
    results = _results(rnd, zones=False)
    for _ in range(5):
        rnd.shuffle(results)
        facts = patient(observations=results)
        assert list(FactIndex(facts).observations(c.LAB_PLATELETS)) == observations(facts, c.LAB_PLATELETS)


def test_offset_and_offset_free_times_are_ordered_as_instants() -> None:
    rnd = random.Random(5)
    results = _results(rnd, zones=True)
    expected = sorted(
        results,
        key=lambda o: (o.effective is not None, instant(o.effective) if o.effective else 0.0, o.ref),
        reverse=True,
    )
    for _ in range(5):
        rnd.shuffle(results)
        got = list(FactIndex(patient(observations=results)).observations(c.LAB_PLATELETS))
        assert got == expected
        assert got[-1].effective is None


def test_an_offset_free_time_is_read_as_utc() -> None:
    naive = datetime(2025, 5, 1, 12)
    assert instant(naive) == instant(naive.replace(tzinfo=UTC))


def test_memo_computes_once_per_index() -> None:
    index = FactIndex(patient(lesions=[lesion()], observations=[obs(c.ECOG, 1)]))
    calls: list[int] = []
    assert index.memo("k", lambda: calls.append(1) or 7) == 7
    assert index.memo("k", lambda: calls.append(1) or 8) == 7
    assert calls == [1]
    assert FactIndex(index.facts).memo("k", lambda: 9) == 9  # a new index (a new call) starts empty
