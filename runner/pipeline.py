"""The pipeline: the only module that crosses stages.

    config (load_job) -> sources (rows) -> templates (render) -> plan (plan_pass, send_pass)
        -> send (client, Sender) -> journal -> report

`run_jobs` loads every job first (any bad job file: nothing is sent), gives each organisation-wide budget
one limiter (in-process, or shared through Redis: `mwsync.state`) at the strictest of its jobs' profiles
(Moveworks' rate limits are organisation-wide, so jobs running side by side must not each spend the whole
budget; listener jobs spend the listeners' budget, apart from the Events API's), runs
`concurrent_batch_executions` jobs at once (the largest among them), and starts the bundled mock server on
127.0.0.1 when a job targets `embedded` (registering each embedded listener job's listener).
"""

from __future__ import annotations

import datetime as dt
import functools
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from .config import Job, load_job
from .embedded import as_demo_client, start_embedded
from .errors import ConfigError, Interrupted, Problem, ProblemList, TemplateError
from .journal import JournalBackend
from .payload import PayloadRenderer
from .plan import PlanSummary, SendOptions, no_journal, plan_pass, send_pass
from .records import Attempt, Filtered, Rejected, RenderedMessage, RenderedPayload
from .redact import SECRETS, redact
from .report import JobReport, build_report, plan_estimates, plan_warnings
from .rules import EMBEDDED_RATE_LIMIT, listener_limit
from .send.stop import StopSignal, interrupted_reason, running
from .send.throttle import Limiter  # no `requests`: plan and validate stay light
from .sources import iter_rows
from .state import check_ci_journal, journal_location, open_dry_run_journal, open_job_journal, open_limiters
from .templates import MessageRenderer

Renderer = MessageRenderer | PayloadRenderer


@dataclass(frozen=True)
class RunOptions:
    """Command-line choices for `mwsync run` (see `mwsync run --help`). `journal`: a file path or a
    `postgresql://` URL; `limiter`: a `redis://` URL (None: in-process); `lease_s`: a shared journal's
    lease (None: 30 s)."""

    profile: str | None = None
    throttle: str | None = None
    api_url: str | None = None
    journal: Path | str | None = None
    limiter: str | None = None
    lease_s: float | None = None
    state_dir: Path | None = None
    today: dt.date | None = None
    embedded_rate_limit: str = EMBEDDED_RATE_LIMIT
    source: Path | None = None
    new_journal: bool = False
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


journal_path = journal_location  # the name earlier versions exported


def reference_date(job: Job, options: RunOptions) -> dt.date:
    """The job's `today`: `--today`, else `vars.today` (checked at load: `Job.today`), else the real date."""
    return options.today or job.today or dt.date.today()


def renderer_for(job: Job, today: dt.date | None = None) -> Renderer:
    """The job's renderer: message templates for an event job, the payload tree for a listener job. Raises
    `TemplateError` for syntax errors."""
    return PayloadRenderer(job, today) if job.listener is not None else MessageRenderer(job, today)


def rendered(job: Job, renderer: Renderer) -> Iterator[RenderedMessage | RenderedPayload | Filtered | Rejected]:
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

    def attempt(self, job: Job, attempt: Attempt) -> None:
        """One HTTP request of `job` went out and ended (`Attempt`: token requests and retries too); called
        from the sending threads."""

    def job_finished(self, report: JobReport) -> None:
        """`job` is done."""




@dataclass
class _Planned:
    """A job whose journal is open (and locked) and whose plan pass is done."""

    job: Job
    renderer: Renderer
    journal: JournalBackend
    plan: PlanSummary
    recovered: int
    started: float
    tally: dict[str, int] = field(default_factory=dict)  # the send pass's: messages left to other runners


