"""Everything one mock server remembers, behind one lock: tokens, rate-limit window, faults, messages, stats.

The ASGI app (event-loop thread) and the `MockServer` handle (test thread) both touch this object, so every
public method takes `self.lock`; each critical section is short and never awaits. Snapshots returned to
callers are fresh JSON-ready structures (mutating them does not change the server). Message bodies are
decoded outside the lock (`messages_page` hands out references), so reading them never stalls a send.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

from .faults import Faults
from .ledger import MessageLedger, decode, iso_utc
from .ratelimit import Decision, PeakCounter, make_limiter
from .requestlog import RequestLog
from .settings import PEAK_WINDOW_S, MockSettings
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
    return iso_utc(time.time())


class MockState:
    """Shared state of one mock server (see module docstring). `settings` is fixed for its lifetime."""

    def __init__(self, settings: MockSettings) -> None:
        self.settings = settings
        self.lock = threading.Lock()
        self.clock = settings.clock
        self.tokens = TokenStore(settings.clients, settings.api_keys, settings.token_ttl_s, settings.clock)
        rate = settings.rate_limit
        self.limiter = make_limiter(rate, settings.rate_limit_algorithm) if rate is not None else None
        self.peak = PeakCounter(rate.window_s if rate is not None else PEAK_WINDOW_S)
        self.faults = Faults(settings.seed)
        self.initial_rules = settings.scenario
        if settings.scenario:
            self.faults.update({"rules": list(settings.scenario)})
        self._clear_records()

    def _clear_records(self) -> None:
        self.ledger = MessageLedger(self.settings.keep_messages)
        self.log = RequestLog(self.settings.request_log_size)
        self.requests = 0
        self.by_status: Counter[str] = Counter()
        self.proxy_counts: Counter[str] = Counter({"forwarded": 0, "refused": 0, "unreachable": 0, "violations": 0})
        self.recent_violations: deque[str] = deque(maxlen=20)

    # -- gateway -------------------------------------------------------------------------------------------
    def admit(self) -> Admission:
        """Count one API request arrival, then apply a forced-429 fault or the rate limit (if any)."""
        with self.lock:
            now = self.clock()
            self.peak.arrive(now)
            forced, retry_after_s = self.faults.forced_429()
            if forced:
                return Admission(False, None, True, retry_after_s)
            if self.limiter is None:
                return Admission(True, None)
            decision = self.limiter.acquire(now)
            return Admission(decision.allowed, decision, False, decision.retry_after_s)

    def record_response(self, entry: dict[str, Any]) -> None:
        """Count one finished API request (a request-log entry, see `requestlog`; `status` None = dropped)."""
        entry["at"] = utc_now_iso()
        with self.lock:
            self.requests += 1
            if entry["status"] is not None:
                self.by_status[str(entry["status"])] += 1
            self.log.add(entry)

    # -- API handlers --------------------------------------------------------------------------------------
    def record_message(self, endpoint: str, event_id: str | None, payload: Any, token: TokenRecord | str,
                       raw: bytes) -> int:
        """Account one accepted send (`payload` a `SendPayload`, `raw` its body); returns its `seq`."""
        token_id = token if isinstance(token, str) else token.token_id
        at_s = time.time()
        with self.lock:
            return self.ledger.add(endpoint, event_id, payload, token_id, raw, at_s)

    def count_proxy(self, kind: str, violations: list[str] | tuple[str, ...] = ()) -> None:
        """Proxy mode: count one `forwarded`, `refused` or `unreachable` request and its contract violations."""
        with self.lock:
            self.proxy_counts[kind] += 1
            if violations:
                self.proxy_counts["violations"] += 1
                self.recent_violations.append("; ".join(violations))

    # -- inspection ----------------------------------------------------------------------------------------
    def messages(self) -> list[dict[str, Any]]:
        """Every kept message in arrival order (fresh copies)."""
        return self.messages_page(0, None)[0]

    def messages_page(self, after: int = 0, limit: int | None = None) -> tuple[list[dict[str, Any]], int | None]:
        """`(messages with seq > after, oldest first, at most limit; seq to pass as after for the next page
        or None when this page reaches the newest)`."""
        with self.lock:
            items = self.ledger.page(after, None if limit is None else limit + 1)
        more = limit is not None and len(items) > limit
        chosen = items[:limit] if more else items
        next_after = (chosen[-1][0] if chosen else after) if more else None
        return [decode(item) for item in chosen], next_after

    def message_totals(self) -> tuple[int, int]:
        """`(accepted since the last reset, kept)`."""
        with self.lock:
            return self.ledger.total, self.ledger.kept_count

    def request_log(self, limit: int | None = None, **filters: Any) -> list[dict[str, Any]]:
        """The last `limit` API requests matching `filters` (see `requestlog.matches`), oldest first."""
        with self.lock:
            return self.log.select(limit, **filters)

    def count(self, event_id: str | None = None, recipient: str | None = None) -> int:
        """Accepted sends, over every message since the last reset, for `event_id` and/or `recipient`."""
        with self.lock:
            return self.ledger.count(event_id, recipient)

    def verify(self, **filters: Any) -> dict[str, Any]:
        """The `/_mock/verify` document: accepted sends matching `event_id`/`recipient` (all messages) and
        API requests matching every filter (the request log; `requests_complete` False once it dropped some)."""
        event_id, recipient = filters.get("event_id"), filters.get("recipient")
        with self.lock:
            messages = self.ledger.count(event_id, recipient)
            requests = len(self.log.select(None, **filters))
            complete = self.log.complete
        return {"messages": messages, "requests": requests, "requests_complete": complete,
                "match": {k: v for k, v in filters.items() if v is not None}}

    def stats(self) -> dict[str, Any]:
        """The `/_mock/stats` document (see docs/mock-server.md)."""
        with self.lock:
            rate, ledger = self.settings.rate_limit, self.ledger
            proxy = {"proxy": {**self.proxy_counts, "recent_violations": list(self.recent_violations)}}
            return {
                "requests": self.requests,
                "by_status": dict(sorted(self.by_status.items())),
                "status_429": self.by_status.get("429", 0),
                "messages": ledger.total,
                "messages_kept": ledger.kept_count,
                "deliveries": ledger.deliveries,
                "duplicate_deliveries": ledger.duplicate_deliveries,
                "tokens_issued": self.tokens.issued,
                "tokens_expired": self.tokens.expired_count(),
                "tokens_revoked": self.tokens.revoked,
                "rate_limit": None if rate is None else {
                    "limit": rate.limit, "window_s": rate.window_s, "algorithm": self.settings.rate_limit_algorithm,
                },
                "max_requests_in_window": self.peak.peak,
                "faults": dict(self.faults.counts),
                **(proxy if self.settings.proxy_to else {}),
            }  # fmt: skip

    # -- control -------------------------------------------------------------------------------------------
    def inject(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Apply a partial fault spec (see `faults`); returns the active spec. Raises `ValueError`."""
        with self.lock:
            return self.faults.update(changes).as_dict()

    def clear_faults(self) -> dict[str, Any]:
        """Turn every fault off (scenario rules too); returns the (empty) active spec."""
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
        """Clear messages, stats, the request log, tokens, the rate-limit window and all faults (the
        start-up scenario, `--scenario`, is loaded again with fresh counts)."""
        with self.lock:
            self._clear_records()
            self.tokens.reset()
            if self.limiter is not None:
                self.limiter.reset()
            self.peak.reset()
            self.faults.clear()
            self.faults.reset_counts()
            if self.initial_rules:
                self.faults.update({"rules": list(self.initial_rules)})
