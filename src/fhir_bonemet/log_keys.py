"""The caller's ``hookInstance`` as a log key, for every layer that writes a log line about a hook call.

A hookInstance is a UUID chosen by the client; anything else (free text, long strings) is logged as
``"invalid"``, so a misbehaving client cannot put a patient's name, or anything else, into the logs
through it.  One rule in one place: the request log checked it, while the workflow's and the prefetch's
lines wrote the value as sent.
"""

from __future__ import annotations

import re

__all__ = ["safe_hook_instance"]

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")


def safe_hook_instance(value: object) -> str:
    """The hookInstance as a log key, or ``"invalid"`` when it does not look like an identifier."""
    return value if isinstance(value, str) and _SAFE_ID.match(value) else "invalid"
