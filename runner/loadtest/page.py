"""`mwsync loadtest --html FILE`: one self-contained page per load test (no network, no script): the verdict
(PASS/FAIL, exit code), the plan, the six checks, the figures, notes, Locust's statistics, and the chart of
request starts per window of the server's limit, with 429s and the sends after a 429 marked.

The chart is `htmlreport.chart` (the run page's) over `records.Attempt`s made from what the server saw
(`Observation`): each accepted send, each access token granted, each request answered 429 (a send-kind
attempt with status 429, so the bars count it as the server's window did), and the accepted sends of
messages that met a 429 first as retries. Windows and limit are the server's. Rendered from
`html/loadtest.html.j2` (the chart and style: `html/_chart.html.j2` macros). Pure but for redaction: time
and version are parameters; the limiter's password joins the process's secrets (`url_without_password`).
"""

from __future__ import annotations

from collections import Counter

from ..htmlreport import chart
from ..records import Attempt
from ..redact import redact, url_without_password
from .verdict import LoadPlan, LoadtestReport, Observation, figures


def attempts(seen: Observation) -> list[Attempt]:
    """The requests of `seen` as `Attempt`s (epoch seconds, start = end = arrival), sorted by start: sends
    (those in `retry_arrivals_s` flagged `retry`), tokens, and 429s as sends with status 429."""
    retries = Counter(seen.retry_arrivals_s)
    out = []
    for at_s in seen.send_arrivals_s:
        retry = retries[at_s] > 0
        retries[at_s] -= retry
        out.append(Attempt("send", at_s, at_s, 200, retry=retry))
    out += [Attempt("token", at_s, at_s, 200) for at_s in seen.token_arrivals_s]
    out += [Attempt("send", at_s, at_s, 429) for at_s in seen.arrivals_429_s]
    return sorted(out, key=lambda attempt: attempt.started_s)


def html_text(plan: LoadPlan, seen: Observation, report: LoadtestReport, *, target: str, created: str,
              version: str, workers: int = 1, limiter: str | None = None) -> str:
    """The `--html` page of one load test: `plan` run against `target` (what was loaded and where, e.g. "the
    Events API at http://127.0.0.1:37059"), what it observed and the verdicts; `created` an ISO 8601 time and
    `version` mwsync's, as shown; `workers` Locust worker processes; `limiter` the shared limiter's URL (its
    password is not shown). Redacted (`mwsync.redact`)."""
    from ..templates import render_page

    requests = attempts(seen)
    rows = [("target", target), ("user class", plan.user_class), ("profile", str(plan.profile)),
            ("server limit", str(plan.server)), ("users", str(plan.users)), ("duration", f"{plan.duration_s} s"),
            ("latency", f"{plan.latency_ms:g} ms"), ("workers", str(workers)),
            ("limiter", url_without_password(limiter) if limiter else "none (each process its own)")]
    if plan.job:
        rows.append(("job", str(plan.job)))
    page = render_page(
        "loadtest.html.j2", version=version, created=created, report=report, plan=plan, rows=rows,
        figures=figures(report), plot=chart(requests, plan.server.limit, plan.server.window_s),
        sends=sum(1 for a in requests if a.kind == "send"), tokens=len(seen.token_arrivals_s),
        logged_429=len(seen.arrivals_429_s), status_429=seen.status_429)
    return redact(page)
