"""`mwsync loadtest`: prove a throttle profile under load (`mwsync.loadtest`)."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from ..errors import UsageError


@click.command()
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
@click.option("--host", envvar="MWSYNC_LOADTEST_HOST",  # MWSYNC_HOST: the mock server's bind address
              help="URL of a running mwsync mock server to use (it is reset) instead of starting one.")
@click.option("--user-class", type=click.Choice(["mwsync", "unthrottled", "raw"]), default="mwsync",
              show_default=True, help="mwsync's client; the same with throttling disabled; or raw sends, no "
              "throttle, no retry.")
@click.option("--target", type=click.Choice(["events", "listener"]), default="events", show_default=True,
              help="The Events API, or a webhook listener (hmac; unsecured with --profile listener_unsecured) and "
                   "the mock's listener limit [profile default: listener_secured].")
@click.option("--workers", type=click.IntRange(1, 16), default=1, show_default=True,
              help="Locust worker processes under one master (distributed mode).")
@click.option("--limiter", envvar="MWSYNC_LIMITER", metavar="URL",
              help="A Redis limiter every worker shares (redis://HOST:PORT/DB): one budget for all of them "
                   "[default: each process its own, the profile split between workers].")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), help="Write the verdicts as JSON.")
@click.option("--html", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a self-contained HTML page: verdicts, figures, request starts per window against the "
                   "server's limit.")
@click.option("--locust-html", type=click.Path(dir_okay=False, path_type=Path),
              help="Write Locust's own HTML report (Locust's --html, scripts included).")
@click.option("--locustfile", "print_locustfile", is_flag=True,
              help="Print the path of mwsync's locustfile (to run Locust by hand: locust -f PATH) and exit.")
def loadtest(job, profile, throttle, server_limit, duration, users, latency_ms, host, user_class, target, workers,
             limiter, report, html, locust_html, print_locustfile) -> None:
    """Prove a throttle profile under load (Locust against the mock server): no 429s when it fits the
    server's limit, no window over the profile, >= 95 % of the allowed rate, every message exactly once.
    Exits 1 when a check fails.

    \b
    mwsync loadtest --throttle 20/2 --server-limit 20/2 --duration 20   # a quick check
    mwsync loadtest --profile initial                                  # a built-in profile vs 120/60
    mwsync loadtest --target listener --throttle 2/2 --server-limit 2/2 # a listener limit, scaled down
    mwsync loadtest --throttle 20/2 --server-limit 20/2 --workers 2 --limiter redis://127.0.0.1:6379/0
    """
    from ..loadtest import LOCUSTFILE, LoadtestOptions, render, run_loadtest, write_report

    if print_locustfile:
        click.echo(str(LOCUSTFILE))
        return

    if profile and throttle:
        raise UsageError("give --profile or --throttle, not both")
    options = LoadtestOptions(job=job, profile=profile or throttle, server_limit=server_limit, duration_s=duration,
                              users=users, latency_ms=latency_ms, host=host, locust_html=locust_html,
                              user_class=user_class, target=target, workers=workers, limiter=limiter)
    run = run_loadtest(options, announce=click.echo)
    for line in render(run.report):
        click.echo(line)
    if report:
        write_report(run.report, report)
    if html:
        _write_page(run, html)
    sys.exit(run.report.exit_code)


def _write_page(run, path: Path) -> None:
    """Write the `--html` page of `run` (a `LoadtestRun`) atomically; a page that cannot be written is an
    error line on stderr, the verdicts stand."""
    from .. import __version__
    from ..loadtest.page import html_text
    from ..redact import redact
    from ..report import write_atomic

    created = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    text = html_text(run.plan, run.seen, run.report, target=run.target, created=created, version=__version__,
                     workers=run.workers, limiter=run.limiter)
    try:
        write_atomic(path, text)
    except OSError as exc:
        click.echo(redact(f"error: --html {path}: cannot write the page ({exc.strerror or exc})"), err=True)
