"""The retry strategy (tenacity): which errors are retried, how long to wait, when to give up.

- 429 (`RateLimited`): wait `Retry-After` seconds, else `retry_after_default_s` (Moveworks' advice: 60 s),
  capped by `max_retry_after_s`;
- a first 401 on a send (`Reauthenticate`): at once, with a new access token;
- other `TransientError`s (5xx, connection refused, connect timeout): exponential backoff with full jitter,
  `backoff_initial_s` doubling up to `backoff_max_s`;
- at most `max_attempts` attempts, the first included; none after `stop` is set (Ctrl-C).
Everything else (`PermanentError`, `OutcomeUnknown`, `AuthError`) is never retried.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_never,
    stop_when_event_set,
    wait_random_exponential,
)

from ..config.job import RetryPolicy
from ..errors import RateLimited, TransientError


class Reauthenticate(TransientError):
    """A 401 on a send: retry once, at once, with a new access token."""


def wait_s(policy: RetryPolicy, state: RetryCallState) -> float:
    """Seconds to wait before the next attempt after the failure in `state` (module docstring)."""
    exc = state.outcome.exception() if state.outcome else None
    if isinstance(exc, Reauthenticate):
        return 0.0
    if isinstance(exc, RateLimited):
        wait = policy.retry_after_default_s if exc.retry_after_s is None else exc.retry_after_s
        return min(policy.max_retry_after_s, wait)
    return wait_random_exponential(multiplier=policy.backoff_initial_s, max=policy.backoff_max_s)(state)


def retrying(policy: RetryPolicy, *, sleep: Callable[[float], None],
             stop: threading.Event | None = None) -> Retrying:
    """A tenacity `Retrying` for one request under `policy`; `sleep(seconds)` does the waiting (a
    `stop.wait` cuts it short on Ctrl-C). The last error is re-raised when attempts run out."""
    interrupted = stop_when_event_set(stop) if stop is not None else stop_never
    return Retrying(stop=stop_after_attempt(policy.max_attempts) | interrupted,
                    wait=lambda state: wait_s(policy, state), retry=retry_if_exception_type(TransientError),
                    sleep=sleep, reraise=True)
