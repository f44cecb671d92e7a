"""The Redis limiter against a real Redis: one budget shared by limiters standing for separate runners
(separate connections, as separate processes would have), timed on Redis's clock. Small windows (a few
per 0.5..1 s) so the module runs in seconds; counts are checked with a margin-free `max_in_window`."""

from __future__ import annotations

import threading
import time

import pytest

from mwsync.errors import Interrupted, LimiterUnavailable
from mwsync.send.redis_limiter import RedisLimiter, budget_prefix
from mwsync.send.stop import StopSignal
from tests.support import max_in_window
from tests.support.servers import Redis

TARGET = "http://127.0.0.1:9/api"


def limiters(url: str, n: int, limit: int, window_s: float, **options) -> list[RedisLimiter]:
    return [RedisLimiter(url, TARGET, limit, window_s, **options) for _ in range(n)]


def test_runners_sharing_a_budget_never_start_more_than_limit_in_a_window(redis_url):
    starts: list[float] = []
    lock = threading.Lock()

    def runner(limiter: RedisLimiter) -> None:
        for _ in range(8):
            slot = limiter.acquire()
            with lock:
                starts.append(time.monotonic())
            time.sleep(0.005)  # the request
            slot.done()

    threads = [threading.Thread(target=runner, args=(limiter,))
               for limiter in limiters(redis_url, 2, 4, 0.5) for _ in range(2)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(starts) == 32 and max_in_window(starts, 0.5) <= 4
    assert time.monotonic() - began >= 7 * 0.5  # 32 starts at 4 per window: at least 7 full windows waited


def test_a_waiting_runner_is_served_in_arrival_order(redis_url):
    first, second, filler = limiters(redis_url, 3, 1, 0.5)
    filler.acquire().done()
    order: list[str] = []
    threads = [threading.Thread(target=lambda lim=lim, name=name: (lim.acquire().done(), order.append(name)))
               for lim, name in ((first, "first"), (second, "second"))]
    threads[0].start()
    time.sleep(0.1)
    threads[1].start()
    for thread in threads:
        thread.join()
    assert order == ["first", "second"]


def test_a_429_seen_by_one_runner_pauses_every_runner(redis_url):
    one, other = limiters(redis_url, 2, 100, 1.0)
    one.pause(0.6)
    began = time.monotonic()
    other.acquire().done()
    assert time.monotonic() - began >= 0.55


def test_a_slot_in_flight_blocks_the_one_limit_places_later_until_its_deadline(redis_url):
    dead, alive = limiters(redis_url, 2, 1, 0.3, inflight_s=0.6)
    dead.acquire()  # its runner dies with the request in flight: done() never comes
    began = time.monotonic()
    alive.acquire().done()
    waited = time.monotonic() - began
    assert 0.85 <= waited < 3.0  # in flight until its deadline (0.6 s), then a window (0.3 s)


def test_a_waiter_that_stopped_polling_loses_its_turn(redis_url):
    gone, alive = limiters(redis_url, 2, 1, 0.2, waiter_ttl_s=0.5)
    gone.acquire().done()
    gone._scripts["acquire"](keys=gone._keys, args=[0, 1, 200_000, 0, 10**6, 500_000, 60_000])  # ticket 0, gone
    began = time.monotonic()
    alive.acquire().done()
    assert 0.4 <= time.monotonic() - began < 3.0


def test_a_stopped_run_stops_waiting(redis_url):
    stop = StopSignal()
    [limiter] = limiters(redis_url, 1, 1, 30.0, stop=stop)
    limiter.acquire().done()
    threading.Timer(0.2, stop.set).start()
    with pytest.raises(Interrupted):
        limiter.acquire()


def test_budgets_are_per_target_and_share_one_hash_tag():
    prefix = budget_prefix("https://api.moveworks.ai")
    assert prefix.startswith("mwsync:limiter:{") and prefix.endswith("}")
    assert prefix != budget_prefix("https://api.eu.moveworks.ai")


def test_redis_unreachable_stops_the_run_and_never_sends_unthrottled():
    with Redis() as server:
        [limiter] = limiters(server.url, 1, 10, 1.0)
        slot = limiter.acquire()
        server.stop()
        slot.done()  # the request already completed: no error here
        with pytest.raises(LimiterUnavailable, match=rf"redis://127.0.0.1:{server.port}/0: the shared limiter "
                                                      "cannot be used: .*nothing more is sent"):
            limiter.acquire()
    with pytest.raises(LimiterUnavailable, match="connection refused; nothing was sent"):
        RedisLimiter(server.url, TARGET, 10, 1.0)
