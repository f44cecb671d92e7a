"""Send a job's batches, `concurrent_connections` at a time, journalling each request around it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace

from ..errors import AuthError, Interrupted, JournalError, LimiterUnavailable, RunStopped
from ..records import Batch, Notify, SendResult
from ..wording import printable
from .stop import interrupt_all, interrupted_reason

#: Seconds requests already in flight get to finish once the run is stopping; then their connections
#: are cut (they become `unknown`), so Ctrl-C or SIGTERM ends the run within seconds.
STOP_GRACE_S = 10.0


@dataclass(frozen=True)
class SendSummary:
    """What the send pass did: `requests` made (final outcomes), `attempts` HTTP requests (retries
    included), `by_status` final HTTP status of each request (`no_response` when none came),
    `status_429` 429s met on the way, `stopped` why it stopped early (None when it finished),
    `stop_error` the error that stopped it (an `Interrupted`, `AuthError`, `Unreachable`, `JournalError`);
    `messages` this run's messages by outcome (`sent`, `failed`, `unknown`; a message in several requests
    takes its worst), as the sender saw them: the report's figures when the journal cannot be read any more;
    `unrecorded` messages whose outcome the journal failed to record (they stay `pending`: in doubt)."""

    requests: int = 0
    attempts: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    status_429: int = 0
    stopped: str | None = None
    stop_error: RunStopped | None = None
    messages: dict[str, int] = field(default_factory=dict)
    unrecorded: int = 0


class Sender:
    """Sends a job's batches through `client` (`send_message(event_id, text, recipients, slots,
    before_send=...) -> SendResult`; for a listener job's `Notify`s, `notify(listener_id, body,
    before_send=...)`), `workers` at a time. Each request's deliveries are journalled
    `pending` right before it goes out (`journal.begin(batch)`, from the client's `before_send`: after the
    rate-limit slot and the access token) and its outcome after (`journal.finish(request id, result)`).
    A request that never got that far (the run stopped first) is not journalled: the next run sends it.
    `progress(batch, result)` is called per request.

    Stops early, sending nothing more, on an error that stops the run (`RunStopped`: credentials refused,
    API unreachable, journal unusable), on Ctrl-C, and when `stop` is set (a signal, or another job of the
    run stopping): requests in flight get `STOP_GRACE_S` to finish and are journalled.
    """

    def __init__(self, client, journal, *, workers: int = 1, name: str = "job",
                 progress: Callable[[Batch, SendResult], None] | None = None, stop: threading.Event | None = None):
        self.client, self.journal, self.workers, self.name = client, journal, workers, name
        self.progress = progress or (lambda batch, result: None)
        self._stop = stop or threading.Event()
        self._lock = threading.Lock()
        self._counts = {"requests": 0, "attempts": 0, "status_429": 0}
        self._by_status: dict[str, int] = {}
        self._outcome: dict[str, str] = {}  # message key -> its worst outcome so far
        self._unrecorded: set[str] = set()
        self._stop_error: RunStopped | None = None

    def _stopping(self, error: RunStopped) -> None:
        with self._lock:
            if self._stop_error is None or isinstance(self._stop_error, Interrupted):
                self._stop_error = error
        self._stop.set()

    def _send(self, batch: Batch) -> None:
        if self._stop.is_set():
            return
        request_ids: list[str] = []

        def before_send() -> None:
            if not request_ids:
                request_ids.append(self.journal.begin(batch))

        try:
            result = self._request(batch, before_send)
        except RunStopped as exc:
            self._stopping(exc)
            if request_ids:  # it went out and was refused or never answered with a delivery: not sent
                status = getattr(exc, "status", None)
                self._finish(batch, request_ids[0], SendResult("failed", status, 1, error=str(exc),
                                                               code=getattr(exc, "code", None)))
                if status is not None:  # it was answered (a 401, a redirect): the report counts it
                    with self._lock:
                        self._counts["requests"] += 1
                        self._counts["attempts"] += 1
                        self._by_status[str(status)] = self._by_status.get(str(status), 0) + 1
            return
        except BaseException as exc:
            if request_ids:  # whether it went out is not known: `unknown` never resends blindly
                self._finish(batch, request_ids[0], SendResult("unknown", None, 1,
                                                               error=f"{exc.__class__.__name__} raised while sending"))
            raise
        if not request_ids:
            before_send()
        self._finish(batch, request_ids[0], result)
        with self._lock:
            self._counts["requests"] += 1
            self._counts["attempts"] += result.attempts
            self._counts["status_429"] += result.retried_429
            status = str(result.status) if result.status is not None else "no_response"
            self._by_status[status] = self._by_status.get(status, 0) + 1
        self.progress(batch, result)

    def _request(self, batch: Batch | Notify, before_send: Callable[[], None]) -> SendResult:
        """One request: a listener body (`client.notify`) or an event message (`client.send_message`)."""
        if isinstance(batch, Notify):
            return self.client.notify(batch.listener_id, batch.body, before_send=before_send)
        return self.client.send_message(batch.event_id, batch.text, batch.recipients, batch.slots,
                                        before_send=before_send)

    def _finish(self, batch: Batch | Notify, request_id: str, result: SendResult) -> None:
        keys = {delivery.key for delivery in batch.deliveries}
        if result.error or result.code:  # a server's text: one line, encodable (a lone surrogate broke SQLite)
            result = replace(result, error=result.error and printable(result.error, 2000),
                             code=result.code and printable(result.code, 100))
        try:
            self.journal.finish(request_id, result)
            recorded = True
        except JournalError as exc:  # the rows stay `pending`: the next run holds them as unknown
            self._stopping(exc)
            recorded = False
        with self._lock:
            for key in keys:
                state = result.state if recorded else "unknown"
                if WORSE[state] > WORSE.get(self._outcome.get(key, ""), -1):
                    self._outcome[key] = state
            if not recorded:
                self._unrecorded |= keys

    def run(self, batches: Iterable[Batch]) -> SendSummary:
        """Send every batch from `batches`; return the `SendSummary`. A `JournalError` reading the
        journal while planning the next batch stops the run like any `RunStopped`."""
        pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix=f"mwsync-{self.name}")
        inflight: set[Future] = set()
        try:
            for batch in batches:
                if self._stop.is_set():
                    break
                while len(inflight) >= 2 * self.workers:
                    done, inflight = wait(inflight, return_when=FIRST_COMPLETED)
                    for future in done:
                        future.result()
                inflight.add(pool.submit(self._send, batch))
        except RunStopped as exc:
            self._stopping(exc)
        except KeyboardInterrupt:
            interrupt_all()
            self._stopping(Interrupted(interrupted_reason()))
        finally:
            self._drain(pool, inflight)
        error = self._stop_error
        messages: dict[str, int] = {}
        for state in self._outcome.values():
            messages[state] = messages.get(state, 0) + 1
        return SendSummary(by_status=dict(self._by_status), stopped=_reason(error) if error else None,
                           stop_error=error, messages=messages, unrecorded=len(self._unrecorded), **self._counts)

    def _drain(self, pool: ThreadPoolExecutor, inflight: set[Future]) -> None:
        """Wait for the requests in flight: all of them, or `STOP_GRACE_S` once the run is stopping, after
        which their connections are cut. Re-raises what a request raised that is not ours."""
        grace_ends = None
        try:
            while inflight:
                done, inflight = wait(inflight, timeout=0.25)
                for future in done:
                    future.result()
                if self._stop.is_set() and inflight:
                    grace_ends = grace_ends or time.monotonic() + STOP_GRACE_S
                    if time.monotonic() >= grace_ends:
                        self.client.abort()
                        wait(inflight, timeout=STOP_GRACE_S)
                        break
        except KeyboardInterrupt:
            interrupt_all()
            self._stopping(Interrupted(interrupted_reason()))
            self.client.abort()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


WORSE = {"sent": 0, "failed": 1, "unknown": 2}  # a message in several requests reports its worst outcome


def _reason(error: RunStopped) -> str:
    """The report's `stopped` text for `error`."""
    if isinstance(error, Interrupted):
        return str(error) if str(error).startswith("interrupted") else interrupted_reason()
    if isinstance(error, JournalError):
        return f"journal unusable: {error}"
    if isinstance(error, LimiterUnavailable):
        return f"rate limiter unavailable: {error}"
    return f"{'authentication failed' if isinstance(error, AuthError) else 'API unreachable'}: {error}"
