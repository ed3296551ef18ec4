"""A real fhir-bonemet server on a free local port, with the example patients' plans published through it.

The workflow's clock is the examples' anchor date, so each example's data are as current as they were
written; every plan comes from a real hook call (POST /cds-services/...) and the link in its exercise card.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import requests
import uvicorn

from fhir_bonemet.cards.build import PLAN_LINK_LABEL
from fhir_bonemet.cli.examples_runner import default_examples_dir, load_manifest, prefetched_request
from fhir_bonemet.main import build_app
from fhir_bonemet.settings import Settings
from fhir_bonemet.workflow import Workflow

MANIFEST = load_manifest(default_examples_dir())
ANCHOR = date.fromisoformat(MANIFEST["anchorDate"])
SCENARIOS = [s["id"] for s in MANIFEST["scenarios"]]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class PlanServer:
    base: str
    settings: Settings

    def plan_link(self, scenario: str, hook: str = "patient-view") -> str | None:
        """Fire the scenario's hook and return the "Open the full plan" link of its cards (None if none)."""
        services = requests.get(f"{self.base}/cds-services", timeout=10).json()["services"]
        service = next(s["id"] for s in services if s["hook"] == hook)
        response = requests.post(
            f"{self.base}/cds-services/{service}", json=prefetched_request(scenario, hook), timeout=60
        )
        response.raise_for_status()
        links = [
            link["url"]
            for card in response.json()["cards"]
            for link in card.get("links", ())
            if link["label"] == PLAN_LINK_LABEL
        ]
        return links[0] if links else None

    def cards(self, scenario: str) -> list[dict[str, Any]]:
        services = requests.get(f"{self.base}/cds-services", timeout=10).json()["services"]
        service = next(s["id"] for s in services if s["hook"] == "patient-view")
        body = requests.post(
            f"{self.base}/cds-services/{service}", json=prefetched_request(scenario), timeout=60
        ).json()
        cards: list[dict[str, Any]] = body["cards"]
        return cards


@contextmanager
def running_server(data_dir: Path, **overrides: Any) -> Iterator[PlanServer]:
    port = _free_port()
    settings = Settings(auth_required=False, data_dir=data_dir, port=port, **overrides)
    app = build_app(settings, handler=Workflow.from_settings(settings, clock=lambda: ANCHOR))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield PlanServer(f"http://127.0.0.1:{port}", settings)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
