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

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

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

if TYPE_CHECKING:
    from .config import Job, job_schema, load_job
    from .mock_server import MockServer
    from .pipeline import RunOptions, plan_job, plan_jobs, run_jobs
    from .plan import PlanSummary, SendOptions
    from .rate import Rate
    from .report import JobReport

#: Where each public name lives; imported on first use (PEP 562), so `mwsync --help` or `mwsync validate`
#: does not pay for the web stack of the mock server, `requests` or the whole pipeline.
_LAZY = {"Job": "config", "job_schema": "config", "load_job": "config", "MockServer": "mock_server",
         "RunOptions": "pipeline", "plan_job": "pipeline", "plan_jobs": "pipeline", "run_jobs": "pipeline",
         "PlanSummary": "plan", "SendOptions": "plan", "Rate": "rate", "JobReport": "report"}

__all__ = [
    "AuthError", "ConfigError", "DeliveryError", "InvalidMessages", "Job", "JobReport", "JournalError", "MockServer",
    "MwsyncError", "PlanSummary", "Rate", "RunOptions", "SendOptions", "TemplateError", "UsageError", "__version__",
    "job_schema", "load_job", "plan_job", "plan_jobs", "run_jobs",
]


def __getattr__(name: str) -> Any:
    """The public names of `_LAZY`, imported from their stage on first use."""
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'mwsync' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
