"""`mwsync check`: credentials, access token and the auth test, one line per step (`mwsync.check`)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..redact import redact
from .options import JOB_ARG, JSON_FLAG
from .output import json_output

MARKS = {True: "ok  ", False: "FAIL", None: "skip"}


@click.command()
@JOB_ARG
@click.option("--api-url", help="Check this API URL instead of the job's (e.g. your region's host).")
@JSON_FLAG
def check(jobs: tuple[Path, ...], api_url: str | None, as_json: bool) -> None:
    """Test each JOB's connection without sending a message: credentials from the environment, an access
    token from the API's host, then GET /rest/v1/auth/test. Exits 0, or the exit code of the first step
    that failed: 2 credentials missing (the variables are named), 4 refused or unreachable.

    \b
    mwsync check jobs/password-expiry.yaml --api-url https://api.moveworks.ai
    """
    from ..check import as_dict, check_job, exit_code
    from ..config import load_job

    with json_output(as_json) as out:
        for path in jobs:
            job = load_job(path, api_url=api_url, check_credentials=False)
            steps = check_job(job)
            out.jobs.append(as_dict(job, steps))
            out.exit_code = out.exit_code or exit_code(steps)
            if not as_json:
                click.echo(f"{job.name} -> {job.subscription.target}")
                for step in steps:
                    click.echo(redact(f"  {MARKS[step.ok]}  {step.name}: {step.detail}"))
    sys.exit(out.exit_code)
