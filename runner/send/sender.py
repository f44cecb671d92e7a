"""Send a job's batches, `concurrent_connections` at a time, journalling each request around it."""

from __future__ import annotations

import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Callable, Iterable

from ..errors import AuthError, Interrupted
from ..records import Batch, SendResult


@dataclass(frozen=True)
class SendSummary:
    """What the send pass did: `requests` made (final outcomes), `attempts` HTTP requests (retries
    included), `by_status` final HTTP status of each request (`no_response` when none came),
    `status_429` 429s met on the way, `stopped` why it stopped early (None when it finished)."""

    requests: int = 0
    attempts: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    status_429: int = 0
    stopped: str | None = None


class Sender:
    """Sends a job's batches through `client` (`send_message(event_id, text, recipients, slots) ->
    SendResult`), `workers` at a time, journalling each request before it goes out and its outcome
    after (`journal.begin(batch) -> request id`, `journal.finish(request id, result)`).
    `progress(batch, result)` is called per request.

    Stops early on `AuthError` (nothing more could succeed), on Ctrl-C and when `stop` is set (Ctrl-C in
    another job of the run): requests in flight finish and are journalled, queued ones never start.
    """

    def __init__(self, client, journal, *, workers: int = 1, name: str = "job",
                 progress: Callable[[Batch, SendResult], None] | None = None, stop: threading.Event | None = None):
        self.client, self.journal, self.workers, self.name = client, journal, workers, name
        self.progress = progress or (lambda batch, result: None)
        self._stop = stop or threading.Event()
        self._lock = threading.Lock()
        self._counts = {"requests": 0, "attempts": 0, "status_429": 0}
        self._by_status: dict[str, int] = {}
        self._stopped: str | None = None

    def _send(self, batch: Batch) -> None:
        if self._stop.is_set():
            return
        request_id = self.journal.begin(batch)
        try:
            result = self.client.send_message(batch.event_id, batch.text, batch.recipients, batch.slots)
        except AuthError as exc:
            result = SendResult("failed", exc.status, 1, error=str(exc), code=exc.code)
            self._stop.set()
            self._stopped = "authentication failed"
        except Interrupted as exc:  # never went out: the next run sends it
            result = SendResult("failed", None, 0, error=str(exc))
        except BaseException as exc:
            # Whether the request went out is not known: `unknown` is the state that never resends blindly.
            self.journal.finish(request_id, SendResult("unknown", None, 1,
                                                       error=f"{exc.__class__.__name__} raised while sending"))
            raise
        self.journal.finish(request_id, result)
        with self._lock:
            self._counts["requests"] += 1
            self._counts["attempts"] += result.attempts
            self._counts["status_429"] += result.retried_429
            status = str(result.status) if result.status is not None else "no_response"
            self._by_status[status] = self._by_status.get(status, 0) + 1
        self.progress(batch, result)

    def run(self, batches: Iterable[Batch]) -> SendSummary:
        """Send every batch from `batches`; return the `SendSummary`."""
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix=f"mwsync-{self.name}") as pool:
            inflight: set[Future] = set()
            try:
                for batch in batches:
                    if self._stop.is_set():
                        self._stopped = self._stopped or "interrupted"
                        break
                    while len(inflight) >= 2 * self.workers:
                        done, inflight = wait(inflight, return_when=FIRST_COMPLETED)
                        for future in done:
                            future.result()
                    inflight.add(pool.submit(self._send, batch))
                for future in inflight:
                    future.result()
            except KeyboardInterrupt:
                self._stop.set()
                self._stopped = "interrupted"
                pool.shutdown(wait=True, cancel_futures=True)
        return SendSummary(by_status=dict(self._by_status), stopped=self._stopped,
                           **self._counts)
