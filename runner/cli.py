"""The `mwsync` command line (click): thin, every command delegates to a stage module.

Exit codes: 0 everything sent (or already sent), 1 some message failed or is unknown, 2 bad job file
or usage. A user mistake prints what is wrong and how to fix it, never a traceback.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import click

from . import __version__
from .errors import MwsyncError, UsageError
from .run import EMBEDDED_RATE_LIMIT, RunOptions, load_jobs, plan_jobs, run_jobs
from .send import SendOptions

JOB_ARG = click.argument("jobs", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
STATE_DIR = click.option("--state-dir", envvar="MWSYNC_STATE_DIR", default=None,
                         type=click.Path(file_okay=False, path_type=Path),
                         help="Where journals live (env MWSYNC_STATE_DIR) [default: .mwsync beside the job file].")


def _options(f):
    f = click.option("--profile", help="Throttle profile to use instead of the job's (e.g. initial, ongoing).")(f)
    f = click.option("--throttle", metavar="N/S", help="Custom throttle: N calls per S seconds, e.g. 10/2.")(f)
    f = click.option("--today", type=click.DateTime(["%Y-%m-%d"]), help="Reference date for templates (YYYY-MM-DD).")(f)
    return f


def _date(value) -> dt.date | None:
    return value.date() if value else None


class _Group(click.Group):
    """Turns `MwsyncError` into a message on stderr and its exit code: no traceback for user mistakes."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except MwsyncError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mwsync")
def cli() -> None:
    """Send outbound messages to the Moveworks Events API from YAML jobs: throttled,
    authenticated, exactly once. Start with `mwsync run jobs/*.yaml` (embedded mock by default)."""


@cli.command()
@JOB_ARG
def validate(jobs: tuple[Path, ...]) -> None:
    """Check job files (YAML, schema, environment, templates) without rendering rows or sending."""
    from .templates import MessageRenderer

    for job in load_jobs(jobs, RunOptions()):
        MessageRenderer(job)
        click.echo(f"{job.path}: ok ({job.name}, profile {job.throttle}, target {job.subscription.target})")


@cli.command()
@JOB_ARG
@_options
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
def plan(jobs, profile, throttle, today, as_json) -> None:
    """Render and check every message, then show requests and estimated duration (no network)."""
    out = plan_jobs(jobs, RunOptions(profile=profile, throttle=throttle, today=_date(today)))
    if as_json:
        click.echo(json.dumps(out if len(out) > 1 else out[0], indent=2))
        return
    for e in out:
        click.echo(f"{e['job']}: {e['messages']} messages ({e['filtered']} rows filtered out), {e['recipients']} "
                   f"recipients -> {e['requests']} requests")
        click.echo(f"  ~{e['estimate_s']['profile']:.0f} s under {e['profile']}; "
                   f"~{e['estimate_s']['moveworks_default_120_per_min']:.0f} s under Moveworks' default 120/min")
        if "warning" in e:
            click.echo(f"  warning: {e['warning']}")


def _summary(report) -> str:
    m, r = report.messages, report.requests
    head = f"{report.job} -> {report.target}"
    extra = "".join(f", {name} {m[name]}" for name in ("invalid", "duplicates", "changed") if m.get(name))
    if report.dry_run:
        return (f"{head}: dry run: {m['to_send']} messages to send in {r['planned']} requests "
                f"({m['skipped']} already sent{extra})")
    if not r["total"] and not m["failed"] and not m["unknown"] and not report.stopped:
        return f"{head}: nothing new to send ({m['skipped']} of {m['total']} messages already sent{extra})"
    by_status = ", ".join(f"{k}: {v}" for k, v in sorted(r["by_status"].items()))
    text = (f"{head}: sent {m['sent']} messages in {r['total']} requests in {report.duration_s:.1f} s"
            + (f" ({by_status})" if by_status else "")
            + f"; skipped {m['skipped']}, failed {m['failed']}, unknown {m['unknown']}{extra}")
    if report.status_429:
        text += f"; {report.status_429} answered 429 and were retried"
    if report.stopped:
        text += f"; STOPPED: {report.stopped}"
    return text


def _failure_line(failure: dict) -> str:
    what = f"message {failure['key']} (row {failure['row']})" if failure["key"] else f"row {failure['row']}"
    return f"  {failure['state']}: {what}: {failure['error']}"


MAX_LISTED = 10


def _send_options(f):
    """Options shared by `run` and `replay`."""
    for option in reversed([
        click.option("--api-url", help="Send to this API URL instead of the job's (e.g. a standalone mock server)."),
        click.option("--journal", type=click.Path(dir_okay=False, path_type=Path),
                     help="Journal file (default .mwsync/journal/<job>.sqlite)."),
        click.option("--dry-run", is_flag=True, help="Plan against the journal; send nothing."),
        click.option("--skip-invalid", is_flag=True, help="Send the valid messages even if some rows are invalid."),
        click.option("--resend-unknown", is_flag=True, help="Send again messages whose outcome is unknown."),
        click.option("--report", type=click.Path(dir_okay=False, path_type=Path), help="Write a JSON report."),
        click.option("--junit", type=click.Path(dir_okay=False, path_type=Path), help="Write a JUnit XML report."),
        click.option("--embedded-rate-limit", default=EMBEDDED_RATE_LIMIT, show_default=True, metavar="N/S",
                     help="Rate limit of the embedded mock server."),
        STATE_DIR,
    ]):
        f = option(f)
    return _options(f)


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
    from .progress import BarProgress, PlainProgress
    from .report import write_json, write_junit

    for flag, path in (("--report", report), ("--junit", junit)):
        _check_writable(flag, path)
    options = RunOptions(profile=profile, throttle=throttle, api_url=api_url, journal=journal, today=_date(today),
                         embedded_rate_limit=embedded_rate_limit, state_dir=state_dir, source=source,
                         send=SendOptions(skip_invalid=skip_invalid, resend_unknown=resend_unknown, dry_run=dry_run))
    if sys.stderr.isatty():
        with BarProgress() as progress:
            reports = run_jobs(jobs, options, progress)
    else:
        reports = run_jobs(jobs, options, PlainProgress())
    for rep in reports:
        click.echo(_summary(rep))
        for warning in rep.warnings:
            click.echo(f"  warning: {warning}")
        for failure in rep.failures[:MAX_LISTED]:
            click.echo(_failure_line(failure))
        if len(rep.failures) > MAX_LISTED:
            click.echo(f"  ... and {len(rep.failures) - MAX_LISTED} more listed in --report / --junit "
                       "(up to 50 invalid rows and 100 messages; mwsync status JOB for the journal)")
    if report:
        write_json(reports, report)
    if junit:
        write_junit(reports, junit)
    sys.exit(max(r.exit_code for r in reports))


