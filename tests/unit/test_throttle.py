"""The client-side limiter: no span of window_s ever holds more than `limit` starts (fake clock, no sleeps;
threads under the real clock: tests/integration/test_concurrency.py)."""

from __future__ import annotations

import contextlib

import pytest
from ratelimit import RateLimitException, limits

from mwsync.send.throttle import SlidingWindowLimiter, default_margin_s
from tests.support import FakeClock, max_in_window


def test_first_limit_calls_start_at_once_then_one_window_later():
    clock = FakeClock(start_s=0.0)
    limiter = SlidingWindowLimiter(3, 1.0, margin_s=0.0, clock=clock, sleep=clock.sleep)
    starts = []
    for _ in range(7):
        limiter.acquire().done()
        starts.append(clock.now_s)
    assert starts == [0, 0, 0, 1, 1, 1, 2]
    assert clock.sleeps == [1.0, 1.0]


def test_no_window_ever_exceeds_the_limit_with_margin():
    clock = FakeClock(start_s=0.0)
    limiter = SlidingWindowLimiter(10, 1.0, clock=clock, sleep=clock.sleep)
    starts = []
    for i in range(100):
        clock.now_s += 0.013 * (i % 7)  # irregular arrivals
        limiter.acquire().done()
        starts.append(clock.now_s)
    assert max_in_window(starts, 1.0 + default_margin_s(1.0) - 1e-9) == 10


def test_fixed_window_decorator_lets_twice_the_limit_through_a_boundary():
    """Why we don't use `ratelimit.limits` alone: measured, a fixed window allows 2 x limit in one span."""
    clock = FakeClock(start_s=0.0)

    @limits(calls=10, period=1, clock=clock)  # its window runs from 0.0 to 1.0
    def call():
        return clock.now_s

    clock.now_s = 0.95
    starts = []
    for _ in range(10):
        starts.append(call())
    clock.now_s = 1.05  # the decorator's window has reset: 20 calls within 0.1 s
    for _ in range(10):
        with contextlib.suppress(RateLimitException):
            starts.append(call())
    assert max_in_window(starts, 1.0) == 20


def test_pause_after_429_holds_every_caller():
    clock = FakeClock(start_s=0.0)
    limiter = SlidingWindowLimiter(100, 1.0, margin_s=0.0, clock=clock, sleep=clock.sleep)
    limiter.pause(2.5)
    limiter.acquire().done()
    assert clock.now_s == 2.5


def test_each_429_widens_the_margin_up_to_a_tenth_of_the_window():
    limiter = SlidingWindowLimiter(10, 1.0)
    margins = []
    for _ in range(5):
        limiter.pause(0)
        margins.append(limiter.margin_s)
    assert margins == pytest.approx([0.04, 0.08, 0.1, 0.1, 0.1])


@pytest.mark.parametrize("window_s,expected", [(1.0, 0.02), (10.0, 0.1), (60.0, 0.25)], ids=["1s", "10s", "60s"])
def test_default_margin(window_s, expected):
    assert default_margin_s(window_s) == pytest.approx(expected)