def _prepare(job: Job, options: RunOptions, stack: ExitStack) -> _Planned:
    """Open `job`'s journal (closed by `stack`), recover rows an earlier run left in flight, plan.
    Raises `InvalidMessages`, `TemplateError`, `JournalError`."""
    started = time.monotonic()
    job = as_demo_client(job)
    renderer = renderer_for(job, reference_date(job, options))
    if not options.send.dry_run:
        check_ci_journal(job, journal_location(job, options), options)
        journal = open_job_journal(job, options)
    else:
        journal = open_dry_run_journal(job, options, stack)
    stack.callback(journal.close)
    recovered = journal.recover()
    plan = plan_pass(rendered(job, renderer), journal.lookup, options.send, label=job.source.label,
                     job_file=str(job.path))
    return _Planned(job, renderer, journal, plan, recovered, started)


def _send(planned: _Planned, base_url: str | None, limiter: Limiter, options: RunOptions,
          progress: Progress, stop: StopSignal) -> JobReport:
    """The send pass of a planned job, then its report."""
    job, plan, journal = planned.job, planned.plan, planned.journal
    from .send.sender import SendSummary, Sender  # `requests` and oauthlib: only a run that sends needs them

    sent = None
    if not options.send.dry_run:
        progress.job_planned(job, plan)
    if not options.send.dry_run and plan.requests and stop.is_set():  # the run stopped before this job
        sent = SendSummary(stopped=interrupted_reason(), stop_error=Interrupted(interrupted_reason()))
    elif not options.send.dry_run and plan.requests:
        client = _client(job, base_url, limiter, stop, on_attempt=lambda attempt: progress.attempt(job, attempt))
        try:
            sender = Sender(client, journal, workers=job.concurrent_connections, name=job.name,
                            progress=lambda b, r: progress.request_done(job, b, r), stop=stop)
            claim = functools.partial(journal.claim, resend_unknown=options.send.resend_unknown)
            sent = sender.run(send_pass(rendered(job, planned.renderer), journal.lookup, options.send, plan,
                                        claim=claim, tally=planned.tally))
        finally:
            client.close()
    report = build_report(job, plan, sent, journal, time.monotonic() - planned.started,
                          recovered=planned.recovered, dry_run=options.send.dry_run,
                          elsewhere=planned.tally.get("elsewhere", 0) if sent is not None else plan.elsewhere)
    progress.job_finished(report)
    return report


def _client(job: Job, base_url: str, limiter: Limiter, stop: StopSignal, on_attempt: Callable[[Attempt], None]):
    """The job's client (a `MoveworksClient`): the Events API's, or a listener's with the job's auth mode.
    Imported here: `requests` and oauthlib are for runs that send."""
    from .send.client import MoveworksClient
    from .send.listener import ListenerClient

    settings = dict(retry=job.retry, pool_size=job.concurrent_connections, stop=stop, on_token=SECRETS.add,
                    on_attempt=on_attempt)
    if job.listener is not None:
        return ListenerClient(base_url, job.subscription, limiter, listener=job.listener, **settings)
    return MoveworksClient(base_url, job.subscription, limiter, **settings)


def run_job(job: Job, *, base_url: str | None, limiter: Limiter, options: RunOptions,
            progress: Progress | None = None, stop: StopSignal | None = None) -> JobReport:
    """Plan, then send, one job to `base_url` (None only for a dry run); return its `JobReport`.

    Raises `MwsyncError` subclasses for bad input (nothing is sent) and `JournalError` when its journal
    cannot be opened; what stops the send pass (credentials refused, API unreachable, the journal failing,
    Ctrl-C) is in the report (`stopped`), not raised."""
    with ExitStack() as stack:
        planned = _prepare(job, options, stack)
        return _send(planned, base_url, limiter, options, progress or Progress(), StopSignal(stop))


def _prepare_all(jobs: Sequence[Job], options: RunOptions, stack: ExitStack) -> list[_Planned]:
    """Plan every job before any is sent: a bad row in any job means nothing is sent. Raises one
    `ProblemList` (of the first error's kind) with every job's problems."""
    planned, errors = [], []
    for job in jobs:
        try:
            planned.append(_prepare(job, options, stack))
        except ProblemList as exc:
            errors.append(exc)
    if errors:
        first = errors[0]
        raise type(first)([p for e in errors for p in e.problems], total=sum(e.total for e in errors),
                          note=first.note if len(errors) == 1 else "nothing was sent; fix the jobs' problems above")
    return planned


