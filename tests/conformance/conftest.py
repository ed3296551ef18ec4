"""Conformance tests need the profile validator's Node packages (``npm ci --prefix tools/validator``) and,
for the profile build, SUSHI (``npm ci --prefix tools/sushi``), both run by ``make node-deps``; they are
marked ``conformance`` automatically."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).parent == HERE:
            item.add_marker(pytest.mark.conformance)
