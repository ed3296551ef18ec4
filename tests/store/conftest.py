"""Store fixtures: the same contract suite runs against SQLite and against the local PostgreSQL.

Every PostgreSQL store gets its own schema, dropped afterwards (see ``store_helpers`` for the URL and what
happens when PostgreSQL is unreachable).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from store_helpers import POSTGRES_URL, StoreFactory, require_postgres

from fhir_bonemet.store.base import Store
from fhir_bonemet.store.postgres import PostgresStore
from fhir_bonemet.store.sqlite import SqliteStore


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """A factory opening the backend under test on the same database each call (to test durability)."""
    opened: list[Store] = []
    schema = f"bonemet_test_{os.getpid()}_{uuid.uuid4().hex[:10]}"
    if request.param == "postgres":
        require_postgres()

    def factory() -> Store:
        store: Store
        if request.param == "sqlite":
            store = SqliteStore(tmp_path / "data" / "bonemet.sqlite3")
        else:
            store = PostgresStore(POSTGRES_URL, schema=schema)
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()
    if request.param == "postgres":
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def store(make_store: StoreFactory) -> Store:
    return make_store()
