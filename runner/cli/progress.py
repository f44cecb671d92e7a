"""Showing a run: a rich progress bar (rate and ETA) on a terminal, log lines elsewhere (CI), and a recorder
of every request for `--html`."""

from __future__ import annotations

import logging
import threading
import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, ProgressColumn, TaskID, TextColumn, TimeRemainingColumn
from rich.progress import Progress as RichProgress
from rich.text import Text

from ..config.job import Job
from ..pipeline import Progress
from ..records import Attempt

log = logging.getLogger("mwsync.progress")


class PlainProgress(Progress):
    """One log line (INFO, logger `mwsync.progress`) when a job starts, one every `every_s` seconds while
    it sends, none per request: `-q` silences them, `--log-format json` makes them JSON."""

    def __init__(self, every_s: float = 10.0):
        self.every_s = every_s
        self._state: dict[str, list] = {}
        self._lock = threading.Lock()

    def job_planned(self, job: Job, plan) -> None:
        self._state[job.name] = [0, plan.requests, time.monotonic(), time.monotonic()]
        if plan.requests:
            log.info("%s: sending %d messages in %d requests (%s)", job.name, plan.to_send, plan.requests,
                     job.throttle, extra={"job": job.name, "requests_planned": plan.requests})

    def request_done(self, job: Job, batch, result) -> None:
        with self._lock:
            state = self._state[job.name]
            state[0] += 1
            now = time.monotonic()
            if now - state[3] >= self.every_s:
                state[3] = now
                rate = state[0] / max(1e-9, now - state[2])
                log.info("%s: %d/%d requests, %.1f/s", job.name, state[0], state[1], rate,
                         extra={"job": job.name, "requests_done": state[0], "requests_planned": state[1]})


class Recorder(Progress):
    """Forwards every call to `inner` (the bar or the log lines) and keeps each job's HTTP requests
    (`Attempt`s, at most `max_attempts` a job) for `--html`."""

    def __init__(self, inner: Progress | None = None, max_attempts: int = 200_000):
        self.inner = inner or Progress()
        self.max_attempts = max_attempts
        self.attempts: dict[str, list[Attempt]] = {}
        self._lock = threading.Lock()

    def job_planned(self, job: Job, plan) -> None:
        self.inner.job_planned(job, plan)

    def request_done(self, job: Job, batch, result) -> None:
        log.debug("%s: %d recipients -> %s (%s attempts, %.0f ms)%s", job.name, len(batch.recipients),
                  result.status or result.state, result.attempts, result.latency_ms,
                  f": {result.error}" if result.error else "", extra={"job": job.name})
        self.inner.request_done(job, batch, result)

    def attempt(self, job: Job, attempt: Attempt) -> None:
        with self._lock:
            kept = self.attempts.setdefault(job.name, [])
            if len(kept) < self.max_attempts:
                kept.append(attempt)

    def job_finished(self, report) -> None:
        self.inner.job_finished(report)


class _RateColumn(ProgressColumn):
    """Requests per second, as rich measures it over the last seconds."""

    def render(self, task) -> Text:
        return Text(f"{task.speed:.1f}/s" if task.speed else "-/s")


class BarProgress(Progress):
    """A rich progress bar per job, with rate and ETA (for terminals)."""

    def __init__(self, console: Console | None = None):
        self._bar = RichProgress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("requests"), _RateColumn(), TimeRemainingColumn(),
                                 console=console or Console(stderr=True), transient=True)
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> BarProgress:
        self._bar.start()
        return self

    def __exit__(self, *exc) -> None:
        self._bar.stop()

    def job_planned(self, job: Job, plan) -> None:
        if plan.requests:
            self._tasks[job.name] = self._bar.add_task(job.name, total=plan.requests)

    def request_done(self, job: Job, batch, result) -> None:
        self._bar.advance(self._tasks[job.name])
