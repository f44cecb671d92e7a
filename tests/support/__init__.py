"""Helpers every tier shares: builders (`make_job`, `job_dict`, `make_message`, `rows`), the one
`FakeClock`, and `REPO`, the checkout's root. Fixtures live in the conftest of the tier that uses them."""

from .builders import CLIENT_ENV, EVENT_ID, job_dict, make_job, make_message, rows
from .clock import FakeClock
from .paths import REPO

__all__ = ["CLIENT_ENV", "EVENT_ID", "REPO", "FakeClock", "job_dict", "make_job", "make_message", "rows"]
