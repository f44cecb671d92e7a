"""mwsync: send outbound messages to Moveworks from version-controlled YAML jobs, throttled,
authenticated and exactly once.

The pipeline, one stage per package (data flows one way; `mwsync.pipeline` is the only module that
crosses stages)::

    config (job YAML -> Job) -> sources (rows) -> templates (Jinja) -> plan (limits, key ledger,
    journal decision, chunking, coalescing) -> send (auth + throttle + retry, one requests session)
    -> journal -> report

The public API, for use from Python (a pytest suite of your own, a notebook)::

    import mwsync

    job = mwsync.load_job("jobs/password-expiry.yaml")        # ConfigError lists every problem
    plan = mwsync.plan_job(job)                                # PlanSummary: messages, requests, ...
    with mwsync.MockServer(rate_limit="20/1") as server:       # the mock Moveworks API on 127.0.0.1
        [report] = mwsync.run_jobs([job.path], mwsync.RunOptions(api_url=server.url))
        assert report.exit_code == 0 and len(server.messages()) == report.requests["total"]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

from .config import Job, job_schema, load_job
from .errors import (
    AuthError,
    ConfigError,
    DeliveryError,
    InvalidMessages,
    JournalError,
    MwsyncError,
    TemplateError,
    UsageError,
)
from .pipeline import RunOptions, plan_job, plan_jobs, run_jobs
from .plan import PlanSummary, SendOptions
from .rate import Rate
from .report import JobReport

if TYPE_CHECKING:
    from .mock_server import MockServer

__all__ = [
    "AuthError", "ConfigError", "DeliveryError", "InvalidMessages", "Job", "JobReport", "JournalError", "MockServer",
    "MwsyncError", "PlanSummary", "Rate", "RunOptions", "SendOptions", "TemplateError", "UsageError", "__version__",
    "job_schema", "load_job", "plan_job", "plan_jobs", "run_jobs",
]


def __getattr__(name: str) -> Any:
    """`mwsync.MockServer` is imported on first use: the mock's web stack stays out of other commands."""
    if name == "MockServer":
        from .mock_server import MockServer

        return MockServer
    raise AttributeError(f"module 'mwsync' has no attribute {name!r}")
