"""Fault injection: what to break, decided per request, deterministic for a given `seed`. Pure, no I/O.

A fault spec is a flat JSON object (`POST /_mock/faults`, `MockServer.inject(**spec)`, CLI flags); fields
left out keep their current value, so faults can be added one call at a time. Fields and ranges::

    fail_rate 0..1, fail_next N, fail_status 500|502|503|403      send requests answered with an error
    drop_rate 0..1, drop_next N                                    send: close the connection, nothing recorded
    lose_reply_next N                                              accepted send: record it, then close
    latency_ms >= 0, latency_jitter_ms >= 0, latency_on send|token|both
    token_fail_next N, token_fail_status 401|500                   token requests refused
    force_429_next N, force_429_retry_after_s int >= 1 or null     any API request; null = no Retry-After

Per send, in this order: drop_next, fail_next, drop_rate, fail_rate (a random draw only when a rate > 0).
`lose_reply_next` is spent only by sends that pass every check. Counts of faults fired are in `counts`.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

FAIL_STATUSES = (500, 502, 503, 403)
TOKEN_FAIL_STATUSES = (401, 500)
LATENCY_TARGETS = ("send", "token", "both")
COUNT_NAMES = (
    "failed_sends", "dropped_connections", "replies_lost", "delayed_requests",
    "failed_token_requests", "forced_429", "revocations",
)  # fmt: skip


@dataclass(frozen=True)
class FaultSpec:
    """The active faults; all off by default. Units: `*_ms` milliseconds, `*_s` seconds, `*_next` requests."""

    fail_rate: float = 0.0
    fail_next: int = 0
    fail_status: int = 500
    drop_rate: float = 0.0
    drop_next: int = 0
    lose_reply_next: int = 0
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    latency_on: str = "send"
    token_fail_next: int = 0
    token_fail_status: int = 500
    force_429_next: int = 0
    force_429_retry_after_s: int | None = 1

    def updated(self, changes: dict[str, Any]) -> FaultSpec:
        """A copy with `changes` applied; raises `ValueError` listing every bad field (and the valid names)."""
        problems = [p for name, value in changes.items() if (p := _field_problem(name, value))]
        if problems:
            raise ValueError("; ".join(problems))
        return replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _field_problem(name: str, value: Any) -> str | None:
    """Why `value` is not acceptable for field `name`, or None."""
    valid_names = [f.name for f in fields(FaultSpec)]
    is_int = isinstance(value, int) and not isinstance(value, bool)
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if name not in valid_names:
        return f"unknown fault {name!r} (valid: {', '.join(valid_names)})"
    if name.endswith("_rate"):
        ok = is_number and 0.0 <= value <= 1.0
        return None if ok else f"{name}: must be a number in 0..1, got {value!r}"
    if name.endswith("_next"):
        return None if is_int and value >= 0 else f"{name}: must be an integer >= 0, got {value!r}"
    if name.endswith("_ms"):
        return None if is_number and value >= 0 else f"{name}: must be a number >= 0, got {value!r}"
    choices: tuple[Any, ...] = {
        "fail_status": FAIL_STATUSES,
        "token_fail_status": TOKEN_FAIL_STATUSES,
        "latency_on": LATENCY_TARGETS,
    }.get(name, ())
    if choices:
        return None if value in choices and not isinstance(value, bool) else f"{name}: {value!r} not in {choices}"
    ok = value is None or (is_int and value >= 1)  # force_429_retry_after_s
    return None if ok else f"{name}: must be an integer >= 1 or null, got {value!r}"


class Faults:
    """Active spec + seeded RNG + counters. Not thread-safe: the caller holds the state lock."""

    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed
        self.clear()
        self.counts: Counter[str] = Counter({name: 0 for name in COUNT_NAMES})

    def clear(self) -> None:
        """Turn every fault off and reseed the RNG (counts are kept; `reset_counts` zeroes them)."""
        self.spec = FaultSpec()
        self._rng = random.Random(self.seed)

    def reset_counts(self) -> None:
        self.counts = Counter({name: 0 for name in COUNT_NAMES})

    def update(self, changes: dict[str, Any]) -> FaultSpec:
        """Apply a partial spec (see module docstring); raises `ValueError`."""
        self.spec = self.spec.updated(changes)
        return self.spec

    def send_action(self) -> tuple[str, int] | None:
        """For one send request: `("drop", 0)`, `("fail", status)` or None (serve it normally)."""
        spec = self.spec
        if spec.drop_next:
            return self._fire(drop_next=spec.drop_next - 1)
        if spec.fail_next:
            return self._fire(fail_next=spec.fail_next - 1)
        if spec.drop_rate and self._rng.random() < spec.drop_rate:
            return self._fire()
        if spec.fail_rate and self._rng.random() < spec.fail_rate:
            return self._fire(fail=True)
        return None

    def _fire(self, fail: bool = False, **spent: int) -> tuple[str, int]:
        if spent:
            self.spec = replace(self.spec, **spent)
        if fail or "fail_next" in spent:
            self.counts["failed_sends"] += 1
            return ("fail", self.spec.fail_status)
        self.counts["dropped_connections"] += 1
        return ("drop", 0)

    def take_lose_reply(self) -> bool:
        """True (and spend one) when this accepted send's reply must be lost."""
        if not self.spec.lose_reply_next:
            return False
        self.spec = replace(self.spec, lose_reply_next=self.spec.lose_reply_next - 1)
        self.counts["replies_lost"] += 1
        return True

    def token_failure(self) -> int | None:
        """HTTP status to refuse this token request with, or None."""
        if not self.spec.token_fail_next:
            return None
        self.spec = replace(self.spec, token_fail_next=self.spec.token_fail_next - 1)
        self.counts["failed_token_requests"] += 1
        return self.spec.token_fail_status

    def forced_429(self) -> tuple[bool, int | None]:
        """`(True, retry_after_s or None)` when this API request must get a forced 429."""
        if not self.spec.force_429_next:
            return (False, None)
        self.spec = replace(self.spec, force_429_next=self.spec.force_429_next - 1)
        self.counts["forced_429"] += 1
        return (True, self.spec.force_429_retry_after_s)

    def extra_latency_s(self, kind: str) -> float:
        """Injected delay in seconds for a request of `kind` ("send" or "token"); 0.0 when none applies."""
        spec = self.spec
        if spec.latency_on not in (kind, "both") or not (spec.latency_ms or spec.latency_jitter_ms):
            return 0.0
        jitter_ms = self._rng.uniform(0.0, spec.latency_jitter_ms) if spec.latency_jitter_ms else 0.0
        self.counts["delayed_requests"] += 1
        return (spec.latency_ms + jitter_ms) / 1000.0
