"""The benchmark commands the README shows refuse a wrong argument out loud (they run for minutes)."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_instructions_per_call_names_its_charts_on_a_wrong_one() -> None:
    result = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "instructions_per_call.sh"), "Typical"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "usage: benchmarks/instructions_per_call.sh [typical|heavy]" in result.stderr
