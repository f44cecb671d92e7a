"""The embedded journal backend: one SQLite file per job, beside the job file by default.

Rows, states and recovery are described in `mwsync.journal`. What this backend adds:

- **The file alone is complete**: rollback-journal mode (`journal_mode=DELETE`, `synchronous=FULL`), not
  WAL, so every committed row is in the `.sqlite` file itself after each commit, also after `kill -9`,
  and a CI cache that keeps only `*.sqlite` loses nothing.
- **One run per (file, job) at a time**: an advisory lock file beside the journal, released by the OS
  when the process ends (even by `kill -9`). The lock file also remembers the journal's id, so a
  journal that existed and was deleted or emptied is never mistaken for a first run.
- **Truth or stop**: a new journal is built aside and renamed into place (never a half-made file); an
  empty, foreign, corrupt, unreadable or unwritable file, a full disk, or a journal deleted, emptied
  or replaced during the run raises `JournalError` (the run stops, nothing more is sent).
"""

from __future__ import annotations

import fcntl
import os
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import JournalError
from ..records import Batch, Delivery, SendResult
from ..redact import redact
from ..rules import address_key

SCHEMA_VERSION = "1"
SQLITE_MAGIC = b"SQLite format 3\x00"
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
NEW_JOURNAL_HINT = ("restore it from where you keep it (a CI cache, an artifact), or pass --new-journal to start "
                    "an empty one (messages it recorded as sent would then be sent again)")


def _cause(exc: BaseException) -> str:
    text = str(exc)
    if "readonly" in text or isinstance(exc, PermissionError):
        return "it is read-only (check the file's and its folder's permissions)"
    if "disk is full" in text or "No space left" in text:
        return "the disk is full"
    if "malformed" in text or "not a database" in text:
        return "it is corrupt (not a readable SQLite database)"
    return text or exc.__class__.__name__


