"""Client-side rate limiting: at most `limit` request starts in any span of `window_s` seconds.

Why not a plain fixed window (the `ratelimit` package's `@limits` decorator): it resets its count at
window boundaries, so `limit` calls at the end of one window and `limit` at the start of the next
put 2 x `limit` starts inside one span of `window_s`, which a sliding-window server (the strictest
reading of Moveworks' "120 requests per minute") answers with 429s. `tests/test_throttle.py`
measures that. `SlidingWindowLimiter` keeps the start times of the last `limit` calls instead and
lets a call start only `window_s` (+ a small margin for network jitter) after the call `limit`
places before it.

The sender sees only the `Limiter` protocol, so a shared backend (e.g. Redis, for several runners
sharing one organisation's limit) can replace the in-process one without touching the sender.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable, Protocol


class Limiter(Protocol):
    """What the sender needs from a rate limiter. Times are seconds."""

    limit: int
    window_s: float

    def acquire(self) -> float:
        """Block until one request may start; return the seconds waited."""

    def pause(self, delay_s: float) -> None:
        """Start no request for `delay_s` seconds from now (the server answered 429)."""


def default_margin_s(window_s: float) -> float:
    """Extra spacing added to each window to absorb network jitter: 1 % of the window, 20 ms..250 ms."""
    return min(0.25, max(0.02, 0.01 * window_s))


class SlidingWindowLimiter:
    """In-process sliding-window limiter shared by every thread of a run.

    `limit`: calls per window; `window_s`: window length in seconds; `margin_s`: extra seconds per
    window (default `default_margin_s`). `clock` (monotonic seconds) and `sleep` are injectable so
    tests run without sleeping. Thread-safe: each caller reserves its start time under a lock and
    sleeps outside it, so waiting threads start in arrival order.
    """

    def __init__(
        self,
        limit: int,
        window_s: float,
        *,
        margin_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if limit < 1 or window_s <= 0:
            raise ValueError(f"limit must be >= 1 and window_s > 0, got {limit}/{window_s}")
        self.limit = limit
        self.window_s = float(window_s)
        self.margin_s = default_margin_s(window_s) if margin_s is None else margin_s
        self._clock = clock
        self._sleep = sleep
        self._starts: deque[float] = deque(maxlen=limit)
        self._paused_until = float("-inf")
        self._lock = threading.Lock()

    def _earliest(self, now: float) -> float:
        start = max(now, self._paused_until)
        if len(self._starts) == self.limit:
            start = max(start, self._starts[0] + self.window_s + self.margin_s)
        return start

    def reserve(self) -> float:
        """Reserve the next start time (monotonic seconds, possibly in the future) and return it."""
        with self._lock:
            start = self._earliest(self._clock())
            self._starts.append(start)
            return start

    def acquire(self) -> float:
        """Block until one request may start; return the seconds waited."""
        start = self.reserve()
        delay = start - self._clock()
        if delay > 0:
            self._sleep(delay)
            return delay
        return 0.0

    def pause(self, delay_s: float) -> None:
        """No request starts for `delay_s` seconds from now (a 429's Retry-After).

        A 429 while the profile fits the server's limit means the jitter margin was too thin, so the
        margin also doubles, up to 10 % of the window: the limiter heals instead of meeting 429s again.
        """
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + max(0.0, delay_s))
            self.margin_s = min(0.1 * self.window_s, max(2 * self.margin_s, 0.01))


class Unlimited:
    """A `Limiter` that never waits: for a raw baseline, or a server known to have no limit."""

    limit = 0
    window_s = 0.0

    def acquire(self) -> float:
        return 0.0

    def pause(self, delay_s: float) -> None:
        return None
