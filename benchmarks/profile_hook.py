"""One hook call in-process, straight through the ASGI app: CPU per call, and where it goes.

The service's whole stack (middleware, routing, parsing, reading, reasoning, cards, CarePlan, plan link)
without a socket or a load generator, so that a change to any of it shows in the numbers at once.  Uses the
charts of ``bench_service.py`` (the typical and the heavy patient-view).  ``--profile`` adds a cProfile
listing of the calls after the timed ones, sorted by own time and by cumulative time.  The listing counts
the CPU time of the hook's own thread: time spent waiting for the GIL while a background writer runs is not
charged to whatever function happened to be waiting.

    .venv/bin/python benchmarks/profile_hook.py [--chart typical|heavy] [--calls N] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from bench_service import SERVICE_PATH, NewInstances, chart

from fhir_bonemet.main import build_app
from fhir_bonemet.settings import Settings
from fhir_bonemet.web.workers import tune_garbage_collector

SIZES = {"typical": 22, "heavy": 1400}


class AnswerTimes:
    """How long each call took until its answer was sent (the latency a client sees; work the service
    does after sending, such as freeing the parsed request, is not in it)."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    def median_ms(self) -> float:
        ordered = sorted(self.seconds)
        return ordered[len(ordered) // 2] * 1000 if ordered else float("nan")


def asgi_call(app: Any, chart_body: bytes, answers: AnswerTimes | None = None) -> Any:
    """A coroutine that posts the chart to the hook like uvicorn would, each time with a hookInstance of
    its own (as an EHR does, see ``bench_service.NewInstances``), and checks the answer is 200."""
    bodies = NewInstances(chart_body)
    headers = [
        (b"host", b"127.0.0.1"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(chart_body)).encode()),
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": SERVICE_PATH,
        "raw_path": SERVICE_PATH.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
    }

    async def call() -> None:
        body = bodies.next()
        delivered = False
        status: list[int] = []
        started = time.perf_counter()

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # the client stays connected
            raise AssertionError("unreachable")

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            elif answers is not None and not message.get("more_body", False):
                answers.seconds.append(time.perf_counter() - started)

        await app({**scope, "state": {}}, receive, send)
        if status != [200]:
            raise SystemExit(f"unexpected status {status}")

    return call


async def run(chart_name: str, calls: int, profile: bool) -> None:
    app = build_app(Settings(auth_required=False))
    answers = AnswerTimes()
    call = asgi_call(app, chart(SIZES[chart_name]), answers)
    state = app.state.bonemet
    async with app.router.lifespan_context(app):
        for _ in range(20):  # warm-up: caches, first-use imports, the plan view written once
            await call()
        tune_garbage_collector()  # as a served worker does
        answers.seconds.clear()
        start, cpu = time.perf_counter(), time.process_time()
        for _ in range(calls):
            await call()
        state.plan_views.flush()  # the views rendered and written in the background count too
        state.audit.flush()
        wall_ms = (time.perf_counter() - start) / calls * 1000
        cpu_ms = (time.process_time() - cpu) / calls * 1000
        print(
            f"{chart_name}: {wall_ms:.3f} ms wall, {cpu_ms:.3f} ms CPU/call, median "
            f"{answers.median_ms():.3f} ms to the answer ({calls} calls)",
            flush=True,
        )
        if profile:
            profiler = cProfile.Profile(time.thread_time)
            profiler.enable()
            for _ in range(calls):
                await call()
            profiler.disable()
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out)
            stats.sort_stats("tottime").print_stats(40)
            stats.sort_stats("cumtime").print_stats(80)
            print(out.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--chart", choices=sorted(SIZES), default="typical")
    parser.add_argument("--calls", type=int, default=None, help="default: 500 typical, 30 heavy")
    parser.add_argument("--profile", action="store_true", help="print a cProfile listing as well")
    args = parser.parse_args()
    calls = args.calls or (500 if args.chart == "typical" else 30)
    with tempfile.TemporaryDirectory() as data_dir:
        os.environ["BONEMET_DATA_DIR"] = data_dir
        asyncio.run(run(args.chart, calls, args.profile))


if __name__ == "__main__":
    main()
