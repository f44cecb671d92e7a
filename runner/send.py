"""One job, end to end: rows -> rendered messages -> checked -> journal decisions -> batches -> sends.

Two streaming passes over the source, so memory stays flat however many rows there are:
1. *plan*: render and check every row (all-or-nothing: any invalid row stops the job before anything
   is sent, unless `skip_invalid`), decide per delivery against the journal, count the requests;
2. *send*: the same again, sending each batch as it fills, `concurrent_connections` at a time.
"""

from __future__ import annotations

import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from typing import Callable, Iterator

from .dedupe import KeyLedger
from .errors import AuthError, Interrupted, InvalidMessages, Problem, TemplateError
from .job import Job
from .journal import Journal
from .plan import Batcher, message_problems
from .records import Batch, Delivery, RenderedMessage, SendResult
from .sources import iter_rows
from .templates import MessageRenderer

MAX_PROBLEMS = 50


@dataclass
class Tally:
    """Counts of one pass. Messages: `total` rendered, `new` with something to send, `skipped` already
    sent, `changed` sent before with other content (not resent), `held` in doubt (`unknown`, not resent),
    `invalid` rows skipped by `skip_invalid`, `filtered` rows the filter dropped; `duplicates` deliveries
    dropped because an earlier row had the same idempotency key and recipient."""

    total: int = 0
    new: int = 0
    skipped: int = 0
    changed: int = 0
    held: int = 0
    invalid: int = 0
    filtered: int = 0
    duplicates: int = 0
    recipients: int = 0
    requests: int = 0
    changed_keys: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


@dataclass(frozen=True)
class SendOptions:
    """Per-run choices: `skip_invalid` sends the valid rest; `resend_unknown` resends deliveries in doubt;
    `dry_run` plans without sending."""

    skip_invalid: bool = False
    resend_unknown: bool = False
    dry_run: bool = False


def _messages(job: Job, renderer: MessageRenderer, tally: Tally, invalid: set[int] | None,
              problems: ProblemLog | None) -> Iterator[RenderedMessage]:
    """Rendered, checked messages, each recipient of each idempotency key once. With `problems` (plan
    pass) invalid rows are collected there; without it (send pass) rows in `invalid` are skipped."""
    ledger = KeyLedger()
    try:
        for message in _rendered(job, renderer, tally, invalid, problems):
            conflict, recipients = ledger.check(message)
            if conflict:
                if problems is not None:
                    invalid.add(message.row)
                    problems.append(Problem(job.source.label, f"row {message.row}, message.idempotency_key", conflict))
                continue
            if len(recipients) < len(message.recipients):
                tally.duplicates += len(message.recipients) - len(recipients)
                if not recipients:
                    continue
                message = replace(message, recipients=recipients)
            tally.total += 1
            yield message
    finally:
        ledger.close()


def _rendered(job: Job, renderer: MessageRenderer, tally: Tally, invalid: set[int] | None,
              problems: ProblemLog | None) -> Iterator[RenderedMessage]:
    for number, row in iter_rows(job.source):
        try:
            if not renderer.accepts(row, number):
                tally.filtered += 1
                continue
            message = renderer.render(row, number)
        except TemplateError as exc:
            if problems is None:
                continue
            problems.extend(exc.problems)
            invalid.add(number)
            continue
        if problems is not None:
            found = message_problems(message)
            if found:
                invalid.add(number)
                problems.extend(Problem(job.source.label, f"row {number}, {where}", what) for where, what in found)
                continue
        elif number in invalid:
            continue
        yield message


def _deliveries(message: RenderedMessage, journal: Journal | None, options: SendOptions,
                tally: Tally) -> list[Delivery]:
    """The deliveries of `message` still to send, after the journal's say; updates `tally`."""
    content = message.content_hash
    done = journal.lookup(message.key) if journal is not None else {}
    todo, held, changed = [], False, False
    for recipient in message.recipients:
        state, old = done.get(recipient.lower(), (None, None))  # addresses compare case-blind
        if state == "sent" and old != content:
            changed = True
        elif state == "sent":
            continue
        elif state in ("unknown", "pending") and not options.resend_unknown:
            held = True
        else:
            todo.append(Delivery(message.key, recipient, content, message.row))
    tally.recipients += len(message.recipients)
    if changed:
        tally.changed += 1
        if len(tally.changed_keys) < MAX_PROBLEMS:
            tally.changed_keys.append(message.key)
        return []
    if todo:
        tally.new += 1
    elif held:
        tally.held += 1
    else:
        tally.skipped += 1
    return todo


