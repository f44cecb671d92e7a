"""Commands that send nothing: `validate`, `plan`, `status`, `schema`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .options import JOB_ARG, STATE_DIR, as_date, throttle_options
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
        if "warning" in e:
            click.echo(f"  warning: {e['warning']}")


@click.command()
@JOB_ARG
@click.option("--journal", type=click.Path(dir_okay=False, path_type=Path), help="Journal file.")
@click.option("--api-url", help="Target whose journal entries to show (default: the job's).")
@STATE_DIR
def status(jobs, journal, api_url, state_dir) -> None:
    """Summarise each job's journal: messages and deliveries by state."""
    from ..journal import SqliteJournal
    from ..pipeline import RunOptions, journal_path, load_jobs

    options = RunOptions(journal=journal, api_url=api_url, state_dir=state_dir)
    for job in load_jobs(jobs, options, check_credentials=False):
        path = journal_path(job, options)
        if not path.exists():
            click.echo(f"{job.name}: no journal yet ({path})")
            continue
        j = SqliteJournal(path, target=job.subscription.target, job=job.name, exclusive=False)
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
            click.echo(failure_line(failure))


@click.command()
def schema() -> None:
    """Print the job file JSON Schema (draft 2020-12), e.g. for an editor's YAML language server."""
    from ..config import job_schema

    click.echo(json.dumps(job_schema(), indent=2))
