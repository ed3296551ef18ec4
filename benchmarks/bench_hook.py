"""Whole hook calls through the HTTP app: what an EHR waits for, without network or FHIR server.

Fires ``patient-view`` with everything prefetched (an example patient, and the same patient padded to
~1,000 resources) at the app in-process, and compares the median latency with a floor measured in the same
run: a bare FastAPI route that only parses the same JSON body.  Service and floor calls alternate, so load
from other processes weighs on both alike.  Prints the medians in milliseconds, the median of the per-call
ratios and the ratio of the best calls; the CDS Hooks guidance is "on the order of 500 ms" per call.

    .venv/bin/python benchmarks/bench_hook.py [--runs N]
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from fhir_bonemet.cli.examples_runner import default_examples_dir, load_manifest, prefetched_request
from fhir_bonemet.main import build_app
from fhir_bonemet.settings import Settings
from fhir_bonemet.workflow import Workflow

EXAMPLES = default_examples_dir()
SCENARIO = "opioid-benzodiazepine"


def hook_body(padding: int) -> bytes:
    """The scenario's patient-view request, with ``padding`` older observations added to its prefetch."""
    body = prefetched_request(SCENARIO)
    # The Observation keys (observations-pain, -labs, ...), each padded with copies of its own results.
    keys = [
        key
        for key, value in body["prefetch"].items()
        if key.startswith("observations") and value.get("entry")
    ]
    originals = [(key, e["resource"]) for key in keys for e in body["prefetch"][key]["entry"]]
    # Older pain scores and labs, as a long-followed patient's record would hold.
    for i in range(padding):
        key, original = originals[i % len(originals)]
        extra = copy.deepcopy(original)
        extra["id"] = f"history-{i}"
        extra["effectiveDateTime"] = f"20{10 + i % 14:02d}-0{1 + i % 9}-1{i % 10}"
        body["prefetch"][key]["entry"].append({"resource": extra})
    return json.dumps(body).encode()


HEADERS = {"Content-Type": "application/json"}


def call_ms(client: TestClient, path: str, payload: bytes) -> float:
    start = time.perf_counter()
    response = client.post(path, content=payload, headers=HEADERS)
    elapsed = (time.perf_counter() - start) * 1000
    if response.status_code != 200:
        sys.exit(f"unexpected status {response.status_code}: {response.text[:200]}")
    return elapsed


def interleaved_ms(
    service: tuple[TestClient, str], floor: tuple[TestClient, str], payload: bytes, runs: int
) -> tuple[list[float], list[float]]:
    """Per-call milliseconds of the service and of the floor, one of each in every run, after a warm-up."""
    for _ in range(3):
        call_ms(*service, payload)
        call_ms(*floor, payload)
    hooks, bares = [], []
    for _ in range(runs):
        hooks.append(call_ms(*service, payload))
        bares.append(call_ms(*floor, payload))
    return hooks, bares


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    anchor = date.fromisoformat(load_manifest(EXAMPLES)["anchorDate"])

    floor_app = FastAPI()

    @floor_app.post("/parse")
    async def parse(request: Request) -> dict[str, Any]:
        json.loads(await request.body())
        return {"cards": []}

    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(auth_required=False, data_dir=Path(data_dir))
        app = build_app(settings, handler=Workflow.from_settings(settings, clock=lambda: anchor))
        with TestClient(app) as service, TestClient(floor_app) as floor:
            print(f"patient-view, everything prefetched; {args.runs} interleaved calls each")
            for label, padding in (("example patient", 0), ("~1,000 resources", 990)):
                payload = hook_body(padding)
                hooks, bares = interleaved_ms(
                    (service, "/cds-services/bonemet-patient-view"), (floor, "/parse"), payload, args.runs
                )
                hook, bare = statistics.median(hooks), statistics.median(bares)
                ratio = statistics.median(h / b for h, b in zip(hooks, bares, strict=True))
                print(
                    f"{label:<18} {len(payload) / 1024:5.0f} KiB   service {hook:6.2f} ms "
                    f"(best {min(hooks):6.2f})   parse-only floor {bare:5.2f} ms   ratio {ratio:5.1f} "
                    f"(best calls {min(hooks) / min(bares):5.1f})   share of 500 ms {hook / 500:5.1%}"
                )


if __name__ == "__main__":
    main()
