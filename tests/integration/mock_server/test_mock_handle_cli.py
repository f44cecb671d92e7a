"""The `MockServer` handle's lifecycle and options, and the click CLI (in-process and as a real process)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from mock_helpers import EVENT_ID, TOKEN_FORM, get_token, send

from mwsync.mock_server import MockServer
from mwsync.mock_server.cli import FAULT_FIELDS_BY_DEST, _fault_spec, main
from mwsync.mock_server.settings import load_users_file

REPO = Path(__file__).resolve().parents[3]


def _mock_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("mock-server:")]


def test_start_stop_idempotent_and_thread_joined():
    before = len(_mock_threads())
    srv = MockServer()
    assert srv.start() is srv and srv.start() is srv
    assert requests.get(f"{srv.url}/_mock/health").status_code == 200
    srv.stop()
    srv.stop()
    assert len(_mock_threads()) == before
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{srv.url}/_mock/health", timeout=2)


def test_restart_keeps_port_and_state(http):
    with MockServer() as srv:
        send(srv, http, get_token(srv, http))
        port = srv.port
        srv.stop()
        srv.start()
        assert srv.port == port and len(srv.messages()) == 1
        assert requests.get(f"{srv.url}/_mock/health").status_code == 200


def test_port_in_use_raises_oserror():
    with MockServer() as srv, pytest.raises(OSError):
        MockServer(port=srv.port).start()


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [({"rate_limit": "fast"}, "rate_limit"), ({"rate_limit_algorithm": "leaky"}, "valid: sliding, fixed"),
     ({"token_request": "xml"}, "valid: form, json, both"), ({"token_response": "nested"}, "valid: plain, wrapped"),
     ({"events": ["nope"]}, "not a UUID"), ({"token_ttl_s": -1}, "token_ttl_s"), ({"port": 70000}, "port"),
     ({"faults": {"fail_rate": 3}}, "fail_rate")],
    ids=["rate", "algorithm", "token-request", "token-response", "event", "ttl", "port", "faults"],
)  # fmt: skip
def test_bad_options_raise_value_error(kwargs, text):
    with pytest.raises(ValueError, match=re.escape(text)):
        MockServer(**kwargs)


def test_rate_limit_string_and_tuple_are_equivalent():
    assert MockServer(rate_limit="7/2").settings.rate_limit == MockServer(rate_limit=(7, 2.0)).settings.rate_limit


def test_users_file_plain_and_csv(tmp_path):
    plain = tmp_path / "users.txt"
    plain.write_text("# staff\nAda@Example.com\n\nbob@example.com\n")
    table = tmp_path / "users.csv"
    table.write_text("employee_id,email,first_name\nE1,ada@example.com,Ada\nE2,eve@example.com,Eve\n")
    assert load_users_file(plain) == {"ada@example.com", "bob@example.com"}
    assert load_users_file(table) == {"ada@example.com", "eve@example.com"}
    (tmp_path / "bad.csv").write_text("id,name\n1,x\n")
    with pytest.raises(ValueError, match="no 'email' column"):
        load_users_file(tmp_path / "bad.csv")


@pytest.mark.parametrize(
    ("args", "expected"),
    [({"fail_next": 2, "fail_status": "503"}, {"fail_next": 2, "fail_status": 503}),
     ({"fault_latency_ms": 5.0, "fault_latency_on": "both"}, {"latency_ms": 5.0, "latency_on": "both"}),
     ({"force_429_next": 1, "force_429_no_retry_after": True}, {"force_429_next": 1, "force_429_retry_after_s": None}),
     ({}, {})],
    ids=["fail", "latency", "force-429", "none"],
)  # fmt: skip
def test_fault_flags_map_to_spec(args, expected):
    options = {dest: None for dest in FAULT_FIELDS_BY_DEST} | {"force_429_no_retry_after": False} | args
    options["host"] = "127.0.0.1"
    assert _fault_spec(options) == expected and options == {"host": "127.0.0.1"}


def test_cli_help_lists_every_flag():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for flag in ("--host", "--port", "--rate-limit", "--rate-limit-algorithm", "--no-rate-limit-headers",
                 "--token-ttl", "--client", "--api-key", "--event", "--users", "--token-request", "--token-response",
                 "--allow-basic-auth", "--latency-ms", "--seed", "--fail-rate", "--drop-next", "--lose-reply-next",
                 "--token-fail-next", "--force-429-next"):  # fmt: skip
        assert flag in result.output


@pytest.mark.parametrize(
    ("args", "text"),
    [(["--rate-limit", "lots"], "rate_limit"), (["--client", "nosecret"], "ID:SECRET"),
     (["--event", "not-uuid"], "not a UUID"), (["--users", "/no/such/file"], "does not exist"),
     (["--fail-rate", "2"], "fail-rate"), (["--token-expires-in-raw", "soon"], "token_expires_in_raw"),
     (["--record-to", "x.yaml"], "give proxy_to"), (["--proxy-to", "ftp://tenant"], "proxy_to"),
     (["--keep-messages", "-1"], "keep-messages"), (["--rate-limit", "0/1"], "would refuse"),
     (["--no-rate-limit", "--rate-limit", "5/1"], "not both")],
    ids=["rate", "client", "event", "users", "fault", "expires-in", "record-without-proxy", "proxy-scheme",
         "keep-negative", "zero-rate", "both-rate-flags"],
)  # fmt: skip
def test_cli_usage_errors_exit_2(args, text):
    result = CliRunner().invoke(main, ["--port", "0", *args])
    assert result.exit_code == 2 and text in result.output


def _start_cli(*args: str) -> tuple[subprocess.Popen, str]:
    env = dict(os.environ)
    proc = subprocess.Popen(
        [sys.executable, "-m", "mwsync.mock_server", "--port", "0", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO,
    )  # fmt: skip
    first_line = proc.stdout.readline()
    match = re.search(r"http://\S+", first_line)
    assert match, first_line + proc.stderr.read()
    return proc, match.group(0)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_cli_serves_until_signal(tmp_path, sig):
    users = tmp_path / "users.txt"
    users.write_text("ada@example.com\n")
    proc, url = _start_cli("--event", EVENT_ID, "--users", str(users), "--fail-next", "1", "--rate-limit", "50/1")
    try:
        http = requests.Session()
        token = http.post(f"{url}/oauth/v1/token", data=TOKEN_FORM).json()["access_token"]
        path = f"{url}/rest/v1/events/{EVENT_ID}/messages/send"
        body = {"message": "hi", "recipients": ["ada@example.com"]}
        codes = [http.post(path, json=body, headers={"Authorization": f"Bearer {token}"}).status_code for _ in range(2)]
        assert codes == [500, 200]
        assert http.get(f"{url}/_mock/stats").json()["rate_limit"]["limit"] == 50
        time.sleep(0.1)
    finally:
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert "mock server stopped" in out and "Traceback" not in err


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_no_nagle_delay_on_keep_alive_connections(loop):
    """Regression: without TCP_NODELAY the plain asyncio loop answered every keep-alive request in ~40 ms."""
    with MockServer(loop=loop) as srv, requests.Session() as http:
        timings_ms = []
        for _ in range(15):
            started = time.perf_counter()
            http.get(f"{srv.url}/_mock/health")
            timings_ms.append((time.perf_counter() - started) * 1000.0)
    assert sorted(timings_ms)[7] < 20.0