def batches(job: Job, renderer: MessageRenderer, journal: Journal | None, options: SendOptions,
            tally: Tally, invalid: set[int], problems: ProblemLog | None = None) -> Iterator[Batch]:
    """Every request the job needs now, as `Batch`es (<= 500 recipients, identical content coalesced)."""
    batcher = Batcher()
    for message in _messages(job, renderer, tally, invalid, problems):
        todo = _deliveries(message, journal, options, tally)
        for batch in batcher.add(message, todo):
            tally.requests += 1
            yield batch
    for batch in batcher.flush():
        tally.requests += 1
        yield batch


class ProblemLog:
    """The first `limit` problems of a pass and how many there were in all (memory stays bounded)."""

    def __init__(self, limit: int = MAX_PROBLEMS):
        self.limit, self.kept, self.count = limit, [], 0

    def append(self, problem: Problem) -> None:
        self.count += 1
        if len(self.kept) < self.limit:
            self.kept.append(problem)

    def extend(self, problems) -> None:
        for problem in problems:
            self.append(problem)

    def __bool__(self) -> bool:
        return self.count > 0


def plan_job(job: Job, renderer: MessageRenderer, journal: Journal | None, options: SendOptions) -> tuple[Tally, set[int]]:
    """The plan pass. Returns (tally, invalid row numbers); `tally.problems` keeps the first 50
    problems. Raises `InvalidMessages` (up to 50 shown, all counted) unless `options.skip_invalid`."""
    tally, invalid, problems = Tally(), set(), ProblemLog()
    for _ in batches(job, renderer, journal, options, tally, invalid, problems):
        pass
    tally.invalid, tally.problems = len(invalid), problems.kept
    if problems and not options.skip_invalid:
        raise InvalidMessages(problems.kept, total=problems.count,
                              note=f"{job.path}: nothing was sent; fix the rows, or pass --skip-invalid to send "
                                   "the valid rest")
    return tally, invalid


@dataclass
class Outcome:
    """What the send pass did: final HTTP statuses of requests (`by_status`), 429s met on the way,
    `stopped` why it stopped early (None when it finished)."""

    by_status: dict[str, int] = field(default_factory=dict)
    status_429: int = 0
    attempts: int = 0
    requests: int = 0
    stopped: str | None = None
    fatal: Exception | None = None


class Sender:
    """Sends a job's batches through `client`, `concurrent_connections` at a time, journalling each
    request before it goes out and its outcome after. `progress(batch, result)` is called per request.

    Stops early on `AuthError` (nothing more could succeed), on Ctrl-C and when `stop` is set (Ctrl-C in
    another job of the run): requests in flight finish and are journalled, queued ones never start.
    """

    def __init__(self, job: Job, client, journal: Journal, progress: Callable[[Batch, SendResult], None] | None = None,
                 stop: threading.Event | None = None):
        self.job, self.client, self.journal = job, client, journal
        self.progress = progress or (lambda batch, result: None)
        self.outcome = Outcome()
        self._stop = stop or threading.Event()
        self._lock = threading.Lock()

    def _send(self, batch: Batch) -> None:
        if self._stop.is_set():
            return
        request_id = self.journal.begin(batch)
        try:
            result = self.client.send_message(batch.event_id, batch.text, batch.recipients, batch.slots)
        except AuthError as exc:
            result = SendResult("failed", exc.status, 1, error=str(exc), code=exc.code)
            self._stop.set()
            self.outcome.stopped, self.outcome.fatal = "authentication failed", exc
        except Interrupted as exc:  # never went out: the next run sends it
            result = SendResult("failed", None, 0, error=str(exc))
        except BaseException as exc:
            # Whether the request went out is not known: `unknown` is the state that never resends blindly.
            self.journal.finish(request_id, SendResult("unknown", None, 1,
                                                       error=f"{exc.__class__.__name__} raised while sending"))
            raise
        self.journal.finish(request_id, result)
        with self._lock:
            out = self.outcome
            out.requests += 1
            out.attempts += result.attempts
            out.status_429 += result.retried_429
            status = str(result.status) if result.status is not None else "no_response"
            out.by_status[status] = out.by_status.get(status, 0) + 1
        self.progress(batch, result)

    def run(self, batches_: Iterator[Batch]) -> Outcome:
        """Send every batch from `batches_`; return the `Outcome`."""
        workers = self.job.concurrent_connections
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"mwsync-{self.job.name}") as pool:
            inflight: set[Future] = set()
            try:
                for batch in batches_:
                    if self._stop.is_set():
                        self.outcome.stopped = self.outcome.stopped or "interrupted"
                        break
                    while len(inflight) >= 2 * workers:
                        done, inflight = wait(inflight, return_when=FIRST_COMPLETED)
                        for future in done:
                            future.result()
                    inflight.add(pool.submit(self._send, batch))
                for future in inflight:
                    future.result()
            except KeyboardInterrupt:
                self._stop.set()
                self.outcome.stopped = "interrupted"
                pool.shutdown(wait=True, cancel_futures=True)
        return self.outcome
