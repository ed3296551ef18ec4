"""What a command does when the program reading its output stops reading (``fhir-bonemet rules | head``)."""

from __future__ import annotations

import os
import sys

__all__ = ["output_closed"]


def output_closed() -> int:
    """Say nothing more, as a shell tool does, and return the exit status (1).

    Python would otherwise report the broken pipe, and again when it flushes standard output at exit:
    standard output is pointed at the null device first, so that flush has nowhere to fail."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 1
