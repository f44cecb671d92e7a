"""`mwsync loadtest`: the verdicts as pure functions and the options (real Locust runs against the real
mock: tests/system/test_loadtest.py). Windows are scaled for CI (20 calls per 2 s)."""

from __future__ import annotations

import importlib.util
import json

import pytest

from mwsync.errors import UsageError
from mwsync.loadtest import LOCUSTFILE, LoadtestOptions, locust_command, plan_for, resolve_profile
from mwsync.loadtest.listener import listener_auth
from mwsync.loadtest.observation import MAX_REQUEST_LOG, MIN_REQUEST_LOG, request_log_size
from mwsync.loadtest.verdict import (
    LoadPlan,
    Observation,
    achieved_rate,
    delivery,
    judge,
    needed_users,
    profile_bound,
)
from mwsync.rate import Rate
from tests.support.loadtest import REPORT_KEYS

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


@pytest.mark.parametrize(("rate", "round_trip_ms", "users"),
                         [(10, 200, 2), (10, 205, 3), (10, 0, 1), (500 / 60, 300, 3)],
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
    with pytest.raises(UsageError, match="valid: high_volume, initial, listener_secured, listener_secured_50, "
                       "listener_unsecured, ongoing"):
        resolve_profile(None, "ongiong")


def test_a_run_shorter_than_three_windows_is_refused():
    with pytest.raises(UsageError, match="at least 3 windows"):
        plan_for(LoadtestOptions(profile="20/2", duration_s=5), None, CI)
    assert plan_for(LoadtestOptions(profile="ongoing"), None, Rate(120, 60, "s")).duration_s == 180


def test_the_listener_target_defaults_to_the_secured_profile_and_signs_unless_unsecured(tmp_path):
    profile = resolve_profile(None, None, "listener")
    assert (profile.name, profile.limit, profile.window_s) == ("listener_secured", 5, 1.0)
    assert listener_auth(profile) == "hmac" and listener_auth(resolve_profile(None, "listener_unsecured")) == "none"
    plan = plan_for(LoadtestOptions(profile="listener_unsecured", target="listener"), None, Rate(1, 10, "server"))
    assert plan.duration_s == 30 and plan.fits  # three 10 s windows of the unsecured limit
    command = locust_command(plan, "http://127.0.0.1:1", tmp_path, "run", None, listener_auth="none")
    assert command[command.index("--mwsync-listener-auth") + 1] == "none"
    assert "--mwsync-listener-auth" not in locust_command(plan, "http://127.0.0.1:1", tmp_path, "run", None)


@pytest.mark.parametrize(("plan", "size"), [
    (LoadPlan(CI, CI, 6, 1), MIN_REQUEST_LOG),  # 3 x 10/s x (6 + 4) s = 300: the mock's default is more
    (LoadPlan(Rate(500, 60, "ongoing"), Rate(120, 60, "server"), 600, 2), 3 * 500 * 720 // 60),
    (LoadPlan(Rate(2, 1, "p"), Rate(2, 1, "s"), 3, 1, user_class="unthrottled"), 3 * 2000 * 5),
    (LoadPlan(CI, CI, 600, 1, user_class="raw"), MAX_REQUEST_LOG),
], ids=["short-run", "paced-by-the-profile", "unpaced", "capped"])
def test_the_started_mock_keeps_a_request_log_for_the_whole_run(plan, size):
    """Every 429 must still be in /_mock/requests when the --html chart marks them."""
    assert request_log_size(plan) == size


def test_the_ledger_names_the_messages_sent_after_a_429(tmp_path):
    support = load_support()
    ledger = support.Ledger("run")
    ledger.record("run.1.1", "sent")
    ledger.sent_after_429("run.1.1")
    ledger.write(tmp_path / "ledger.json")
    assert json.loads((tmp_path / "ledger.json").read_text())["after_429"] == ["run.1.1"]
