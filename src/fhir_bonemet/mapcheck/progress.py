"""Progress of a long ``map-check`` on a terminal: one self-overwriting line on stderr.

Only when stderr is a terminal (a pipe or a CI log gets nothing), and at most a few times a second, so a
100 MB export is not slowed down by its own progress report.
"""

from __future__ import annotations

import time
from typing import TextIO

__all__ = ["Progress"]

_INTERVAL = 0.25  # seconds between updates


class Progress:
    def __init__(self, stream: TextIO, *, enabled: bool | None = None) -> None:
        self._stream = stream
        self.enabled = stream.isatty() if enabled is None else enabled
        self._last = 0.0
        self._shown = False

    def update(self, resources: int, done_bytes: int, total_bytes: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < _INTERVAL:
            return
        self._last = now
        share = f" ({100 * done_bytes // total_bytes}%)" if total_bytes else ""
        mb = f"{done_bytes / 1e6:.1f} of {total_bytes / 1e6:.1f} MB"
        self._stream.write(f"\rmap-check: {resources:,} resources, {mb}{share}\x1b[K")
        self._stream.flush()
        self._shown = True

    def finish(self) -> None:
        if self._shown:
            self._stream.write("\r\x1b[K")
            self._stream.flush()
            self._shown = False
