"""The shared journal backend: PostgreSQL (psycopg 3), one database for every runner of every job.

Several runners (CI jobs, machines) may send the same job against the same journal at the same time: they
split the work through **claims**, and a **lease** says which runners are alive. Times are PostgreSQL's.

States of a delivery row, and who may change them (SQL in `mwsync.journal.pgsql`)::

    (none) --claim--> claimed --begin--> pending --finish--> sent | failed | unknown
    failed --claim--> claimed              (the API refused it: any runner may try again)
    unknown --claim--> claimed             (only a run with --resend-unknown)

- **claim** (the send pass, before a delivery enters a batch): `INSERT ... ON CONFLICT DO NOTHING` plus a
  re-claim of `failed` rows (and `unknown` ones with `--resend-unknown`), in one statement: exactly one
  runner gets each delivery; the others see it `claimed` and leave it (`decide` counts it `elsewhere`).
- **begin** (right before the request goes out): `claimed -> pending` only for rows this runner owns,
  and only while its lease is alive on PostgreSQL's clock; if any row of the batch is no longer ours the
  transaction rolls back and `ClaimLost` stops the run: the request never leaves.
- **finish**: only rows still carrying this request id and this runner (`pending`, or `unknown` if a sweep
  got there first): a late answer never overwrites a row that another runner has since taken.
- **the lease**: one row per run in `mwsync_runs`, renewed every `lease_s / 3` by a thread while the
  runner lives (default 30 s). A renewal that finds its lease expired does not revive it: the run stops.
- **the sweep** (at start and at each renewal, by any runner): for runs whose lease expired, a `claimed`
  row whose request never started is released (deleted, or back to its `failed`/`unknown` state) and a
  `pending` row becomes `unknown`, exactly as a killed SQLite run's. A live runner's rows are never touched.
- **close**: the run's own unsent claims are released and its lease ended.

Claims are committed with `synchronous_commit = off` (a claim lost in a crash only means `begin` refuses
and nobody sends twice); `begin` and `finish` are durable commits.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import JournalError, UsageError
from ..records import Batch, Delivery, SendResult
from ..redact import SECRETS, redact, url_without_password
from ..rules import address_key
from . import pgsql

DEFAULT_LEASE_S = 30.0
CONNECT_TIMEOUT_S = 10


class ClaimLost(JournalError):
    """Some deliveries of a request about to go out are no longer this runner's (its lease expired): the
    request is not sent and the run stops."""


def _psycopg():
    try:
        import psycopg
    except ImportError:
        raise UsageError("a postgresql:// journal needs psycopg 3 (the 'shared' extra): "
                         "pip install 'psycopg[binary]>=3.1'") from None
    return psycopg


def _cause(exc: BaseException) -> str:
    """A short cause for a psycopg error: `connection refused`, `database "x" does not exist`, ..."""
    text = str(exc).strip()
    for needle, cause in (("Connection refused", "connection refused"), ("could not translate", "name not resolved"),
                          ("timeout expired", "connect timeout"), ("password authentication", "password refused"),
                          ("no password supplied", "a password is needed (PGPASSWORD or ${VAR} in the URL)"),
                          ("server closed the connection", "the server closed the connection"),
                          ("terminating connection", "the server is shutting down"),
                          ("connection is closed", "the connection was lost"),
                          ("consuming input failed", "the connection was lost")):
        if needle in text:
            return cause
    return redact(text.splitlines()[0] if text else exc.__class__.__name__)


class PostgresJournal:
    """The delivery journal of one job against one target, in PostgreSQL at `url` (`postgresql://...`).

    `exclusive`: register a run with a lease and renew it (False for `mwsync status`: read only);
    `lease_s`: seconds a run's claims outlive its last renewal; `new_ok`: the journal's tables may be created
    in a database that has none (False, in CI without --new-journal: raises `UsageError`, nothing created,
    because a database that dies with the CI job would make every run a first send). Thread-safe (one
    connection under a lock; the lease thread has its own). Raises `JournalError` (exit 4) naming the host
    and the cause when the database cannot be reached or used, and `UsageError` when psycopg is not installed.
    """

    shared = True

    def __init__(self, url: str, *, target: str, job: str, exclusive: bool = True, create: bool = False,
                 lease_s: float = DEFAULT_LEASE_S, new_ok: bool = True):
        self._psycopg = _psycopg()
        self.url, self.location = url, url_without_password(url)
        SECRETS.add(os.environ.get("PGPASSWORD"))  # libpq reads it: a secret learnt from the environment
        self.target, self.job, self.lease_s = target, job, float(lease_s)
        self.run_id = uuid.uuid4().hex[:12]
        self.created = False
        self._lock = threading.Lock()
        self._broken: JournalError | None = None
        self._closing = threading.Event()
        self._renewer: threading.Thread | None = None
        self._db = None
        self._new_ok = new_ok or create
        try:
            with self._errors("cannot use the journal", "nothing was sent"):
                self._db = self._connect()
                self.created = self._ensure_schema()
                if exclusive:
                    self._db.execute(pgsql.REGISTER, self._args(host=socket.gethostname(), pid=os.getpid(),
                                                                lease_s=self.lease_s))
        except (JournalError, UsageError):
            if self._db is not None:
                self._db.close()
            raise
        if exclusive:
            self._renewer = threading.Thread(target=self._renew_loop, name="mwsync-lease", daemon=True)
            self._renewer.start()

    @classmethod
    def exists(cls, url: str) -> bool:
        """True when the database at `url` holds mwsync's journal tables (nothing is created). Raises
        `JournalError` when it cannot be reached, `UsageError` without psycopg."""
        psycopg, location = _psycopg(), url_without_password(url)
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as db:
                return bool(db.execute("SELECT to_regclass('mwsync_meta') IS NOT NULL").fetchone()[0])
        except psycopg.Error as exc:
            raise JournalError(f"{location}: cannot use the journal: {_cause(exc)}; nothing was sent") from None

    # -- connections, errors ---------------------------------------------------------------------------

    def _connect(self):
        return self._psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S,
                                     application_name=f"mwsync {self.job}", keepalives=1, keepalives_idle=10,
                                     keepalives_interval=5, keepalives_count=3)  # a silent network: ~25 s

    def _args(self, **extra) -> dict:
        return {"target": self.target, "job": self.job, "run": self.run_id, **extra}

    @contextmanager
    def _errors(self, what: str, after: str) -> Iterator[None]:
        try:
            yield
        except self._psycopg.Error as exc:
            error = JournalError(f"{self.location}: {what}: {_cause(exc)}; {after}")
            if self._db is not None:
                self._broken = self._broken or error
            raise error from None

    @contextmanager
    def _use(self) -> Iterator:
        """The connection under the lock; any failure (or an earlier one, the lease thread's included)
        raises `JournalError`: nothing more is sent."""
        with self._lock:
            if self._broken is not None:
                raise self._broken
            if self._db is None:
                raise JournalError(f"{self.location}: the journal is closed")
            with self._errors("cannot use the journal", "nothing more is sent"):
                yield self._db

    def _ensure_schema(self) -> bool:
        """Create the tables on first use (under an advisory lock: runners start together); check the
        version. Returns True when this call created them."""
        with self._db.transaction():
            self._db.execute("SELECT pg_advisory_xact_lock(%s)", (pgsql.SCHEMA_LOCK,))
            exists = self._db.execute("SELECT to_regclass('mwsync_meta') IS NOT NULL").fetchone()[0]
            if not exists and not self._new_ok:
                raise UsageError(
                    f"{self.job}: running in CI, and the journal database {self.location} has no mwsync journal "
                    "yet: a database that does not outlive the CI job (a services: container) would make every "
                    "run a first send. Nothing was sent. Point --journal at the database that keeps the "
                    "journal, or pass --new-journal once to confirm that this is its first send (mwsync docs ci)")
            if not exists:
                self._db.execute(pgsql.SCHEMA)
                self._db.execute("INSERT INTO mwsync_meta VALUES ('schema', %s), ('journal_id', %s)",
                                 (pgsql.SCHEMA_VERSION, uuid.uuid4().hex))
            version = self._db.execute("SELECT value FROM mwsync_meta WHERE name = 'schema'").fetchone()
        if version is None or version[0] != pgsql.SCHEMA_VERSION:
            raise JournalError(f"{self.location}: journal schema {version[0] if version else 'missing'}, this "
                               f"mwsync reads {pgsql.SCHEMA_VERSION}")
        return not exists

    # -- the lease -------------------------------------------------------------------------------------

    def _renew_loop(self) -> None:
        """Renew the lease every `lease_s / 3` seconds and sweep what dead runners left, on a connection
        of its own; a failure or a lost lease is kept in `_broken` (the next journal call raises it)."""
        db = None
        while not self._closing.wait(self.lease_s / 3):
            try:
                db = db or self._connect()
                if db.execute(pgsql.RENEW, self._args(lease_s=self.lease_s)).rowcount != 1:
                    self._broken = ClaimLost(f"{self.location}: this runner's lease expired (it was stalled for "
                                             f"over {self.lease_s:g} s); nothing more is sent, its claims go to "
                                             "other runners")
                    return
                self._sweep(db)
            except self._psycopg.Error as exc:
                self._broken = self._broken or JournalError(
                    f"{self.location}: cannot reach the journal: {_cause(exc)}; nothing more is sent")
                return
            finally:
                if self._closing.is_set() and db is not None:
                    db.close()
        if db is not None:
            db.close()

    def _sweep(self, db) -> int:
        """Release dead runners' claims, turn their `pending` rows `unknown`; return how many became unknown."""
        with db.transaction():
            unknown = db.execute(pgsql.SWEEP_PENDING, self._args()).rowcount
            db.execute(pgsql.SWEEP_NEW_CLAIMS, self._args())
            db.execute(pgsql.SWEEP_RECLAIMS, self._args())
        return unknown

    # -- the JournalBackend protocol -------------------------------------------------------------------

    def recover(self) -> int:
        """Sweep (class docstring): rows of runners whose lease expired; return how many became `unknown`."""
        with self._use() as db:
            return self._sweep(db)

    def lookup(self, key: str) -> dict[str, tuple[str, str]]:
        """`{recipient: (state, content_hash)}` of message `key`, as this runner must read it: a row another
        live runner claimed or has in flight is `claimed`; a dead runner's claim counts as its prior state
        (none: absent) and its `pending` as `unknown`."""
        with self._use() as db:
            rows = db.execute(pgsql.LOOKUP, self._args(key=key)).fetchall()
        out = {}
        for recipient, state, prior, content, mine, alive in rows:
            if state in ("claimed", "pending") and (alive or mine):
                state = "claimed" if not mine or state == "claimed" else "pending"
            elif state == "claimed":
                state = prior
            elif state == "pending":
                state = "unknown"
            if state is not None:
                out[recipient] = (state, content)
        return out

    def claim(self, deliveries: list[Delivery], resend_unknown: bool = False) -> list[Delivery]:
        """Claim `deliveries` for this runner; return those it got (class docstring), in order."""
        if not deliveries:
            return []
        args = self._args(keys=[d.key for d in deliveries], recipients=[address_key(d.recipient) for d in deliveries],
                          contents=[d.content for d in deliveries], rows=[d.row for d in deliveries],
                          reclaimable=["failed", "unknown"] if resend_unknown else ["failed"])
        with self._use() as db, db.transaction():
            db.execute("SET LOCAL synchronous_commit = off")
            got = set(db.execute(pgsql.CLAIM, args).fetchall())
        return [d for d in deliveries if (d.key, address_key(d.recipient)) in got]

    def begin(self, batch: Batch) -> str:
        """`claimed -> pending` for every delivery of `batch` (committed before the request goes out);
        return its request id. Raises `ClaimLost` (nothing changed) when any is no longer this runner's."""
        request_id = uuid.uuid4().hex
        pairs = sorted({(d.key, address_key(d.recipient)) for d in batch.deliveries})
        args = self._args(request=request_id, keys=[k for k, _ in pairs], recipients=[r for _, r in pairs])
        with self._use() as db, db.transaction():
            changed = db.execute(pgsql.BEGIN, args).rowcount
            if changed != len(pairs):
                raise ClaimLost(f"{self.location}: {len(pairs) - changed} of the {len(pairs)} deliveries of a request "
                                "about to go out are no longer this runner's (its lease expired); it was not sent, "
                                "and nothing more is sent")
        return request_id

    def finish(self, request_id: str, result: SendResult) -> None:
        """Record the outcome of `request_id` on the rows that are still this runner's (class docstring)."""
        args = self._args(request=request_id, state=result.state, attempts=result.attempts, status=result.status,
                          code=redact(result.code), error=redact(result.error))
        with self._use() as db:
            db.execute(pgsql.FINISH, args)

    def resolve(self, keys: list[str] | None, sent: bool, note: str) -> dict[str, int]:
        """Settle messages in doubt (`unknown`, after a sweep) of `keys` (None: all), as `sent` or released
        (`failed`); returns `{"messages": n, "deliveries": n}`. In-flight rows of live runners are not in doubt."""
        where, args = "target = %(target)s AND job = %(job)s AND state = 'unknown'", self._args(
            keys=keys, state="sent" if sent else "failed", note=redact(note))
        if keys is not None:
            where += " AND key = ANY(%(keys)s)"
        with self._use() as db:
            self._sweep(db)
            with db.transaction():
                messages = db.execute(f"SELECT COUNT(DISTINCT key) FROM mwsync_deliveries WHERE {where}",
                                      args).fetchone()[0]
                cur = db.execute(f"UPDATE mwsync_deliveries SET state = %(state)s, error_message = %(note)s, "
                                 f"prior_state = NULL, updated_at = clock_timestamp() WHERE {where}", args)
        return {"messages": messages, "deliveries": cur.rowcount}

    def counts(self, run_only: bool = False) -> dict[str, dict[str, int]]:
        """`{"messages": {state: n}, "deliveries": {state: n}}`; a message's state is its worst delivery's
        (unknown > failed > pending > claimed > sent). `run_only`: only rows this run holds."""
        where = "target = %(target)s AND job = %(job)s" + (" AND run_id = %(run)s" if run_only else "")
        with self._use() as db:
            deliveries = dict(db.execute(f"SELECT state, COUNT(*) FROM mwsync_deliveries WHERE {where} "
                                         "GROUP BY state", self._args()).fetchall())
            worst = db.execute(f"SELECT MAX({pgsql.RANK}) FROM mwsync_deliveries WHERE {where} GROUP BY key",
                               self._args()).fetchall()
        messages: dict[str, int] = {}
        for (value,) in worst:
            messages[pgsql.RANKED[value]] = messages.get(pgsql.RANKED[value], 0) + 1
        return {"messages": messages, "deliveries": deliveries}

    def failures(self, limit: int = 100, run_only: bool = True,
                 states: tuple[str, ...] = ("failed", "unknown")) -> list[dict]:
        """Up to `limit` messages in `states`: `{"key", "row", "state", "status", "code", "error", "recipients"}`;
        another live runner's requests in flight (`pending`) are not listed: they are not in doubt."""
        where = (f"d.target = %(target)s AND d.job = %(job)s AND d.state = ANY(%(states)s) AND NOT (d.state = "
                 f"'pending' AND d.run_id <> %(run)s AND {pgsql.OWNER_ALIVE})")  # in flight elsewhere: not in doubt
        where += " AND d.run_id = %(run)s" if run_only else ""
        with self._use() as db:
            rows = db.execute(
                f"SELECT key, MIN(source_row), state, MIN(http_status), MIN(error_code), MIN(error_message), "
                f"COUNT(*) FROM mwsync_deliveries d WHERE {where} GROUP BY key, state ORDER BY MIN(source_row) "
                f"LIMIT %(limit)s", self._args(states=list(states), limit=limit)).fetchall()
        columns = ("key", "row", "state", "status", "code", "error", "recipients")
        return [dict(zip(columns, r, strict=True)) for r in rows]

    def close(self) -> None:
        """End the run: release its unsent claims, mark its unrecorded requests `unknown`, end its lease
        (best effort: when the database is gone, the lease expires by itself), close the connections."""
        self._closing.set()
        if self._renewer is not None:
            self._renewer.join(timeout=5)
        with self._lock:
            db, self._db = self._db, None
        if db is None:
            return
        try:
            if self._renewer is not None:
                with db.transaction():
                    for statement in (pgsql.RELEASE_NEW_CLAIMS, pgsql.RELEASE_RECLAIMS, pgsql.ABANDON_PENDING,
                                      pgsql.END_RUN):
                        db.execute(statement, self._args())
        except self._psycopg.Error:
            pass
        finally:
            db.close()
