"""The whole service over real HTTP against a parse-only floor: latency, CPU per call, throughput.

Starts two servers on loopback, each its own process under uvicorn with the same defaults:

* the service, ``python -m fhir_bonemet serve --no-auth --workers N`` (SQLite store in a temporary
  directory, request logs discarded), and
* the floor, a bare FastAPI route that reads the same body, parses it with ``json.loads`` and answers
  ``{"cards": []}``: what any Python web service pays before it does anything useful.

Then, for a typical chart (one example patient padded to ~22 resources) and a heavy one (~1,400 resources,
~1 MB), both as ``patient-view`` with every prefetch key filled and, as an EHR sends them, a new
``hookInstance`` in every request:

* latency: interleaved rounds on one kept-alive connection each (service call, floor call, alternating
  which goes first), so load from other processes weighs on both alike; p50 and p99 in milliseconds;
* CPU per call: user + system time of the server process and its children (``/proc/<pid>/stat``) over
  the latency phase, divided by the calls it answered;
* throughput: 32 kept-alive connections for a few seconds, service and floor alternately, requests/s;
  with ``--compare-workers N``, N workers against one, two fresh services measured alternately.

Ratios are service ÷ floor.  The load generator is plain asyncio speaking HTTP/1.1 on raw sockets (no
dependency, and cheap enough that it does not starve the servers on a small machine).  It prints numbers;
it is not a timed test.

``--auth`` has the service verify a signed JWT on every call, as in production (the floor verifies none).

    .venv/bin/python benchmarks/bench_service.py [--workers 1] [--compare-workers 2] [--seconds 4] [--auth]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from fhir_bonemet.cli.examples_runner import prefetched_request

SCENARIO = "thoracic-spine-sins14"
SERVICE_PATH = "/cds-services/bonemet-patient-view"
FLOOR_PATH = "/parse"
CONNECTIONS = 32
_TICKS = os.sysconf("SC_CLK_TCK")


# --- the floor ------------------------------------------------------------------------------------------


def run_floor(port: int) -> None:
    """The parse-only endpoint, served like the service (uvicorn defaults, one process, no access log)."""
    app = FastAPI()

    @app.post(FLOOR_PATH)
    async def parse(request: Request) -> JSONResponse:
        json.loads(await request.body())
        return JSONResponse({"cards": []})

    uvicorn.run(app, host="127.0.0.1", port=port, log_config=None, access_log=False)


# --- charts ---------------------------------------------------------------------------------------------


def chart(resources: int) -> bytes:
    """The scenario's patient-view request, dated today, with older copies of its observations and
    medication statements added to the prefetch until it holds ``resources`` resources: the history of a
    long-followed patient (years of labs, scores and medication records; the problem list stays short)."""
    body = prefetched_request(SCENARIO, today=date.today())
    prefetch = body["prefetch"]
    # Observation keys are generated per category (observations-pain, observations-labs, ...): every
    # non-empty one grows, three observations for each medication statement.
    observation_keys = [key for key in prefetch if key.startswith("observations")]
    pools = [prefetch[key]["entry"] for key in observation_keys * 3 + ["medication-statements"]]
    pools = [pool for pool in pools if pool]
    originals = [[entry["resource"] for entry in pool] for pool in pools]
    count = 1 + sum(len(v["entry"]) for v in prefetch.values() if isinstance(v, dict) and "entry" in v)
    i = 0
    while count < resources:
        pool, source = pools[i % len(pools)], originals[i % len(pools)]
        extra = copy.deepcopy(source[(i // len(pools)) % len(source)])
        extra["id"] = f"history-{i}"
        # Older than anything current: long-followed patients' history, dated years back.
        older = (date.today() - timedelta(days=400 + i % 3000)).isoformat()
        for key in ("effectiveDateTime", "recordedDate", "onsetDateTime", "performedDateTime"):
            if key in extra:
                extra[key] = older
        pool.append({"resource": extra})
        count += 1
        i += 1
    return json.dumps(body).encode()


class NewInstances:
    """``prefix`` + the chart's body, each time with a hookInstance of its own, as an EHR sends them.

    A repeated hookInstance would be a retry of one call, which the service answers from what it kept of
    the first (the same plan link, no new plan view to store): cheaper than the calls an EHR makes.  The
    new uuid has the length of the old one, so only those 36 bytes change."""

    def __init__(self, body: bytes, prefix: bytes = b"") -> None:
        instance = json.loads(body)["hookInstance"].encode()
        if len(instance) != 36 or body.count(instance) != 1:
            raise ValueError("the chart's hookInstance must be one uuid, appearing once")
        self._before, self._after = (prefix + body).split(instance)

    def next(self) -> bytes:
        return self._before + str(uuid.uuid4()).encode() + self._after


class HookRequests(NewInstances):
    """The HTTP requests of one chart, each with a hookInstance of its own, and with a JWT of its own when
    ``tokens`` are given (a CDS client signs one per call: each ``jti`` is accepted once)."""

    def __init__(self, path: str, body: bytes, tokens: TokenPool | None = None) -> None:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n"
        )
        super().__init__(
            body, head.encode() + (b"Authorization: Bearer {token}\r\n" if tokens else b"") + b"\r\n"
        )
        self._tokens = tokens

    def next(self) -> bytes:
        request = super().next()
        if self._tokens is None:
            return request
        return request.replace(b"{token}", self._tokens.next().encode(), 1)


class Tokens:
    """JWTs shaped like the CDS Hooks Sandbox's (ES384, a kid, a fresh jti each), signed ahead of the
    calls so that signing does not load the machine while the servers are measured."""

    ISSUER = "https://bench-ehr.example"

    def __init__(self) -> None:
        from cryptography.hazmat.primitives.asymmetric import ec
        from jwt.algorithms import ECAlgorithm

        self._key = ec.generate_private_key(ec.SECP384R1())
        public = json.loads(ECAlgorithm.to_jwk(self._key.public_key()))
        self.jwks = {"keys": [{**public, "kid": "bench-1", "use": "sig", "alg": "ES384"}]}

    def pool(self, port: int, count: int) -> TokenPool:
        """``count`` tokens for the hook of the service on ``port`` (its URL is their audience)."""
        return TokenPool(self._key, f"http://127.0.0.1:{port}{SERVICE_PATH}", count)

    def service_env(self, port: int, directory: str) -> dict[str, str]:
        """What the service needs to verify these tokens: its public URL (the audience) and the issuer."""
        issuers = Path(directory) / "trusted-issuers.json"
        issuers.write_text(json.dumps({self.ISSUER: {"jwks": self.jwks}}))
        return {
            "BONEMET_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "BONEMET_TRUSTED_ISSUERS_FILE": str(issuers),
        }


class TokenPool:
    def __init__(self, key: Any, audience: str, count: int) -> None:
        self._key, self._audience = key, audience
        self._signed: list[str] = []
        self._sign(count)

    def _sign(self, count: int) -> None:
        import jwt

        now = int(time.time())
        claims = {"iss": Tokens.ISSUER, "aud": self._audience, "iat": now, "exp": now + 600}
        self._signed.extend(
            jwt.encode({**claims, "jti": str(uuid.uuid4())}, self._key, "ES384", headers={"kid": "bench-1"})
            for _ in range(count)
        )

    def next(self) -> str:
        if not self._signed:  # more calls than foreseen: sign on the spot (counted against the client)
            self._sign(100)
        return self._signed.pop()


# --- load generation ------------------------------------------------------------------------------------


class Connection:
    """One kept-alive HTTP/1.1 connection speaking just enough of the protocol for these answers.

    A server may close a connection that sat idle past its keep-alive timeout (uvicorn: 5 s) while the
    other server answered a slow call; the request is then sent again on a new connection."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    @classmethod
    async def open(cls, port: int) -> Connection:
        connection = cls(port)
        await connection._connect()
        return connection

    async def _connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port, limit=1 << 22)
        self.writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    async def call(self, requests: HookRequests) -> float:
        request = requests.next()
        try:
            return await self._call(request)
        except (asyncio.IncompleteReadError, ConnectionError):
            self.close()
            await self._connect()
            return await self._call(request)

    async def _call(self, request: bytes) -> float:
        assert self.reader is not None
        assert self.writer is not None
        start = time.perf_counter()
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        await self.reader.readexactly(length)
        elapsed = time.perf_counter() - start
        if status != 200:
            raise RuntimeError(f"unexpected HTTP {status}")
        return elapsed

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def interleaved(
    service: tuple[int, HookRequests], floor: tuple[int, HookRequests], rounds: int
) -> tuple[list[float], list[float]]:
    a, b = await Connection.open(service[0]), await Connection.open(floor[0])
    try:
        for _ in range(5):  # warm-up
            await a.call(service[1])
            await b.call(floor[1])
        ours, bare = [], []
        for i in range(rounds):
            if i % 2:
                ours.append(await a.call(service[1]))
                bare.append(await b.call(floor[1]))
            else:
                bare.append(await b.call(floor[1]))
                ours.append(await a.call(service[1]))
        return ours, bare
    finally:
        a.close()
        b.close()


