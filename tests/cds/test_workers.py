"""``fhir-bonemet serve --workers N``: N processes, connections spread over them, a clean stop on SIGTERM."""

from __future__ import annotations

import gc
import multiprocessing
import multiprocessing.context
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, ClassVar

import pytest
import requests

from fhir_bonemet.cli.main import build_parser
from fhir_bonemet.settings import Settings
from fhir_bonemet.web.workers import SERVING_GC_THRESHOLDS, serve, tune_garbage_collector


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _children(pid: int) -> list[int]:
    """The worker processes (multiprocessing's resource tracker is a child as well, and no worker)."""
    found = [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return [p for p in found if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()]


def _sockets(pid: int) -> int:
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            count += os.readlink(fd).startswith("socket:")
        except OSError:
            continue
    return count


def test_workers_default_to_the_number_of_cpus_and_must_be_positive() -> None:
    assert build_parser().parse_args(["serve"]).workers == (os.cpu_count() or 1)
    assert build_parser().parse_args(["serve", "--workers", "3"]).workers == 3
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--workers", "0"])


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads worker sockets from /proc (Linux)")
def test_two_workers_both_take_connections_and_stop_on_sigterm(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BONEMET_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "fhir_bonemet", "serve", "--no-auth", "--port", str(port), "--workers", "2"],
        env={**env, "BONEMET_DATA_DIR": str(tmp_path)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    sessions: list[requests.Session] = []
    try:
        deadline = time.monotonic() + 60
        while len(_children(process.pid)) < 2 or not all(_sockets(c) for c in _children(process.pid)):
            assert process.poll() is None
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.2)
        workers = _children(process.pid)
        idle = {pid: _sockets(pid) for pid in workers}
        # Forty kept-alive connections, each from its own source port: the kernel spreads them.
        for _ in range(40):
            session = requests.Session()
            session.trust_env = False
            while True:
                try:
                    assert session.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200
                    break
                except requests.ConnectionError:  # a worker still starting its application
                    assert time.monotonic() < deadline
                    time.sleep(0.2)
            sessions.append(session)
        held = {pid: _sockets(pid) - idle[pid] for pid in workers}
        assert sum(held.values()) >= 40
        assert all(count >= 5 for count in held.values()), held
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        assert not any(Path(f"/proc/{pid}").exists() for pid in workers)
    finally:
        for session in sessions:
            session.close()
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads worker processes from /proc (Linux)")
def test_workers_stop_when_their_parent_is_killed(tmp_path: Path) -> None:
    """SIGKILL cannot be passed on; the workers notice they are orphaned and stop instead of holding the
    port forever."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BONEMET_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "fhir_bonemet", "serve", "--no-auth", "--port", str(port), "--workers", "2"],
        env={**env, "BONEMET_DATA_DIR": str(tmp_path)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while len(_children(process.pid)) < 2:
        assert time.monotonic() < deadline, "the workers did not start"
        time.sleep(0.2)
    workers = _children(process.pid)
    process.kill()
    process.wait()
    deadline = time.monotonic() + 30
    while any(Path(f"/proc/{pid}").exists() and b"spawn_main" in _cmdline(pid) for pid in workers):
        assert time.monotonic() < deadline, "orphaned workers kept running"
        time.sleep(0.2)


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def test_a_served_worker_freezes_its_start_up_heap_and_raises_the_collector_thresholds() -> None:
    before = gc.get_threshold()
    try:
        tune_garbage_collector()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == SERVING_GC_THRESHOLDS
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


class _StopOnFirstStart(multiprocessing.context.SpawnProcess):
    """A worker process that only sleeps (the service's worker target is not run), and whose first start is
    followed at once by SIGTERM to the supervisor: a stop that arrives while the workers are starting.
    Module-level, as a spawned child unpickles it by name."""

    made: ClassVar[list[_StopOnFirstStart]] = []

    def __init__(self, target: Any, args: Any, name: str) -> None:
        super().__init__(target=time.sleep, args=(60,), name=name)
        type(self).made.append(self)

    def start(self) -> None:
        super().start()
        if sum(p.pid is not None for p in type(self).made) == 1:
            os.kill(os.getpid(), signal.SIGTERM)


class _Context:
    Process = _StopOnFirstStart


@pytest.mark.timeout(40)
def test_a_stop_during_start_up_stops_every_worker(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Without it, a worker started after SIGTERM never got it: it served on for its whole life and the
    supervisor waited for it (a stopped replica that had to be killed)."""
    _StopOnFirstStart.made.clear()
    monkeypatch.setattr(multiprocessing, "get_context", lambda method: _Context)
    started = time.monotonic()
    code = serve(Settings(data_dir=tmp_path, auth_required=False), 3, lambda settings: None)  # type: ignore[arg-type,return-value]
    assert time.monotonic() - started < 30, "the supervisor waited for a worker that was never stopped"
    assert code == 0
    workers = [p for p in _StopOnFirstStart.made if p.pid is not None]
    assert workers, "no worker was started before the stop"
    assert all(p.exitcode == -signal.SIGTERM for p in workers), [p.exitcode for p in workers]
