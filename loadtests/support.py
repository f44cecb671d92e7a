"""What the locustfile needs besides Locust: unique message ids, the ledger of outcomes, the budget share.

No Locust import here (so it is testable without gevent's monkey-patching).

The ledger is how `mwsync loadtest` (`mwsync.loadtest`) learns what the users *believe* happened, to compare
with what the mock server received. One JSON file per Locust process, written when the test stops::

    {"run_id": "3fa9c2d1", "started_at": 1767000000.123, "stopping_at": 1767000020.456,
     "send_latency_ms": {"count": 198, "total": 41580.2}, "token_at": [1767000000.131],
     "errors": {"failures": 0, "exceptions": 0}, "outcomes": {"3fa9c2d1.4242.17": "sent", ...},
     "after_429": ["3fa9c2d1.4242.9", ...]}

`started_at` / `stopping_at`: wall-clock seconds (`time.time()`) when the test started and when Locust began
stopping users; `send_latency_ms`: round trips of the 2xx send answers (no throttle wait), for Little's law;
`token_at`: wall-clock seconds of each access token granted (token requests spend the profile's budget too);
`errors`: Locust's failures other than 429s and exceptions in users, counted once the users have stopped
(Locust's own `--csv` failures file misses the last second: its writer is killed at the stop; in distributed
mode a worker's statistics go to the master, so there only the master's exit code counts);
`outcomes`: message id -> `sent` | `failed` | `unknown` (the client's `SendResult.state`); `after_429`: ids of the
messages sent after meeting a 429 (the retries `--html` marks; a ledger without it marks none).
A message id is `<run_id>.<pid>.<n>`: unique per run, process and message; it travels in the text and in the
`loadtest_id` slot (`mwsync.loadtest.ID_SLOT`), so `/_mock/messages` can be matched against the ledger.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from pathlib import Path


def budget_share(limit: int, workers: int, index: int) -> int:
    """Calls per window for worker `index` (0-based) of `workers` when `limit` is split between them.

    Each worker throttles on its own until a shared limiter exists, so the shares must add up to `limit`:
    `limit // workers` each, and one more for the first `limit % workers` workers. Raises `ValueError` when a
    worker would get nothing (more workers than calls per window).
    """
    if workers < 1 or not 0 <= index < workers:
        raise ValueError(f"worker index {index} out of range for {workers} workers")
    share = limit // workers + (1 if index < limit % workers else 0)
    if share < 1:
        raise ValueError(f"a limit of {limit} calls per window cannot be split between {workers} workers; "
                         "use fewer workers or a longer window with more calls")
    return share


class MessageIds:
    """Unique message ids `<run_id>.<pid>.<n>` for one process (n counts from 1)."""

    def __init__(self, run_id: str):
        self.prefix = f"{run_id}.{os.getpid()}."
        self._counter = itertools.count(1)

    def next(self) -> str:
        return f"{self.prefix}{next(self._counter)}"


class Ledger:
    """The outcome of every message this process sent; written as JSON by `write` (format: module docstring)."""

    def __init__(self, run_id: str):
        self.run_id = run_id
        self.started_at = time.time()
        self.stopping_at: float | None = None
        self.outcomes: dict[str, str] = {}
        self._latency = {"count": 0, "total": 0.0}
        self.token_at: list[float] = []
        self.errors = {"failures": 0, "exceptions": 0}
        self.after_429: list[str] = []

    def token_granted(self) -> None:
        """The token endpoint just answered 200."""
        self.token_at.append(time.time())

    def observe(self, round_trip_ms: float) -> None:
        """One 2xx send answer took `round_trip_ms` from sending to its headers."""
        self._latency["count"] += 1
        self._latency["total"] += round_trip_ms

    def record(self, message_id: str, state: str) -> None:
        """`state`: `sent`, `failed` or `unknown`."""
        self.outcomes[message_id] = state

    def sent_after_429(self, message_id: str) -> None:
        """Message `message_id` met a 429 and was then sent (a retry delivered it)."""
        self.after_429.append(message_id)

    def stopping(self) -> None:
        """Locust began stopping users: arrivals after now are the tail of in-flight tasks, not steady load."""
        if self.stopping_at is None:
            self.stopping_at = time.time()

    def write(self, path: str | Path) -> None:
        """Write the ledger to `path` (atomically: a reader never sees half a file)."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(target.name + ".tmp")
        document = {"run_id": self.run_id, "started_at": self.started_at,
                    "stopping_at": self.stopping_at or time.time(), "send_latency_ms": self._latency,
                    "token_at": self.token_at, "errors": self.errors, "outcomes": self.outcomes,
                    "after_429": self.after_429}
        temporary.write_text(json.dumps(document), encoding="utf-8")
        temporary.replace(target)
