"""One HTTP exchange with a FHIR server: bearer token per request, timeouts under a deadline, one retry
of a read on a transient 5xx, no redirects, a response size cap, and JSON parsing.

Errors carry the redacted path the caller passes in (resource type and parameter names only); a
``requests`` exception's text, which holds the full URL, never reaches a message or a log line.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

import requests
import urllib3

from fhir_bonemet.client.json_nesting import MAX_JSON_DEPTH, nesting_exceeds
from fhir_bonemet.client.urls import redact_url
from fhir_bonemet.errors import FhirClientError

__all__ = ["FhirTimeoutError", "Timeouts", "Transport"]

log = logging.getLogger("fhir_bonemet.client.fhir")  # one logger for the client, whichever module logs

_TRANSIENT = frozenset({502, 503, 504})
FHIR_JSON = "application/fhir+json"


class FhirTimeoutError(FhirClientError):
    """The FHIR server did not answer within the read timeout or the overall deadline."""


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds to wait for a connection and between bytes of a response."""

    connect: float = 2.0
    read: float = 5.0


class _BearerAuth(requests.auth.AuthBase):
    """Sets (or removes) the Authorization header per request; passing an auth object also stops
    requests from adding credentials from ~/.netrc."""

    def __init__(self, token: str | None) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers.pop("Authorization", None)
        if self._token:
            request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:  # never show the token
        return "_BearerAuth(<redacted>)"


class Transport:
    """Sends requests for one caller to one FHIR server over the shared session.

    ``deadline`` is an absolute :func:`time.monotonic` value after which no request starts and every
    read timeout is clipped to the time left.
    """

    def __init__(
        self,
        session: requests.Session,
        base_url: str,
        *,
        access_token: str | None,
        timeouts: Timeouts,
        max_response_bytes: int,
        deadline: float | None,
    ) -> None:
        self._session = session
        self._base_url = base_url
        self._auth = _BearerAuth(access_token)
        self.timeouts = timeouts
        self.max_response_bytes = max_response_bytes
        self.deadline = deadline

    def send(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        strict_json: bool = True,
    ) -> tuple[int, object, Mapping[str, str]]:
        """(status, parsed JSON body or None, headers).  ``strict_json=False``: an unreadable 2xx body is
        None rather than an error (after a create, the status is what matters: the write happened)."""
        path = redact_url(url, self._base_url)
        attempts = 2 if method == "GET" else 1  # one retry of an idempotent read on a transient 5xx
        for attempt in range(attempts):
            status, payload, response_headers = self._send_once(
                method, url, body, headers or {}, path, strict_json
            )
            if (
                status not in _TRANSIENT
                or attempt + 1 == attempts
                or self._time_left() < self.timeouts.connect
            ):
                return status, payload, response_headers
            log.info("fhir %s %s answered %d; retrying once", method, path, status)
        raise AssertionError("unreachable")  # pragma: no cover

    def _send_once(
        self,
        method: str,
        url: str,
        body: bytes | None,
        headers: Mapping[str, str],
        path: str,
        strict_json: bool,
    ) -> tuple[int, object, Mapping[str, str]]:
        left = self._time_left()
        if left <= 0:
            raise FhirTimeoutError("the overall deadline passed before the request", url_path=path)
        timeout = (min(self.timeouts.connect, left), min(self.timeouts.read, left))
        started = time.monotonic()
        try:
            response = self._session.request(
                method,
                url,
                data=body,
                headers={"Accept": FHIR_JSON, **headers},
                auth=self._auth,
                timeout=timeout,
                allow_redirects=False,
                stream=True,
            )
            with response:
                content = self._read_limited(response, path)
        except requests.Timeout:
            if self._time_left() <= 0.005:  # the clipped wait ran into the hook's deadline
                raise FhirTimeoutError(
                    "no complete answer before the overall deadline", url_path=path
                ) from None
            raise FhirTimeoutError(f"no answer within {timeout[1]:.1f} s", url_path=path) from None
        except requests.RequestException as exc:
            # The exception text contains the full URL (host, ids); keep only its class name.
            raise FhirClientError(f"request failed ({type(exc).__name__})", url_path=path) from None
        status = response.status_code
        log.debug("fhir %s %s -> %d in %.0f ms", method, path, status, (time.monotonic() - started) * 1000)
        if 300 <= status < 400:
            raise FhirClientError(
                f"FHIR server redirected ({status}); redirects are not followed", status=status, url_path=path
            )
        return status, _parse_json(content, status, path, strict_json), response.headers

    def _read_limited(self, response: requests.Response, path: str) -> bytes:
        """The body, at most ``max_response_bytes``, and never past the deadline.

        The read timeout alone cannot stop a server that drips a byte every second: each read returns
        in time, the body never ends.  So every read takes what has arrived (``read1``), waits at most the
        time left, and the clock is checked between reads.
        """
        raw = response.raw
        if not isinstance(raw, urllib3.HTTPResponse):  # a custom transport adapter: no socket to watch
            return self._collect(response.iter_content(chunk_size=65536), response, path)

        def arriving() -> Iterator[bytes]:
            while True:
                left = self._time_left()
                if left <= 0:
                    raise FhirTimeoutError(
                        "the answer was still arriving at the overall deadline", url_path=path
                    )
                _limit_socket_wait(raw, min(self.timeouts.read, left))
                chunk = raw.read1(65536, decode_content=True)
                if not chunk:
                    return
                yield chunk

        try:
            return self._collect(arriving(), response, path)
        except (TimeoutError, urllib3.exceptions.ReadTimeoutError):
            raise requests.Timeout() from None
        except urllib3.exceptions.HTTPError as exc:
            raise requests.ConnectionError(type(exc).__name__) from None

    def _collect(self, chunks_in: Iterable[bytes], response: requests.Response, path: str) -> bytes:
        chunks: list[bytes] = []
        size = 0
        for chunk in chunks_in:
            size += len(chunk)
            if size > self.max_response_bytes:
                raise FhirClientError(
                    f"response larger than {self.max_response_bytes} bytes",
                    status=response.status_code,
                    url_path=path,
                )
            chunks.append(chunk)
        return b"".join(chunks)

    def _time_left(self) -> float:
        return float("inf") if self.deadline is None else self.deadline - time.monotonic()


