"""A fault-injecting HTTP proxy in front of the real test FHIR server, for the faults the server itself
cannot produce: a body dripped one byte at a time, a dropped connection, malformed JSON (instead of the
server's answer, or in place of the body of an answer it really gave: ``garble``), a 50 MB body,
429 with ``Retry-After``, slow answers, and ``next`` links that loop or never end.

Requests are forwarded unchanged (method, path, query, body, Authorization and the FHIR headers); the
upstream base URL in answers is rewritten to the proxy's, so paging stays on the proxy.  A fault applies
to requests whose method matches (when given) and whose path below the base starts with ``path``.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import random
import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import urlsplit

Mode = Literal["slow", "status", "drop", "malformed", "garble", "huge", "drip", "loop-next", "endless-next"]
_FORWARDED = ("Authorization", "Content-Type", "Accept", "If-None-Exist", "Prefer")


@dataclass
class Fault:
    mode: Mode
    path: str = ""
    method: str | None = None
    seconds: float = 0.0  # slow: delay before answering; drip: pause between bytes
    status: int = 503
    retry_after: str | None = None
    size: int = 50 * 1024 * 1024  # huge: body bytes
    count: int = -1  # how many matching requests it applies to (-1: until cleared)
    probability: float = 1.0  # the share of matching requests it hits (drawn from the proxy's seeded RNG)


class FaultProxy:
    def __init__(self, upstream_base: str, *, seed: int = 0) -> None:
        self._random = random.Random(seed)
        self.upstream_base = upstream_base.rstrip("/")
        parts = urlsplit(self.upstream_base)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._base_path = parts.path
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self.seen: list[tuple[str, str]] = []  # (method, path below the base)
        self.arrived: list[float] = []  # time.monotonic() of each request in seen, in the same order
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}{self._base_path}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self.seen.clear()
            self.arrived.clear()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            self.seen.append((method, path))
            self.arrived.append(time.monotonic())
            for fault in self._faults:
                if (fault.method in (None, method)) and path.startswith(fault.path) and fault.count != 0:
                    if fault.probability < 1.0 and self._random.random() >= fault.probability:
                        continue
                    fault.count -= 1 if fault.count > 0 else 0
                    return fault
        return None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def do_GET(self) -> None:
                self._serve()

            def do_POST(self) -> None:
                self._serve()

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                below = self.path.removeprefix(proxy._base_path).lstrip("/")
                fault = proxy._take(self.command, below)
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self._answer(fault, body)  # the client may give up: exactly what a deadline does

            def _answer(self, fault: Fault | None, body: bytes | None) -> None:
                mode = fault.mode if fault else None
                if fault is not None and mode == "drop":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if fault is not None and mode == "status":
                    outcome = {
                        "resourceType": "OperationOutcome",
                        "issue": [{"severity": "error", "code": "transient"}],
                    }
                    headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                    self._send(fault.status, json.dumps(outcome).encode(), headers)
                    return
                if mode == "malformed":
                    self._send(200, b'{"resourceType": "Bundle", "type": "searchset", "entry": [')
                    return
                if fault is not None and mode == "huge":
                    self._huge(fault.size)
                    return
                if fault is not None and mode == "slow":
                    time.sleep(fault.seconds)
                status, headers, content = self._forward(body)
                if mode == "garble":  # the request took effect upstream; its answer is lost in transit
                    self._send(status, b"<html>proxy error</html>", {"Content-Type": "text/html"})
                    return
                if mode in ("loop-next", "endless-next"):
                    content = self._rewrite_next(content, endless=mode == "endless-next")
                if fault is not None and mode == "drip":
                    self._drip(status, headers, content, fault.seconds)
                    return
                self._send(status, content, headers)

            def _forward(self, body: bytes | None) -> tuple[int, dict[str, str], bytes]:
                connection = http.client.HTTPConnection(*proxy._upstream, timeout=30)
                try:
                    headers = {name: self.headers[name] for name in _FORWARDED if self.headers.get(name)}
                    # The marker that makes endless next links distinct is the proxy's own; strip it.
                    upstream_path = re.sub(r"[?&]_bonemet_page=\d+$", "", self.path)
                    connection.request(self.command, upstream_path, body=body, headers=headers)
                    response = connection.getresponse()
                    content = response.read()
                    kept = {
                        name: value.replace(proxy.upstream_base, proxy.base_url)
                        for name, value in response.getheaders()
                        if name.lower() in ("content-type", "location", "content-location", "etag")
                    }
                    return (
                        response.status,
                        kept,
                        content.replace(proxy.upstream_base.encode(), proxy.base_url.encode()),
                    )
                finally:
                    connection.close()

            def _rewrite_next(self, content: bytes, *, endless: bool) -> bytes:
                bundle = json.loads(content)
                own = f"http://127.0.0.1:{proxy._server.server_address[1]}{self.path}"
                if endless:
                    own = re.sub(r"[?&]_bonemet_page=\d+$", "", own)
                    own += f"{'&' if '?' in own else '?'}_bonemet_page={len(proxy.seen)}"
                bundle["link"] = [{"relation": "next", "url": own}]
                return json.dumps(bundle).encode()

            def _send(self, status: int, content: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for name, value in {"Content-Type": "application/fhir+json", **(headers or {})}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def _drip(self, status: int, headers: dict[str, str], content: bytes, pause: float) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.flush()
                for index in range(len(content)):
                    self.wfile.write(content[index : index + 1])
                    self.wfile.flush()
                    time.sleep(pause)

            def _huge(self, size: int) -> None:
                head, tail = b'{"resourceType": "Bundle", "type": "searchset", "padding": "', b'"}'
                self.send_response(200)
                self.send_header("Content-Type", "application/fhir+json")
                self.send_header("Content-Length", str(size))
                self.end_headers()
                self.wfile.write(head)
                left = size - len(head) - len(tail)
                block = b"x" * 65536
                while left > 0:
                    self.wfile.write(block[: min(left, len(block))])
                    left -= len(block)
                self.wfile.write(tail)

        return Handler
