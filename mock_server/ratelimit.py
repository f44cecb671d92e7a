"""Window accounting for the org-wide rate limit: pure logic, times passed in (monotonic seconds), no I/O.

Moveworks documents "120 requests per minute for the whole organization" and leaves the window
algorithm unspecified (shared contract, "Rate limits"). The mock's default is the strictest reading,
a sliding window: at any instant `t`, at most `limit` admitted requests started in `(t - window_s, t]`.
`FixedWindow` (buckets aligned to clock 0) is the lenient alternative. Requests rejected with 429 do not
take a slot in either algorithm: a client retrying too early is refused again but never locks itself out.

`PeakCounter` measures the traffic itself (admitted or not): the largest number of arrivals in any
half-open span of `window_s` seconds, exactly, for `/_mock/stats` `max_requests_in_window`.
"""

from __future__ import annotations

import math
from array import array
from collections import deque
from dataclasses import dataclass

from ..rate import Rate


@dataclass(frozen=True)
class Decision:
    """Outcome of one `acquire`: header values in whole seconds.

    `remaining`: slots left after this request; `reset_s`: seconds until the window fully resets
    (X-RateLimit-Reset); `retry_after_s`: seconds until a slot frees (>= 1), only when rejected.
    """

    allowed: bool
    limit: int
    remaining: int
    reset_s: int
    retry_after_s: int | None = None


def _whole_seconds(seconds: float) -> int:
    """Round a wait up to whole seconds, never below 1 (Retry-After is an integer of seconds)."""
    return max(1, math.ceil(seconds - 1e-9))


class SlidingWindow:
    """Sliding-log limiter: remembers the start time of each admitted request still inside the window."""

    algorithm = "sliding"

    def __init__(self, rate: Rate) -> None:
        self.rate = rate
        self._admitted: deque[float] = deque()

    def acquire(self, now: float) -> Decision:
        """Admit or reject a request arriving at `now` (monotonic seconds)."""
        window_s, admitted = self.rate.window_s, self._admitted
        while admitted and admitted[0] <= now - window_s:
            admitted.popleft()
        if len(admitted) < self.rate.limit:
            admitted.append(now)
            return Decision(True, self.rate.limit, self.rate.limit - len(admitted), _whole_seconds(window_s))
        reset_s = _whole_seconds(admitted[-1] + window_s - now)
        retry_after_s = _whole_seconds(admitted[0] + window_s - now)
        return Decision(False, self.rate.limit, 0, reset_s, retry_after_s)

    def reset(self) -> None:
        self._admitted.clear()


class FixedWindow:
    """Fixed-bucket limiter: at most `limit` admitted requests per bucket `[k*window_s, (k+1)*window_s)`."""

    algorithm = "fixed"

    def __init__(self, rate: Rate) -> None:
        self.rate = rate
        self._bucket = -1
        self._count = 0

    def acquire(self, now: float) -> Decision:
        """Admit or reject a request arriving at `now` (monotonic seconds)."""
        bucket = math.floor(now / self.rate.window_s)
        if bucket != self._bucket:
            self._bucket, self._count = bucket, 0
        reset_s = _whole_seconds((bucket + 1) * self.rate.window_s - now)
        if self._count < self.rate.limit:
            self._count += 1
            return Decision(True, self.rate.limit, self.rate.limit - self._count, reset_s)
        return Decision(False, self.rate.limit, 0, reset_s, reset_s)

    def reset(self) -> None:
        self._bucket, self._count = -1, 0


def make_limiter(rate: Rate, algorithm: str) -> SlidingWindow | FixedWindow:
    """Build the limiter for `algorithm` ("sliding" or "fixed"); raise `ValueError` otherwise."""
    if algorithm == "sliding":
        return SlidingWindow(rate)
    if algorithm == "fixed":
        return FixedWindow(rate)
    raise ValueError(f"unknown rate-limit algorithm {algorithm!r} (valid: sliding, fixed)")


class PeakCounter:
    """Exact maximum number of arrivals in any half-open span `(t - window_s, t]`.

    The maximum over all spans is reached by a span ending at an arrival, so checking the count
    at each arrival is exact (not per fixed bucket). Memory: 8 bytes per arrival of the last `window_s`
    (a packed array of floats, compacted as the window slides).
    """

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self.peak = 0
        self.reset()

    def arrive(self, now: float) -> None:
        """Record one arrival at `now`; arrivals must come in non-decreasing time order."""
        arrivals = self._arrivals
        arrivals.append(now)
        head, horizon = self._head, now - self.window_s
        while arrivals[head] <= horizon:
            head += 1
        if head > 4096 and head * 2 > len(arrivals):
            del arrivals[:head]
            head = 0
        self._head = head
        if len(arrivals) - head > self.peak:
            self.peak = len(arrivals) - head

    def reset(self) -> None:
        self.peak = 0
        self._arrivals = array("d")
        self._head = 0