async def throughput(port: int, request: HookRequests, seconds: float) -> float:
    connections = [await Connection.open(port) for _ in range(CONNECTIONS)]
    deadline = time.perf_counter() + seconds
    done = 0

    async def drive(connection: Connection) -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await connection.call(request)
            done += 1

    start = time.perf_counter()
    try:
        await asyncio.gather(*(drive(c) for c in connections))
    finally:
        for connection in connections:
            connection.close()
    return done / (time.perf_counter() - start)


# --- servers --------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and all its descendants (the workers of a multi-worker service)."""
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / _TICKS
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except FileNotFoundError:
            continue
        pending.extend(int(child) for child in children)
    return total


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int


def _wait_listening(server: Server, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            sys.exit(f"server exited with {server.process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    sys.exit("server did not start listening")


@contextmanager
def running(command: list[str], port: int, env: dict[str, str]) -> Iterator[Server]:
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    server = Server(process, port)
    try:
        _wait_listening(server)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def service_command(port: int, workers: int, auth: bool = False) -> list[str]:
    return [
        *(sys.executable, "-m", "fhir_bonemet", "serve", *(() if auth else ("--no-auth",))),
        *("--port", str(port), "--workers", str(workers)),
    ]


# --- report ---------------------------------------------------------------------------------------------


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def measure_chart(
    label: str,
    payload: bytes,
    service: Server,
    floor: Server,
    rounds: int,
    seconds: float,
    tokens: Tokens | None = None,
) -> dict[str, Any]:
    # Enough tokens for the rounds and two throughput runs at up to ~800 requests/s.
    pool = tokens.pool(service.port, rounds + 10 + int(1600 * seconds)) if tokens else None
    service_request = HookRequests(SERVICE_PATH, payload, pool)
    floor_request = HookRequests(FLOOR_PATH, payload)
    cpu_service, cpu_floor = _cpu_seconds(service.process.pid), _cpu_seconds(floor.process.pid)
    ours, bare = asyncio.run(
        interleaved((service.port, service_request), (floor.port, floor_request), rounds)
    )
    calls = rounds + 5
    cpu_ours = (_cpu_seconds(service.process.pid) - cpu_service) / calls * 1000
    cpu_bare = (_cpu_seconds(floor.process.pid) - cpu_floor) / calls * 1000
    rps_ours, rps_bare = [], []
    for _ in range(2):  # alternate, so a slow second on the machine hits both
        rps_ours.append(asyncio.run(throughput(service.port, service_request, seconds)))
        rps_bare.append(asyncio.run(throughput(floor.port, floor_request, seconds)))
    result = {
        "chart": label,
        "kib": len(payload) / 1024,
        "p50": (_p(ours, 0.5), _p(bare, 0.5)),
        "p99": (_p(ours, 0.99), _p(bare, 0.99)),
        "cpu": (cpu_ours, cpu_bare),
        "rps": (max(rps_ours), max(rps_bare)),
    }
    print(
        f"{label:<8} {result['kib']:6.0f} KiB | p50 {result['p50'][0]:7.2f} ms vs {result['p50'][1]:6.2f} "
        f"(x{result['p50'][0] / result['p50'][1]:4.1f}) | p99 {result['p99'][0]:7.2f} vs "
        f"{result['p99'][1]:6.2f} (x{result['p99'][0] / result['p99'][1]:4.1f}) | CPU/call "
        f"{cpu_ours:6.2f} ms vs {cpu_bare:5.2f} (x{cpu_ours / max(cpu_bare, 1e-9):4.1f}) | "
        f"{CONNECTIONS} conns {result['rps'][0]:7.0f} req/s vs {result['rps'][1]:6.0f} "
        f"(x{result['rps'][0] / result['rps'][1]:4.2f})",
        flush=True,
    )
    return result


# --- HealthChain ---------------------------------------------------------------------------------------

HEALTHCHAIN_VENV = Path(__file__).parent / ".healthchain-venv"
HEALTHCHAIN_PATH = "/cds/cds-services/bonemet-patient-view"


def healthchain_python() -> Path:
    """The interpreter of an environment with HealthChain 0.16.1 (it pins an older FastAPI than this
    project, so it cannot share the project's), made on first use."""
    python = HEALTHCHAIN_VENV / "bin" / "python"
    if not python.exists():
        print(f"installing HealthChain 0.16.1 into {HEALTHCHAIN_VENV} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(HEALTHCHAIN_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "healthchain==0.16.1"], check=True)
    return python


def compare_healthchain(
    service: Server, charts: list[tuple[str, bytes, int]], env: dict[str, str], tokens: Tokens | None
) -> None:
    """Interleaved rounds, the service against HealthChain, on each chart: p50 and how many times faster."""
    port = _free_port()
    command = [str(healthchain_python()), str(Path(__file__).parent / "healthchain_server.py"), str(port)]
    with running(command, port, env) as healthchain:
        for label, body, rounds in charts:
            rounds = rounds if label == "typical" else max(10, rounds // 3)
            pool = tokens.pool(service.port, rounds + 10) if tokens else None
            ours, theirs = asyncio.run(
                interleaved(
                    (service.port, HookRequests(SERVICE_PATH, body, pool)),
                    (healthchain.port, HookRequests(HEALTHCHAIN_PATH, body)),
                    rounds,
                )
            )
            print(
                f"{label:<8} vs HealthChain 0.16.1 (typed prefetch, no logic) | p50 {_p(ours, 0.5):7.2f} ms "
                f"vs {_p(theirs, 0.5):7.2f} (x{_p(theirs, 0.5) / _p(ours, 0.5):4.1f} faster) | p99 "
                f"{_p(ours, 0.99):7.2f} vs {_p(theirs, 0.99):7.2f}",
                flush=True,
            )


def compare_workers(
    args: argparse.Namespace, body: bytes, env: dict[str, str], data_dir: str, tokens: Tokens | None
) -> None:
    """Throughput of ``--compare-workers`` workers against ``--workers``, two fresh services measured in
    alternation (the best of three runs each), so that the machine's drift weighs on both alike."""
    budget = int(1600 * (4 * args.seconds + 1))
    ports = {args.workers: _free_port(), args.compare_workers: _free_port()}
    best = dict.fromkeys(ports, 0.0)
    with contextlib.ExitStack() as services:
        requests = {}
        for count, port in ports.items():
            directory = tempfile.mkdtemp(dir=data_dir)  # a store of its own, empty like the other's
            service_env = {
                **env,
                "BONEMET_DATA_DIR": directory,
                **(tokens.service_env(port, directory) if tokens else {}),
            }
            services.enter_context(running(service_command(port, count, args.auth), port, service_env))
            requests[count] = HookRequests(SERVICE_PATH, body, tokens.pool(port, budget) if tokens else None)
            asyncio.run(throughput(port, requests[count], 1.0))  # warm every worker
        for _ in range(3):
            for count, port in ports.items():
                best[count] = max(best[count], asyncio.run(throughput(port, requests[count], args.seconds)))
    one, scaled = best[args.workers], best[args.compare_workers]
    print(
        f"typical, {CONNECTIONS} conns: {args.compare_workers} workers {scaled:7.0f} req/s vs {args.workers} "
        f"worker(s) {one:7.0f} (x{scaled / one:4.2f}), fresh services measured in alternation",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--workers", type=int, default=1, help="service workers for the comparison")
    parser.add_argument(
        "--compare-workers", type=int, default=None, help="also measure throughput with this many workers"
    )
    parser.add_argument("--rounds", type=int, default=300, help="interleaved latency rounds (typical chart)")
    parser.add_argument("--seconds", type=float, default=4.0, help="length of each throughput run")
    parser.add_argument("--typical", type=int, default=22, help="resources in the typical chart")
    parser.add_argument("--heavy", type=int, default=1400, help="resources in the heavy chart")
    parser.add_argument(
        "--auth",
        action="store_true",
        help="verify a JWT on every call, as in production (ES384, like the CDS Hooks Sandbox); the floor "
        "verifies nothing",
    )
    parser.add_argument(
        "--healthchain",
        action="store_true",
        help="also time the service against a HealthChain 0.16.1 service (benchmarks/healthchain_server.py), "
        f"installed on first use into {HEALTHCHAIN_VENV.relative_to(Path(__file__).parent.parent)}",
    )
    parser.add_argument("--floor-server", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.floor_server:
        run_floor(args.floor_server)
        return

    charts = [
        ("typical", chart(args.typical), args.rounds),
        ("heavy", chart(args.heavy), max(30, args.rounds // 10)),
    ]
    with tempfile.TemporaryDirectory() as data_dir:
        env = {**os.environ, "BONEMET_DATA_DIR": data_dir, "BONEMET_LOG_LEVEL": "INFO"}
        floor_port, service_port = _free_port(), _free_port()
        floor_command = [sys.executable, __file__, "--floor-server", str(floor_port)]
        workers = args.workers
        tokens = Tokens() if args.auth else None
        service_env = {**env, **(tokens.service_env(service_port, data_dir) if tokens else {})}
        print(
            f"patient-view, full prefetch, {SCENARIO} padded; service with {workers} worker(s)"
            f"{', a signed JWT verified on every call' if tokens else ''} vs a parse-only FastAPI floor; "
            f"{os.cpu_count()} CPUs",
            flush=True,
        )
        with (
            running(floor_command, floor_port, env) as floor,
            running(
                service_command(service_port, args.workers, args.auth), service_port, service_env
            ) as service,
        ):
            for label, body, rounds in charts:
                measure_chart(label, body, service, floor, rounds, args.seconds, tokens)
            if args.healthchain:
                compare_healthchain(service, charts, env, tokens)
        if args.compare_workers:
            compare_workers(args, charts[0][1], env, data_dir, tokens)


if __name__ == "__main__":
    main()
