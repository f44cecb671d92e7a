"""Real threads under the real clock: one token fetch however many threads ask, and one limiter budget
shared by every thread (small windows: 10 calls per 0.5 s)."""

from __future__ import annotations

import threading
import time

from mwsync.send.auth import TokenCache
from mwsync.send.throttle import SlidingWindowLimiter
from tests.support import max_in_window


def test_one_fetch_for_many_threads():
    calls = []

    def fetch():
        calls.append(1)
        time.sleep(0.05)
        return "tok", 3600.0

    cache = TokenCache(fetch)
    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get())) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["tok"] * 8 and len(calls) == 1


def test_threads_share_one_budget():
    """Real clock, small window: 4 threads x 10 calls under 10 per 0.5 s take at least 1.5 s."""
    limiter = SlidingWindowLimiter(10, 0.5, margin_s=0.0)
    starts: list[float] = []
    lock = threading.Lock()

    def worker():
        for _ in range(10):
            limiter.acquire().done()
            with lock:
                starts.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(starts) == 40
    assert max_in_window(starts, 0.5 - 0.005) <= 10
