"""The integration tier: real servers and real time. The mock Moveworks server on 127.0.0.1 (port 0, the
`mock` fixture in tests/conftest.py, or a `MockServer` with its own options), the command line in-process
with click's CliRunner (`mwsync`), real threads under small windows. Tests assert on what the server
received; nothing patches `requests`."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from click.testing import CliRunner, Result

from mwsync.cli import cli


@pytest.fixture
def mwsync(client_env) -> Callable[..., Result]:
    """`mwsync(*args)`: the command line in-process, with client credentials in the environment; returns
    click's `Result` (`exit_code`, `output` with stdout and stderr). Arguments may be paths."""

    def invoke(*args: object) -> Result:
        return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)

    return invoke
