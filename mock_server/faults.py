"""Fault injection: what to break, decided per request, deterministic for a given `seed`. Pure, no I/O.

A fault spec is a flat JSON object (`POST /_mock/faults`, `MockServer.inject(**spec)`, CLI flags); fields
left out keep their current value, so faults can be added one call at a time. Fields and ranges::

    fail_rate 0..1, fail_next N, fail_status 500|502|503|504|403  send requests answered with an error
    drop_rate 0..1, drop_next N                                    send: close the connection, nothing recorded
    lose_reply_next N                                              accepted send: record it, then close
    accept_fail_rate 0..1, accept_fail_next N,                     accepted send: record it, then answer
      accept_fail_status 500|502|504                                 a 5xx (a blind retry delivers twice)
    latency_ms >= 0, latency_jitter_ms >= 0, latency_on send|token|both
    drip_interval_ms >= 0, drip_on send|token|both                 reply body written one byte per interval
    token_fail_next N, token_fail_status 401|500                   token requests refused
    token_expires_in_raw "<JSON text>" | null                      200 token answers carry this `expires_in`
    token_omit_expires_in bool                                     200 token answers have no `expires_in`
    token_access_token "<text>" | null                             200 token answers carry this access_token
    echo_request_in_errors bool                                    error messages quote body + Authorization
    force_429_next N, force_429_retry_after_s int >= 1 or null     any API request; null = no Retry-After
    rules [...]                                                    scoped faults (see `scenario`)

Per send, in this order: drop_next, fail_next, drop_rate, fail_rate (a random draw only when a rate > 0).
After a send passed every check and was recorded: lose_reply_next, accept_fail_next, accept_fail_rate.
Counts of faults fired are in `counts`.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from .scenario import Respond, Rule, parse_rules

FAIL_STATUSES = (500, 502, 503, 504, 403)
ACCEPT_FAIL_STATUSES = (500, 502, 504)
TOKEN_FAIL_STATUSES = (401, 500)
LATENCY_TARGETS = ("send", "token", "both")
COUNT_NAMES = (
    "failed_sends", "dropped_connections", "replies_lost", "accepted_then_failed", "delayed_requests",
    "dripped_replies", "failed_token_requests", "expires_in_overrides", "echoed_errors", "forced_429",
    "revocations", "scenario_rules_fired",
)  # fmt: skip
CHOICES: dict[str, tuple[Any, ...]] = {
    "fail_status": FAIL_STATUSES, "accept_fail_status": ACCEPT_FAIL_STATUSES,
    "token_fail_status": TOKEN_FAIL_STATUSES, "latency_on": LATENCY_TARGETS, "drip_on": LATENCY_TARGETS,
}  # fmt: skip
FLAGS = ("token_omit_expires_in", "echo_request_in_errors")


@dataclass(frozen=True)
class FaultSpec:
    """The active faults; all off by default. Units: `*_ms` milliseconds, `*_s` seconds, `*_next` requests."""

    fail_rate: float = 0.0
    fail_next: int = 0
    fail_status: int = 500
    drop_rate: float = 0.0
    drop_next: int = 0
    lose_reply_next: int = 0
    accept_fail_rate: float = 0.0
    accept_fail_next: int = 0
    accept_fail_status: int = 500
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    latency_on: str = "send"
    drip_interval_ms: float = 0.0
    drip_on: str = "send"
    token_fail_next: int = 0
    token_fail_status: int = 500
    token_expires_in_raw: str | None = None
    token_omit_expires_in: bool = False
    token_access_token: str | None = None
    echo_request_in_errors: bool = False
    force_429_next: int = 0
    force_429_retry_after_s: int | None = 1
    rules: tuple[Rule, ...] = ()

    def updated(self, changes: dict[str, Any]) -> FaultSpec:
        """A copy with `changes` applied; raises `ValueError` listing every bad field (and the valid names)."""
        changes = dict(changes)
        problems = [p for name, value in changes.items() if name != "rules" and (p := _field_problem(name, value))]
        if "rules" in changes:
            try:
                changes["rules"] = parse_rules(changes["rules"])
            except ValueError as exc:
                problems.append(str(exc))
        if problems:
            raise ValueError("; ".join(problems))
        return replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        """The spec as JSON-ready data (rules as their declared form)."""
        doc = asdict(self)
        doc["rules"] = [rule.as_dict() for rule in self.rules]
        return doc


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
    if name in CHOICES:
        ok = value in CHOICES[name] and not isinstance(value, bool)
        return None if ok else f"{name}: {value!r} not in {CHOICES[name]}"
    if name in FLAGS:
        return None if isinstance(value, bool) else f"{name}: must be true or false, got {value!r}"
    if name == "token_expires_in_raw":
        return _raw_json_problem(value)
    if name == "token_access_token":
        ok = value is None or (isinstance(value, str) and 0 < len(value) <= 100_000_000)
        return None if ok else f"{name}: must be a non-empty string (at most 100 MB) or null, got {value!r:.60}"
    ok = value is None or (is_int and value >= 1)  # force_429_retry_after_s
    return None if ok else f"{name}: must be an integer >= 1 or null, got {value!r}"


def _raw_json_problem(value: Any) -> str | None:
    """`token_expires_in_raw` must be null or the text of exactly one JSON value (`"\\"soon\\""`, `1e400`)."""
    if value is None:
        return None
    if not isinstance(value, str):
        example = '"1e400" or "\\"soon\\""'
        return f"token_expires_in_raw: must be JSON text as a string (e.g. {example}), got {value!r}"
    try:
        json.loads(value, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        return (f"token_expires_in_raw: {value[:40]!r} is not one JSON value; quote strings inside it "
                "(\"\\\"soon\\\"\"), write numbers as they should appear (\"1e400\", \"-5\"), or use null")
    return None


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


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
        self._rule_counts: list[int] = []

    def reset_counts(self) -> None:
        self.counts = Counter({name: 0 for name in COUNT_NAMES})

    def update(self, changes: dict[str, Any]) -> FaultSpec:
        """Apply a partial spec (see module docstring); raises `ValueError`."""
        self.spec = self.spec.updated(changes)
        if "rules" in changes:
            self._rule_counts = [0] * len(self.spec.rules)
        return self.spec

    def scenario_action(self, endpoint: str, event_id: str | None, recipients: tuple[str, ...] = ()) -> Respond | None:
        """The `respond` of the first scenario rule firing on this request (every fitting rule counts it)."""
        fired = None
        for index, rule in enumerate(self.spec.rules):
            if rule.match.fits(endpoint, event_id, recipients):
                self._rule_counts[index] += 1
                if fired is None and rule.match.fires_on(self._rule_counts[index]):
                    fired = rule.respond
        if fired is not None:
            self.counts["scenario_rules_fired"] += 1
        return fired

    def _spend(self, name: str, count_name: str) -> None:
        self.spec = replace(self.spec, **{name: getattr(self.spec, name) - 1})
        self.counts[count_name] += 1

    def send_action(self) -> tuple[str, int] | None:
        """For one send request: `("drop", 0)`, `("fail", status)` or None (serve it normally)."""
        spec = self.spec
        if spec.drop_next:
            self._spend("drop_next", "dropped_connections")
            return ("drop", 0)
        if spec.fail_next:
            self._spend("fail_next", "failed_sends")
            return ("fail", spec.fail_status)
        if spec.drop_rate and self._rng.random() < spec.drop_rate:
            self.counts["dropped_connections"] += 1
            return ("drop", 0)
        if spec.fail_rate and self._rng.random() < spec.fail_rate:
            self.counts["failed_sends"] += 1
            return ("fail", spec.fail_status)
        return None

    def after_accept(self) -> tuple[str, int] | None:
        """For a send just recorded: `("lose", 0)` (close, no reply), `("fail", 5xx)` or None (answer 200)."""
        spec = self.spec
        if spec.lose_reply_next:
            self._spend("lose_reply_next", "replies_lost")
            return ("lose", 0)
        if spec.accept_fail_next:
            self._spend("accept_fail_next", "accepted_then_failed")
            return ("fail", spec.accept_fail_status)
        if spec.accept_fail_rate and self._rng.random() < spec.accept_fail_rate:
            self.counts["accepted_then_failed"] += 1
            return ("fail", spec.accept_fail_status)
        return None

    def token_failure(self) -> int | None:
        """HTTP status to refuse this token request with, or None."""
        if not self.spec.token_fail_next:
            return None
        self._spend("token_fail_next", "failed_token_requests")
        return self.spec.token_fail_status

    def expires_in_override(self) -> tuple[bool, str | None]:
        """`(omit, raw_json)` for a 200 token answer: `(False, None)` when `expires_in` is the real TTL."""
        spec = self.spec
        if spec.token_omit_expires_in or spec.token_expires_in_raw is not None:
            self.counts["expires_in_overrides"] += 1
        return spec.token_omit_expires_in, spec.token_expires_in_raw

    def access_token_override(self) -> str | None:
        """The access token a 200 token answer carries instead of the one issued (a hostile token
        endpoint: a newline, a non-ASCII character, megabytes), or None."""
        if self.spec.token_access_token is not None:
            self.counts["access_token_overrides"] += 1
        return self.spec.token_access_token

    def forced_429(self) -> tuple[bool, int | None]:
        """`(True, retry_after_s or None)` when this API request must get a forced 429."""
        if not self.spec.force_429_next:
            return (False, None)
        self._spend("force_429_next", "forced_429")
        return (True, self.spec.force_429_retry_after_s)

    def extra_latency_s(self, kind: str) -> float:
        """Injected delay in seconds for a request of `kind` ("send" or "token"); 0.0 when none applies."""
        spec = self.spec
        if spec.latency_on not in (kind, "both") or not (spec.latency_ms or spec.latency_jitter_ms):
            return 0.0
        jitter_ms = self._rng.uniform(0.0, spec.latency_jitter_ms) if spec.latency_jitter_ms else 0.0
        self.counts["delayed_requests"] += 1
        return (spec.latency_ms + jitter_ms) / 1000.0

    def drip_interval_s(self, kind: str) -> float:
        """Seconds between the reply's body bytes for a request of `kind`; 0.0 when the reply is not dripped."""
        spec = self.spec
        if not spec.drip_interval_ms or spec.drip_on not in (kind, "both"):
            return 0.0
        self.counts["dripped_replies"] += 1
        return spec.drip_interval_ms / 1000.0

    def echo(self) -> bool:
        """True (and counted) when this error answer must quote the request (the hostile-server fault)."""
        if self.spec.echo_request_in_errors:
            self.counts["echoed_errors"] += 1
        return self.spec.echo_request_in_errors
