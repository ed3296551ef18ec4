"""Shared fixtures.

``fhir_server`` (session scope) runs the real FHIR R4 test server in ``tests/fhir_server`` (Node,
@medplum/fhir-router, in memory, 127.0.0.1 only) and yields a :class:`FhirTestServer`.
``fresh_fhir`` (function scope) is the same server, reset to empty before the test.  Tests that use
either are marked ``integration`` automatically.  The server's Node packages are installed by
``make node-deps`` (``npm ci --prefix tests/fhir_server``); without them these tests fail with that
instruction.

``store`` is an embedded SQLite store in the test's temporary directory, closed afterwards
(``tests/store`` overrides it to run the contract suite against PostgreSQL as well).
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import requests
from psycopg import sql

from fhir_bonemet.store.sqlite import SqliteStore

FHIR_SERVER_DIR = Path(__file__).parent / "fhir_server"
_FHIR_FIXTURES = ("fhir_server", "fresh_fhir")
_START_TIMEOUT_S = 60.0


class FhirTestServer:
    """Handle on the running test server: its FHIR base URL plus the test-control endpoints."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}/fhir"
        self.control_url = f"http://127.0.0.1:{port}/__control"
        self._http = requests.Session()
        self._http.trust_env = False  # never route loopback test traffic through a proxy

    def _control(self, method: str, action: str, body: Any = None) -> Any:
        response = self._http.request(method, f"{self.control_url}/{action}", json=body, timeout=30)
        if response.status_code >= 300:
            raise AssertionError(
                f"control {method} {action} answered {response.status_code}: {response.text}"
            )
        return response.json()

    def reset(self) -> None:
        """Delete all data, faults and the request log; restore the start-up token (none)."""
        self._control("POST", "reset")

    def load(self, bundle: dict[str, Any]) -> dict[str, Any]:
        """Run a transaction or batch Bundle (no token, no faults, not logged); return the response Bundle."""
        response: dict[str, Any] = self._control("POST", "load", bundle)
        for index, entry in enumerate(response.get("entry", [])):
            status = str(entry.get("response", {}).get("status", ""))
            if not status.startswith("2"):
                raise AssertionError(f"loading entry {index} answered {status}: {entry}")
        return response

    def load_file(self, path: str | Path) -> dict[str, Any]:
        return self.load(json.loads(Path(path).read_text(encoding="utf-8")))

    def created_ids(self, response: dict[str, Any]) -> list[str]:
        """``Type/id`` of every entry of a load() response, in Bundle order."""
        return ["/".join(entry["response"]["location"].split("/")[:2]) for entry in response.get("entry", [])]

    def set_token(self, token: str | None) -> None:
        """Demand ``Authorization: Bearer <token>`` on FHIR requests (``None``: no token needed)."""
        self._control("PUT", "token", {"token": token})

    def inject_fault(
        self,
        *,
        status: int | None = None,
        delay_ms: int = 0,
        count: int = 1,
        method: str | None = None,
        path: str | None = None,
        query: str | None = None,
        body: str | None = None,
        content_type: str | None = None,
    ) -> None:
        """The next ``count`` FHIR requests (-1: all until cleared) whose path below the base starts with
        ``path`` (and whose query string contains ``query``) answer ``status`` (optionally with a raw
        ``body``) and/or wait ``delay_ms`` first."""
        spec: dict[str, Any] = {"count": count}
        for key, value in (
            ("status", status),
            ("delayMs", delay_ms or None),
            ("method", method),
            ("path", path),
            ("query", query),
            ("body", body),
            ("contentType", content_type),
        ):
            if value is not None:
                spec[key] = value
        self._control("POST", "faults", spec)

    def set_max_page_size(self, size: int) -> None:
        """Cap every search page at ``size`` entries until the next reset."""
        self._control("PUT", "max-page-size", {"maxPageSize": size})

    def clear_faults(self) -> None:
        self._control("DELETE", "faults")

    def requests_seen(self) -> list[dict[str, Any]]:
        """FHIR requests received since the last reset: method, path (below the base, with query),
        auth ("none" | "valid" | "invalid" | "missing"), ifNoneExist, status."""
        seen: list[dict[str, Any]] = self._control("GET", "requests")["requests"]
        return seen

    def clear_requests(self) -> None:
        self._control("DELETE", "requests")

    def close(self) -> None:
        self._http.close()


def _start_server(log_file: Any) -> tuple[subprocess.Popen[bytes], int]:
    node = shutil.which("node")
    if node is None:
        pytest.fail(
            "Node.js (>= 20.19) is needed for the integration tests: install it, then `make node-deps`"
        )
    if not (FHIR_SERVER_DIR / "node_modules" / "@medplum" / "fhir-router").is_dir():
        pytest.fail(
            "the test FHIR server's packages are not installed: run `make node-deps` "
            "(or `npm ci --prefix tests/fhir_server`)"
        )
    process = subprocess.Popen(
        [node, "server.mjs", "--port", "0", "--exit-with-stdin"],
        cwd=FHIR_SERVER_DIR,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log_file,
        env={**os.environ, "FHIR_SERVER_TOKEN": "", "FHIR_SERVER_PORT": ""},
    )
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        ready = selector.select(timeout=_START_TIMEOUT_S)
    line = process.stdout.readline() if ready else b""
    try:
        port = int(json.loads(line)["port"])
    except (ValueError, KeyError, TypeError):
        _stop_server(process)
        log_file.seek(0)
        pytest.fail(
            f"the test FHIR server did not start: {line!r}\n{log_file.read().decode(errors='replace')}"
        )
    return process, port


def _stop_server(process: subprocess.Popen[bytes]) -> None:
    for stream in (process.stdin, process.stdout):
        if stream is not None:
            stream.close()  # closing stdin alone makes the server exit (--exit-with-stdin)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def fhir_server() -> Iterator[FhirTestServer]:
    with tempfile.TemporaryFile() as log_file:
        process, port = _start_server(log_file)
        server = FhirTestServer(port)
        try:
            response = server._http.get(f"{server.base_url}/metadata", timeout=10)
            assert response.status_code == 200
            assert response.json()["fhirVersion"] == "4.0.1"
            yield server
        finally:
            server.close()
            _stop_server(process)


@pytest.fixture
def fresh_fhir(fhir_server: FhirTestServer) -> FhirTestServer:
    fhir_server.reset()
    return fhir_server


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if any(name in getattr(item, "fixturenames", ()) for name in _FHIR_FIXTURES):
            item.add_marker(pytest.mark.integration)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "bonemet.sqlite3")
    yield opened
    opened.close()


POSTGRES_URL = os.environ.get("BONEMET_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def fresh_database() -> Iterator[str]:
    """The URL of a new, empty database on the local PostgreSQL, dropped afterwards: for tests that start
    several service processes on one database, as replicas behind a load balancer would share it."""
    name = f"bonemet_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_URL}")
        pytest.skip(f"PostgreSQL is not reachable ({type(exc).__name__})")
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield urlunsplit(urlsplit(POSTGRES_URL)._replace(path=f"/{name}"))
        finally:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def free_port() -> Callable[[], int]:
    """A function giving a loopback port nothing listens on, for a service process a test starts."""
    return _unused_port
