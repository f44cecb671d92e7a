"""The embedded journal backend: one SQLite file (WAL) per job, beside the job file by default.

Rows, states and recovery are described in `mwsync.journal`. One run per (file, job) at a time: an
advisory lock beside the file, released by the OS when the process ends (even by `kill -9`).
"""

from __future__ import annotations

import fcntl
import os
import re
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Callable

from ..errors import JournalError
from ..records import Batch, SendResult
from ..rules import address_key

SCHEMA_VERSION = "1"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS deliveries (
    target TEXT NOT NULL, job TEXT NOT NULL, key TEXT NOT NULL, recipient TEXT NOT NULL,
    content_hash TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    http_status INTEGER, error_code TEXT, error_message TEXT, request_id TEXT, run_id TEXT,
    source_row INTEGER, created_at REAL NOT NULL, updated_at REAL NOT NULL,
    PRIMARY KEY (target, job, key, recipient)
);
CREATE INDEX IF NOT EXISTS deliveries_request ON deliveries (request_id);
CREATE INDEX IF NOT EXISTS deliveries_run ON deliveries (run_id);
"""
STATES = ("pending", "sent", "failed", "unknown")


class SqliteJournal:
    """The delivery journal of one job against one target (`target`: API URL or `embedded`).

    `path`: SQLite file (created with its folder). `clock`: wall-clock seconds for timestamps.
    Thread-safe: one connection guarded by a lock. Raises `JournalError` when the file cannot be
    opened or is not an mwsync journal.
    """

    def __init__(self, path: str | Path, *, target: str, job: str, clock: Callable[[], float] = time.time,
                 exclusive: bool = True):
        self.path = Path(path)
        self.target, self.job = target, job
        self._clock = clock
        self._lock = threading.Lock()
        self.run_id = uuid.uuid4().hex[:12]
        self._lock_file = None
        self._db: sqlite3.Connection | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if exclusive:
                self._lock_file = self._take_run_lock()
            self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30, isolation_level=None)
            self._check_foreign()
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            version = self._db.execute("SELECT value FROM meta WHERE name='schema'").fetchone()
            if version is None:
                self._db.execute("INSERT INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
            elif version[0] != SCHEMA_VERSION:
                raise JournalError(f"{self.path}: journal schema {version[0]}, this mwsync reads {SCHEMA_VERSION}")
        except (sqlite3.DatabaseError, OSError) as exc:
            self._release()
            raise JournalError(f"{self.path}: cannot open the journal ({exc}); pass another --journal PATH") from None
        except JournalError:
            self._release()
            raise

    def _take_run_lock(self):
        """One run per (journal, job) at a time: two runs reading the same journal would both see a
        message as unsent and both send it. An advisory lock beside the journal, released by the OS
        when the process ends (even by `kill -9`)."""
        name = re.sub(r"[^A-Za-z0-9._-]", "_", self.job)
        handle = open(f"{self.path}.{name}.lock", "a+")  # noqa: SIM115 - held for the journal's life
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise JournalError(f"{self.path}: job '{self.job}' is being sent by {holder}; wait for it to finish "
                               "(running it twice at once would send messages twice)") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"mwsync pid {os.getpid()}")
        handle.flush()
        return handle

    def _check_foreign(self) -> None:
        tables = {name for (name,) in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if tables and "deliveries" not in tables:
            raise JournalError(f"{self.path}: this SQLite file is not an mwsync journal (it has "
                               f"{', '.join(sorted(tables)[:3])}); pass another --journal PATH")

    def _release(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    def recover(self) -> int:
        """Mark rows left `pending` by an interrupted run as `unknown`; return how many."""
        with self._lock:
            cur = self._db.execute(
                "UPDATE deliveries SET state='unknown', error_message='in flight when an earlier run stopped', "
                "updated_at=? WHERE target=? AND job=? AND state='pending'", (self._clock(), self.target, self.job))
            return cur.rowcount

    def lookup(self, key: str) -> dict[str, tuple[str, str]]:
        """`{recipient (lower-case): (state, content_hash)}` of every recorded delivery of message `key`."""
        with self._lock:
            rows = self._db.execute(
                "SELECT recipient, state, content_hash FROM deliveries WHERE target=? AND job=? AND key=?",
                (self.target, self.job, key)).fetchall()
        return {recipient: (state, content) for recipient, state, content in rows}

    def begin(self, batch: Batch) -> str:
        """Record every delivery of `batch` as `pending` (committed before the request); return its request id."""
        request_id = uuid.uuid4().hex
        now = self._clock()
        rows = [(self.target, self.job, d.key, address_key(d.recipient), d.content, request_id, self.run_id, d.row, now, now)
                for d in batch.deliveries]  # one row per person: addresses are recorded lower-case
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(
                "INSERT INTO deliveries (target, job, key, recipient, content_hash, state, request_id, run_id, "
                "source_row, created_at, updated_at) VALUES (?,?,?,?,?,'pending',?,?,?,?,?) "
                "ON CONFLICT (target, job, key, recipient) DO UPDATE SET state='pending', "
                "content_hash=excluded.content_hash, request_id=excluded.request_id, run_id=excluded.run_id, "
                "source_row=excluded.source_row, updated_at=excluded.updated_at", rows)
        return request_id

    def finish(self, request_id: str, result: SendResult) -> None:
        """Record the outcome of request `request_id` on all its deliveries."""
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "UPDATE deliveries SET state=?, attempts=attempts+?, http_status=?, error_code=?, error_message=?, "
                "updated_at=? WHERE request_id=?",
                (result.state, result.attempts, result.status, result.code, result.error, self._clock(), request_id))

    def counts(self, run_only: bool = False) -> dict[str, dict[str, int]]:
        """`{"messages": {state: n}, "deliveries": {state: n}}`; a message's state is its worst delivery's
        (unknown > failed > pending > sent). `run_only`: only what this run touched."""
        where = "target=? AND job=?" + (" AND run_id=?" if run_only else "")
        args: tuple = (self.target, self.job) + ((self.run_id,) if run_only else ())
        rank = "CASE state WHEN 'unknown' THEN 4 WHEN 'failed' THEN 3 WHEN 'pending' THEN 2 ELSE 1 END"
        with self._lock:
            deliveries = dict(self._db.execute(
                f"SELECT state, COUNT(*) FROM deliveries WHERE {where} GROUP BY state", args).fetchall())
            worst = self._db.execute(
                f"SELECT MAX({rank}) FROM deliveries WHERE {where} GROUP BY key", args).fetchall()
        names = {4: "unknown", 3: "failed", 2: "pending", 1: "sent"}
        messages: dict[str, int] = {}
        for (value,) in worst:
            messages[names[value]] = messages.get(names[value], 0) + 1
        return {"messages": messages, "deliveries": deliveries}

    def failures(self, limit: int = 100, run_only: bool = True,
                 states: tuple[str, ...] = ("failed", "unknown")) -> list[dict]:
        """Up to `limit` messages in `states`: `{"key", "row", "state", "status", "code", "error", "recipients"}`;
        `run_only`: only those this run touched."""
        marks = ",".join("?" * len(states))
        where = f"target=? AND job=? AND state IN ({marks})" + (" AND run_id=?" if run_only else "")
        args: tuple = (self.target, self.job) + states + ((self.run_id,) if run_only else ())
        with self._lock:
            rows = self._db.execute(
                f"SELECT key, MIN(source_row), state, http_status, error_code, error_message, COUNT(*) "
                f"FROM deliveries WHERE {where} GROUP BY key, state ORDER BY MIN(source_row) LIMIT ?",
                args + (limit,)).fetchall()
        return [dict(zip(("key", "row", "state", "status", "code", "error", "recipients"), r)) for r in rows]

    def close(self) -> None:
        """Close the database connection and release the run lock."""
        with self._lock:
            self._release()
