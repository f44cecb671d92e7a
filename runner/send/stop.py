"""`StopSignal`: "stop sending" for a run and each of its jobs.

A job stops on its own (its credentials were refused, its journal became unusable) without stopping the
other jobs of the run; the run stops (Ctrl-C, SIGTERM, SIGHUP) and every job stops with it. So each job
has a child signal of the run's: setting the parent sets every child, setting a child leaves the parent.
It quacks like `threading.Event` (`set`, `is_set`, `wait`), which is what the limiter, the session and
tenacity's `stop_when_event_set` expect.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class StopSignal:
    """A settable flag, optionally the child of `parent` (set when the parent is set)."""

    def __init__(self, parent: StopSignal | None = None):
        self._event = threading.Event()
        self._children: list[StopSignal] = []
        self._lock = threading.Lock()
        if parent is not None:
            with parent._lock:
                parent._children.append(self)
            if parent.is_set():
                self._event.set()

    def set(self) -> None:
        """Stop this signal and every child."""
        self._event.set()
        with self._lock:
            children = list(self._children)
        for child in children:
            child.set()

    def is_set(self) -> bool:
        """True once set (directly or by the parent)."""
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Sleep up to `timeout` seconds, less when the signal is set; return whether it is set."""
        return self._event.wait(timeout)


_last_signal: list[str] = []  # the name of the signal that interrupted the run, once one did
_runs: set[StopSignal] = set()  # the stop signals of the runs going on in this process


@contextmanager
def running(stop: StopSignal) -> Iterator[StopSignal]:
    """Register `stop` as a run's signal while the block runs: `interrupt_all()` sets it."""
    _runs.add(stop)
    try:
        yield stop
    finally:
        _runs.discard(stop)


def interrupt_all(signal_name: str | None = None) -> None:
    """Ctrl-C or a signal: stop every run of this process (and so every job of each), noting the signal's
    name (e.g. `SIGTERM`) for the reports."""
    if signal_name:
        _last_signal[:] = [signal_name]
    for stop in list(_runs):
        stop.set()


def interrupted_reason() -> str:
    """`interrupted`, with the signal when one was noted: `interrupted (SIGTERM)`."""
    return f"interrupted ({_last_signal[0]})" if _last_signal else "interrupted"