def lock_paths(path: Path, job: str) -> tuple[Path, Path]:
    """The lock file of (journal `path`, `job`): `.<journal file>.<job>.lock` beside the journal (hidden, and
    not matched by `rm journal.sqlite*`, so the memory of a deleted journal survives the usual way of
    deleting it), then where mwsync 0.1 kept it (`<journal file>.<job>.lock`), still read for its memory."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", job)
    return path.with_name(f".{path.name}.{safe}.lock"), Path(f"{path}.{safe}.lock")


def remembered_id(path: Path, job: str) -> str | None:
    """The journal id an earlier run of `job` wrote into a lock file beside `path` (`lock_paths`), if any."""
    for lock in lock_paths(path, job):
        try:
            text = lock.read_text(encoding="utf-8")
        except OSError:
            continue
        match = re.search(r"^journal ([0-9a-f]{32})$", text, re.M)
        if match:
            return match.group(1)
    return None


class SqliteJournal:
    """The delivery journal of one job against one target (`target`: API URL or `embedded`).

    `path`: SQLite file (its folder is created). `clock`: wall-clock seconds for timestamps.
    `exclusive`: take the run lock (False for read-only use such as `mwsync status`). `create`: start a
    new journal even where a deleted or emptied one is remembered (`--new-journal`).
    Thread-safe: one connection guarded by a lock. Raises `JournalError` (the run stops) when the file
    cannot be opened, is not an mwsync journal, or is gone or empty although a run used it before.
    """

    shared = False  # one machine's file; a PostgreSQL journal is shared by every runner

    def __init__(self, path: str | Path, *, target: str, job: str, clock: Callable[[], float] = time.time,
                 exclusive: bool = True, create: bool = False):
        self.path = Path(path)
        self.location = str(self.path)
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
            remembered = self._remembered_id()
            self.created = self._create_if_missing(remembered, create)
            self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30, isolation_level=None)
            self.journal_id = self._check_and_migrate(remembered, create)
            self._identity = self._stat()
            if self._lock_file is not None:
                self._remember(self.journal_id)
        except (sqlite3.Error, OSError) as exc:
            self._release()
            raise JournalError(f"{self.path}: cannot use the journal: {_cause(exc)}; nothing was sent") from None
        except JournalError:
            self._release()
            raise

    # -- opening ---------------------------------------------------------------------------------------

    def _lock_path(self) -> Path:
        return lock_paths(self.path, self.job)[0]

    def _take_run_lock(self):
        """One run per (journal, job) at a time: two runs reading the same journal would both see a
        message as unsent and both send it."""
        handle = open(self._lock_path(), "a+")  # noqa: SIM115 - held for the journal's life
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.readline().strip() or "another process"
            handle.close()
            raise JournalError(f"{self.path}: job '{self.job}' is being sent by {holder}; wait for it to finish "
                               "(running it twice at once would send messages twice)") from None
        return handle

    @staticmethod
    def used_before(path: str | Path, job: str) -> bool:
        """True when a run of `job` wrote a journal id into the lock file beside `path`: a missing file there
        is a deleted journal, not a first run (opening it raises `JournalError`)."""
        return remembered_id(Path(path), job) is not None

    def _remembered_id(self) -> str | None:
        return remembered_id(self.path, self.job)

    def _remember(self, journal_id: str) -> None:
        handle = self._lock_file
        handle.seek(0)
        handle.truncate()
        handle.write(f"mwsync pid {os.getpid()}\njournal {journal_id}\n")
        handle.flush()

    def _create_if_missing(self, remembered: str | None, create: bool) -> bool:
        """Build a new journal aside and rename it into place when there is none. Returns True when it did.
        Raises `JournalError` when a run used a journal here before (it was deleted) unless `create`."""
        exists = self.path.exists()
        if exists and not self.path.is_file():
            raise JournalError(f"{self.path}: is not a file; pass another --journal PATH")
        if exists and self.path.stat().st_size > 0:
            return False
        if exists and not create:
            raise JournalError(f"{self.path}: the journal is empty (0 bytes): it was truncated, or is not a "
                               f"journal mwsync made; {NEW_JOURNAL_HINT}")
        if remembered and not exists and not create:
            raise JournalError(f"{self.path}: the journal is gone, but a run of job '{self.job}' used it before "
                               f"(its lock file {self._lock_path().name} remembers it); {NEW_JOURNAL_HINT}")
        staging = self.path.with_name(f".{self.path.name}.{os.getpid()}.new")
        db = sqlite3.connect(staging, isolation_level=None)
        try:
            db.executescript(_SCHEMA)
            db.execute("INSERT INTO meta VALUES ('schema', ?), ('journal_id', ?), ('created_at', ?)",
                       (SCHEMA_VERSION, uuid.uuid4().hex, str(self._clock())))
        finally:
            db.close()
        os.replace(staging, self.path)
        return True

    def _check_and_migrate(self, remembered: str | None, create: bool) -> str:
        with self.path.open("rb") as handle:
            if handle.read(16) != SQLITE_MAGIC:
                raise JournalError(f"{self.path}: is not an SQLite file, so not an mwsync journal; pass another "
                                   "--journal PATH")
        db = self._db
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "deliveries" not in tables or "meta" not in tables:
            raise JournalError(f"{self.path}: this SQLite file is not an mwsync journal (it has "
                               f"{', '.join(sorted(tables)[:3]) or 'no tables'}); pass another --journal PATH")
        db.execute("PRAGMA journal_mode=DELETE")  # the .sqlite file alone holds every committed row
        db.execute("PRAGMA synchronous=FULL")
        meta = dict(db.execute("SELECT name, value FROM meta").fetchall())
        if meta.get("schema") != SCHEMA_VERSION:
            raise JournalError(f"{self.path}: journal schema {meta.get('schema')}, this mwsync reads {SCHEMA_VERSION}")
        journal_id = meta.get("journal_id")
        if journal_id is None:  # made by an earlier mwsync: give it an id now
            journal_id = uuid.uuid4().hex
            db.execute("INSERT INTO meta VALUES ('journal_id', ?)", (journal_id,))
        if remembered and remembered != journal_id and not create:
            raise JournalError(f"{self.path}: this is not the journal earlier runs of job '{self.job}' used (it "
                               f"was replaced); {NEW_JOURNAL_HINT}")
        return journal_id

    def _stat(self) -> tuple[int, int]:
        info = os.stat(self.path)
        return info.st_dev, info.st_ino

    def _release(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    # -- use -------------------------------------------------------------------------------------------

    @contextmanager
    def _use(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        """The connection, under the lock, with every failure turned into `JournalError`; a write first
        checks that the file is still the one opened (not deleted, emptied or replaced)."""
        with self._lock:
            if self._db is None:
                raise JournalError(f"{self.path}: the journal is closed")
            try:
                if write:
                    self._check_still_here()
                yield self._db
            except (sqlite3.Error, OSError) as exc:
                raise JournalError(f"{self.path}: cannot use the journal: {_cause(exc)}; nothing more is "
                                   "sent") from None

    def _check_still_here(self) -> None:
        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            raise JournalError(f"{self.path}: the journal was deleted during the run; nothing more is sent "
                               "(restore it before the next run)") from None
        if (info.st_dev, info.st_ino) != self._identity:
            raise JournalError(f"{self.path}: the journal was replaced during the run; nothing more is sent")
        if info.st_size == 0:
            raise JournalError(f"{self.path}: the journal was emptied during the run; nothing more is sent")

    def recover(self) -> int:
        """Mark rows left `pending` by an interrupted run as `unknown`; return how many."""
        with self._use(write=True) as db:
            cur = db.execute(
                "UPDATE deliveries SET state='unknown', error_message='in flight when an earlier run stopped', "
                "updated_at=? WHERE target=? AND job=? AND state='pending'", (self._clock(), self.target, self.job))
            return cur.rowcount

    def lookup(self, key: str) -> dict[str, tuple[str, str]]:
        """`{recipient (address key): (state, content_hash)}` of every recorded delivery of message `key`."""
        with self._use() as db:
            rows = db.execute(
                "SELECT recipient, state, content_hash FROM deliveries WHERE target=? AND job=? AND key=?",
                (self.target, self.job, key)).fetchall()
        return {recipient: (state, content) for recipient, state, content in rows}

    def claim(self, deliveries: list[Delivery], resend_unknown: bool = False) -> list[Delivery]:
        """Every delivery: the run lock makes this run the only one sending the job from this file."""
        return list(deliveries)

    def begin(self, batch: Batch) -> str:
        """Record every delivery of `batch` as `pending` (committed before the request goes out); return
        its request id."""
        request_id = uuid.uuid4().hex
        now = self._clock()
        rows = [(self.target, self.job, d.key, address_key(d.recipient), d.content, request_id, self.run_id, d.row,
                 now, now) for d in batch.deliveries]  # one row per person
        with self._use(write=True) as db, db:
            db.execute("BEGIN IMMEDIATE")
            db.executemany(
                "INSERT INTO deliveries (target, job, key, recipient, content_hash, state, request_id, run_id, "
                "source_row, created_at, updated_at) VALUES (?,?,?,?,?,'pending',?,?,?,?,?) "
                "ON CONFLICT (target, job, key, recipient) DO UPDATE SET state='pending', "
                "content_hash=excluded.content_hash, request_id=excluded.request_id, run_id=excluded.run_id, "
                "source_row=excluded.source_row, updated_at=excluded.updated_at", rows)
        return request_id

    def finish(self, request_id: str, result: SendResult) -> None:
        """Record the outcome of request `request_id` on all its deliveries."""
        with self._use(write=True) as db, db:
            db.execute("BEGIN IMMEDIATE")
            db.execute(
                "UPDATE deliveries SET state=?, attempts=attempts+?, http_status=?, error_code=?, error_message=?, "
                "updated_at=? WHERE request_id=?",
                (result.state, result.attempts, result.status, redact(result.code), redact(result.error), self._clock(),
                 request_id))

    def resolve(self, keys: list[str] | None, sent: bool, note: str) -> dict[str, int]:
        """Settle deliveries in doubt (`unknown` or `pending`) of messages `keys` (None: all of them): as
        `sent` (a person checked they arrived) or as `failed` (released: the next run sends them), with
        `note` as their error message. Returns `{"messages": n, "deliveries": n}` settled."""
        where, args = "target=? AND job=? AND state IN ('unknown', 'pending')", [self.target, self.job]
        if keys is not None:
            where += f" AND key IN ({','.join('?' * len(keys))})"
            args += keys
        with self._use(write=True) as db, db:
            db.execute("BEGIN IMMEDIATE")
            messages = db.execute(f"SELECT COUNT(DISTINCT key) FROM deliveries WHERE {where}", args).fetchone()[0]
            cur = db.execute(f"UPDATE deliveries SET state=?, error_message=?, updated_at=? WHERE {where}",
                             ["sent" if sent else "failed", redact(note), self._clock(), *args])
        return {"messages": messages, "deliveries": cur.rowcount}

    def counts(self, run_only: bool = False) -> dict[str, dict[str, int]]:
        """`{"messages": {state: n}, "deliveries": {state: n}}`; a message's state is its worst delivery's
        (unknown > failed > pending > sent). `run_only`: only what this run touched."""
        where = "target=? AND job=?" + (" AND run_id=?" if run_only else "")
        args: tuple = (self.target, self.job) + ((self.run_id,) if run_only else ())
        rank = "CASE state WHEN 'unknown' THEN 4 WHEN 'failed' THEN 3 WHEN 'pending' THEN 2 ELSE 1 END"
        with self._use() as db:
            deliveries = dict(db.execute(
                f"SELECT state, COUNT(*) FROM deliveries WHERE {where} GROUP BY state", args).fetchall())
            worst = db.execute(f"SELECT MAX({rank}) FROM deliveries WHERE {where} GROUP BY key", args).fetchall()
        names = {4: "unknown", 3: "failed", 2: "pending", 1: "sent"}
        messages: dict[str, int] = {}
        for (value,) in worst:
            messages[names[value]] = messages.get(names[value], 0) + 1
        return {"messages": messages, "deliveries": deliveries}

    def other_targets(self) -> dict[str, int]:
        """`{target: messages in doubt}` for this job's rows recorded against other targets in the same file
        (the same job sent to a standalone mock, or a tenant, keeps its own history there)."""
        with self._use() as db:
            rows = db.execute(
                "SELECT target, COUNT(DISTINCT CASE WHEN state IN ('unknown', 'pending') THEN key END) "
                "FROM deliveries WHERE job=? AND target<>? GROUP BY target ORDER BY target",
                (self.job, self.target)).fetchall()
        return dict(rows)

    def failures(self, limit: int = 100, run_only: bool = True,
                 states: tuple[str, ...] = ("failed", "unknown")) -> list[dict]:
        """Up to `limit` messages in `states`: `{"key", "row", "state", "status", "code", "error", "recipients"}`;
        `run_only`: only those this run touched."""
        marks = ",".join("?" * len(states))
        where = f"target=? AND job=? AND state IN ({marks})" + (" AND run_id=?" if run_only else "")
        args: tuple = (self.target, self.job) + states + ((self.run_id,) if run_only else ())
        with self._use() as db:
            rows = db.execute(
                f"SELECT key, MIN(source_row), state, http_status, error_code, error_message, COUNT(*) "
                f"FROM deliveries WHERE {where} GROUP BY key, state ORDER BY MIN(source_row) LIMIT ?",
                args + (limit,)).fetchall()
        columns = ("key", "row", "state", "status", "code", "error", "recipients")
        return [dict(zip(columns, r, strict=True)) for r in rows]

    def close(self) -> None:
        """Close the database connection and release the run lock."""
        with self._lock:
            self._release()
