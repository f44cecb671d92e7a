"""Fixtures for every tier: a real mock server on 127.0.0.1 (port 0), client credentials in the
environment, a job-file writer, throwaway PostgreSQL and Redis servers (`pg_url`: a fresh database per
test; `redis_url`: an emptied Redis); and no test inherits `CI` from the shell (CI sets `CI=true`).

PostgreSQL and Redis come from Debian's packages (`tests.support.servers`). Without them a test that needs
one is skipped, saying how to install them, except in CI (`CI` true when the session started), where it
fails: CI must run them.

Tiers (see README, Development): `unit/` pure, `integration/` the real mock on 127.0.0.1, `recorded/`
cassettes, `system/` subprocesses, signals, Locust, the wheel, the benchmark (marked `slow`). Builders
and the fake clock are in `tests.support`.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
import yaml

from mwsync.mock_server import MockServer
from mwsync.rules import DEMO_CLIENT
from tests.support import CLIENT_ENV
from tests.support.servers import INSTALL_HINT, Postgres, Redis, find_postgres, find_redis, truthy

IN_CI = truthy(os.environ.get("CI"))  # read before any test's environment is touched


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


def _missing(what: str) -> None:
    message = f"{what} is not installed; {INSTALL_HINT}"
    if IN_CI:
        pytest.fail(f"{message} (.ci/run installs them; in CI these tests must run)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_server():
    """A throwaway PostgreSQL on 127.0.0.1 for the whole session (`tests.support.servers.Postgres`)."""
    if find_postgres() is None:
        _missing("PostgreSQL (initdb, pg_ctl)")
    with Postgres() as server:
        yield server


@pytest.fixture
def pg_url(postgres_server) -> str:
    """The URL of a fresh, empty database of the session's PostgreSQL: no test sees another's rows."""
    return postgres_server.database()


@pytest.fixture(scope="session")
def redis_server():
    """A throwaway Redis on 127.0.0.1 for the whole session (`tests.support.servers.Redis`)."""
    if find_redis() is None:
        _missing("redis-server")
    with Redis() as server:
        yield server


@pytest.fixture
def redis_url(redis_server) -> str:
    """The session's Redis, emptied (FLUSHALL) for this test."""
    import redis

    with redis.Redis.from_url(redis_server.url) as client:
        client.flushall()
    return redis_server.url
