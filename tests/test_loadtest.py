"""`mwsync loadtest`: the verdicts as pure functions, then real Locust runs against the real mock server.

Windows are scaled for CI (20 calls per 2 s: Moveworks' per-minute semantics in seconds). Each real run is a
Locust subprocess of about 6 s of load; the whole module stays under 60 s on a 2-core machine.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from mwsync.mock_server import MockServer
from mwsync.cli import cli
from mwsync.errors import UsageError
from mwsync.rate import Rate
from mwsync.loadtest import LOCUSTFILE, LoadtestOptions, plan_for, resolve_profile
from mwsync.loadtest.verdict import (
    LoadPlan, Observation, achieved_rate, delivery, judge, needed_users, profile_bound,
)
from mwsync.rules import DEMO_CLIENT

REPORT_KEYS = {"passed", "checks", "requests", "status_429", "max_requests_in_window", "achieved_rate_per_s",
               "limit_rate_per_s", "delivered", "duplicates", "lost"}
CI = Rate(20, 2.0, "ci")


def load_support():
    """loadtests/support.py, imported by path (Locust puts loadtests/ on sys.path; pytest does not)."""
    spec = importlib.util.spec_from_file_location("loadtests_support", LOCUSTFILE.parent / "support.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def bursts(size: int, period_s: float, count: int, start_s: float = 1000.0) -> tuple[float, ...]:
    """`count` bursts of `size` arrivals 1 ms apart, one every `period_s`: what a sliding-window throttle sends."""
    return tuple(start_s + b * period_s + i * 0.001 for b in range(count) for i in range(size))


# -- pure: rate, bounds, Little's law, budget, delivery ----------------------------------------------------

@pytest.mark.parametrize(("arrivals", "k", "expected"), [
    (bursts(20, 2.0, 5), 20, 10.0),
    (bursts(10, 1.0, 10), 20, 10.0),
    (bursts(20, 2.0, 5) + (1010.0,), 20, 10.0),
    (tuple(1000 + i / 4 for i in range(40)), 20, 4.0),
    ((1000.0,), 20, 0.0),
    ((), 20, 0.0),
], ids=["bursts-one-window-each", "two-bursts-per-k", "stray-last-arrival", "evenly-spaced", "one", "none"])
def test_achieved_rate_counts_each_burst_once(arrivals, k, expected):
    assert achieved_rate(arrivals, k) == pytest.approx(expected, rel=0.03)


@pytest.mark.parametrize(("profile", "server", "bound", "fits"), [
    (Rate(20, 2, "p"), Rate(20, 2, "s"), 20, True),
    (Rate(40, 2, "p"), Rate(20, 2, "s"), 40, False),
    (Rate(10, 1, "p"), Rate(20, 2, "s"), 20, True),
    (Rate(20, 2, "p"), Rate(10, 1, "s"), 20, False),
    (Rate(500, 60, "p"), Rate(120, 60, "s"), 500, False),
], ids=["same", "double", "shorter-profile-window", "longer-profile-window", "ongoing-vs-moveworks"])
def test_profile_bound_in_the_server_window(profile, server, bound, fits):
    assert profile_bound(profile, server.window_s) == bound
    assert LoadPlan(profile, server, 6, 1).fits is fits


@pytest.mark.parametrize(("rate", "round_trip_ms", "users"), [(10, 200, 2), (10, 205, 3), (10, 0, 1), (500 / 60, 300, 3)],
                         ids=["exact", "just-over", "no-latency", "ongoing"])
def test_needed_users_is_rate_times_latency(rate, round_trip_ms, users):
    assert needed_users(rate, round_trip_ms) == users


def test_budget_shares_add_up_to_the_profile():
    support = load_support()
    assert [support.budget_share(500, 3, i) for i in range(3)] == [167, 167, 166]
    with pytest.raises(ValueError, match="cannot be split"):
        support.budget_share(2, 3, 2)


def test_delivery_counts_lost_duplicated_and_phantom_messages():
    received = {"a": 1, "b": 2, "u": 1, "f": 1}
    outcomes = {"a": "sent", "b": "sent", "c": "sent", "u": "unknown", "v": "unknown", "f": "failed", "g": "failed"}
    assert delivery(received, outcomes) == (4, 1, 1, 1)


# -- pure: each verdict passes and fails ---------------------------------------------------------------------

def observed(**overrides) -> Observation:
    """A clean 20/2 run: 100 sends in 5 bursts, each delivered once, one token request."""
    ids = [f"r.1.{i}" for i in range(100)]
    values = dict(requests=101, status_429=0, max_requests_in_window=20, arrivals_s=bursts(20, 2.02, 5),
                  received={key: 1 for key in ids}, outcomes={key: "sent" for key in ids}, send_round_trip_ms=2.0)
    values.update(overrides)
    return Observation(**values)


def failed_checks(plan: LoadPlan, seen: Observation) -> set[str]:
    return {check.name for check in judge(plan, seen).checks if not check.passed}


PLAN = LoadPlan(CI, CI, 10, 1)


@pytest.mark.parametrize(("plan", "seen", "failed"), [
    (PLAN, observed(), set()),
    (PLAN, observed(status_429=3), {"no_429_within_limit"}),
    (LoadPlan(Rate(40, 2, "p"), CI, 10, 1), observed(status_429=3), set()),
    (PLAN, observed(max_requests_in_window=21), {"max_requests_in_window"}),
    (PLAN, observed(arrivals_s=bursts(20, 2.5, 5)), {"achieved_rate"}),
    (PLAN, observed(received={"r.1.0": 2}), {"exactly_once"}),
    (PLAN, observed(send_round_trip_ms=250.0, arrivals_s=bursts(4, 1, 10)), {"achieved_rate", "concurrency"}),
    (PLAN, observed(locust_errors=2), {"locust_errors"}),
], ids=["clean", "429-within-limit", "429-over-limit-expected", "window-exceeded", "rate-low", "lost-and-doubled",
        "too-few-connections", "locust-errors"])
def test_each_check_passes_and_fails(plan, seen, failed):
    report = judge(plan, seen)
    assert failed_checks(plan, seen) == failed
    assert report.exit_code == (1 if failed else 0)


def test_report_document_has_exactly_the_issue_keys():
    report = judge(PLAN, observed(received={}, outcomes={"x": "sent"}))
    document = report.as_dict()
    assert set(document) == REPORT_KEYS
    assert all(set(check) == {"name", "passed", "value", "threshold"} for check in document["checks"])
    assert (document["passed"], document["lost"], document["delivered"]) == (False, 1, 0)


def test_too_few_connections_are_explained_with_the_value_that_would_do():
    report = judge(PLAN, observed(send_round_trip_ms=205.0))
    assert any("use --users 3" in note and "10 x 0.205 s" in note for note in report.notes)


# -- options -------------------------------------------------------------------------------------------------

def test_profiles_resolve_by_name_or_rate_and_unknown_names_list_the_valid_ones():
    assert (resolve_profile(None, None).limit, resolve_profile(None, None).window_s) == (500, 60.0)
    assert (resolve_profile(None, "initial").limit, resolve_profile(None, "20/2").window_s) == (5, 2.0)
    with pytest.raises(UsageError, match="valid: high_volume, initial, ongoing"):
        resolve_profile(None, "ongiong")


def test_a_run_shorter_than_three_windows_is_refused():
    with pytest.raises(UsageError, match="at least 3 windows"):
        plan_for(LoadtestOptions(profile="20/2", duration_s=5), None, CI)
    assert plan_for(LoadtestOptions(profile="ongoing"), None, Rate(120, 60, "s")).duration_s == 180


# -- real runs: Locust subprocess against the mock server --------------------------------------------------------

def loadtest(tmp_path: Path, *args: str):
    """`mwsync loadtest ARGS --report ...` in-process; returns (click result, report document)."""
    report = tmp_path / "report.json"
    result = CliRunner().invoke(cli, ["loadtest", *args, "--report", str(report)], catch_exceptions=False)
    return result, json.loads(report.read_text()) if report.exists() else None


def checks(document: dict) -> dict[str, dict]:
    return {check["name"]: check for check in document["checks"]}


def test_a_profile_within_the_server_limit_passes_at_full_rate(tmp_path):
    html = tmp_path / "locust.html"
    result, document = loadtest(tmp_path, "--throttle", "20/2", "--server-limit", "20/2", "--duration", "6",
                                "--html", str(html))
    assert result.exit_code == 0, result.output
    assert set(document) == REPORT_KEYS and document["passed"]
    assert document["status_429"] == 0 and document["max_requests_in_window"] <= 20
    assert document["achieved_rate_per_s"] >= 0.95 * 10 == checks(document)["achieved_rate"]["threshold"]
    assert document["delivered"] >= 50 and document["lost"] == document["duplicates"] == 0
    assert html.stat().st_size > 10_000 and "PASSED" in result.output


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


def test_observe_refuses_a_mock_that_let_messages_go(tmp_path):
    """A mock started with a small --keep-messages cannot prove exactly-once; the load test says how to fix it."""
    from mwsync.errors import LoadtestError
    from mwsync.loadtest import observe

    (tmp_path / "ledger.json").write_text(json.dumps({"errors": {"failures": [], "exceptions": []}}))
    (tmp_path / "locust.json").write_text("[]")
    with MockServer(keep_messages=1, clients=dict([DEMO_CLIENT])) as mock:
        import requests

        token = requests.post(f"{mock.url}/oauth/v1/token", data={"client_id": DEMO_CLIENT[0], "client_secret":
                              DEMO_CLIENT[1], "grant_type": "client_credentials"}).json()["access_token"]
        for n in range(2):
            requests.post(f"{mock.url}/rest/v1/messages/send", json={"message": f"m{n}", "recipients":
                          ["ada@example.com"]}, headers={"Authorization": f"Bearer {token}"})
        with pytest.raises(LoadtestError, match="--keep-messages 2 or more"):
            observe(mock.url, tmp_path, "run", "")
