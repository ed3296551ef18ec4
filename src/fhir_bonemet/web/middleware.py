"""ASGI middleware: request log lines, the last-resort error guard, and the request body size limit.

Stack, outermost first: :class:`RequestLogMiddleware` → CORS → :class:`ErrorGuardMiddleware` →
:class:`BodyLimitMiddleware` → hook calls (:mod:`fhir_bonemet.web.hook_dispatch`) → routes.  The guard
sits inside CORS so that even a 500 can be read by a browser client; the log sits outside everything so
that every answer, 413 and 500 included, is logged.
"""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fhir_bonemet.cds.problems import operation_outcome
from fhir_bonemet.errors import Problem

__all__ = [
    "LOG_STATE_KEY",
    "BodyLimitMiddleware",
    "ErrorGuardMiddleware",
    "RequestLogMiddleware",
    "loggable_path",
]

log = logging.getLogger("fhir_bonemet.http")
_PATH = re.compile(r"^/[A-Za-z0-9._/-]{0,200}$")
# Two base64url runs joined by a dot: a plan-link token (or a JWT part), whatever route it turns up in.
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_=-]{8,}")
_MASK = "-token-"
LOG_STATE_KEY = "bonemet_log"  # scope["state"][LOG_STATE_KEY]: fields the routes add to the request log line


async def send_outcome(send: Send, status: int, problem: Problem) -> None:
    body = json.dumps(operation_outcome([problem])).encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


class _ResponseWatch:
    """Passes messages on to ``send``; remembers the status once the response has started, and when its
    last body part went out."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.status: int | None = None
        self.sent_at: float | None = None

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            self.status = int(message["status"])
        await self._send(message)
        if kind == "http.response.body" and not message.get("more_body", False):
            self.sent_at = time.perf_counter()


class _TooLarge(Exception):
    pass


class BodyLimitMiddleware:
    """Answer 413 for bodies over ``max_bytes``: by ``Content-Length`` up front, and while streaming.

    The body is read here in full (at most ``max_bytes``) and replayed to the route, so a chunked upload
    without ``Content-Length`` is held to the same limit.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in {"GET", "HEAD", "OPTIONS"}:
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        try:
            if declared is not None and int(declared) > self.max_bytes:
                raise _TooLarge
            chunks = []
            size = 0
            more = True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > self.max_bytes:
                    raise _TooLarge
                chunks.append(chunk)
                more = message.get("more_body", False)
        except _TooLarge:
            problem = Problem(
                "$this", f"The request body exceeds the limit of {self.max_bytes} bytes.", "too-long"
            )
            await send_outcome(send, 413, problem)
            return
        except ValueError:
            await send_outcome(send, 400, Problem("$this", "Content-Length is not a number.", "structure"))
            return
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class ErrorGuardMiddleware:
    """Turn any exception that escaped the exception handlers into a 500 OperationOutcome without details.

    Only the error class and code location are logged: an exception message can quote patient data.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        response = _ResponseWatch(send)
        try:
            await self.app(scope, receive, response.send)
        except Exception:
            log.error("unhandled error", exc_info=True, extra=_log_fields(scope))
            if response.status is None:  # nothing sent yet, so an answer can still be given
                problem = Problem(
                    "$this", "Internal error; it has been logged with the hookInstance.", "exception"
                )
                await send_outcome(send, 500, problem)


def loggable_path(path: str) -> str:
    """The path as a log line may show it.

    The CDS Hooks URLs carry only service ids; anything stranger is not echoed into the logs.  A plan link
    carries its signed token in the path: the token is never logged, however the path is spelled
    (``//plan/…``, ``/PLAN/…``, behind a proxy's prefix): the segment after any "plan", and any segment
    shaped like a token or too long to be a route's, are masked.
    """
    if len(path) <= 64 and "." not in path and "plan" not in path.lower():
        # No segment can be a token (none is long, none has a dot, none follows "plan"): every hook call.
        return path if _PATH.match(path) else "invalid"
    shown: list[str] = []
    after_plan = False
    for segment in path.split("/"):
        if segment and (after_plan or len(segment) > 64 or _TOKEN_SHAPE.search(segment)):
            shown.append(_MASK)
        else:
            shown.append(segment)
        after_plan = segment.lower() == "plan" or (after_plan and not segment)
    masked = "/".join(shown)
    return masked if _PATH.match(masked) else "invalid"


def _log_fields(scope: Scope) -> dict[str, Any]:
    state = scope.get("state") or {}
    return dict(state.get(LOG_STATE_KEY, {}))


class RequestLogMiddleware:
    """One log line per HTTP request: method, path, status, latency and the routes' hook fields."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})
        start = time.perf_counter()
        response = _ResponseWatch(send)
        try:
            await self.app(scope, receive, response.send)
        finally:
            # No response at all (the client went away, or nothing could answer) is logged as a failure.
            status = 500 if response.status is None else response.status
            fields = {
                "method": scope["method"],
                "path": loggable_path(scope["path"]),
                "status": status,
                # Until the answer was sent: what a hook call does after it (see HookDeps.after_sent) and
                # freeing what it held are not what the caller waited for.
                "latency_ms": round(((response.sent_at or time.perf_counter()) - start) * 1000, 1),
                **_log_fields(scope),
            }
            log.log(logging.WARNING if status >= 500 else logging.INFO, "request", extra=fields)
