"""Structured logging: one JSON object per line, keyed by ``hookInstance`` for hook calls.

What may be logged: service id, hook, hookInstance, HTTP method, path, status, latency, counts, issuer,
tenant and jti of the caller's JWT, error classes.  What must never be logged: access tokens, JWTs,
request or response bodies, patient identifiers or any clinical value.  The formatter helps: it writes only
the message and the ``extra`` fields a caller passed explicitly, and for exceptions only their class and the
innermost code location, never the exception message (which can quote data) or local variables.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import UTC, datetime
from typing import Any

import orjson

__all__ = ["JsonFormatter", "configure_logging"]

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "event": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            exc_type, _, tb = record.exc_info
            entry["error_type"] = exc_type.__name__
            frames = traceback.extract_tb(tb) if tb is not None else []
            if frames:
                entry["error_at"] = f"{frames[-1].filename}:{frames[-1].lineno}"
        try:
            # orjson: two lines per hook call, and json.dumps cost half of writing one.
            return orjson.dumps(entry, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
        except TypeError:  # what orjson cannot write (an integer beyond 64 bits): the slower, total way
            return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(level: str = "INFO") -> None:
    """Send the service's logs (and uvicorn's) to stderr as JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    for name in ("fhir_bonemet", "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level)
        logger.propagate = False
