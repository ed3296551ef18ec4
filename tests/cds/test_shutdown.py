"""``fhir-bonemet serve`` stops within its graceful-shutdown timeout even while a hook call waits on a
FHIR server that never answers."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from cds_helpers import example


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP server that accepts connections and never sends a byte."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(5)
    for conn in accepted:
        conn.close()
    listener.close()


def test_sigterm_cuts_a_hanging_hook_call_after_the_shutdown_timeout(
    tmp_path: Path, silent_server: int
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    fhir = f"http://127.0.0.1:{silent_server}/fhir"
    env = {key: value for key, value in os.environ.items() if not key.startswith("BONEMET_")}
    env.update(
        BONEMET_DATA_DIR=str(tmp_path / "var"),
        BONEMET_FHIR_SERVER_ALLOWLIST=fhir,
        BONEMET_HOOK_DEADLINE_SECONDS="60",
        BONEMET_FHIR_READ_TIMEOUT_SECONDS="60",
        BONEMET_SHUTDOWN_TIMEOUT_SECONDS="1",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "fhir_bonemet", "serve", "--port", str(port), "--no-auth"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    http = requests.Session()
    http.trust_env = False
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if http.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):
                pass
            assert process.poll() is None, "the service did not start"
            assert time.monotonic() < deadline, "the service did not start"
            time.sleep(0.1)
        body = example("patient-view.request.json")
        body["fhirServer"] = fhir
        body.pop("prefetch", None)
        url = f"{base}/cds-services/bonemet-patient-view"
        threading.Thread(target=_post_quietly, args=(http, url, body), daemon=True).start()
        time.sleep(1.0)  # the hook call is now waiting on the silent server
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
        assert time.monotonic() - started < 1 + 2.5
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        http.close()


def _post_quietly(http: requests.Session, url: str, body: dict[str, object]) -> None:
    with contextlib.suppress(requests.RequestException):  # the service going away ends it
        http.post(url, data=json.dumps(body), headers={"Content-Type": "application/json"}, timeout=60)
