"""The access-token cache: refresh before expiry, 401 invalidation (fake clock; one fetch for many threads:
tests/integration/test_concurrency.py)."""

from __future__ import annotations

from mwsync.send.auth import TokenCache, refresh_margin_s
from tests.support import FakeClock


def test_refreshes_shortly_before_expiry_trusting_expires_in():
    clock = FakeClock(start_s=0.0)
    issued = iter([("t1", 60.0), ("t2", 3600.0), ("t3", 60.0)])
    cache = TokenCache(lambda: next(issued), clock=clock)
    assert cache.get() == "t1"
    clock.now_s = 53.9
    assert cache.get() == "t1"
    clock.now_s = 54.0  # 60 s token: 10 % margin -> replaced after 54 s
    assert cache.get() == "t2"
    clock.now_s = 54.0 + 3569.0
    assert cache.get() == "t2"
    clock.now_s = 54.0 + 3570.0  # 3600 s token: 30 s margin
    assert cache.get() == "t3"
    assert refresh_margin_s(60) == 6 and refresh_margin_s(3600) == 30


def test_invalidate_only_drops_the_rejected_token():
    issued = iter([("t1", 3600.0), ("t2", 3600.0)])
    cache = TokenCache(lambda: next(issued))
    assert cache.get() == "t1"
    cache.invalidate("stale-other")
    assert cache.get() == "t1"
    cache.invalidate("t1")
    assert cache.get() == "t2"
