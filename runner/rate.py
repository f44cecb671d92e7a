"""`Rate`: at most `limit` calls in any span of `window_s` seconds, and its one parser.

The same value describes a throttle profile (the client's budget), the mock server's rate limit and a
load test's server limit. Written as `N/S` (`10/2`: 10 calls per 2 s window; `120/60s` and ` 5 / 0.5 `
are read too) on the command line, in `MWSYNC_*` variables, by the mock server and by the load tests.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

RATE_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d+(?:\.\d+)?|\.\d+)\s*s?\s*$")
MAX_LIMIT = 1_000_000_000  # calls per window
MAX_WINDOW_S = 86_400.0  # a day


@dataclass(frozen=True)
class Rate:
    """`limit` calls (1..1e9) per `window_s` seconds (0 < window_s <= 86400); `name` labels it
    (a throttle profile's name, `server`, `custom`). Raises `ValueError` for values out of range."""

    limit: int
    window_s: float
    name: str = "custom"

    def __post_init__(self) -> None:
        if isinstance(self.limit, bool) or not isinstance(self.limit, int) or not 1 <= self.limit <= MAX_LIMIT:
            raise ValueError(f"the limit is a whole number of calls, 1..{MAX_LIMIT}, got {self.limit!r}")
        if isinstance(self.window_s, bool) or not isinstance(self.window_s, (int, float)) \
                or not math.isfinite(self.window_s) or not 0 < self.window_s <= MAX_WINDOW_S:
            raise ValueError(f"the window is a number of seconds, over 0 and at most {MAX_WINDOW_S:g}, "
                             f"got {self.window_s!r}")
        object.__setattr__(self, "window_s", float(self.window_s))

    @property
    def rate_per_s(self) -> float:
        """Sustained calls per second the rate allows."""
        return self.limit / self.window_s

    @property
    def spec(self) -> str:
        """The `N/S` spelling, e.g. `10/2`."""
        return f"{self.limit}/{self.window_s:g}"

    def fits_within(self, limit: Rate) -> bool:
        """True when this rate never puts more than `limit.limit` calls in a span of `limit.window_s`
        seconds: at most `self.limit` per started window of its own, so a 10/2 profile does not fit 5/1."""
        windows = max(1, math.ceil(limit.window_s / self.window_s - 1e-9))
        return self.limit * windows <= limit.limit

    def named(self, name: str) -> Rate:
        """The same rate under another name."""
        return Rate(self.limit, self.window_s, name)

    def __str__(self) -> str:
        return f"{self.name} ({self.limit}/{self.window_s:g}s)"

    @classmethod
    def parse(cls, value: object, name: str = "custom") -> Rate:
        """A `Rate` from `N/S` text, a `(limit, window_s)` pair or a `Rate` (renamed only when `name` is
        given for text or a pair). Raises `ValueError` with the expected form."""
        if isinstance(value, Rate):
            return value
        if isinstance(value, (tuple, list)) and len(value) == 2:
            limit, window_s = value
            if isinstance(limit, float) and limit.is_integer():
                limit = int(limit)
            return cls(limit, window_s, name)
        match = RATE_RE.match(value) if isinstance(value, str) else None
        if match is None:
            raise ValueError(f"{value!r} is not CALLS/SECONDS, e.g. 10/2 (10 calls per 2 s) or 500/60")
        return cls(int(match.group(1)), float(match.group(2)), name)


def is_rate(text: str) -> bool:
    """True when `text` is spelt like a rate (`N/S`), whatever its values."""
    return bool(RATE_RE.match(text))