def run_jobs(paths: Sequence[str | Path], options: RunOptions, progress: Progress | None = None) -> list[JobReport]:
    """Load and plan every job in `paths`, then send them; return their reports in the order given.

    Raises `ConfigError`, `TemplateError`, `InvalidMessages` (any job: nothing is sent), `JournalError` (a
    journal cannot be opened: nothing is sent) and `Interrupted` (Ctrl-C before sending began)."""
    progress = progress or Progress()
    jobs = load_jobs(paths, options)
    stop = StopSignal()  # Ctrl-C anywhere stops every job: no new request starts
    parallel = max(job.concurrent_batch_executions for job in jobs)
    with ExitStack() as stack:
        stack.enter_context(running(stop))
        try:
            planned = _prepare_all(jobs, options, stack)
        except KeyboardInterrupt:
            raise Interrupted(interrupted_reason() + " while planning; nothing was sent") from None
        embedded_url = None if options.send.dry_run else start_embedded(jobs, options.embedded_rate_limit, stack)
        limiters = open_limiters(jobs, options, stop) if not options.send.dry_run else {}
        for limiter in limiters.values():
            if hasattr(limiter, "close"):
                stack.callback(limiter.close)

        def one(item: _Planned) -> JobReport:
            url = item.job.subscription.api_url or embedded_url
            return _send(item, url, limiters.get(item.job.rate_scope), options, progress, StopSignal(stop))

        if parallel == 1 or len(planned) == 1:
            reports = []
            for item in planned:
                try:
                    reports.append(one(item))
                except KeyboardInterrupt:
                    stop.set()
                    reports.append(one(item))
            return reports
        with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="mwsync-job") as pool:
            futures = [pool.submit(one, item) for item in planned]
            while True:
                try:
                    return [future.result() for future in futures]
                except KeyboardInterrupt:
                    stop.set()


def plan_job(job: Job, options: RunOptions = RunOptions()) -> PlanSummary:
    """The plan pass of `job` without a journal, as if nothing was sent before: messages, recipients and
    requests after chunking and coalescing. Raises `InvalidMessages` listing the bad rows, `TemplateError`."""
    renderer = renderer_for(job, reference_date(job, options))
    return plan_pass(rendered(job, renderer), no_journal, SendOptions(), label=job.source.label,
                     job_file=str(job.path))


def plan_jobs(paths: Sequence[str | Path], options: RunOptions) -> list[dict]:
    """`mwsync plan`: per job, messages, recipients, requests after chunking and coalescing, the estimated
    seconds under its profile and under the documented limit (Moveworks' default 120/min for an event job,
    the listener's limit for its auth mode for a listener job: `report.plan_estimates`), and the warnings a
    run would give (`report.plan_warnings`, the same function). No network, no journal.

    Returns `[{"job", "file", "target" (the API URL, or `embedded`, as in every other report), "kind":
    "event" | "listener", "messages", "filtered", "recipients", "requests",
    "profile", "estimate_s": {"profile", "moveworks_default_120_per_min" | "listener_limit"},
    "warnings": [...]}]` (a listener job also has `"listener": {"id", "auth", "limit"}`)."""
    out = []
    for job in load_jobs(paths, options, check_credentials=False):
        plan = plan_job(job, options)
        entry = {"job": job.name, "file": str(job.path), "target": job.target,
                 "kind": "listener" if job.listener else "event",
                 "messages": plan.messages,
                 "filtered": plan.filtered, "recipients": plan.recipients, "requests": plan.requests,
                 "profile": str(job.throttle), "estimate_s": plan_estimates(job, plan),
                 "warnings": [redact(w) for w in plan_warnings(job, plan)]}
        if job.listener is not None:
            entry["listener"] = {"id": job.listener.listener_id, "auth": job.listener.auth,
                                 "limit": str(listener_limit(job.listener.auth))}
        out.append(entry)
    return out
