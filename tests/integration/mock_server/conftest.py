"""Fixtures for the mock server tests: a real server on 127.0.0.1 port 0, reset before each test.

Tests talk HTTP to the running server with `requests` (never patched) and assert on what it answered
and what it recorded. Shared constants and shortcuts live in `mock_helpers`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from mwsync.mock_server import MockServer


@pytest.fixture(scope="module")
def shared_server() -> Iterator[MockServer]:
    """One server per module, rate limit high enough that contract tests never meet a 429."""
    with MockServer(port=0, rate_limit=(1_000_000, 60.0)) as srv:
        yield srv


@pytest.fixture
def srv(shared_server: MockServer) -> MockServer:
    """The module's server, reset (messages, stats, tokens, window, faults) before each test."""
    shared_server.reset()
    return shared_server


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session
