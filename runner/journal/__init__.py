"""The journal: what was sent, so a re-run never sends twice and never skips what was not sent.

One row per delivery (message idempotency key x recipient, within a job and target), so a message split
over several requests, or coalesced with others, is tracked exactly. States: `pending` (committed
*before* the request goes out) -> `sent` | `failed` | `unknown` (the request went out, no answer came).
A kill at any moment therefore loses nothing silently: rows still `pending` at the next start were in
flight at that instant and become `unknown` (resent only on request).

Backends implement `JournalBackend`; `SqliteJournal` (`sqlite`) is the embedded default.
"""

from __future__ import annotations

from typing import Protocol

from ..records import Batch, SendResult
from .sqlite import STATES, SqliteJournal

__all__ = ["STATES", "JournalBackend", "SqliteJournal"]


class JournalBackend(Protocol):
    """What the pipeline needs from a journal of one job against one target.

    `lookup(key)` -> `{recipient address key: (state, content hash)}`; `begin(batch)` commits the batch's
    deliveries as `pending` and returns a request id; `finish(request id, result)` records the outcome;
    `recover()` turns rows an earlier run left `pending` into `unknown` and returns how many;
    `counts(run_only)` -> `{"messages": {state: n}, "deliveries": {state: n}}`; `failures(...)` lists
    failed or unknown messages.
    """

    run_id: str
    location: str  # where it lives: a file path, or a database URL without its password
    shared: bool  # True when other runners (other machines) use the same journal

    def recover(self) -> int: ...

    def lookup(self, key: str) -> dict[str, tuple[str, str]]: ...

    def begin(self, batch: Batch) -> str: ...

    def finish(self, request_id: str, result: SendResult) -> None: ...

    def counts(self, run_only: bool = False) -> dict[str, dict[str, int]]: ...

    def failures(self, limit: int = 100, run_only: bool = True,
                 states: tuple[str, ...] = ("failed", "unknown")) -> list[dict]: ...

    def close(self) -> None: ...
