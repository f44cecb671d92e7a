"""A `Limiter` shared by every process and machine that names the same Redis: one budget per target.

Why our own script: well-kept libraries were measured and found inexact here (`limits` and PyrateLimiter
stamp requests with the client's clock, which drifts between machines; GCRA with burst = limit admits
2L-1 requests in one window). The scripts (`mwsync.send.redis_scripts`) keep the in-process limiter's
rules (`mwsync.send.throttle`), on Redis's clock:

- **At most `limit` request starts in any `window_s`, by the spacing rule**: slot `n` is granted only
  once slot `n - limit` has *completed* (`Slot.done()`, stamped with Redis's `TIME`) and `window_s` plus
  the margin has passed since. A slot still in flight blocks the one `limit` places later, until its
  deadline (`inflight_s`, the request deadline plus slack): a runner that died mid-request cannot block
  the budget for ever.
- **Arrival order**: each `acquire` draws a ticket (`INCR`); only the oldest waiting ticket may be granted.
  A waiter that stops polling for `WAITER_TTL_S` (its process died) is dropped from the queue.
- **A 429 pauses all**: `pause(delay_s)` sets a key with that TTL; no slot is granted while it exists, and
  the margin doubles (up to 10 % of the window) for every runner sharing the budget.

Redis unreachable: `acquire` raises `LimiterUnavailable` (exit 4: the run stops, never unthrottled); a
failure in `done`/`cancel`/`pause` (the request already completed) is kept and raised by the next
`acquire`. Needs Redis 6 or newer (Lua, `TIME` in scripts). Redis Cluster: every key of a budget carries
one hash tag (`{...}`), so the scripts are cluster-safe, but this client talks to one node: point it at a
standalone Redis or a cluster's primary for that slot.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Callable

from ..errors import Interrupted, LimiterUnavailable, UsageError
from ..redact import redact, url_without_password
from . import redis_scripts
from .throttle import default_margin_s

POLL_S = 0.01  # seconds between tries while it is not this ticket's turn, or the slot back is in flight
WAITER_TTL_S = 3.0  # a waiter silent this long is dropped from the queue
SOCKET_TIMEOUT_S = 5.0
KEYS = ("queue", "alive", "seq", "window", "done", "deadline", "pause", "margin")


def budget_prefix(target: str) -> str:
    """The key prefix of `target`'s budget: `mwsync:limiter:{<hash of the canonical API URL>}`."""
    return "mwsync:limiter:{" + hashlib.sha256(target.encode("utf-8")).hexdigest()[:16] + "}"


class RedisSlot:
    """One granted slot: `waited_s` seconds it waited; `done()` / `cancel()` (the `Slot` protocol)."""

    __slots__ = ("_limiter", "number", "waited_s")

    def __init__(self, limiter: RedisLimiter, number: int, waited_s: float):
        self._limiter, self.number, self.waited_s = limiter, number, waited_s

    def done(self) -> None:
        self._limiter._call("done", self.number)

    def cancel(self) -> None:
        self._limiter._call("cancel", self.number)


