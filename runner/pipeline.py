"""The pipeline: the only module that crosses stages.

    config (load_job) -> sources (rows) -> templates (render) -> plan (plan_pass, send_pass)
        -> send (client, Sender) -> journal -> report

`run_jobs` loads every job first (any bad job file: nothing is sent), gives each target one
`SlidingWindowLimiter` at the strictest of its jobs' profiles (Moveworks' rate limit is
organisation-wide, so jobs running side by side must not each spend the whole budget), runs
`concurrent_batch_executions` jobs at once (the largest among them), and starts the bundled mock server
on 127.0.0.1 when a job targets `embedded`.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path

from .config import Job, load_job, parse_throttle
from .errors import ConfigError, Problem, TemplateError
from .journal import JournalBackend, SqliteJournal
from .plan import Estimate, PlanSummary, SendOptions, no_journal, plan_pass, send_pass
from .records import Filtered, Rejected, RenderedMessage
from .report import JobReport, build_report, rate_warning
from .rules import API_DEFAULT_RATE, DEMO_CLIENT, EMBEDDED_RATE_LIMIT
from .send import Limiter, MoveworksClient, Sender, SlidingWindowLimiter
from .sources import iter_rows
from .templates import MessageRenderer


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
    """The job's `today`: `--today`, else `vars.today` (checked at load: `Job.today`), else the real date."""
    return options.today or job.today or dt.date.today()


def rendered(job: Job, renderer: MessageRenderer) -> Iterator[RenderedMessage | Filtered | Rejected]:
    """The job's source rows, rendered: a message, a row the filter dropped, or a row that failed to render."""
    for number, row in iter_rows(job.source):
        try:
            if not renderer.accepts(row, number):
                yield Filtered(number)
                continue
            yield renderer.render(row, number)
        except TemplateError as exc:
            yield Rejected(number, tuple(exc.problems))


class Progress:
    """Callbacks a front end implements to show a run; every method is optional to override."""

    def job_planned(self, job: Job, plan: PlanSummary) -> None:
        """The plan pass of `job` is done: `plan.requests` requests will be sent."""

    def request_done(self, job: Job, batch, result) -> None:
        """One request of `job` finished (any outcome)."""

    def job_finished(self, report: JobReport) -> None:
        """`job` is done."""


def _limiters(jobs: Sequence[Job], stop: threading.Event) -> dict[str, Limiter]:
    """One limiter per target, at the strictest (lowest calls/s) profile among the jobs using it.
    Their waits end early when `stop` is set (Ctrl-C), and the session then sends nothing more."""
    strictest = {}
    for job in jobs:
        current = strictest.get(job.subscription.target)
        if current is None or job.throttle.rate_per_s < current.rate_per_s:
            strictest[job.subscription.target] = job.throttle
    return {target: SlidingWindowLimiter(t.limit, t.window_s, sleep=stop.wait) for target, t in strictest.items()}


def _embedded(jobs: Sequence[Job], options: RunOptions, stack: ExitStack) -> str | None:
    """Start the bundled mock server when a job needs it; return its URL."""
    if not any(job.subscription.embedded for job in jobs):
        return None
    from .mock_server import MockServer  # only embedded runs need it

    limit = parse_throttle(options.embedded_rate_limit, flag="--embedded-rate-limit")
    server = MockServer(rate_limit=limit, clients=dict([DEMO_CLIENT]))
    stack.enter_context(server)
    return server.url


def _as_demo_client(job: Job) -> Job:
    """An embedded job runs as the mock's demo client, whatever credentials the job file names."""
    if not job.subscription.embedded:
        return job
    return replace(job, subscription=replace(job.subscription, client_id=DEMO_CLIENT[0],
                                             client_secret=DEMO_CLIENT[1], api_key=""))


def run_job(job: Job, *, base_url: str | None, limiter: Limiter, options: RunOptions,
            progress: Progress | None = None, stop: threading.Event | None = None) -> JobReport:
    """Plan, then send, one job to `base_url` (None only for a dry run); return its `JobReport`.

    Raises `MwsyncError` subclasses for bad input (nothing of this job is sent; jobs given before it
    may have sent theirs); `AuthError` and interruption (Ctrl-C, or `stop` set) are reported in the
    report (`stopped`), not raised."""
    progress = progress or Progress()
    started = time.monotonic()
    job = _as_demo_client(job)
    renderer = MessageRenderer(job, reference_date(job, options))
    journal = SqliteJournal(journal_path(job, options), target=job.subscription.target, job=job.name)
    try:
        recovered = journal.recover()
        plan = plan_pass(rendered(job, renderer), journal.lookup, options.send, label=job.source.label,
                         job_file=str(job.path))
        sent = None
        if not options.send.dry_run:
            progress.job_planned(job, plan)
        if not options.send.dry_run and plan.requests:
            sent = _send(job, plan, renderer, journal, base_url, limiter, options, progress, stop)
        report = build_report(job, plan, sent, journal, time.monotonic() - started, recovered=recovered,
                              dry_run=options.send.dry_run)
        progress.job_finished(report)
        return report
    finally:
        journal.close()


def _send(job: Job, plan: PlanSummary, renderer: MessageRenderer, journal: JournalBackend, base_url: str,
          limiter: Limiter, options: RunOptions, progress: Progress, stop: threading.Event | None):
    client = MoveworksClient(base_url, job.subscription, limiter, retry=job.retry,
                             pool_size=job.concurrent_connections, stop=stop)
    try:
        sender = Sender(client, journal, workers=job.concurrent_connections, name=job.name,
                        progress=lambda b, r: progress.request_done(job, b, r), stop=stop)
        return sender.run(send_pass(rendered(job, renderer), journal.lookup, options.send, plan))
    finally:
        client.close()


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


def plan_job(job: Job, options: RunOptions = RunOptions()) -> PlanSummary:
    """The plan pass of `job` without a journal, as if nothing was sent before: messages, recipients and
    requests after chunking and coalescing. Raises `InvalidMessages` listing the bad rows, `TemplateError`."""
    renderer = MessageRenderer(job, reference_date(job, options))
    return plan_pass(rendered(job, renderer), no_journal, SendOptions(), label=job.source.label,
                     job_file=str(job.path))


def plan_jobs(paths: Sequence[str | Path], options: RunOptions) -> list[dict]:
    """`mwsync plan`: per job, messages, recipients, requests after chunking and coalescing, and the
    estimated seconds under its profile and under Moveworks' default 120/min. No network, no journal.

    Returns `[{"job", "messages", "filtered", "recipients", "requests", "profile",
    "estimate_s": {"profile", "moveworks_default_120_per_min"}, "warning"?}]`."""
    out = []
    for job in load_jobs(paths, options, check_credentials=False):
        plan = plan_job(job, options)
        entry = {"job": job.name, "messages": plan.messages, "filtered": plan.filtered, "recipients": plan.recipients,
                 "requests": plan.requests, "profile": str(job.throttle),
                 "estimate_s": {"profile": Estimate(job.throttle, plan.requests).duration_s,
                                "moveworks_default_120_per_min": Estimate(API_DEFAULT_RATE, plan.requests).duration_s}}
        warning = rate_warning(job)
        if warning:
            entry["warning"] = warning
        out.append(entry)
    return out
