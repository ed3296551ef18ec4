"""Scale-out: two service processes sharing one PostgreSQL database behave as one service.  A token
accepted by one process is refused by the other, and by either after a restart (real ES384 signatures,
real ``fhir-bonemet serve`` processes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from cds_helpers import PUBLIC_BASE, SANDBOX_ISS, Signer

pytestmark = pytest.mark.postgres

DISCOVERY = "/cds-services"


class Service:
    """One ``fhir-bonemet serve`` process with JWT verification on."""

    def __init__(self, tmp_path: Path, database_url: str, signer: Signer, port: int) -> None:
        self.port = port
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
            except (requests.ConnectionError, requests.Timeout):
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
    tmp_path: Path, fresh_database: str, free_port: Callable[[], int], sandbox_signer: Signer
) -> None:
    first = Service(tmp_path, fresh_database, sandbox_signer, free_port())
    second = Service(tmp_path, fresh_database, sandbox_signer, free_port())
    try:
        token = sandbox_signer.token(PUBLIC_BASE + DISCOVERY, iss=SANDBOX_ISS)
        assert first.call(token) == 200
        assert second.call(token) == 401
        assert first.call(token) == 401
        fresh = sandbox_signer.token(PUBLIC_BASE + DISCOVERY, iss=SANDBOX_ISS)
        assert second.call(fresh) == 200
        second.stop()
        restarted = Service(tmp_path, fresh_database, sandbox_signer, free_port())
        try:
            assert restarted.call(fresh) == 401
        finally:
            restarted.stop()
    finally:
        first.stop()
        second.stop()
