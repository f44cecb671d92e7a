"""The journal: what was sent, so a re-run never sends twice and never skips what was not sent.

One row per delivery (message idempotency key x recipient, within a job and target), so a message split
over several requests, or coalesced with others, is tracked exactly. States: `pending` (committed
*before* the request goes out) -> `sent` | `failed` | `unknown` (the request went out, no answer came).
A kill at any moment therefore loses nothing silently: rows still `pending` at the next start were in
flight at that instant and become `unknown` (resent only on request).

Backends implement `JournalBackend`; `open_journal(location, ...)` picks one from the location:

- `SqliteJournal` (`sqlite`), a file path: the embedded default; one run per (file, job) at a time.
- `PostgresJournal` (`postgres`), a `postgresql://` URL: shared by every runner; several runners may send
  the same job at once and split it through claims (`claimed` rows) held under a lease.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from ..records import Batch, Delivery, SendResult
from .sqlite import STATES, SqliteJournal

__all__ = ["STATES", "JournalBackend", "SqliteJournal", "is_database_url", "open_journal"]

DATABASE_SCHEMES = ("postgresql://", "postgres://")


class JournalBackend(Protocol):
    """What the pipeline needs from a journal of one job against one target.

    `lookup(key)` -> `{recipient address key: (state, content hash)}` (`claimed`: another live runner holds
    it); `claim(deliveries, resend_unknown)` -> the deliveries this runner now holds (all of them for a
    journal only one runner uses); `begin(batch)` commits the batch's deliveries as `pending` and returns
    a request id (raises `JournalError` when one is no longer this runner's: the request must not go
    out); `finish(request id, result)` records the outcome; `recover()` turns rows an earlier (dead) run
    left `pending` into `unknown` and returns how many; `counts(run_only)` -> `{"messages": {state: n},
    "deliveries": {state: n}}`; `failures(...)` lists failed or unknown messages.
    """

    run_id: str
    location: str  # where it lives: a file path, or a database URL without its password
    shared: bool  # True when other runners (other machines) use the same journal

    def recover(self) -> int: ...

    def lookup(self, key: str) -> dict[str, tuple[str, str]]: ...

    def claim(self, deliveries: list[Delivery], resend_unknown: bool = False) -> list[Delivery]: ...

    def begin(self, batch: Batch) -> str: ...

    def finish(self, request_id: str, result: SendResult) -> None: ...

    def resolve(self, keys: list[str] | None, sent: bool, note: str) -> dict[str, int]: ...

    def counts(self, run_only: bool = False) -> dict[str, dict[str, int]]: ...

    def failures(self, limit: int = 100, run_only: bool = True,
                 states: tuple[str, ...] = ("failed", "unknown")) -> list[dict]: ...

    def close(self) -> None: ...


def is_database_url(location: str | Path) -> bool:
    """True when `location` names a PostgreSQL database (`postgresql://` or `postgres://`), not a file."""
    return str(location).lower().startswith(DATABASE_SCHEMES)


def open_journal(location: str | Path, *, target: str, job: str, exclusive: bool = True, create: bool = False,
                 lease_s: float | None = None, new_ok: bool = True) -> JournalBackend:
    """The journal at `location`: a `postgresql://` URL (`PostgresJournal`, `lease_s` seconds of lease,
    default 30; `new_ok`: its tables may be created) or a file path (`SqliteJournal`). Raises `JournalError`,
    and `UsageError` when the backend's library is missing (the `shared` extra)."""
    if is_database_url(location):
        from .postgres import DEFAULT_LEASE_S, PostgresJournal

        return PostgresJournal(str(location), target=target, job=job, exclusive=exclusive, create=create,
                               lease_s=lease_s or DEFAULT_LEASE_S, new_ok=new_ok)
    return SqliteJournal(location, target=target, job=job, exclusive=exclusive, create=create)
