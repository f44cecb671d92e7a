"""`mwsync loadtest` for real: Locust subprocesses drive mwsync's client against the real mock server and the
verdicts are read from the report (the verdicts as pure functions: tests/unit/test_loadtest.py).

Windows are scaled for CI (20 calls per 2 s: Moveworks' per-minute semantics in seconds). Each run is a
Locust subprocess of about 6 s of load; the whole module stays under 60 s on a 2-core machine.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from mwsync.cli import cli
from mwsync.loadtest import LOCUSTFILE
from mwsync.mock_server import MockServer
from mwsync.rules import DEMO_CLIENT
from tests.support.loadtest import REPORT_KEYS


def loadtest(tmp_path: Path, *args: str):
    """`mwsync loadtest ARGS --report ...` in-process; returns (click result, report document)."""
    report = tmp_path / "report.json"
    result = CliRunner().invoke(cli, ["loadtest", *args, "--report", str(report)], catch_exceptions=False)
    return result, json.loads(report.read_text()) if report.exists() else None


def checks(document: dict) -> dict[str, dict]:
    return {check["name"]: check for check in document["checks"]}


def test_a_profile_within_the_server_limit_passes_at_full_rate(tmp_path):
    html = tmp_path / "loadtest.html"
    result, document = loadtest(tmp_path, "--throttle", "20/2", "--server-limit", "20/2", "--duration", "6",
                                "--html", str(html))
    assert result.exit_code == 0, result.output
    assert set(document) == REPORT_KEYS and document["passed"]
    assert document["status_429"] == 0 and document["max_requests_in_window"] <= 20
    assert document["achieved_rate_per_s"] >= 0.95 * 10 == checks(document)["achieved_rate"]["threshold"]
    # at least two full windows' budget (2 x 20) delivered: on a busy machine Locust's start-up eats into
    # its 6 s, and the rate check above is what judges the pace
    assert document["delivered"] >= 40 and document["lost"] == document["duplicates"] == 0
    assert "PASSED" in result.output
    page = html.read_text()
    assert "<title>mwsync loadtest: PASS (exit 0)</title>" in page and "<script" not in page
    assert len(re.findall(r'<rect class="bar send"', page)) >= 3 and 'data-limit="20"' in page
    assert page.count('<tr class="check pass">') == 6 and "429 (0)</text>" in page


def test_a_profile_over_the_server_limit_recovers_429s_and_delivers_each_message_once(tmp_path):
    result, document = loadtest(tmp_path, "--throttle", "40/2", "--server-limit", "20/2", "--duration", "6")
    assert document["status_429"] > 0, result.output
    assert checks(document)["no_429_within_limit"] == {"name": "no_429_within_limit", "passed": True,
                                                        "value": document["status_429"], "threshold": None}
    assert checks(document)["exactly_once"]["passed"] and document["lost"] == document["duplicates"] == 0
    assert checks(document)["max_requests_in_window"]["passed"] and checks(document)["locust_errors"]["passed"]
    assert "(sent after 429)" in result.output


def test_a_runner_with_throttling_disabled_fails_and_exits_non_zero(tmp_path):
    with MockServer(rate_limit=(20, 2.0), clients=dict([DEMO_CLIENT])) as mock:
        result, document = loadtest(tmp_path, "--throttle", "20/2", "--host", mock.url, "--duration", "6",
                                    "--user-class", "unthrottled")
    assert result.exit_code == 1, result.output
    failed = {name for name, check in checks(document).items() if not check["passed"]}
    assert {"no_429_within_limit", "max_requests_in_window"} <= failed
    assert document["max_requests_in_window"] > 20 and "FAILED" in result.output


def test_latency_without_enough_connections_misses_the_rate_and_says_how_many_would_do(tmp_path):
    result, document = loadtest(tmp_path, "--throttle", "20/2", "--server-limit", "20/2", "--duration", "6",
                                "--latency-ms", "200")
    assert result.exit_code == 1
    assert not checks(document)["achieved_rate"]["passed"] and document["achieved_rate_per_s"] < 5.2
    assert checks(document)["concurrency"] == {"name": "concurrency", "passed": False, "value": 1, "threshold": 2}
    assert "Little's law" in result.output and "use --users 3" in result.output


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_distributed_workers_split_the_profile_between_them(tmp_path):
    port, locust = str(free_port()), [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE)]
    with MockServer(rate_limit=(20, 2.0), clients=dict([DEMO_CLIENT])) as mock:
        workers = [subprocess.Popen([*locust, "--worker", "--master-port", port], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL) for _ in range(2)]
        try:
            master = subprocess.run([*locust, "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port",
                                     port, "--headless", "--expect-workers", "2", "--expect-workers-max-wait", "20",
                                     "-u", "4", "-r", "4", "-t", "6s", "-H", mock.url, "--mwsync-throttle", "20/2",
                                     "--mwsync-ledger", str(tmp_path / "ledger.json"), "--only-summary"],
                                    capture_output=True, text=True, timeout=60)
        finally:
            for worker in workers:
                worker.wait(timeout=20)
        stats = mock.stats()
    assert master.returncode == 0, master.stderr[-2000:]
    outcomes = [json.loads((tmp_path / f"ledger.json.worker{i}").read_text())["outcomes"] for i in range(2)]
    assert all(outcomes) and stats["status_429"] == 0 and stats["max_requests_in_window"] <= 20
    assert stats["messages"] == sum(len(o) for o in outcomes)


def test_distributed_workers_share_one_redis_budget_instead_of_splitting_it(tmp_path, redis_url):
    result, document = loadtest(tmp_path, "--throttle", "20/2", "--server-limit", "20/2", "--duration", "6",
                                "--workers", "2", "--limiter", redis_url)
    assert result.exit_code == 0, result.output
    assert "2 workers, one budget shared through" in result.output
    assert document["passed"] and document["status_429"] == 0 and document["max_requests_in_window"] <= 20
    assert document["lost"] == document["duplicates"] == 0 and document["delivered"] >= 40  # two windows' budget


def test_a_listener_profile_is_proven_against_the_mock_s_listener_limit(tmp_path):
    result, document = loadtest(tmp_path, "--target", "listener", "--throttle", "2/2", "--server-limit", "2/2",
                                "--duration", "6")
    assert result.exit_code == 0 and document["passed"], result.output
    assert document["status_429"] == 0 and document["max_requests_in_window"] <= 2
    assert document["delivered"] >= 5 and document["lost"] == document["duplicates"] == 0
    assert "/webhooks/v1/listeners/{listener_id}/notify" in result.output and "(hmac)" in result.output


def test_a_listener_profile_over_the_limit_recovers_429s_exactly_once(tmp_path):
    result, document = loadtest(tmp_path, "--target", "listener", "--throttle", "4/2", "--server-limit", "2/2",
                                "--duration", "6")
    assert document["status_429"] > 0, result.output
    assert checks(document)["exactly_once"]["passed"] and document["lost"] == document["duplicates"] == 0
