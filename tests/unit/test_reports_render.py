"""The --html chart's geometry, the page's self-containment, and JUnit's structure (names CI pages show)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from mwsync.errors import ConfigError, Problem
from mwsync.htmlreport import MAX_BARS, chart, html_text
from mwsync.junit import junit_text
from mwsync.records import Attempt
from mwsync.report import JobReport


def _report(**overrides) -> JobReport:
    fields = dict(job="remind", file="jobs/remind.yaml", target="https://api.moveworks.ai",
                  journal={"location": "j.sqlite", "shared": False},
                  profile={"name": "demo", "limit": 4, "window_s": 1.0},
                  messages={"total": 3, "sent": 2, "skipped": 0, "failed": 1, "unknown": 0, "held": 0, "changed": 0,
                            "invalid": 0, "filtered": 0, "duplicates": 0},
                  requests={"total": 3, "by_status": {"200": 2, "404": 1}}, status_429=1, recipients=3,
                  duration_s=2.5,
                  failures=[{"key": "pwd-1042", "row": 12, "state": "failed", "status": 404, "code": "INVALID_EVENT_ID",
                             "error": "rejected: 404 INVALID_EVENT_ID", "recipients": 1}])
    return JobReport(**dict(fields, **overrides))


def _attempts() -> list[Attempt]:
    """Window 0: a token and 4 sends, one 429; window 1: its retry and 2 more; window 2: one."""
    t = 1000.0
    return [Attempt("token", t, t + 0.01, 200), *(Attempt("send", t + 0.1 * i, t + 0.1 * i + 0.05, 200)
                                                   for i in range(1, 4)),
            Attempt("send", t + 0.5, t + 0.55, 429), Attempt("send", t + 1.2, t + 1.25, 200, retry=True),
            Attempt("send", t + 1.3, t + 1.35, 200), Attempt("send", t + 1.4, t + 1.45, 200),
            Attempt("send", t + 2.1, t + 2.15, 200)]


def test_chart_counts_request_starts_per_window_against_the_limit():
    c = chart(_attempts(), limit=4, window_s=1.0)
    sends = [b["count"] for b in c.bars if b["kind"] == "send"]
    tokens = [b["count"] for b in c.bars if b["kind"] == "token"]
    assert (c.windows, c.merged, c.peak, sends, tokens) == (3, 1, 5, [4, 3, 1], [1])
    assert (c.count_429, c.count_retry) == (1, 1)
    limit_bar = next(b for b in c.bars if b["count"] == 4)
    assert abs(limit_bar["y"] - c.limit_y) < 0.5  # a bar of `limit` requests reaches the limit line
    assert c.marks_429[0]["x"] < c.marks_retry[0]["x"]


def test_a_long_run_merges_windows_and_scales_the_limit():
    attempts = [Attempt("send", 1000.0 + i, 1000.5 + i, 200) for i in range(1000)]
    c = chart(attempts, limit=1, window_s=1.0)
    assert c.windows <= MAX_BARS and c.merged == 5 and c.peak == 5 and chart([], 1, 1.0) is None


def test_the_page_is_self_contained_and_names_failures():
    page = html_text([_report()], recorder=type("R", (), {"attempts": {"remind": _attempts()}})())
    assert "<script" not in page and not re.search(r"(src|href)=\"https?:", page) and "@import" not in page
    assert page.count('class="bar send"') == 3 + 1  # three windows and the legend
    assert "INVALID_EVENT_ID" in page and "pwd-1042" in page and "exit 1" in page


def test_the_page_of_a_run_stopped_before_sending_names_the_error():
    page = html_text([], ConfigError([Problem("jobs/x.yaml", "throttle.profile", "unknown 'ongiong'")]))
    assert "ConfigError (exit 2)" in page and "unknown &#39;ongiong&#39;" in page


def test_junit_names_job_row_key_and_api_error_code():
    root = ET.fromstring(junit_text([_report()]))
    [suite] = root
    assert (suite.get("name"), suite.get("tests"), suite.get("failures"), suite.get("errors")) == \
        ("mwsync.remind", "2", "1", "0")
    assert root.attrib == {} and "disabled" not in junit_text([_report()])
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["delivery", "remind: row 12, key pwd-1042: INVALID_EVENT_ID"]
    failure = cases[1].find("failure")
    assert failure.get("type") == "INVALID_EVENT_ID" and failure.get("message").startswith("failed: rejected: 404")
    assert [child.tag for child in suite] == ["properties", "testcase", "testcase", "system-out", "system-err"]


def test_junit_of_a_run_stopped_before_sending_is_one_failing_case():
    root = ET.fromstring(junit_text([], ConfigError([Problem("jobs/x.yaml", "name", "bad")])))
    [suite] = root
    [case] = suite.findall("testcase")
    assert case.get("name") == "run: ConfigError" and case.find("failure").get("message") == "ConfigError (exit 2)"


def test_report_files_get_the_mode_new_files_get_and_leave_no_temporary(tmp_path):
    import os

    from mwsync.report import write_atomic

    old = os.umask(0o022)
    try:
        write_atomic(tmp_path / "out" / "report.json", "{}\n")
        os.umask(0o077)
        write_atomic(tmp_path / "private.json", "{}\n")
    finally:
        os.umask(old)
    assert (tmp_path / "out" / "report.json").stat().st_mode & 0o777 == 0o644  # CI uploads it: readable
    assert (tmp_path / "private.json").stat().st_mode & 0o777 == 0o600  # a stricter umask is kept
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["report.json"]
