"""Options shared by several commands."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from ..rules import EMBEDDED_RATE_LIMIT

#: A report file, or `-` for stdout (the human summary then goes to stderr).
REPORT_PATH = click.Path(dir_okay=False, path_type=Path, allow_dash=True)
#: `--json` of plan, validate, status, preview and check (the dest is not `json`: that is a module name).
JSON_FLAG = click.option("--json", "as_json", is_flag=True, envvar="MWSYNC_JSON",
                         help='Print one JSON document on stdout: {"mwsync", "exit_code", "error", "jobs": [...]}.')
JOB_ARG = click.argument("jobs", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
STATE_DIR = click.option("--state-dir", envvar="MWSYNC_STATE_DIR", default=None,
                         type=click.Path(file_okay=False, path_type=Path),
                         help="Where journals live [default: .mwsync beside the job file].")


def _journal_location(ctx, param, value):
    """A `postgresql://` URL as given, anything else a file path."""
    if not value:
        return None
    from ..journal import is_database_url

    return value if is_database_url(value) else Path(value)


JOURNAL = click.option("--journal", envvar="MWSYNC_JOURNAL", callback=_journal_location, metavar="PATH|URL",
                       help="Journal: a file, or a shared database postgresql://USER@HOST:PORT/DB (password: "
                            "PGPASSWORD, or in the URL from the environment) [default: the job "
                            "file's journal:, else .mwsync/journal/<job>.sqlite].")
LIMITER = click.option("--limiter", envvar="MWSYNC_LIMITER", metavar="URL",
                       help="Rate limiter shared by every runner: redis://HOST:PORT/DB [default: "
                            "the job file's limiter:, else in-process].")
LEASE = click.option("--lease-s", envvar="MWSYNC_LEASE_S", type=click.FloatRange(1, 3600), metavar="SECONDS",
                     help="Lease of a shared journal's claims: another runner takes them over this long after this "
                          "one died [default: 30].")


def throttle_options(f):
    f = click.option("--profile", help="Throttle profile to use instead of the job's (e.g. initial, ongoing).")(f)
    f = click.option("--throttle", metavar="N/S", help="Custom throttle: N calls per S seconds, e.g. 10/2.")(f)
    f = click.option("--today", type=click.DateTime(["%Y-%m-%d"]), help="Reference date for templates (YYYY-MM-DD).")(f)
    return f


def as_date(value) -> dt.date | None:
    return value.date() if value else None


def send_options(f):
    """Options shared by `run` and `replay`."""
    for option in reversed([
        click.option("--api-url", help="Send to this API URL instead of the job's (e.g. a standalone mock server)."),
        JOURNAL,
        LIMITER,
        LEASE,
        click.option("--dry-run", is_flag=True, help="Plan against the journal; send nothing."),
        click.option("--skip-invalid", is_flag=True, help="Send the valid messages even if some rows are invalid."),
        click.option("--resend-unknown", is_flag=True, help="Send again messages whose outcome is unknown."),
        click.option("--report", type=REPORT_PATH, help="Write a JSON report (- for stdout)."),
        click.option("--junit", type=REPORT_PATH, help="Write a JUnit XML report (- for stdout)."),
        click.option("--html", type=click.Path(dir_okay=False, path_type=Path),
                     help="Write a self-contained HTML page: summary, failures, request starts per window."),
        click.option("--embedded-rate-limit", default=EMBEDDED_RATE_LIMIT, show_default=True, metavar="N/S",
                     help="Rate limit of the embedded mock server."),
        click.option("--new-journal", is_flag=True,
                     help="Start an empty journal where a run used one before that is now gone or empty (what "
                          "it recorded as sent would be sent again); in CI, confirm a first send with a new local "
                          "journal."),
        STATE_DIR,
    ]):
        f = option(f)
    return throttle_options(f)
