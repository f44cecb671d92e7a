"""The unit tier: pure functions and objects, builders (`tests.support.make_job`), the fake clock. No
network (every test here runs under pytest-recording's `block_network`: a connection, even to 127.0.0.1,
fails the test), no subprocess, no real sleep. Files only where reading them is the subject (job YAML,
CSV/JSONL sources, the SQLite journal), in `tmp_path`."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Block the network for this directory's tests (the hook sees the whole session's items: filter by path)."""
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.block_network)
