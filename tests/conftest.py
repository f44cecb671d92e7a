"""Fixtures for every tier: a real mock server on 127.0.0.1 (port 0), client credentials in the
environment, a job-file writer; and no test inherits `CI` from the shell (CI sets `CI=true`).

Tiers (see README, Development): `unit/` pure, `integration/` the real mock on 127.0.0.1, `recorded/`
cassettes, `system/` subprocesses, signals, Locust, the wheel, the benchmark (marked `slow`). Builders
and the fake clock are in `tests.support`.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from mwsync.mock_server import MockServer
from mwsync.rules import DEMO_CLIENT
from tests.support import CLIENT_ENV


@pytest.fixture(autouse=True)
def _no_ci_from_the_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    """CI runs `.ci/run` with `CI=true`: no test may depend on that by accident. A test about CI sets it
    itself (`monkeypatch.setenv("CI", "true")`); subprocesses started with `os.environ` inherit neither."""
    monkeypatch.delenv("CI", raising=False)


@pytest.fixture
def mock():
    """A fresh mock server, 1000/1 s rate limit, demo client; stopped after the test."""
    with MockServer(rate_limit=(1000, 1.0), clients=dict([DEMO_CLIENT])) as server:
        yield server


@pytest.fixture
def client_env(monkeypatch):
    """Client credentials in the environment, as job files reference them."""
    for key, value in CLIENT_ENV.items():
        monkeypatch.setenv(key, value)
    return CLIENT_ENV


@pytest.fixture
def write_job(tmp_path: Path):
    """Write a job file: `write_job(text_or_dict, name="job.yaml") -> Path` (text is dedented)."""

    def write(content: str | dict, name: str = "job.yaml") -> Path:
        path = tmp_path / name
        text = yaml.safe_dump(content, sort_keys=False) if isinstance(content, dict) else textwrap.dedent(content)
        path.write_text(text, encoding="utf-8")
        return path

    return write
