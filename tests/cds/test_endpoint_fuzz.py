"""Fuzzing the hook and feedback endpoints with hostile values — deep nesting, calendar edges, NUL
characters, numeric strings, huge numbers — on SQLite and PostgreSQL: never a 5xx.  A fixed seed and
budget keep CI reproducible."""

from __future__ import annotations

import copy
import json
import os
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from cds_helpers import RecordingHandler, example
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from psycopg import sql

from fhir_bonemet.settings import Settings
from fhir_bonemet.store.base import Store
from fhir_bonemet.store.postgres import PostgresStore
from fhir_bonemet.store.sqlite import SqliteStore
from fhir_bonemet.web.app import create_app
from json_paths import json_paths

POSTGRES_URL = os.environ.get("BONEMET_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
PV = "/cds-services/bonemet-patient-view"
BODIES = {
    PV: example("patient-view.request.json"),
    PV + "/feedback": example("feedback.overridden-with-reason.json"),
    "/cds-services/bonemet-patient-view/feedback#accepted": example("feedback.accepted.json"),
}


# Deeply nested arrays go in as markers and are spliced into the serialised body: built as Python lists,
# they would exhaust the test's own recursion (copying, serialising) before reaching the service.
DEEP = {f'"__deep_{depth}__"': b"[" * depth + b"]" * depth for depth in (150, 3000, 100_000)}


HOSTILE = st.sampled_from(
    [
        None,
        "",
        "\x00",
        "before\x00after",
        "1700000000",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59.999999Z",
        "2020-02-30T00:00:00Z",
        10**400,
        -(10**30),
        1e308,
        True,
        [],
        {},
        "__deep_150__",
        "__deep_3000__",
        "__deep_100000__",
        {"resourceType": 7},
        "x" * 10_000,
    ]
)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fuzz_client(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    store: Store
    schema = f"bonemet_fuzz_{uuid.uuid4().hex[:12]}"
    if request.param == "sqlite":
        store = SqliteStore(tmp_path_factory.mktemp("fuzz") / "bonemet.sqlite3")
    else:
        try:
            store = PostgresStore(POSTGRES_URL, schema=schema)
        except Exception as exc:
            if os.environ.get("CI") == "true":
                raise
            pytest.skip(f"PostgreSQL is not reachable ({type(exc).__name__})")
    config = Settings(auth_required=False, data_dir=tmp_path_factory.mktemp("fuzz-data"))
    with TestClient(create_app(config, handler=RecordingHandler(), store=store)) as client:
        yield client
    store.close()
    if request.param == "postgres":
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@seed(20261206)
@settings(
    max_examples=120,
    deadline=None,
    derandomize=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    target=st.sampled_from(sorted(BODIES)),
    picks=st.lists(st.tuples(st.integers(min_value=0), HOSTILE), min_size=1, max_size=3),
)
def test_hostile_values_anywhere_never_cause_a_server_error(
    fuzz_client: TestClient, target: str, picks: list[tuple[int, Any]]
) -> None:
    body = copy.deepcopy(BODIES[target])
    for index, value in picks:
        paths = json_paths(body)
        parent: Any = body
        path = paths[index % len(paths)]
        for step in path[:-1]:
            parent = parent[step]
        parent[path[-1]] = copy.deepcopy(value)
    raw = json.dumps(body).encode()
    for marker, nested in DEEP.items():
        raw = raw.replace(marker.encode(), nested)
    response = fuzz_client.post(
        target.split("#")[0], content=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status_code < 500, (target, response.status_code, response.text[:500])
    if response.status_code != 200:
        assert response.json()["resourceType"] == "OperationOutcome"
