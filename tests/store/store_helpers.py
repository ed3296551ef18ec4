"""PostgreSQL reachability for the store tests: ``BONEMET_TEST_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``).  When it cannot be reached the PostgreSQL tests fail under
``CI=true`` and are skipped elsewhere."""

from __future__ import annotations

import os
from collections.abc import Callable

import psycopg
import pytest

from fhir_bonemet.store.base import Store

POSTGRES_URL = os.environ.get("BONEMET_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")

StoreFactory = Callable[[], Store]


def require_postgres() -> None:
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        message = (
            f"PostgreSQL is not reachable at {POSTGRES_URL} ({type(exc).__name__}); start it or set "
            "BONEMET_TEST_POSTGRES_URL"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
