"""`mwsync run` and `mwsync replay`: send what has not been sent."""

from __future__ import annotations

import signal
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import click

from ..errors import Interrupted, MwsyncError, UsageError
from ..redact import redact
from ..send.stop import interrupt_all, interrupted_reason
from .options import JOB_ARG, as_date, send_options
from .output import MAX_LISTED, failure_line, summary


def _check_writable(flag: str, path: Path | None) -> None:
    """Fail before anything is sent when a report could not be written after it (the file itself is not
    touched: it is replaced atomically at the end)."""
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path.parent):
            pass
    except OSError as exc:
        raise UsageError(f"{flag} {path}: cannot write there ({exc.strerror or exc}); choose another path") from None
    if path.is_dir():
        raise UsageError(f"{flag} {path}: is a folder; give a file name")


@contextmanager
def _signals_interrupt():
    """SIGTERM (CI cancellation, `timeout`, Kubernetes) and SIGHUP act as Ctrl-C does: requests in flight
    finish and are journalled, no new one starts, the reports are written. A signal ignored when mwsync
    started (`nohup`) stays ignored."""

    def interrupt(signum, frame):
        interrupt_all(signal.Signals(signum).name)
        raise KeyboardInterrupt

    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        if sig != signal.SIGTERM and signal.getsignal(sig) == signal.SIG_IGN:
            continue
        try:
            previous[sig] = signal.signal(sig, interrupt)
        except ValueError:  # not the main thread: leave signals alone
            break
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _write_reports(report: Path | None, junit: Path | None, reports, error=None) -> None:
    from ..report import write_json, write_junit

    for flag, path, write in (("--report", report, write_json), ("--junit", junit, write_junit)):
        if path is None:
            continue
        try:
            write(reports, path, error)
        except OSError as exc:
            click.echo(redact(f"error: {flag} {path}: cannot write the report ({exc.strerror or exc})"), err=True)


def _execute(jobs, *, source=None, profile, throttle, today, api_url, journal, limiter, lease_s, dry_run,
             skip_invalid, resend_unknown, report, junit, embedded_rate_limit, state_dir, new_journal) -> None:
    from ..pipeline import RunOptions, run_jobs
    from ..plan import SendOptions
    from ..report import run_exit_code
    from .progress import BarProgress, PlainProgress

    for flag, path in (("--report", report), ("--junit", junit)):
        _check_writable(flag, path)
    options = RunOptions(profile=profile, throttle=throttle, api_url=api_url, journal=journal, limiter=limiter,
                         lease_s=lease_s, today=as_date(today),
                         embedded_rate_limit=embedded_rate_limit, state_dir=state_dir, source=source,
                         new_journal=new_journal,
                         send=SendOptions(skip_invalid=skip_invalid, resend_unknown=resend_unknown, dry_run=dry_run))
    try:
        with _signals_interrupt():
            if sys.stderr.isatty():
                with BarProgress() as progress:
                    reports = run_jobs(jobs, options, progress)
            else:
                reports = run_jobs(jobs, options, PlainProgress())
    except MwsyncError as exc:
        _write_reports(report, junit, [], exc)
        raise
    except KeyboardInterrupt:
        error = Interrupted(f"{interrupted_reason()}; nothing was sent")
        _write_reports(report, junit, [], error)
        raise error from None
    for rep in reports:
        click.echo(redact(summary(rep)))
        for warning in rep.warnings:
            click.echo(redact(f"  warning: {warning}"))
        for failure in rep.failures[:MAX_LISTED]:
            click.echo(redact(failure_line(failure)))
        if len(rep.failures) > MAX_LISTED:
            click.echo(f"  ... and {len(rep.failures) - MAX_LISTED} more listed in --report / --junit "
                       "(up to 50 invalid rows and 100 messages; mwsync status JOB for the journal)")
    _write_reports(report, junit, reports)
    sys.exit(run_exit_code(reports))


@click.command()
@JOB_ARG
@send_options
def run(jobs, **options) -> None:
    """Send every message of each JOB that has not been sent yet."""
    _execute(jobs, **options)


@click.command()
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--job", "job_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Job giving the subscription, throttle, retry and message templates.")
@send_options
def replay(file, job_path, **options) -> None:
    """Replay a bulk message set (FILE: .csv or .jsonl, streamed row by row) through JOB.

    Without FILE the job's own source is replayed; FILE keeps the job's filter, encoding and delimiter.
    Each row is what the job's templates expect (e.g. idempotency_key, event_id, recipients, text, slots).
    Interrupted (Ctrl-C, kill -9), a re-run finishes the set with nothing sent twice.
    """
    _execute([job_path], source=file, **options)
