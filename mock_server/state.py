"""Everything one mock server remembers, behind one lock: tokens, rate-limit window, faults, messages, stats.

The ASGI app (event-loop thread) and the `MockServer` handle (test thread) both touch this object, so every
public method takes `self.lock`; each critical section is short and never awaits. Snapshots returned to
callers are fresh JSON-ready structures (mutating them does not change the server).
"""

from __future__ import annotations

import copy
import threading
from collections import Counter, deque
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .faults import Faults
from .ratelimit import Decision, PeakCounter, make_limiter
from .settings import MockSettings
from .tokens import TokenRecord, TokenStore


@dataclass(frozen=True)
class Admission:
    """Gateway verdict for one API request: `decision` from the limiter (None when headers do not apply),
    `forced` True for a fault-injected 429, `retry_after_s` for the 429's Retry-After (None = omit)."""

    allowed: bool
    decision: Decision | None
    forced: bool = False
    retry_after_s: int | None = None


def utc_now_iso() -> str:
    """Wall-clock time as ISO 8601 UTC with milliseconds, e.g. `2025-01-31T12:00:00.123Z`."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class MockState:
    """Shared state of one mock server (see module docstring). `settings` is fixed for its lifetime."""

    def __init__(self, settings: MockSettings) -> None:
        self.settings = settings
        self.lock = threading.Lock()
        self.clock = settings.clock
        self.tokens = TokenStore(settings.clients, settings.api_keys, settings.token_ttl_s, settings.clock)
        self.limiter = make_limiter(settings.rate_limit, settings.rate_limit_algorithm)
        self.peak = PeakCounter(settings.rate_limit.window_s)
        self.faults = Faults(settings.seed)
        self._clear_records()

    def _clear_records(self) -> None:
        self._messages: list[dict[str, Any]] = []
        self._log: deque[dict[str, Any]] = deque(maxlen=self.settings.request_log_size)
        self.requests = 0
        self.by_status: Counter[str] = Counter()

    # -- gateway -------------------------------------------------------------------------------------------
    def admit(self) -> Admission:
        """Count one API request arrival, then apply a forced-429 fault or the rate limit."""
        with self.lock:
            now = self.clock()
            self.peak.arrive(now)
            forced, retry_after_s = self.faults.forced_429()
            if forced:
                return Admission(False, None, True, retry_after_s)
            decision = self.limiter.acquire(now)
            return Admission(decision.allowed, decision, False, decision.retry_after_s)

    def record_response(self, method: str, path: str, status: int | None, duration_ms: float) -> None:
        """Count one finished API request; `status` None means the connection was closed without an answer."""
        entry = {
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": round(duration_ms, 3),
            "at": utc_now_iso(),
        }
        with self.lock:
            self.requests += 1
            if status is not None:
                self.by_status[str(status)] += 1
            self._log.append(entry)

    # -- API handlers --------------------------------------------------------------------------------------
    def record_message(self, endpoint: str, event_id: str | None, payload: Any, token: TokenRecord) -> None:
        """Store one accepted send in arrival order (`payload` is a `SendPayload`)."""
        entry = {
            "event_id": event_id,
            "message": payload.message,
            "recipients": list(payload.recipients),
            "context": payload.context,
            "received_at": utc_now_iso(),
            "endpoint": endpoint,
            "token_id": token.token_id,
        }
        with self.lock:
            self._messages.append(entry)

    # -- inspection ----------------------------------------------------------------------------------------
    def messages(self) -> list[dict[str, Any]]:
        """Accepted sends in arrival order (a deep copy)."""
        with self.lock:
            return copy.deepcopy(self._messages)

    def request_log(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The last `limit` API requests, oldest first (all kept ones when None)."""
        with self.lock:
            entries = [dict(e) for e in self._log]
        if limit is None:
            return entries
        return entries[-limit:] if limit > 0 else []

    def stats(self) -> dict[str, Any]:
        """The `/_mock/stats` document (see docs/mock-server.md)."""
        with self.lock:
            rate = self.settings.rate_limit
            return {
                "requests": self.requests,
                "by_status": dict(sorted(self.by_status.items())),
                "status_429": self.by_status.get("429", 0),
                "messages": len(self._messages),
                "tokens_issued": self.tokens.issued,
                "tokens_expired": self.tokens.expired_count(),
                "tokens_revoked": self.tokens.revoked,
                "rate_limit": {
                    "limit": rate.limit,
                    "window_s": rate.window_s,
                    "algorithm": self.settings.rate_limit_algorithm,
                },
                "max_requests_in_window": self.peak.peak,
                "faults": dict(self.faults.counts),
            }

    # -- control -------------------------------------------------------------------------------------------
    def inject(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Apply a partial fault spec (see `faults`); returns the active spec. Raises `ValueError`."""
        with self.lock:
            return self.faults.update(changes).as_dict()

    def clear_faults(self) -> dict[str, Any]:
        """Turn every fault off; returns the (empty) active spec."""
        with self.lock:
            self.faults.clear()
            return self.faults.spec.as_dict()

    def fault_spec(self) -> dict[str, Any]:
        with self.lock:
            return self.faults.spec.as_dict()

    def revoke_tokens(self, client_id: str | None = None) -> int:
        """Revoke every live issued token (of `client_id` when given); returns how many."""
        with self.lock:
            self.faults.counts["revocations"] += 1
            return self.tokens.revoke(client_id)

    def reset(self) -> None:
        """Clear messages, stats, the request log, tokens, the rate-limit window and all faults."""
        with self.lock:
            self._clear_records()
            self.tokens.reset()
            self.limiter.reset()
            self.peak.reset()
            self.faults.clear()
            self.faults.reset_counts()
