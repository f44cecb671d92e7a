"""The access-token cache: refresh before expiry, one fetch per expiry across threads, 401 invalidation."""

from __future__ import annotations

import threading
import time

from mwsync.send.auth import TokenCache, refresh_margin_s


def test_refreshes_shortly_before_expiry_trusting_expires_in():
    now = [0.0]
    issued = iter([("t1", 60.0), ("t2", 3600.0), ("t3", 60.0)])
    cache = TokenCache(lambda: next(issued), clock=lambda: now[0])
    assert cache.get() == "t1"
    now[0] = 53.9
    assert cache.get() == "t1"
    now[0] = 54.0  # 60 s token: 10 % margin -> replaced after 54 s
    assert cache.get() == "t2"
    now[0] = 54.0 + 3569.0
    assert cache.get() == "t2"
    now[0] = 54.0 + 3570.0  # 3600 s token: 30 s margin
    assert cache.get() == "t3"
    assert refresh_margin_s(60) == 6 and refresh_margin_s(3600) == 30


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


def test_invalidate_only_drops_the_rejected_token():
    issued = iter([("t1", 3600.0), ("t2", 3600.0)])
    cache = TokenCache(lambda: next(issued))
    assert cache.get() == "t1"
    cache.invalidate("stale-other")
    assert cache.get() == "t1"
    cache.invalidate("t1")
    assert cache.get() == "t2"