class RedisLimiter:
    """The shared limiter of `target` (the canonical API URL) in the Redis at `url` (`redis://HOST:PORT/DB`).

    `limit` calls per `window_s` seconds; `margin_s` extra per window (default `default_margin_s`);
    `inflight_s`: seconds after which a slot never completed counts as completed (>= the request deadline);
    `stop`: once set, a waiting `acquire` raises `Interrupted`; `waiter_ttl_s`: seconds a waiter that stops
    polling keeps its place in the queue. Raises `UsageError` when redis-py is
    missing, `LimiterUnavailable` when Redis cannot be reached (here or at any later call).
    """

    def __init__(self, url: str, target: str, limit: int, window_s: float, *, margin_s: float | None = None,
                 inflight_s: float = 120.0, stop: threading.Event | None = None,
                 sleep: Callable[[float], None] | None = None, waiter_ttl_s: float = WAITER_TTL_S):
        try:
            import redis
        except ImportError:
            raise UsageError("a redis:// limiter needs redis-py (the 'shared' extra): "
                             "pip install 'redis>=5.0'") from None
        if limit < 1 or window_s <= 0:
            raise ValueError(f"limit must be >= 1 and window_s > 0, got {limit}/{window_s}")
        self._errors = (redis.RedisError, OSError)
        self.location = url_without_password(url)
        self.limit, self.window_s = limit, float(window_s)
        self.margin_s = default_margin_s(window_s) if margin_s is None else margin_s
        self.inflight_s, self.waiter_ttl_s = inflight_s, waiter_ttl_s
        self._stop = stop
        self._sleep = sleep or (stop.wait if stop is not None else time.sleep)
        self._broken: LimiterUnavailable | None = None
        prefix = budget_prefix(target)
        self._keys = [f"{prefix}:{name}" for name in KEYS]
        self._ticket_key = f"{prefix}:ticket"
        try:
            self._redis = redis.Redis.from_url(url, socket_timeout=SOCKET_TIMEOUT_S,
                                               socket_connect_timeout=SOCKET_TIMEOUT_S, health_check_interval=30)
            self._scripts = {name: self._redis.register_script(getattr(redis_scripts, name.upper()))
                             for name in ("acquire", "done", "cancel", "pause", "leave")}
            self._redis.ping()
        except (*self._errors, ValueError) as exc:
            raise self._unavailable(exc, "nothing was sent") from None

    @property
    def _idle_ms(self) -> int:
        """Milliseconds an idle budget's keys live: ten windows and at least an hour."""
        return int(max(3600.0, 10 * self.window_s) * 1000)

    def _unavailable(self, exc: BaseException, after: str) -> LimiterUnavailable:
        cause = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        if "refused" in cause.lower():
            cause = "connection refused"
        return LimiterUnavailable(f"{self.location}: the shared limiter cannot be used: {redact(cause)}; {after} "
                                  "(mwsync never sends unthrottled)")

    def acquire(self) -> RedisSlot:
        """Block until one request may start (module docstring); return its slot. Raises `Interrupted`
        once `stop` is set, `LimiterUnavailable` when Redis fails."""
        began = time.monotonic()
        try:
            ticket = self._ticket()
            while True:
                if self._stop is not None and self._stop.is_set():
                    self._leave(ticket)
                    raise Interrupted("the run was interrupted before this request was sent")
                granted, value = self._scripts["acquire"](keys=self._keys, args=[
                    ticket, self.limit, int(self.window_s * 1e6), int(self.margin_s * 1e6), int(self.inflight_s * 1e6),
                    int(self.waiter_ttl_s * 1e6), self._idle_ms])
                if granted:
                    return RedisSlot(self, int(value), time.monotonic() - began)
                self._sleep(POLL_S if value < 0 else min(value / 1e6, self.waiter_ttl_s / 4))
        except self._errors as exc:
            self._broken = self._broken or self._unavailable(exc, "nothing more is sent")
            raise self._broken from None

    def _ticket(self) -> int:
        if self._broken is not None:
            raise self._broken
        with self._redis.pipeline() as pipe:
            ticket, _ = pipe.incr(self._ticket_key).pexpire(self._ticket_key, self._idle_ms).execute()
        return int(ticket)

    def _leave(self, ticket: int) -> None:
        with contextlib.suppress(*self._errors):
            self._scripts["leave"](keys=self._keys[:2], args=[ticket])

    def _call(self, name: str, slot: int) -> None:
        """`done` or `cancel` of `slot`. A failure is kept for the next `acquire` (the request is over)."""
        keys = self._keys[3:5] if name == "done" else self._keys[3:6]
        try:
            self._scripts[name](keys=keys, args=[slot])
        except self._errors as exc:
            self._broken = self._broken or self._unavailable(exc, "nothing more is sent")

    def pause(self, delay_s: float) -> None:
        """No request of any runner sharing this budget starts for `delay_s` seconds (a 429's Retry-After);
        the shared margin doubles, up to 10 % of the window."""
        try:
            self._scripts["pause"](keys=self._keys[6:8], args=[
                int(max(0.0, delay_s) * 1000), int(self.margin_s * 1e6), int(0.1 * self.window_s * 1e6),
                self._idle_ms])
        except self._errors as exc:
            self._broken = self._broken or self._unavailable(exc, "nothing more is sent")

    def close(self) -> None:
        """Close the connections."""
        self._redis.close()
