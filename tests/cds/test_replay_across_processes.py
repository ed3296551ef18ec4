"""Scale-out: two service processes sharing one PostgreSQL database behave as one service.  A token
accepted by one process is refused by the other, and by either after a restart (real ES384 signatures,
real ``fhir-bonemet serve`` processes)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import requests
from cds_helpers import PUBLIC_BASE, SANDBOX_ISS, Signer
from psycopg import sql

pytestmark = pytest.mark.postgres

POSTGRES_URL = os.environ.get("BONEMET_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
DISCOVERY = "/cds-services"


@pytest.fixture
def database() -> Iterator[str]:
    """A fresh database on the local PostgreSQL, dropped afterwards."""
    name = f"bonemet_replay_{uuid.uuid4().hex[:12]}"
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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Service:
    """One ``fhir-bonemet serve`` process with JWT verification on."""

    def __init__(self, tmp_path: Path, database_url: str, signer: Signer) -> None:
        self.port = _free_port()
        issuers = {SANDBOX_ISS: {"jwks": {"keys": [signer.public_jwk]}}}
        env = {key: value for key, value in os.environ.items() if not key.startswith("BONEMET_")}
        env.update(
            BONEMET_DATA_DIR=str(tmp_path / f"var-{self.port}"),
            BONEMET_DATABASE_URL=database_url,
            BONEMET_PUBLIC_BASE_URL=PUBLIC_BASE,
            BONEMET_TRUSTED_ISSUERS=json.dumps(issuers),
        )
        self.process = subprocess.Popen(
            [sys.executable, "-m", "fhir_bonemet", "serve", "--port", str(self.port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.base = f"http://127.0.0.1:{self.port}"
        self.http = requests.Session()
        self.http.trust_env = False
        deadline = time.monotonic() + 30
        while True:
            try:
                if self.http.get(f"{self.base}/health", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.process.kill()
                raise AssertionError(f"the service did not start: {self.process.communicate(timeout=5)[1]}")
            time.sleep(0.1)

    def call(self, token: str) -> int:
        """Discovery needs a valid token like every CDS endpoint: 200 accepted, 401 refused."""
        response = self.http.get(
            f"{self.base}{DISCOVERY}", headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        return response.status_code

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        if self.process.stderr is not None:
            self.process.stderr.close()
        self.http.close()


def test_a_token_accepted_by_one_process_is_refused_by_the_other_and_after_restart(
    tmp_path: Path, database: str, sandbox_signer: Signer
) -> None:
    first, second = Service(tmp_path, database, sandbox_signer), Service(tmp_path, database, sandbox_signer)
    try:
        token = sandbox_signer.token(PUBLIC_BASE + DISCOVERY, iss=SANDBOX_ISS)
        assert first.call(token) == 200
        assert second.call(token) == 401
        assert first.call(token) == 401
        fresh = sandbox_signer.token(PUBLIC_BASE + DISCOVERY, iss=SANDBOX_ISS)
        assert second.call(fresh) == 200
        second.stop()
        restarted = Service(tmp_path, database, sandbox_signer)
        try:
            assert restarted.call(fresh) == 401
        finally:
            restarted.stop()
    finally:
        first.stop()
        second.stop()
