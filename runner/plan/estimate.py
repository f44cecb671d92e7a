"""How long a plan takes under a throttle profile."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..rate import Rate


@dataclass(frozen=True)
class Estimate:
    """Time to send `requests` requests (plus `token_requests`) under `throttle`, in seconds."""

    throttle: Rate
    requests: int
    token_requests: int = 1

    @property
    def duration_s(self) -> float:
        """Sliding window: the first `limit` calls start at once, each further `limit` one window later."""
        calls = self.requests + self.token_requests
        if calls <= 0:
            return 0.0
        return math.floor((calls - 1) / self.throttle.limit) * self.throttle.window_s