def _limit_socket_wait(raw: urllib3.HTTPResponse, seconds: float) -> None:
    """Let the next socket read wait at most ``seconds`` (the read timeout was fixed when it started)."""
    connection = raw.connection
    sock = getattr(connection, "sock", None) if connection is not None else None
    if sock is not None:
        sock.settimeout(max(seconds, 0.001))


# An integer with more digits than this is beyond any double: no reading of it is a usable value.
_MAX_NUMBER_DIGITS = 309


def _long_integer_as_text(text: str) -> int | str:
    return text if len(text.lstrip("-")) > _MAX_NUMBER_DIGITS else int(text)


def _loads(content: bytes) -> object:
    """``content`` parsed; an integer of more digits than any double holds is kept as its text.

    int() refuses more than 4300 digits, and that one value lost the whole search ("response is not
    JSON"), where 1e400 costs only its resource's value (the reader reports it as not a number).  The
    per-integer hook runs only when the plain parse fails, so ordinary responses pay nothing for it."""
    try:
        return json.loads(content)
    except ValueError:
        return json.loads(content, parse_int=_long_integer_as_text)


def _parse_json(content: bytes, status: int, path: str, strict: bool = True) -> object:
    if not content.strip():
        return None
    usable = strict and 200 <= status < 300
    try:
        parsed = _loads(content)
    except RecursionError:  # nested past the parser's own limit
        parsed, too_deep = None, True
    except (ValueError, UnicodeDecodeError):
        if usable:
            raise FhirClientError("response is not JSON", status=status, url_path=path) from None
        return None  # an error page in HTML: the status says enough
    else:
        # Checked on a valid text only (the check counts brackets, and a cut-off text leaves some open).
        too_deep = nesting_exceeds(content, MAX_JSON_DEPTH)
    if too_deep:
        if usable:
            message = f"response nests deeper than {MAX_JSON_DEPTH} levels"
            raise FhirClientError(message, status=status, url_path=path)
        return None
    return parsed
