"""The system tier: mwsync as a user runs it. Subprocesses killed or interrupted mid-run, real Locust runs,
the benchmark's quick run, the wheel installed in a fresh venv. Every test here is marked `slow`
(`make test-fast` skips them; `make test` and CI run them)."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test of this directory `slow` (the hook sees the whole session's items: filter by path)."""
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.slow)
