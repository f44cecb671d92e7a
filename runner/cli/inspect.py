"""Commands that send nothing: `validate`, `plan`, `status`, `schema`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..errors import UsageError
from ..redact import redact
from .options import JOB_ARG, JOURNAL, STATE_DIR, as_date, throttle_options
from .output import failure_line


@click.command()
@JOB_ARG
def validate(jobs: tuple[Path, ...]) -> None:
    """Check job files (YAML, schema, environment, templates) without rendering rows or sending."""
    from ..pipeline import RunOptions, load_jobs
    from ..templates import MessageRenderer

    for job in load_jobs(jobs, RunOptions()):
        MessageRenderer(job)
        click.echo(f"{job.path}: ok ({job.name}, profile {job.throttle}, target {job.subscription.target})")


@click.command()
@JOB_ARG
@throttle_options
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
def plan(jobs, profile, throttle, today, as_json) -> None:
    """Render and check every message, then show requests and estimated duration (no network)."""
    from ..pipeline import RunOptions, plan_jobs

    out = plan_jobs(jobs, RunOptions(profile=profile, throttle=throttle, today=as_date(today)))
    if as_json:
        click.echo(json.dumps(out if len(out) > 1 else out[0], indent=2))
        return
    for e in out:
        click.echo(f"{e['job']}: {e['messages']} messages ({e['filtered']} rows filtered out), {e['recipients']} "
                   f"recipients -> {e['requests']} requests")
        click.echo(f"  ~{e['estimate_s']['profile']:.0f} s under {e['profile']}; "
                   f"~{e['estimate_s']['moveworks_default_120_per_min']:.0f} s under Moveworks' default 120/min")
        for warning in e["warnings"]:
            click.echo(f"  warning: {warning}")


def _journal_options(f):
    for option in reversed([
        JOURNAL,
        click.option("--api-url", help="Target whose journal entries to use (default: the job's)."),
        STATE_DIR,
    ]):
        f = option(f)
    return f


def _open(job, options, exclusive: bool):
    """`(journal, location)`: the job's journal, or None when it is a file that does not exist yet."""
    from ..journal import is_database_url
    from ..state import journal_location, open_job_journal

    location = journal_location(job, options)
    if not is_database_url(location) and not Path(location).exists():
        return None, location
    journal = open_job_journal(job, options, exclusive=exclusive)
    return journal, journal.location


@click.command()
@JOB_ARG
@_journal_options
def status(jobs, journal, api_url, state_dir) -> None:
    """Summarise each job's journal: messages and deliveries by state, and every message in doubt."""
    from ..pipeline import RunOptions, load_jobs

    options = RunOptions(journal=journal, api_url=api_url, state_dir=state_dir)
    for job in load_jobs(jobs, options, check_credentials=False):
        j, path = _open(job, options, exclusive=False)
        if j is None:
            click.echo(f"{job.name}: no journal yet ({path}: this machine only, not shared)")
            continue
        try:
            counts = j.counts()
            failures = j.failures(run_only=False, limit=10, states=("failed",))
            doubt = j.failures(run_only=False, limit=50, states=("unknown", "pending"))
        finally:
            j.close()
        fmt = lambda d: ", ".join(f"{k} {v}" for k, v in sorted(d.items())) or "none"  # noqa: E731
        where = "shared with every runner that names it" if j.shared else "this machine only, not shared"
        click.echo(redact(f"{job.name} -> {job.subscription.target} (journal {path}: {where})"))
        click.echo(f"  messages:   {fmt(counts['messages'])}")
        click.echo(f"  deliveries: {fmt(counts['deliveries'])}")
        for failure in failures:
            click.echo(redact(failure_line(failure)))
        if doubt:
            click.echo(f"  in doubt ({len(doubt)}{'+' if len(doubt) == 50 else ''}): may or may not have been "
                       "delivered; check with the recipients, then mwsync resolve JOB KEY --as sent|unsent")
            for failure in doubt:
                click.echo(redact(failure_line(failure)))


@click.command()
@click.argument("job", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("keys", nargs=-1)
@click.option("--as", "as_", type=click.Choice(["sent", "unsent"]), required=True,
              help="sent: they arrived, never send them again; unsent: they did not, the next run sends them.")
@click.option("--all-unknown", is_flag=True, help="Settle every message in doubt instead of naming KEYS.")
@_journal_options
def resolve(job, keys, as_, all_unknown, journal, api_url, state_dir) -> None:
    """Settle messages in doubt (unknown: the API may or may not have delivered them) after checking with
    the recipients: KEY is the message's idempotency key, as `mwsync status` and the report list it."""
    from ..pipeline import RunOptions, load_jobs

    if bool(keys) == all_unknown:
        raise UsageError("name the messages' idempotency KEYS, or pass --all-unknown (not both)")
    options = RunOptions(journal=journal, api_url=api_url, state_dir=state_dir)
    [loaded] = load_jobs([job], options, check_credentials=False)
    j, path = _open(loaded, options, exclusive=True)
    if j is None:
        raise UsageError(f"{loaded.name}: no journal at {path}; nothing is in doubt")
    try:
        note = f"resolved by a person as {as_} (mwsync resolve)"
        settled = j.resolve(None if all_unknown else list(keys), sent=as_ == "sent", note=note)
    finally:
        j.close()
    outcome = "marked sent (never sent again)" if as_ == "sent" else "released (the next run sends them)"
    click.echo(f"{loaded.name}: {settled['messages']} messages in doubt ({settled['deliveries']} deliveries) "
               f"{outcome}")
    if not settled["messages"]:
        click.echo("  none of the named messages was in doubt (mwsync status JOB lists them)")
        sys.exit(1)


@click.command()
def schema() -> None:
    """Print the job file JSON Schema (draft 2020-12), e.g. for an editor's YAML language server."""
    from ..config import job_schema

    click.echo(json.dumps(job_schema(), indent=2))
