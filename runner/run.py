"""Run several jobs: load them all, pick each one's target, share one limiter per target, send.

Jobs aimed at the same target share one `SlidingWindowLimiter`, set to the strictest of their
profiles: Moveworks' rate limit is organisation-wide, so two jobs running side by side must not
each spend the whole budget. `concurrent_batch_executions` (the largest among the jobs) is how many
jobs run at once; each job's `concurrent_connections` is how many of its requests are in flight.
With `api_url: embedded` a bundled mock server is started on 127.0.0.1 for the whole invocation.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

from .client import MoveworksClient
from .config import load_job, parse_throttle
from .errors import ConfigError, Problem
from .job import API_DEFAULT_LIMIT, EMBEDDED_CLIENT, Job, Throttle
from .journal import Journal
from .plan import Estimate
from .report import JobReport, build_report
from .send import SendOptions, Sender, Tally, batches, plan_job
from .templates import MessageRenderer
from .throttle import Limiter, SlidingWindowLimiter

#: The embedded mock's rate limit: Moveworks' 120/60 shape scaled to seconds so demos finish quickly.
EMBEDDED_RATE_LIMIT = "20/1"


@dataclass(frozen=True)
class RunOptions:
    """Command-line choices for `mwsync run` (see `mwsync run --help`)."""

    profile: str | None = None
    throttle: str | None = None
    api_url: str | None = None
    journal: Path | None = None
    state_dir: Path | None = None
    today: dt.date | None = None
    embedded_rate_limit: str = EMBEDDED_RATE_LIMIT
    source: Path | None = None
    send: SendOptions = SendOptions()


def load_jobs(paths: Sequence[str | Path], options: RunOptions, *, check_credentials: bool = True) -> list[Job]:
    """Load every job file; raise one `ConfigError` listing the problems of all of them.
    `check_credentials=False` for commands that send nothing (plan, status)."""
    jobs, problems = [], []
    for path in paths:
        try:
            jobs.append(load_job(path, profile=options.profile, throttle=options.throttle, api_url=options.api_url,
                                 source=options.source,
                                 check_credentials=check_credentials and not options.send.dry_run))
        except ConfigError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ConfigError(problems)
    names = [job.name for job in jobs]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ConfigError([Problem(str(job.path), "name", f"two jobs are named '{job.name}'; give each a unique name")
                           for job in jobs if job.name in duplicated])
    return jobs


def journal_path(job: Job, options: RunOptions) -> Path:
    """`--journal PATH` if given, else `<state dir>/journal/<job>.sqlite`, where the state dir is
    `--state-dir` (env MWSYNC_STATE_DIR) or `.mwsync` beside the job file: the same journal whatever
    the working directory, so running a job from elsewhere never sends it again."""
    state_dir = options.state_dir or job.path.resolve().parent / ".mwsync"
    return options.journal or state_dir / "journal" / f"{job.name}.sqlite"


def reference_date(job: Job, options: RunOptions) -> dt.date:
    """The job's `today`: `--today`, else `vars.today` (YYYY-MM-DD), else the real date."""
    if options.today:
        return options.today
    pinned = job.vars.get("today")
    if pinned:
        try:
            return dt.date.fromisoformat(str(pinned))
        except ValueError:
            raise ConfigError([Problem(str(job.path), "vars.today", "is not a date YYYY-MM-DD")]) from None
    return dt.date.today()


class Progress:
    """Callbacks a front end implements to show a run; every method is optional to override."""

    def job_planned(self, job: Job, tally: Tally) -> None:
        """The plan pass of `job` is done: `tally.requests` requests will be sent."""

    def request_done(self, job: Job, batch, result) -> None:
        """One request of `job` finished (any outcome)."""

    def job_finished(self, report: JobReport) -> None:
        """`job` is done."""


def _limiters(jobs: Sequence[Job], stop: threading.Event) -> dict[str, Limiter]:
    """One limiter per target, at the strictest (lowest calls/s) profile among the jobs using it.
    Their waits end early when `stop` is set (Ctrl-C), and the session then sends nothing more."""
    strictest: dict[str, Throttle] = {}
    for job in jobs:
        current = strictest.get(job.subscription.target)
        if current is None or job.throttle.rate_per_s < current.rate_per_s:
            strictest[job.subscription.target] = job.throttle
    return {target: SlidingWindowLimiter(t.limit, t.window_s, sleep=stop.wait) for target, t in strictest.items()}


def _embedded(jobs: Sequence[Job], options: RunOptions, stack: ExitStack) -> str | None:
    """Start the bundled mock server when a job needs it; return its URL."""
    if not any(job.subscription.embedded for job in jobs):
        return None
    from mock_server import MockServer  # only embedded runs need it

    limit = parse_throttle(options.embedded_rate_limit, flag="--embedded-rate-limit")
    server = MockServer(rate_limit=(limit.limit, limit.window_s), clients=dict([EMBEDDED_CLIENT]))
    stack.enter_context(server)
    return server.url


