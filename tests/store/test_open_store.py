"""Which store the settings select, and where the embedded default keeps its data."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from store_helpers import POSTGRES_URL, require_postgres

from fhir_bonemet.errors import ConfigurationError
from fhir_bonemet.settings import Settings
from fhir_bonemet.store import open_store
from fhir_bonemet.store.base import StoreError
from fhir_bonemet.store.postgres import PostgresStore
from fhir_bonemet.store.sqlite import SqliteStore


def test_default_is_a_sqlite_file_in_the_data_directory_in_wal_mode(tmp_path: Path) -> None:
    store = open_store(Settings(auth_required=False, data_dir=tmp_path / "var"))
    try:
        assert isinstance(store, SqliteStore)
        assert store.path == tmp_path / "var" / "bonemet.sqlite3"
        store.ping()
        with sqlite3.connect(store.path) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        store.close()


def test_sqlite_url_names_the_file(tmp_path: Path) -> None:
    store = open_store(Settings(auth_required=False, database_url=f"sqlite:///{tmp_path}/x/y.db"))
    try:
        assert isinstance(store, SqliteStore)
        assert store.path == tmp_path / "x" / "y.db"
    finally:
        store.close()


def test_unknown_url_scheme_stops_start_up(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"sqlite:/// or postgresql://"):
        open_store(Settings(auth_required=False, database_url="mysql://db/x"))


def test_unwritable_sqlite_location_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match="cannot open the SQLite store"):
        SqliteStore(blocker / "db.sqlite3")


@pytest.mark.postgres
def test_postgresql_url_selects_postgres() -> None:
    require_postgres()
    store = open_store(Settings(auth_required=False, database_url=POSTGRES_URL))
    try:
        assert isinstance(store, PostgresStore)
        store.ping()
    finally:
        store.close()


@pytest.mark.postgres
def test_unreachable_postgres_is_a_store_error_without_credentials() -> None:
    with pytest.raises(StoreError) as info:
        PostgresStore("postgresql://bonemet:s3cret@127.0.0.1:1/none", connect_timeout=2)
    assert "s3cret" not in str(info.value)
