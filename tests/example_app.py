"""The whole service as the example patients meet it: every route, the workflow, a store in a directory of
the test's own, and the examples' anchor date as today (their results are dated relative to it).

    with example_client(tmp_path, public_base_url=PUBLIC) as client:
        client.post(...)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from fhir_bonemet.cli.examples_runner import default_examples_dir, load_manifest
from fhir_bonemet.main import build_app
from fhir_bonemet.settings import Settings
from fhir_bonemet.workflow import Workflow

EXAMPLES_TODAY = date.fromisoformat(load_manifest(default_examples_dir())["anchorDate"])
PUBLIC = "https://cds.example.org/bonemet"  # a public base URL, for the plan links cards carry


@contextmanager
def example_client(data_dir: Path, **settings: Any) -> Iterator[TestClient]:
    """A test client of the service without authentication, its store in ``data_dir``; ``settings``
    override the rest."""
    config = Settings(auth_required=False, data_dir=data_dir, **settings)
    app = build_app(config, handler=Workflow.from_settings(config, clock=lambda: EXAMPLES_TODAY))
    with TestClient(app) as client:
        yield client
