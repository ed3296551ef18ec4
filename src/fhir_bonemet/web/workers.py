"""Serve with N worker processes that really share the load, each socket with TCP_NODELAY.

Each worker is its own process with its own listening socket bound to the same address with
``SO_REUSEPORT``: the kernel spreads new connections over the sockets, so no worker can take every
connection (as a shared accept socket under ``uvicorn --workers`` may).  Each accepted socket gets
``TCP_NODELAY`` explicitly: with Nagle's algorithm on, a kept-alive call whose answer goes out in two writes
waits for the client's delayed ACK (about 40 ms a call).

Each worker builds its own application (with the factory it is given: the composition root's
``build_app``) and opens its own store connection; what workers
must share (the JWT replay cache, outbox claims, the issued-card audit) lives in the store.

The parent process only supervises: SIGTERM or SIGINT is passed on to every worker, which finishes its
requests and flushes its audit records (see :mod:`fhir_bonemet.web.audit`); a worker that exits on its own
stops the others, and the parent exits with that worker's code for the process manager to act on.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any

import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.h11_impl import H11Protocol

from fhir_bonemet.errors import BonemetError, ConfigurationError
from fhir_bonemet.settings import Settings

__all__ = [
    "SERVING_GC_THRESHOLDS",
    "NoDelayH11Protocol",
    "listening_socket",
    "serve",
    "tune_garbage_collector",
]

log = logging.getLogger("fhir_bonemet.cli.main")

_BACKLOG = 2048


class NoDelayH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, with TCP_NODELAY set on every accepted connection."""

    def connection_made(self, transport: Any) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)


def listening_socket(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    """A bound, listening TCP socket; with ``reuse_port`` one of several sharing the address."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(_BACKLOG)
    sock.setblocking(False)
    return sock


def _stop_when_orphaned(parent: int, interval: float = 1.0) -> None:
    """Stop this worker gracefully (SIGTERM to itself) once its parent is gone, e.g. killed with SIGKILL,
    which it cannot pass on: a worker must not keep serving the port on its own."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


# Builds one worker's application from the settings.  A module-level function, so that a spawned worker
# process can import it by name.
AppFactory = Callable[[Settings], ASGIApp]


def _run_worker(
    settings: Settings, reuse_port: bool, app_factory: AppFactory, parent: int | None = None
) -> None:
    """One worker: its own socket, its own application, one uvicorn server (which handles SIGTERM)."""
    from fhir_bonemet.web.logs import configure_logging

    if parent is not None:
        _stop_when_orphaned(parent)
    configure_logging(settings.log_level)
    try:
        sock = listening_socket(settings.host, settings.port, reuse_port=reuse_port)
    except OSError as exc:  # a port in use, a host that is not this machine's: said, not a traceback
        where = f"{settings.host}:{settings.port}"
        print(f"fhir-bonemet: cannot listen on {where}: {exc.strerror or exc}", file=sys.stderr)
        sys.exit(2)
    try:
        app = app_factory(settings)
    except ConfigurationError as exc:
        print(f"fhir-bonemet: configuration error: {exc}", file=sys.stderr)
        sys.exit(2)
    except BonemetError as exc:  # the store cannot be opened
        print(f"fhir-bonemet: {exc}", file=sys.stderr)
        sys.exit(2)
    tune_garbage_collector()
    config = uvicorn.Config(
        app,
        http=NoDelayH11Protocol,
        log_config=None,
        access_log=False,
        lifespan="on",
        workers=1,
        timeout_graceful_shutdown=settings.shutdown_timeout_seconds,
    )
    uvicorn.Server(config).run(sockets=[sock])


# The cyclic collector's thresholds in a served worker (CPython's default: 700, 10, 10).  A hook call keeps
# a great many container objects alive until its answer is sent (a 1 MB prefetch parses into ~300,000),
# all of them trees freed by reference counting.  With the default thresholds they were scanned ~30 times
# a call in the young generations, and a full scan of everything in flight ran every few calls: some 5 ms
# of a heavy chart's 35 ms call.  With these, about one young scan a heavy call (0.7 ms).  Cycles (an
# exception kept with its traceback) are still found: being young, by the next young scan, at most 50,000
# allocations (a few calls) later.
SERVING_GC_THRESHOLDS = (50_000, 20, 20)


def tune_garbage_collector() -> None:
    """Set the collector up for serving: start-up's heap frozen, hook calls scanned rarely.

    What start-up built (terminology, models, the rule catalogue: hundreds of thousands of objects that live
    as long as the worker) is kept out of the collector's scans: each full one walked it all again, a third
    of a heavy chart's call.  Frozen objects are still freed by reference counting; only their cycle scan
    is skipped.  Then :data:`SERVING_GC_THRESHOLDS`.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*SERVING_GC_THRESHOLDS)


def serve(settings: Settings, workers: int, app_factory: AppFactory) -> int:
    """Run the service until SIGTERM/SIGINT; the exit code (0 after a requested stop)."""
    if workers == 1:
        _run_worker(settings, False, app_factory)
        return 0
    if not hasattr(socket, "SO_REUSEPORT"):
        raise ConfigurationError("--workers above 1 needs SO_REUSEPORT (Linux, BSD, macOS)")
    context = multiprocessing.get_context("spawn")
    processes: list[BaseProcess] = [
        context.Process(
            target=_run_worker,
            args=(settings, True, app_factory, os.getpid()),
            name=f"fhir-bonemet-worker-{n}",
        )
        for n in range(workers)
    ]
    stopping = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for process in processes:
            if process.pid is not None and process.is_alive():
                process.terminate()  # SIGTERM: uvicorn's graceful shutdown in the worker

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        for process in processes:
            if stopping:
                break  # asked to stop while starting: the rest are not started at all
            process.start()
        processes[:] = [p for p in processes if p.pid is not None]
        if stopping:
            # A stop that came while a worker was being started missed that worker (it had no pid yet, or
            # was started after the request): it would serve on, and this process wait for it, until killed.
            stop(signal.SIGTERM, None)
        log.info("workers started", extra={"workers": workers, "pids": [p.pid for p in processes]})
        code = 0
        while processes:
            ended = multiprocessing.connection.wait([p.sentinel for p in processes])
            for process in [p for p in processes if p.sentinel in ended]:
                process.join()
                processes.remove(process)
                if not stopping:
                    log.error("worker exited", extra={"pid": process.pid, "exitcode": process.exitcode})
                    code = process.exitcode or 1
                    stop(signal.SIGTERM, None)
        return code
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
