"""JSON answers encoded with orjson: the hook answer is the largest thing the service writes on every call,
and the standard library's encoder took a tenth of a typical call."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse

__all__ = ["FastJSONResponse"]


class FastJSONResponse(JSONResponse):
    """A ``JSONResponse`` whose body orjson writes: compact UTF-8 with the same values as ``json.dumps``
    (which would write NaN and infinities as invalid JSON; orjson writes them as null)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