def run_job(job: Job, *, base_url: str | None, limiter: Limiter, options: RunOptions,
            progress: Progress | None = None, stop: threading.Event | None = None) -> JobReport:
    """Plan, then send, one job to `base_url` (None only for a dry run); return its `JobReport`.

    Raises `MwsyncError` subclasses for bad input (nothing of this job is sent; jobs given before it
    may have sent theirs); `AuthError` and interruption (Ctrl-C, or `stop` set) are reported in the
    report (`stopped`), not raised."""
    progress = progress or Progress()
    started = time.monotonic()
    if job.subscription.embedded:
        job = replace(job, subscription=replace(job.subscription, client_id=EMBEDDED_CLIENT[0],
                                                client_secret=EMBEDDED_CLIENT[1], api_key=""))
    renderer = MessageRenderer(job, reference_date(job, options))
    journal = Journal(journal_path(job, options), target=job.subscription.target, job=job.name)
    try:
        recovered = journal.recover()
        plan, invalid = plan_job(job, renderer, journal, options.send)
        if not options.send.dry_run:
            progress.job_planned(job, plan)
        if options.send.dry_run or plan.requests == 0:
            report = build_report(job, plan, None, journal, time.monotonic() - started, recovered=recovered,
                                  dry_run=options.send.dry_run)
            progress.job_finished(report)
            return report
        client = MoveworksClient(base_url, job.subscription, limiter, retry=job.retry,
                                 pool_size=job.concurrent_connections, stop=stop)
        try:
            tally = Tally(invalid=plan.invalid, problems=plan.problems)
            sender = Sender(job, client, journal, lambda b, r: progress.request_done(job, b, r), stop=stop)
            outcome = sender.run(batches(job, renderer, journal, options.send, tally, invalid))
        finally:
            client.close()
        report = build_report(job, tally, outcome, journal, time.monotonic() - started, recovered=recovered)
        progress.job_finished(report)
        return report
    finally:
        journal.close()


def run_jobs(paths: Sequence[str | Path], options: RunOptions, progress: Progress | None = None) -> list[JobReport]:
    """Load, then run, every job in `paths`; return their reports in the order given.

    Raises `ConfigError` (any job file invalid: nothing is sent) and the first bad-input
    `MwsyncError` a job raises."""
    jobs = load_jobs(paths, options)
    stop = threading.Event()  # Ctrl-C anywhere stops every job: no new request starts
    limiters = _limiters(jobs, stop)
    parallel = max(job.concurrent_batch_executions for job in jobs)
    with ExitStack() as stack:
        embedded_url = None if options.send.dry_run else _embedded(jobs, options, stack)


        def one(job: Job) -> JobReport | None:
            if stop.is_set():
                return None
            url = job.subscription.api_url or embedded_url
            report = run_job(job, base_url=url, limiter=limiters[job.subscription.target], options=options,
                             progress=progress, stop=stop)
            if report.stopped == "interrupted":
                stop.set()
            return report

        if parallel == 1 or len(jobs) == 1:
            reports = [one(job) for job in jobs]
        else:
            with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="mwsync-job") as pool:
                futures = [pool.submit(one, job) for job in jobs]
                try:
                    reports = [future.result() for future in futures]
                except KeyboardInterrupt:
                    stop.set()
                    reports = [future.result() for future in futures]
        return [report for report in reports if report is not None]


def plan_jobs(paths: Sequence[str | Path], options: RunOptions) -> list[dict]:
    """`mwsync plan`: per job, messages, recipients, requests after chunking and coalescing, and the
    estimated seconds under its profile and under Moveworks' default 120/min. No network, no journal.

    Returns `[{"job", "messages", "filtered", "recipients", "requests", "profile",
    "estimate_s": {"profile", "moveworks_default_120_per_min"}, "warning"?}]`."""
    api = Throttle("moveworks_default", *API_DEFAULT_LIMIT)
    out = []
    for job in load_jobs(paths, options, check_credentials=False):
        tally, _ = plan_job(job, MessageRenderer(job, reference_date(job, options)), None, SendOptions())
        entry = {"job": job.name, "messages": tally.total, "filtered": tally.filtered, "recipients": tally.recipients,
                 "requests": tally.requests, "profile": str(job.throttle),
                 "estimate_s": {"profile": Estimate(job.throttle, tally.requests).duration_s,
                                "moveworks_default_120_per_min": Estimate(api, tally.requests).duration_s}}
        if job.throttle.rate_per_s > api.rate_per_s and not job.subscription.embedded:
            entry["warning"] = (f"profile {job.throttle} exceeds Moveworks' default 120/min: a tenant without a "
                                "raised limit answers 429s (recovered, but slower)")
        out.append(entry)
    return out
