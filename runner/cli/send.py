"""`mwsync run` and `mwsync replay`: send what has not been sent."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import UsageError
from .options import JOB_ARG, as_date, send_options
from .output import MAX_LISTED, failure_line, summary


def _check_writable(flag: str, path: Path | None) -> None:
    """Fail before anything is sent when a report could not be written after it."""
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8"):
            pass
    except OSError as exc:
        raise UsageError(f"{flag} {path}: cannot write there ({exc.strerror or exc}); choose another path") from None


def _execute(jobs, *, source=None, profile, throttle, today, api_url, journal, dry_run, skip_invalid,
             resend_unknown, report, junit, embedded_rate_limit, state_dir) -> None:
    from ..pipeline import RunOptions, run_jobs
    from ..plan import SendOptions
    from ..report import write_json, write_junit
    from .progress import BarProgress, PlainProgress

    for flag, path in (("--report", report), ("--junit", junit)):
        _check_writable(flag, path)
    options = RunOptions(profile=profile, throttle=throttle, api_url=api_url, journal=journal, today=as_date(today),
                         embedded_rate_limit=embedded_rate_limit, state_dir=state_dir, source=source,
                         send=SendOptions(skip_invalid=skip_invalid, resend_unknown=resend_unknown, dry_run=dry_run))
    if sys.stderr.isatty():
        with BarProgress() as progress:
            reports = run_jobs(jobs, options, progress)
    else:
        reports = run_jobs(jobs, options, PlainProgress())
    for rep in reports:
        click.echo(summary(rep))
        for warning in rep.warnings:
            click.echo(f"  warning: {warning}")
        for failure in rep.failures[:MAX_LISTED]:
            click.echo(failure_line(failure))
        if len(rep.failures) > MAX_LISTED:
            click.echo(f"  ... and {len(rep.failures) - MAX_LISTED} more listed in --report / --junit "
                       "(up to 50 invalid rows and 100 messages; mwsync status JOB for the journal)")
    if report:
        write_json(reports, report)
    if junit:
        write_junit(reports, junit)
    sys.exit(max(r.exit_code for r in reports))


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
