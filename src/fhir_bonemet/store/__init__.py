"""Persistence: feedback, issued-card audit and the write-back outbox behind one :class:`Store` contract."""

from __future__ import annotations

from fhir_bonemet.errors import ConfigurationError
from fhir_bonemet.settings import Settings
from fhir_bonemet.store import base
from fhir_bonemet.store.base import *  # noqa: F403  (the contract, as base.__all__ lists it)
from fhir_bonemet.store.base import Store

# The package exports the contract of base.py (what callers and both implementations share) and the
# factory that picks an implementation.
__all__ = [*base.__all__, "open_store"]


def open_store(settings: Settings) -> Store:
    """Open the store the settings name: SQLite in the data directory by default, PostgreSQL on request."""
    url = settings.effective_database_url
    if url.startswith(("postgresql://", "postgres://")):
        try:
            from fhir_bonemet.store.postgres import PostgresStore
        except ImportError as exc:  # psycopg is an optional dependency
            raise ConfigurationError(
                "BONEMET_DATABASE_URL selects PostgreSQL but psycopg is not installed: "
                "pip install 'fhir-bonemet[postgres]'"
            ) from exc
        return PostgresStore(url)
    if url.startswith("sqlite:///"):
        from fhir_bonemet.store.sqlite import SqliteStore

        return SqliteStore.from_url(url)
    raise ConfigurationError("BONEMET_DATABASE_URL must start with sqlite:/// or postgresql://")
