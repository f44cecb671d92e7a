"""Client-side rate limiting: at most `limit` requests in any span of `window_s` seconds, *as the server
counts them*.

Why not a plain fixed window (the `ratelimit` package's `@limits` decorator): it resets its count at
window boundaries, so `limit` calls at the end of one window and `limit` at the start of the next put
2 x `limit` inside one span of `window_s`, which a sliding-window server (the strictest reading of
Moveworks' "120 requests per minute") answers with 429s. The tests measure that.

The spacing rule. A server counts a request when it arrives, and a request can arrive any time between
the moment the client took its slot and the moment the answer came back: on a busy machine the thread
that took the slot may not run for a while. So a window is counted from when the server can *last*
have seen a request, its completion: request `n` starts only once the request `limit` places before it
has completed and `window_s` (+ a small margin) has passed since. Then for any two requests `limit`
apart, the server saw the later one more than `window_s` after the earlier one, whatever the
scheduling delay or latency. The cost is the latency added to each window (200 ms on 60 s: 0.3 %).

`acquire()` returns a `Slot`; the caller calls `slot.done()` when the request completed (answer
received, or failed). The sender sees only the `Limiter` protocol, so a shared backend (Redis, for
several runners sharing one organisation's limit) replaces this one without touching the sender.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

from ..errors import Interrupted

IN_FLIGHT_POLL_S = 0.05  # real seconds between checks while the oldest slot of the window is in flight


class Slot(Protocol):
    """One request's place in the window: `waited_s` seconds it waited; `done()` once it completed."""

    waited_s: float

    def done(self) -> None:
        """The request completed (answer received, or it failed): its window runs from now."""

    def cancel(self) -> None:
        """The request will not go out after all (its access token must be fetched first): give the slot
        back."""


class Limiter(Protocol):
    """What the sender needs from a rate limiter. Times are seconds; `limit` calls per `window_s`."""

    limit: int
    window_s: float

    def acquire(self) -> Slot:
        """Block until one request may start; raise `Interrupted` when the run is stopping."""

    def pause(self, delay_s: float) -> None:
        """Start no request for `delay_s` seconds from now (the server answered 429)."""


def default_margin_s(window_s: float) -> float:
    """Extra spacing added to each window for timer resolution: 1 % of the window, 20 ms..250 ms."""
    return min(0.25, max(0.02, 0.01 * window_s))


class _Slot:
    __slots__ = ("_limiter", "end", "waited_s")

    def __init__(self, limiter: SlidingWindowLimiter, waited_s: float):
        self._limiter, self.waited_s, self.end = limiter, waited_s, None

    def done(self) -> None:
        self._limiter._complete(self)

    def cancel(self) -> None:
        self._limiter._cancel(self)


class SlidingWindowLimiter:
    """In-process limiter shared by every thread of a run (the spacing rule: module docstring).

    `limit`: calls per window; `window_s`: window length in seconds; `margin_s`: extra seconds per
    window (default `default_margin_s`). `clock` (monotonic seconds) and `sleep` are injectable so
    tests run without sleeping. `stop`: once set, waiting callers raise `Interrupted` (pass
    `sleep=stop.wait` so a long wait ends at once). Thread-safe; waiting threads start in arrival order.
    Raises `ValueError` for a limit below 1 or a window of 0 or less.
    """

    def __init__(self, limit: int, window_s: float, *, margin_s: float | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 stop: threading.Event | None = None):
        if limit < 1 or window_s <= 0:
            raise ValueError(f"limit must be >= 1 and window_s > 0, got {limit}/{window_s}")
        self.limit = limit
        self.window_s = float(window_s)
        self.margin_s = default_margin_s(window_s) if margin_s is None else margin_s
        self._clock, self._sleep, self._stop = clock, sleep, stop
        self._slots: deque[_Slot] = deque(maxlen=limit)
        self._paused_until = float("-inf")
        self._lock = threading.Lock()
        self._completed = threading.Condition(self._lock)
        self._turn = threading.Lock()  # the caller holding it is the next to start

    def _earliest(self, now: float) -> float | None:
        """When the next request may start (monotonic seconds), or None while the slot `limit` places
        back is still in flight."""
        start = max(now, self._paused_until)
        if len(self._slots) == self.limit:
            oldest = self._slots[0].end
            if oldest is None:
                return None
            start = max(start, oldest + self.window_s + self.margin_s)
        return start

    def acquire(self) -> _Slot:
        """Block until one request may start; return its slot (call `slot.done()` when it completed).
        Raises `Interrupted` once `stop` is set."""
        began = self._clock()
        with self._turn:
            while True:
                if self._stop is not None and self._stop.is_set():
                    raise Interrupted("the run was interrupted before this request was sent")
                with self._lock:
                    now = self._clock()
                    at = self._earliest(now)
                    if at is not None and at <= now:
                        slot = _Slot(self, now - began)
                        self._slots.append(slot)
                        return slot
                    if at is None:
                        self._completed.wait(IN_FLIGHT_POLL_S)
                        continue
                self._sleep(at - now)

    def _cancel(self, slot: _Slot) -> None:
        with self._lock:
            try:
                self._slots.remove(slot)
            except ValueError:  # pushed out of the window already
                slot.end = self._clock()
            self._completed.notify_all()

    def _complete(self, slot: _Slot) -> None:
        with self._lock:
            if slot.end is None:
                slot.end = self._clock()
                self._completed.notify_all()

    def pause(self, delay_s: float) -> None:
        """No request starts for `delay_s` seconds from now (a 429's Retry-After).

        A 429 while the profile fits the server's limit means the margin was too thin, so the margin also
        doubles, up to 10 % of the window: the limiter heals instead of meeting 429s again.
        """
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + max(0.0, delay_s))
            self.margin_s = min(0.1 * self.window_s, max(2 * self.margin_s, 0.01))


class _NoSlot:
    waited_s = 0.0

    def done(self) -> None:
        return None

    def cancel(self) -> None:
        return None


class Unlimited:
    """A `Limiter` that never waits: for a raw baseline, or a server known to have no limit."""

    limit = 0
    window_s = 0.0

    def acquire(self) -> _NoSlot:
        return _NoSlot()

    def pause(self, delay_s: float) -> None:
        return None


def open_limiter(location: str | None, *, target: str, limit: int, window_s: float,
                 stop: threading.Event | None = None, inflight_s: float = 120.0) -> Limiter:
    """The limiter of `target` at `limit` calls per `window_s`: shared through the Redis at `location`
    (`redis://HOST:PORT/DB`, `mwsync.send.redis_limiter`), or in-process (`SlidingWindowLimiter`) when
    `location` is None. `stop` ends waits early; `inflight_s` bounds how long a shared slot never completed
    blocks the budget. Raises `LimiterUnavailable` (Redis unreachable) and `UsageError` (redis-py missing)."""
    if location:
        from .redis_limiter import RedisLimiter

        return RedisLimiter(location, target, limit, window_s, stop=stop, inflight_s=inflight_s)
    return SlidingWindowLimiter(limit, window_s, sleep=stop.wait if stop is not None else time.sleep, stop=stop)
