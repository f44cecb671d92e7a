"""The verdicts of `mwsync loadtest`: pure functions of what a run produced (no I/O, no clock).

Checks, each `{"name", "passed", "value", "threshold"}` in the report (issue 4, "Must have"):

1. `no_429_within_limit`: zero 429s when the profile fits the server's limit (threshold null when it does
   not: 429s are then expected, and must be recovered, see 4);
2. `max_requests_in_window`: the most requests (token requests and 429s included) the server saw in any
   sliding span of its window <= what the profile allows in such a span:
   `limit x ceil(server window / profile window)`;
3. `achieved_rate`: requests the server accepted (sends, and token requests: they spend the profile's budget
   too) per second until the stop >= 95 % of min(profile, server limit);
4. `exactly_once`: none lost (reported sent, never received), none doubled (received twice), none received
   that a user reports failed; value: lost + duplicates + those;
5. `concurrency`: users >= 95 % of the rate x the send round trip (Little's law), else check 3 is out of
   reach; a note gives the users for the full rate (rate x round trip) whenever there are fewer;
6. `locust_errors`: Locust's failures other than 429s, plus exceptions raised in users.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..rate import Rate

RATE_SHARE = 0.95  # achieved rate / allowed rate below which check 3 fails


def profile_bound(profile: Rate, span_s: float) -> int:
    """Most request starts `profile` allows in any span of `span_s` seconds: `limit` per started window."""
    return profile.limit * max(1, math.ceil(span_s / profile.window_s - 1e-9))


def needed_users(rate_per_s: float, round_trip_ms: float) -> int:
    """Concurrent connections needed to sustain `rate_per_s` when each request takes `round_trip_ms`
    (Little's law: requests in flight = arrival rate x time in the system), at least 1."""
    return max(1, math.ceil(rate_per_s * round_trip_ms / 1000 - 1e-9))


def achieved_rate(arrivals_s: Sequence[float], k: int) -> float:
    """Arrivals per second of the sorted times `arrivals_s` (seconds), each end smoothed over `k` arrivals.

    A sliding-window throttle sends in bursts (up to `limit` at once, then a pause of a window), so a plain
    count / span gains or loses a whole burst depending on where the span ends. Averaging the time `k`
    further arrivals take, over every arrival: `k (n - k) / (sum of the last k - sum of the first k)`, is
    exact for evenly spaced arrivals and for bursts whose size divides `k` (pass the binding limit: a
    throttle's bursts are that big). 0 for fewer than 2 arrivals.
    """
    n = len(arrivals_s)
    k = min(k, n - 1)
    if k < 1:
        return 0.0
    span_s = sum(arrivals_s[-k:]) - sum(arrivals_s[:k])
    return k * (n - k) / span_s if span_s > 0 else 0.0


@dataclass(frozen=True)
class LoadPlan:
    """What one load test runs: `profile` on the client, `server` the server's limit, `duration_s` until Locust
    stops the users, `users` concurrent connections, `latency_ms` added by the mock to each send."""

    profile: Rate
    server: Rate
    duration_s: int
    users: int
    latency_ms: float = 0.0
    user_class: str = "mwsync"
    job: Path | None = None

    @property
    def limit_rate_per_s(self) -> float:
        """The rate the run can reach at best: min(profile, server limit), calls per second."""
        return min(self.profile.rate_per_s, self.server.rate_per_s)

    @property
    def fits(self) -> bool:
        """True when the profile never exceeds the server's limit (so no 429 may happen)."""
        return profile_bound(self.profile, self.server.window_s) <= self.server.limit

    @property
    def binding(self) -> Rate:
        """The limit that sets the pace: the lower rate of profile and server (the profile on a tie)."""
        return self.profile if self.profile.rate_per_s <= self.server.rate_per_s else self.server


@dataclass(frozen=True)
class LocustEntry:
    """One row of Locust's statistics: `name` (method and path, or a custom name), requests, failures and
    mean response time in milliseconds."""

    name: str
    requests: int
    failures: int
    mean_ms: float


@dataclass(frozen=True)
class Observation:
    """What a run produced. `arrivals_s`: wall-clock seconds at which the server accepted this run's sends
    (and granted its access tokens) before the stop, sorted; `received`: message id -> copies accepted;
    `outcomes`: message id -> `sent` | `failed` | `unknown` as the users report; `send_round_trip_ms`: mean
    round trip of the 2xx sends (None if none); `locust_errors`: failures other than 429s + exceptions.

    For the `--html` chart, epoch seconds, sorted, the tail after the stop included: `send_arrivals_s` every
    accepted send of the run; `token_arrivals_s` every access token granted (the users' clock);
    `arrivals_429_s` the arrival of each 429 the mock's request log still held (fewer than `status_429` when
    the log dropped some); `retry_arrivals_s` the accepted sends of messages that met a 429 first."""

    requests: int
    status_429: int
    max_requests_in_window: int
    arrivals_s: tuple[float, ...]
    received: Mapping[str, int]
    outcomes: Mapping[str, str]
    send_round_trip_ms: float | None = None
    locust_errors: int = 0
    locust_entries: tuple[LocustEntry, ...] = ()
    send_arrivals_s: tuple[float, ...] = ()
    token_arrivals_s: tuple[float, ...] = ()
    arrivals_429_s: tuple[float, ...] = ()
    retry_arrivals_s: tuple[float, ...] = ()


@dataclass(frozen=True)
class Check:
    """One verdict: `value` measured against `threshold` (None when the check does not apply)."""

    name: str
    passed: bool
    value: float | int
    threshold: float | int | None

    def as_dict(self) -> dict:
        return {"name": self.name, "passed": self.passed, "value": self.value, "threshold": self.threshold}


@dataclass(frozen=True)
class LoadtestReport:
    """The verdicts and the figures behind them. `notes`: explanations for people (not in the JSON)."""

    checks: tuple[Check, ...]
    requests: int
    status_429: int
    max_requests_in_window: int
    achieved_rate_per_s: float
    limit_rate_per_s: float
    delivered: int
    duplicates: int
    lost: int
    notes: tuple[str, ...] = field(default=())
    locust_entries: tuple[LocustEntry, ...] = field(default=())

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    def as_dict(self) -> dict:
        """The report document (`--report FILE.json`)."""
        return {"passed": self.passed, "checks": [c.as_dict() for c in self.checks], "requests": self.requests,
                "status_429": self.status_429, "max_requests_in_window": self.max_requests_in_window,
                "achieved_rate_per_s": self.achieved_rate_per_s, "limit_rate_per_s": self.limit_rate_per_s,
                "delivered": self.delivered, "duplicates": self.duplicates, "lost": self.lost}


def tally(arrivals: Iterable[tuple[str, float]], run_id: str, after_429: Container[str]
          ) -> tuple[dict[str, int], list[float], list[float]]:
    """From `(message id, arrival epoch seconds)` pairs the server kept: `(received, sends_s, retries_s)`,
    this run's ids (`<run_id>.<n>`) -> copies accepted, their arrival times, and the arrival times of the
    messages the users sent after a 429 (`after_429`)."""
    received: Counter[str] = Counter()
    sends_s, retries_s = [], []
    for key, at_s in arrivals:
        if key.startswith(f"{run_id}."):
            received[key] += 1
            sends_s.append(at_s)
            if key in after_429:
                retries_s.append(at_s)
    return dict(received), sends_s, retries_s


def delivery(received: Mapping[str, int], outcomes: Mapping[str, str]) -> tuple[int, int, int, int]:
    """`(delivered, duplicates, lost, phantoms)`: distinct ids received; extra copies; ids reported sent but
    never received; ids reported failed but received. An `unknown` outcome may be received once or not."""
    duplicates = sum(copies - 1 for copies in received.values() if copies > 1)
    lost = sum(1 for key, state in outcomes.items() if state == "sent" and key not in received)
    phantoms = sum(1 for key, state in outcomes.items() if state == "failed" and key in received)
    return len(received), duplicates, lost, phantoms


def judge(plan: LoadPlan, seen: Observation) -> LoadtestReport:
    """Decide every check for `plan` from what the run produced (pure: no I/O)."""
    limit_rate = plan.limit_rate_per_s
    rate = achieved_rate(seen.arrivals_s, plan.binding.limit)
    delivered, duplicates, lost, phantoms = delivery(seen.received, seen.outcomes)
    round_trip_ms = max(plan.latency_ms, seen.send_round_trip_ms or 0.0)
    enough = needed_users(RATE_SHARE * limit_rate, round_trip_ms)  # to reach check 3's threshold at all
    bound = profile_bound(plan.profile, plan.server.window_s)
    checks = (
        Check("no_429_within_limit", not plan.fits or seen.status_429 == 0, seen.status_429, 0 if plan.fits else None),
        Check("max_requests_in_window", seen.max_requests_in_window <= bound, seen.max_requests_in_window, bound),
        Check("achieved_rate", rate >= RATE_SHARE * limit_rate, round(rate, 3), round(RATE_SHARE * limit_rate, 3)),
        Check("exactly_once", lost + duplicates + phantoms == 0, lost + duplicates + phantoms, 0),
        Check("concurrency", plan.users >= enough, plan.users, enough),
        Check("locust_errors", seen.locust_errors == 0, seen.locust_errors, 0),
    )
    notes = []
    if not plan.fits:
        notes.append(f"profile {plan.profile} exceeds the server's limit {plan.server}: 429s are expected and "
                     f"must be recovered ({seen.status_429} met)")
    if plan.users < needed_users(limit_rate, round_trip_ms):
        notes.append(concurrency_advice(plan, round_trip_ms))
    if phantoms:
        notes.append(f"{phantoms} message(s) reported failed were received by the server")
    if seen.locust_errors:
        notes.append(f"Locust recorded {seen.locust_errors} failure(s) other than 429s or exception(s) in users "
                     "(see the locust lines; a 401 is an access token that expired before the request went out)")
    return LoadtestReport(checks, seen.requests, seen.status_429, seen.max_requests_in_window, round(rate, 3),
                          round(limit_rate, 3), delivered, duplicates, lost, tuple(notes), seen.locust_entries)


def concurrency_advice(plan: LoadPlan, round_trip_ms: float) -> str:
    """How far `plan.users` connections get at `round_trip_ms` per send, and how many reach the full rate."""
    rate, needed = plan.limit_rate_per_s, needed_users(plan.limit_rate_per_s, round_trip_ms)
    return (f"{plan.users} concurrent connection(s) at {round_trip_ms:.0f} ms per send reach at most "
            f"{plan.users * 1000 / round_trip_ms:.1f} of {rate:g} req/s: Little's law needs rate x latency = "
            f"{rate:g} x {round_trip_ms / 1000:.3f} s = {rate * round_trip_ms / 1000:.2f} requests in flight; use "
            f"--users {needed} (concurrent_connections: {needed} in the job)")


def figures(report: LoadtestReport) -> str:
    """The figures behind the verdicts in one line (the terminal's and the `--html` page's)."""
    return (f"{report.requests} requests ({report.status_429} answered 429), at most "
            f"{report.max_requests_in_window} in one server window, {report.achieved_rate_per_s:g} req/s of "
            f"{report.limit_rate_per_s:g} allowed; delivered {report.delivered}, duplicates "
            f"{report.duplicates}, lost {report.lost}")


def render(report: LoadtestReport) -> list[str]:
    """The report as lines for a terminal: Locust's statistics, the checks, the figures, the notes."""
    lines = [f"locust  {e.name}: {e.requests} requests, {e.failures} failed, {e.mean_ms:.0f} ms mean"
             for e in report.locust_entries]
    lines += [f"{'PASS' if c.passed else 'FAIL'}  {c.name:<23} {c.value} (threshold "
             f"{'n/a' if c.threshold is None else c.threshold})" for c in report.checks]
    lines.append(figures(report))
    lines += [f"note: {note}" for note in report.notes]
    lines.append("PASSED" if report.passed else "FAILED")
    return lines
