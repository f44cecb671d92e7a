"""`--html FILE`: one self-contained page per run (no network, no script): per-job summary, failures, and
an inline SVG chart of request starts per window over time against the throttle's limit, with 429s and
retries marked. The chart is drawn from every HTTP request the run made (`records.Attempt`: sends,
token requests and retries, with their wall-clock start), as the client's `on_attempt` reported them.

Rendered by `mwsync.templates.render_page` from `html/report.html.j2`; the geometry is computed here, so
the template only places shapes (the chart's SVG and the style are macros in `html/_chart.html.j2`, which
`mwsync loadtest --html` draws with too: `mwsync.loadtest.page`). Shapes carry classes a test (or a
curious reader) can count: `rect.bar.send`, `rect.bar.token` (one per window with such requests),
`line.limit`, `circle.mark-429`, `path.mark-retry`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from .errors import MwsyncError
from .records import Attempt
from .redact import redact

MAX_BARS = 240  # beyond, windows are merged k at a time and the limit line is k x the limit
MAX_MARKS = 2000  # markers of each kind drawn (the count is shown in full)
WIDTH, HEIGHT = 960, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 50, 36  # plot margins, px


@dataclass
class Chart:
    """SVG geometry (px) of one job's chart. `bars`: `{"x", "w", "y", "h", "kind", "count", "t"}`; `limit_y`;
    `marks_429` / `marks_retry`: `{"x", "y", "t"}`; ticks `{"x"|"y", "label"}`; `merged` windows per bar."""

    window_s: float
    limit: int
    merged: int
    windows: int
    peak: int
    bars: list[dict] = field(default_factory=list)
    limit_y: float = 0.0
    marks_429: list[dict] = field(default_factory=list)
    marks_retry: list[dict] = field(default_factory=list)
    count_429: int = 0
    count_retry: int = 0
    x_ticks: list[dict] = field(default_factory=list)
    y_ticks: list[dict] = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT


def _counts(attempts: Sequence[Attempt], t0: float, window_s: float, windows: int) -> list[dict[str, int]]:
    counts = [{"send": 0, "token": 0} for _ in range(windows)]
    for a in attempts:
        index = min(windows - 1, int((a.started_s - t0) // window_s))
        counts[index]["send" if a.kind == "send" else "token"] += 1
    return counts


def chart(attempts: Sequence[Attempt], limit: int, window_s: float) -> Chart | None:
    """The chart of `attempts` against `limit` requests per `window_s` seconds; None without attempts.
    Windows are counted from the first request's start (fixed windows: the throttle's sliding window
    allows at most `limit` in any `window_s`, so a fixed window holds at most `limit` too)."""
    if not attempts:
        return None
    t0 = min(a.started_s for a in attempts)
    span = max(a.started_s for a in attempts) - t0
    merged = max(1, math.ceil((math.floor(span / window_s) + 1) / MAX_BARS))
    window = window_s * merged
    windows = math.floor(span / window) + 1
    counts = _counts(attempts, t0, window, windows)
    peak = max(c["send"] + c["token"] for c in counts)
    top = max(limit * merged, peak) * 1.15
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / windows
    y_of = lambda n: TOP + plot_h * (1 - n / top)  # noqa: E731
    out = Chart(window_s=window_s, limit=limit, merged=merged, windows=windows, peak=peak,
                limit_y=round(y_of(limit * merged), 1))
    for i, c in enumerate(counts):
        base = 0
        for kind in ("send", "token"):
            if c[kind]:
                y = y_of(base + c[kind])
                out.bars.append({"x": round(LEFT + i * step + step * 0.1, 2), "w": round(max(step * 0.8, 0.5), 2),
                                 "y": round(y, 2), "h": round(y_of(base) - y, 2), "kind": kind, "count": c[kind],
                                 "t": round(i * window, 3)})
                base += c[kind]
    x_of = lambda t: round(LEFT + (t - t0) / (windows * window) * plot_w, 2)  # noqa: E731
    for a in attempts:
        if a.status == 429:
            out.count_429 += 1
            if len(out.marks_429) < MAX_MARKS:
                out.marks_429.append({"x": x_of(a.started_s), "y": TOP - 20, "t": round(a.started_s - t0, 3)})
        if a.retry:
            out.count_retry += 1
            if len(out.marks_retry) < MAX_MARKS:
                out.marks_retry.append({"x": x_of(a.started_s), "y": TOP - 8, "t": round(a.started_s - t0, 3)})
    out.x_ticks = [{"x": round(LEFT + k / 5 * plot_w, 1), "label": f"{k / 5 * windows * window:g} s"}
                   for k in range(6)]
    out.y_ticks = [{"y": round(y_of(n), 1), "label": str(n)} for n in sorted({0, limit * merged, peak})]
    return out


def _job(report, attempts: Sequence[Attempt]) -> dict:
    profile = report.profile
    return {"report": report, "exit_code": report.exit_code,
            "chart": chart(attempts, profile["limit"], profile["window_s"]),
            "kinds": {k: sum(1 for a in attempts if a.kind == k) for k in ("send", "token", "auth test")},
            "failures": report.failures[:100]}


def html_text(reports: Sequence, error: MwsyncError | None = None, recorder=None) -> str:
    """The `--html` page for `reports` (`JobReport`s) and the requests `recorder` kept (`cli.progress.Recorder`
    or anything with `attempts: {job name: [Attempt]}`); for a run stopped by `error` before sending, a page
    naming the error. Redacted."""
    from . import __version__
    from .report import run_exit_code
    from .templates import render_page

    attempts = getattr(recorder, "attempts", {}) or {}
    exit_code = error.exit_code if error is not None else run_exit_code(reports)
    page = render_page("report.html.j2", version=__version__, exit_code=exit_code, error=error,
                       created=dt.datetime.now().astimezone().isoformat(timespec="seconds"),
                       jobs=[_job(r, attempts.get(r.job, [])) for r in reports])
    return redact(page)