@cli.command()
@JOB_ARG
@_send_options
def run(jobs, **options) -> None:
    """Send every message of each JOB that has not been sent yet."""
    _execute(jobs, **options)


@cli.command()
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--job", "job_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Job giving the subscription, throttle, retry and message templates.")
@_send_options
def replay(file, job_path, **options) -> None:
    """Replay a bulk message set (FILE: .csv or .jsonl, streamed row by row) through JOB.

    Without FILE the job's own source is replayed. Interrupted (Ctrl-C, kill -9), a re-run finishes
    the set with nothing sent twice. See README, "Bulk replay", for the row format.
    """
    _execute([job_path], source=file, **options)


@cli.command()
@JOB_ARG
@click.option("--journal", type=click.Path(dir_okay=False, path_type=Path), help="Journal file.")
@click.option("--api-url", help="Target whose journal entries to show (default: the job's).")
@STATE_DIR
def status(jobs, journal, api_url, state_dir) -> None:
    """Summarise each job's journal: messages and deliveries by state."""
    from .journal import Journal
    from .run import journal_path

    options = RunOptions(journal=journal, api_url=api_url, state_dir=state_dir)
    for job in load_jobs(jobs, options, check_credentials=False):
        path = journal_path(job, options)
        if not path.exists():
            click.echo(f"{job.name}: no journal yet ({path})")
            continue
        j = Journal(path, target=job.subscription.target, job=job.name, exclusive=False)
        try:
            counts = j.counts()
            failures = j.failures(run_only=False, limit=10)
        finally:
            j.close()
        fmt = lambda d: ", ".join(f"{k} {v}" for k, v in sorted(d.items())) or "none"  # noqa: E731
        click.echo(f"{job.name} -> {job.subscription.target} ({path})")
        click.echo(f"  messages:   {fmt(counts['messages'])}")
        click.echo(f"  deliveries: {fmt(counts['deliveries'])}")
        for failure in failures:
            click.echo(_failure_line(failure))


@cli.command()
def schema() -> None:
    """Print the job file JSON Schema (also in schema/job.schema.json)."""
    from .models import job_schema

    click.echo(json.dumps(job_schema(), indent=2))


@cli.command()
@click.option("--job", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Job whose profile (and profiles), concurrent_connections, retry and event id to test.")
@click.option("--profile", help="Throttle profile: initial, ongoing, high_volume or one of the job's.")
@click.option("--throttle", metavar="N/S", help="Custom throttle instead of a profile, e.g. 20/2.")
@click.option("--server-limit", metavar="N/S", help="Rate limit of the mock server started for the test "
              "[default: 120/60, Moveworks' default].")
@click.option("--duration", type=click.IntRange(1), help="Seconds of load [default: 3 windows].")
@click.option("--users", type=click.IntRange(1, 64), help="Concurrent connections [default: the job's, else 1].")
@click.option("--latency-ms", type=click.FloatRange(0), default=0.0, show_default=True,
              help="Latency the mock server adds to every send.")
@click.option("--host", help="URL of a running mwsync mock server to use (it is reset) instead of starting one.")
@click.option("--user-class", type=click.Choice(["mwsync", "unthrottled", "raw"]), default="mwsync",
              show_default=True, help="mwsync's client; the same with throttling disabled; or raw sends, no "
              "throttle, no retry.")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), help="Write the verdicts as JSON.")
@click.option("--html", type=click.Path(dir_okay=False, path_type=Path), help="Write Locust's HTML report.")
def loadtest(job, profile, throttle, server_limit, duration, users, latency_ms, host, user_class, report,
             html) -> None:
    """Prove a throttle profile under load (Locust against the mock server): no 429s when it fits the
    server's limit, no window over the profile, >= 95 % of the allowed rate, every message exactly once.
    Exits 1 when a check fails (docs/loadtest.md)."""
    from .errors import UsageError
    from .loadtest import LoadtestOptions, render, run_loadtest, write_report

    if profile and throttle:
        raise UsageError("give --profile or --throttle, not both")
    options = LoadtestOptions(job=job, profile=profile or throttle, server_limit=server_limit, duration_s=duration,
                              users=users, latency_ms=latency_ms, host=host, html=html, user_class=user_class)
    result = run_loadtest(options, announce=click.echo)
    for line in render(result):
        click.echo(line)
    if report:
        write_report(result, report)
    sys.exit(result.exit_code)


def _register_mock_server() -> None:
    try:
        from mock_server.cli import main as mock_main
    except ImportError:  # pragma: no cover - the package ships both
        return
    cli.add_command(mock_main, "mock-server")


_register_mock_server()


def main() -> None:
    """Console entry point (`mwsync`)."""
    cli(prog_name="mwsync")
