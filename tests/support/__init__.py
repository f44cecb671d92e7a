"""Helpers every tier shares: builders (`make_job`, `job_dict`, `make_message`, `rows`), the one `FakeClock`,
`max_in_window` (most starts in any window) and `REPO`, the checkout's root. Fixtures live in the conftest
of the tier that uses them."""

from .builders import (
    CLIENT_ENV,
    EVENT_ID,
    LISTENER_ID,
    LISTENER_SECRET,
    job_dict,
    listener_dict,
    make_job,
    make_listener_job,
    make_message,
    rows,
)
from .clock import FakeClock
from .paths import REPO
from .windows import max_in_window

__all__ = ["CLIENT_ENV", "EVENT_ID", "LISTENER_ID", "LISTENER_SECRET", "REPO", "FakeClock", "job_dict",
           "listener_dict", "make_job", "make_listener_job", "make_message", "max_in_window", "rows"]
