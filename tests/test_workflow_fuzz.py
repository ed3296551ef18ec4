"""Whatever an EHR sends, the answer is cards or an OperationOutcome, never a 500.

Hypothesis corrupts real example requests (all three hooks) at random places — deletes fields, swaps a
value for another JSON type, empties lists — and fires them through the real workflow.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from example_app import example_client
from fhir_bonemet.cli.examples_runner import default_examples_dir, load_manifest, prefetched_request
from fhir_bonemet.core.model.hooks import Hook
from json_paths import json_paths

EXAMPLES = default_examples_dir()
MANIFEST = load_manifest(EXAMPLES)
SCENARIOS = [s["id"] for s in MANIFEST["scenarios"]]
REQUESTS = {(s, h): prefetched_request(s, h) for s in SCENARIOS for h in Hook}

# "9999-12": the last month a date can have (its last day must not be computed from the month after).
REPLACEMENTS = st.sampled_from(
    [None, "", "x", 0, -1, 3.5, True, [], {}, ["x"], {"resourceType": 7}, "9999-12"]
)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    # Module-scoped: hypothesis runs many examples against one app, as an EHR would.
    with example_client(tmp_path_factory.mktemp("fuzz")) as test_client:
        yield test_client


def _mutate(body: dict[str, Any], path: tuple[Any, ...], action: str, replacement: Any) -> None:
    parent: Any = body
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if action == "delete":
        del parent[last]
    else:
        # A fresh copy: the same sampled list or object put in two places would make the body cyclic.
        parent[last] = copy.deepcopy(replacement)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    case=st.sampled_from(sorted(REQUESTS)),
    picks=st.lists(st.tuples(st.integers(min_value=0), st.sampled_from(["delete", "replace"]), REPLACEMENTS),
                   min_size=1, max_size=4),
)  # fmt: skip
def test_corrupted_requests_never_cause_a_server_error(
    client: TestClient, case: tuple[str, str], picks: list[tuple[int, str, Any]]
) -> None:
    scenario, hook = case
    body = copy.deepcopy(REQUESTS[case])
    for index, action, replacement in picks:
        paths = json_paths(body)
        if not paths:
            break
        _mutate(body, paths[index % len(paths)], action, replacement)
    response = client.post(f"/cds-services/bonemet-{hook}", json=body)
    assert response.status_code in {200, 400, 412}, (scenario, hook, response.status_code, response.text)
    answer = response.json()
    if response.status_code == 200:
        assert isinstance(answer["cards"], list)
    else:
        assert answer["resourceType"] == "OperationOutcome"
        assert answer["issue"]
