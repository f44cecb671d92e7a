"""Org-wide rate limit: pure window accounting with fake times, then the running server's 429s and headers."""

from __future__ import annotations

import time

import pytest
import requests
from mock_helpers import TOKEN_FORM, FakeClock, error_of, get_token, send

from mwsync.mock_server import MockServer
from mwsync.mock_server.ratelimit import FixedWindow, PeakCounter, SlidingWindow
from mwsync.rate import Rate


@pytest.mark.parametrize(
    ("value", "expected"),
    [((120, 60.0), Rate(120, 60.0)), ("120/60", Rate(120, 60.0)), ("5/0.5", Rate(5, 0.5)),
     ([3, 1], Rate(3, 1.0))],
    ids=["tuple", "string", "fractional-window", "list"],
)  # fmt: skip
def test_rate_limit_parse(value, expected):
    assert Rate.parse(value) == expected


@pytest.mark.parametrize("value", ["120", "a/60", "0/60", "5/0", "5/-1", (1,), None, (True, 1)], ids=str)
def test_rate_limit_parse_rejects(value):
    with pytest.raises(ValueError):
        Rate.parse(value)


def _run(limiter, times):
    return [limiter.acquire(t).allowed for t in times]


@pytest.mark.parametrize(
    ("times", "allowed"),
    [([0, 0.1, 0.2, 0.3], [True, True, True, False]),
     ([0, 0.1, 0.2, 0.999, 1.0], [True, True, True, False, True]),
     ([0.9, 0.95, 0.99, 1.1, 1.89], [True, True, True, False, False])],
    ids=["fourth-refused", "slot-frees-exactly-at-window", "no-burst-across-boundary"],
)  # fmt: skip
def test_sliding_window(times, allowed):
    assert _run(SlidingWindow(Rate(3, 1.0)), times) == allowed


def test_fixed_window_allows_burst_across_boundary():
    assert _run(FixedWindow(Rate(3, 1.0)), [0.9, 0.95, 0.99, 1.1, 1.2, 1.3, 1.4]) == [True] * 6 + [False]


def test_sliding_decision_headers():
    limiter = SlidingWindow(Rate(2, 10.0))
    first = limiter.acquire(100.0)
    assert (first.remaining, first.reset_s, first.retry_after_s) == (1, 10, None)
    limiter.acquire(103.0)
    refused = limiter.acquire(104.5)
    assert (refused.allowed, refused.remaining, refused.retry_after_s, refused.reset_s) == (False, 0, 6, 9)


def test_rejected_requests_take_no_slot():
    limiter = SlidingWindow(Rate(1, 1.0))
    assert _run(limiter, [0.0, 0.5, 0.9, 1.0]) == [True, False, False, True]


def test_peak_counter_is_exact_not_per_bucket():
    peak = PeakCounter(1.0)
    for t in [0.6, 0.6, 0.6, 1.4, 1.4, 1.4, 2.5]:
        peak.arrive(t)
    assert peak.peak == 6  # fixed 1 s buckets would see at most 3


def test_peak_counter_half_open_span():
    peak = PeakCounter(1.0)
    for t in [0.0, 1.0, 2.0]:
        peak.arrive(t)
    assert peak.peak == 1


# -- against the running server -------------------------------------------------------------------------------


@pytest.fixture
def clocked():
    clock = FakeClock()
    with MockServer(rate_limit="5/1", clock=clock) as srv:
        yield srv, clock


def test_sixth_request_in_window_is_429_with_retry_after(clocked, http):
    srv, clock = clocked
    token = get_token(srv, http)  # the token request counts toward the limit
    responses = [send(srv, http, token) for _ in range(5)]
    assert [r.status_code for r in responses] == [200] * 4 + [429]
    refused = responses[-1]
    assert error_of(refused)[:2] == (429, "TOO_MANY_REQUESTS")
    assert refused.headers["Retry-After"] == "1" and refused.headers["X-RateLimit-Remaining"] == "0"
    clock.advance(0.999)
    assert send(srv, http, token).status_code == 429
    clock.advance(0.001)
    assert send(srv, http, token).status_code == 200
    stats = srv.stats()
    assert stats["status_429"] == 2 and stats["by_status"] == {"200": 6, "429": 2}
    assert stats["max_requests_in_window"] == 7 and stats["rate_limit"] == {
        "limit": 5,
        "window_s": 1.0,
        "algorithm": "sliding",
    }


def test_every_api_response_carries_rate_limit_headers(clocked, http):
    srv, _ = clocked
    responses = [
        http.post(f"{srv.url}/oauth/v1/token", data=TOKEN_FORM),
        http.get(f"{srv.url}/rest/v1/auth/test"),
        http.get(f"{srv.url}/no/such/path"),
        send(srv, http, "bad"),
    ]
    remaining = [r.headers["X-RateLimit-Remaining"] for r in responses]
    assert remaining == ["4", "3", "2", "1"]
    assert {r.headers["X-RateLimit-Limit"] for r in responses} == {"5"}
    assert {r.headers["X-RateLimit-Reset"] for r in responses} == {"1"}
    assert "X-RateLimit-Limit" not in http.get(f"{srv.url}/_mock/stats").headers  # /_mock is not the API


def test_headers_can_be_disabled(http):
    with MockServer(rate_limit="1/60", rate_limit_headers=False) as srv:
        get_token(srv, http)
        refused = http.post(f"{srv.url}/oauth/v1/token", data=TOKEN_FORM)
    assert refused.status_code == 429
    assert not {"Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining"} & set(refused.headers)


def test_fixed_algorithm(http):
    clock = FakeClock(start_s=100.25)
    with MockServer(rate_limit="2/1", rate_limit_algorithm="fixed", clock=clock) as srv:
        codes = [http.get(f"{srv.url}/rest/v1/auth/test").status_code for _ in range(3)]
        assert codes == [401, 401, 429]
        clock.advance(0.75)  # next bucket starts at 101.0
        assert http.get(f"{srv.url}/rest/v1/auth/test").status_code == 401
        assert srv.stats()["rate_limit"]["algorithm"] == "fixed"


def test_real_time_window_recovers(http):
    with MockServer(rate_limit="3/0.3") as srv:
        codes = [http.get(f"{srv.url}/rest/v1/auth/test").status_code for _ in range(4)]
        time.sleep(0.35)
        codes.append(http.get(f"{srv.url}/rest/v1/auth/test").status_code)
    assert codes == [401, 401, 401, 429, 401]


def test_reset_clears_the_window(clocked, http):
    srv, _ = clocked
    for _ in range(6):
        http.get(f"{srv.url}/rest/v1/auth/test")
    srv.reset()
    assert http.get(f"{srv.url}/rest/v1/auth/test").status_code == 401
    assert srv.stats()["max_requests_in_window"] == 1


def test_admin_endpoints_are_not_limited(clocked):
    srv, _ = clocked
    with requests.Session() as http:
        assert {http.get(f"{srv.url}/_mock/stats").status_code for _ in range(20)} == {200}
