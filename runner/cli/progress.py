"""Showing a run: a rich progress bar (rate and ETA) on a terminal, plain log lines elsewhere (CI)."""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, ProgressColumn, TaskID, TextColumn, TimeRemainingColumn
from rich.progress import Progress as RichProgress
from rich.text import Text

from ..config.job import Job
from ..pipeline import Progress


class PlainProgress(Progress):
    """One line when a job starts, one every `every_s` seconds while it sends, none per request."""

    def __init__(self, stream: TextIO = sys.stderr, every_s: float = 10.0):
        self.stream, self.every_s = stream, every_s
        self._state: dict[str, list] = {}
        self._lock = threading.Lock()

    def job_planned(self, job: Job, plan) -> None:
        self._state[job.name] = [0, plan.requests, time.monotonic(), time.monotonic()]
        if plan.requests:
            print(f"{job.name}: sending {plan.to_send} messages in {plan.requests} requests "
                  f"({job.throttle})", file=self.stream, flush=True)

    def request_done(self, job: Job, batch, result) -> None:
        with self._lock:
            state = self._state[job.name]
            state[0] += 1
            now = time.monotonic()
            if now - state[3] >= self.every_s:
                state[3] = now
                rate = state[0] / max(1e-9, now - state[2])
                print(f"{job.name}: {state[0]}/{state[1]} requests, {rate:.1f}/s", file=self.stream, flush=True)


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
