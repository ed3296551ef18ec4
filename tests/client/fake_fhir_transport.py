"""A scripted FHIR server mounted as a ``requests`` transport adapter, for corner cases the real test
server cannot easily produce (exact byte streams, exceptions, concurrency barriers)."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

BASE = "https://fhir.example.org/r4"


@dataclass
class Reply:
    status: int = 200
    json_body: Any = None
    raw: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Seen:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None
    timeout: Any


Handler = Callable[[requests.PreparedRequest], "Reply | Exception"]


class FakeFhir(BaseAdapter):
    """Routes by exact ``METHOD url``; several replies for one route are used in turn (the last one
    repeats).  Unrouted requests answer 404 and are recorded like the others."""

    def __init__(self) -> None:
        super().__init__()
        self.routes: dict[str, list[Reply | Exception | Handler]] = {}
        self.seen: list[Seen] = []
        self._lock = threading.Lock()

    def add(self, method: str, url: str, *replies: Reply | Exception | Handler) -> None:
        self.routes[f"{method} {url}"] = list(replies)

    def session(self) -> requests.Session:
        session = requests.Session()
        session.trust_env = False
        session.mount("http://", self)
        session.mount("https://", self)
        return session

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None, **_: Any
    ) -> requests.Response:
        body = request.body.encode() if isinstance(request.body, str) else request.body
        key = f"{request.method} {request.url}"
        with self._lock:
            self.seen.append(
                Seen(str(request.method), str(request.url), dict(request.headers), body, timeout)
            )
            replies = self.routes.get(key)
            reply: Reply | Exception | Handler = (
                (replies.pop(0) if len(replies) > 1 else replies[0]) if replies else _not_found()
            )
        if callable(reply) and not isinstance(reply, Exception):
            reply = reply(request)
        if isinstance(reply, Exception):
            raise reply
        return _response(request, reply)

    def close(self) -> None:
        pass


def _not_found() -> Reply:
    return Reply(
        404, {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "not-found"}]}
    )


def _response(request: requests.PreparedRequest, reply: Reply) -> requests.Response:
    response = requests.Response()
    response.status_code = reply.status
    payload = reply.raw if reply.raw is not None else json.dumps(reply.json_body).encode()
    if reply.json_body is None and reply.raw is None:
        payload = b""
    response.raw = io.BytesIO(payload)
    response.headers = CaseInsensitiveDict({"Content-Type": "application/fhir+json", **reply.headers})
    response.url = str(request.url)
    response.request = request
    response.encoding = "utf-8"
    return response


def bundle(
    *resources: dict[str, Any], next_url: str | None = None, total: int | None = None
) -> dict[str, Any]:
    """A searchset Bundle of ``resources``, with a next link when ``next_url`` is given."""
    result: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset"}
    if total is not None:
        result["total"] = total
    if resources:
        result["entry"] = [{"resource": resource} for resource in resources]
    if next_url:
        result["link"] = [{"relation": "next", "url": next_url}]
    return result


def outcome(text: str = "failed") -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "exception", "diagnostics": text}],
    }
