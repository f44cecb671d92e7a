"""`mwsync run` and `mwsync replay`: send what has not been sent."""

from __future__ import annotations

import logging
import signal
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import click

from ..errors import InternalError, Interrupted, MwsyncError, UsageError
from ..redact import redact
from .options import JOB_ARG, as_date, send_options
from .output import MAX_LISTED, failure_line, summary

STDOUT = Path("-")


def _check_writable(flag: str, path: Path | None) -> None:
    """Fail before anything is sent when a report could not be written after it (the file itself is not
    touched: it is replaced atomically at the end). `-` is stdout."""
    if path is None or path == STDOUT:
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

    from ..send.stop import interrupt_all

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


def _write_reports(paths: dict[str, Path | None], reports, error=None, timeline=None) -> None:
    """Write each report asked for (`{"--report": path, "--junit": path, "--html": path}`), `-` to stdout; a
    report that cannot be written is an error line on stderr, never a lost run."""
    from ..report import json_report_text, write_atomic

    for flag, path in paths.items():
        if path is None:
            continue
        try:
            if flag == "--report":
                text = json_report_text(reports, error)
            elif flag == "--junit":
                from ..junit import junit_text

                text = junit_text(reports, error)
            else:
                from ..htmlreport import html_text

                text = html_text(reports, error, timeline)
            if path == STDOUT:
                click.echo(text, nl=False)
            else:
                write_atomic(path, text)
        except OSError as exc:
            click.echo(redact(f"error: {flag} {path}: cannot write the report ({exc.strerror or exc})"), err=True)


def _run(jobs, options, paths: dict[str, Path | None]):
    """`run_jobs` under the signal handlers, with a progress bar on a terminal (log lines elsewhere) and a
    `Recorder` of every request for `--html`; the reports of an error before sending are written here.
    Returns `(reports, recorder)`."""
    from ..pipeline import run_jobs
    from ..send.stop import interrupted_reason
    from .progress import BarProgress, PlainProgress, Recorder

    recorder = Recorder()
    try:
        with _signals_interrupt():
            if sys.stderr.isatty():
                with BarProgress() as recorder.inner:
                    return run_jobs(jobs, options, recorder), recorder
            recorder.inner = PlainProgress()
            return run_jobs(jobs, options, recorder), recorder
    except MwsyncError as exc:
        _write_reports(paths, [], exc, recorder)
        raise
    except click.exceptions.Exit:
        raise
    except Exception as exc:  # a bug: the reports still say what happened, and the group prints it
        logging.getLogger("mwsync").debug("internal error", exc_info=True)
        error = InternalError.of(exc)
        _write_reports(paths, [], error, recorder)
        raise error from None
    except KeyboardInterrupt:
        error = Interrupted(f"{interrupted_reason()}; nothing was sent")
        _write_reports(paths, [], error, recorder)
        raise error from None


def _execute(jobs, *, source=None, profile, throttle, today, api_url, journal, limiter, lease_s, dry_run,
             skip_invalid, resend_unknown, report, junit, html, embedded_rate_limit, state_dir, new_journal) -> None:
    from ..pipeline import RunOptions
    from ..plan import SendOptions
    from ..report import run_exit_code

    paths = {"--report": report, "--junit": junit, "--html": html}
    if report == STDOUT and junit == STDOUT:
        raise UsageError("--report - and --junit - would both write to stdout; give one of them a file")
    for flag, path in paths.items():
        _check_writable(flag, path)
    err = STDOUT in (report, junit)  # stdout carries the report: the human summary goes to stderr
    options = RunOptions(profile=profile, throttle=throttle, api_url=api_url, journal=journal, limiter=limiter,
                         lease_s=lease_s, today=as_date(today),
                         embedded_rate_limit=embedded_rate_limit, state_dir=state_dir, source=source,
                         new_journal=new_journal,
                         send=SendOptions(skip_invalid=skip_invalid, resend_unknown=resend_unknown, dry_run=dry_run))
    reports, recorder = _run(jobs, options, paths)
    for rep in reports:
        click.echo(redact(summary(rep)), err=err)
        for warning in rep.warnings:
            click.echo(redact(f"  warning: {warning}"), err=err)
        for failure in rep.failures[:MAX_LISTED]:
            click.echo(redact(failure_line(failure)), err=err)
        if len(rep.failures) > MAX_LISTED:
            click.echo(f"  ... and {len(rep.failures) - MAX_LISTED} more listed in --report / --junit "
                       "(up to 50 invalid rows and 100 messages; mwsync status JOB for the journal)", err=err)
    _write_reports(paths, reports, timeline=recorder)
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
