"""`mwsync check` against the real mock server: each step's line, and the exit code of what failed."""

from __future__ import annotations

import json
import socket

import pytest

from mwsync.mock_server import MockServer
from mwsync.rules import DEMO_CLIENT
from tests.support import job_dict


def _job(write_job, url, **subscription):
    sub = {"api_url": url, "client_id": "${MW_CLIENT_ID:-}", "client_secret": "${MW_CLIENT_SECRET:-}"}
    return write_job(job_dict(subscription=dict(sub, **subscription)))


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_good_connection_passes_all_three_steps(mwsync, write_job, mock):
    result = mwsync("check", _job(write_job, mock.url))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"test-job -> {mock.url}"
    assert lines[1].startswith("  ok    credentials: client credentials, "
                               "MW_CLIENT_ID, MW_CLIENT_SECRET from the environment")
    assert lines[2] == f"  ok    access token: issued by {mock.url.removeprefix('http://')}"
    assert lines[3].startswith("  ok    auth test: GET ") and lines[3].endswith("answered 200")
    assert mock.messages() == []  # a check sends no message


def test_a_wrong_secret_exits_4_with_the_region_hint(mwsync, write_job, mock, monkeypatch):
    monkeypatch.setenv("MW_CLIENT_SECRET", "not-the-secret")
    result = mwsync("check", _job(write_job, mock.url))
    assert result.exit_code == 4, result.output
    assert "FAIL  access token: token request refused: 401" in result.output
    assert "wrong region answers 401 'Token validation failed'" in result.output
    assert "skip  auth test: not run" in result.output and "not-the-secret" not in result.output


def test_a_refused_token_at_the_auth_test_exits_4_naming_token_validation(mwsync, write_job, monkeypatch):
    monkeypatch.setenv("MW_API_KEY", "a-key-the-server-does-not-know")
    with MockServer(clients=dict([DEMO_CLIENT])) as server:
        path = _job(write_job, server.url, client_id="", client_secret="", api_key="${MW_API_KEY}")
        result = mwsync("check", path)
    assert result.exit_code == 4, result.output
    assert "ok    access token: a static API key: no token request" in result.output
    assert "FAIL  auth test: auth test failed: 401" in result.output and "Token validation failed" in result.output


@pytest.mark.parametrize(("url", "cause"), [
    ("https://no-such-host.invalid", "cannot connect to no-such-host.invalid: name not resolved"),
    ("http://127.0.0.1:{port}", "cannot connect to 127.0.0.1:{port}: connection refused"),
], ids=["unknown-host", "connection-refused"])
def test_an_unreachable_api_exits_4_naming_the_host(mwsync, write_job, url, cause):
    port = _closed_port()
    result = mwsync("check", _job(write_job, url.format(port=port)))
    assert result.exit_code == 4, result.output
    assert f"FAIL  access token: {cause.format(port=port)}" in result.output


def test_missing_credentials_exit_2_naming_the_variables(mwsync, write_job, mock, monkeypatch):
    monkeypatch.delenv("MW_CLIENT_ID")
    monkeypatch.delenv("MW_CLIENT_SECRET")
    result = mwsync("check", _job(write_job, mock.url), "--json")
    assert result.exit_code == 2
    doc = json.loads(result.stdout)
    assert doc["exit_code"] == 2 and doc["error"] is None
    [entry] = doc["jobs"]
    assert [(s["name"], s["ok"]) for s in entry["steps"]] == [("credentials", False), ("access token", None),
                                                              ("auth test", None)]
    assert "export MW_CLIENT_ID=... MW_CLIENT_SECRET=..." in entry["steps"][0]["detail"]


def test_an_embedded_job_is_checked_against_a_mock_started_for_it(mwsync, write_job):
    result = mwsync("check", write_job(job_dict()), "--api-url", "embedded")
    assert result.exit_code == 0, result.output
    assert "ok    credentials: the mock's demo client" in result.output and "answered 200" in result.output
