"""The one fake clock of the test suite: monotonic seconds that move only when told.

Pass it as `clock=` and its `sleep` as `sleep=` to anything that waits (the throttle, the token cache,
the mock server's windows): `clock.advance(0.5)` moves time, `clock.sleep(s)` records the wait in
`clock.sleeps` and moves time by it, so a test asserts `clock.sleeps == [1.0, 1.0]` and never sleeps.
"""

from __future__ import annotations


class FakeClock:
    """Monotonic seconds, starting at `start_s` (1000.0 by default: code that treats 0 as "never" shows up)."""

    def __init__(self, start_s: float = 1000.0) -> None:
        self.now_s = start_s
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now_s

    def advance(self, seconds: float) -> None:
        """Move time forward by `seconds` (no wait recorded)."""
        self.now_s += seconds

    def sleep(self, seconds: float) -> None:
        """A `sleep=` that records the wait (rounded to the microsecond) and moves time by it."""
        self.sleeps.append(round(seconds, 6))
        self.now_s += seconds
