"""`mwsync loadtest --html`: the page of a hand-made load test, without Locust or a server (a real run's page
in Chromium: tests/system/test_html_browser.py)."""

from __future__ import annotations

import re

from mwsync.loadtest.page import attempts, html_text
from mwsync.loadtest.verdict import LoadPlan, LocustEntry, Observation, judge
from mwsync.rate import Rate

SERVER = Rate(20, 2.0, "server")
T0 = 1_767_000_000.0


def over_the_limit() -> tuple[LoadPlan, Observation]:
    """A 40/2 profile against a 20/2 server for 6 s: three bursts of 20 sends, one token, a 429 at the start of
    each burst and each retried message accepted later; Locust counted a failure (so a check fails)."""
    sends = tuple(T0 + w * 2.05 + i * 0.01 for w in range(3) for i in range(20))
    seen = Observation(
        requests=64, status_429=3, max_requests_in_window=21, arrivals_s=sends,
        received={f"r.1.{i}": 1 for i in range(60)}, outcomes={f"r.1.{i}": "sent" for i in range(60)},
        send_round_trip_ms=2.0, locust_errors=1,
        locust_entries=(LocustEntry("POST /oauth/v1/token", 1, 0, 9.0),
                        LocustEntry("POST /rest/v1/events/{event_id}/messages/send", 63, 3, 101.0)),
        send_arrivals_s=sends, token_arrivals_s=(T0 - 0.01,), arrivals_429_s=(T0 + 0.3, T0 + 2.4, T0 + 4.5),
        retry_arrivals_s=(sends[20], sends[40], sends[59]))
    return LoadPlan(Rate(40, 2.0, "custom"), SERVER, 6, 1), seen


def page(plan: LoadPlan, seen: Observation, **overrides) -> str:
    options = dict(target="the Events API at http://127.0.0.1:8765", created="2026-12-01T09:00:00+00:00",
                   version="1.2.3")
    return html_text(plan, seen, judge(plan, seen), **dict(options, **overrides))


def test_the_page_draws_requests_per_server_window_against_its_limit_with_429s_and_retries_marked():
    plan, seen = over_the_limit()
    text = page(plan, seen)
    assert len(re.findall(r'<rect class="bar send"', text)) == 3 and 'class="bar send"/>' in text  # + legend
    assert len(re.findall(r'<rect class="bar token"', text)) == 1
    assert len(re.findall(r'<line class="limit"', text)) == 1 and 'data-limit="20"' in text
    assert len(re.findall(r'<circle class="mark-429"', text)) == 3 and "429 (3)</text>" in text
    assert len(re.findall(r'<path class="mark-retry"', text)) == 3 and "retry (3)</text>" in text
    assert "Request starts per 2 s window against the server's limit" in text
    assert "server (20/2s)" in text and "custom (40/2s)" in text and "partial" not in text


def test_429s_count_in_the_bars_as_the_server_counted_them():
    plan, seen = over_the_limit()
    made = attempts(seen)
    assert [a.kind for a in made].count("send") == 60 + 3 and sum(a.retry for a in made) == 3
    assert sorted(a.started_s for a in made) == [a.started_s for a in made]
    assert sum(a.status == 429 for a in made) == 3


def test_the_verdicts_are_a_table_and_a_failing_check_shows_fail():
    plan, seen = over_the_limit()
    text = page(plan, seen)
    assert "<title>mwsync loadtest: FAIL (exit 1)</title>" in text
    rows = re.findall(r'<tr class="check (pass|fail)"><td>(\w+)</td><td><span [^>]*>(PASS|FAIL)</span>', text)
    assert [name for _, name, _ in rows] == ["no_429_within_limit", "max_requests_in_window", "achieved_rate",
                                             "exactly_once", "concurrency", "locust_errors"]
    assert ("fail", "locust_errors", "FAIL") in rows and ("pass", "exactly_once", "PASS") in rows
    assert "<td class=\"num\">n/a</td>" in text  # no_429_within_limit has no threshold over the limit
    assert "64 requests (3 answered 429), at most 21 in one server window" in text
    assert "note: Locust recorded 1 failure(s)" in text and "POST /oauth/v1/token" in text


def test_the_page_is_self_contained():
    text = page(*over_the_limit())
    assert "<script" not in text and not re.search(r"(src|href)=\"https?:", text) and "@import" not in text


def test_the_limiter_s_password_is_not_shown():
    """A password of its own: it stays registered with the process's redaction (a plain "secret" would blank
    out `client_secret` in every later test)."""
    text = page(*over_the_limit(), workers=2, limiter="redis://:lt-page-s3cret@host:6379/0")
    assert "lt-page-s3cret" not in text and "redis://:" not in text and "redis://host:6379/0" in text


def test_a_truncated_request_log_says_the_marks_are_partial():
    plan, seen = over_the_limit()
    seen = Observation(**{**seen.__dict__, "status_429": 5})
    text = page(plan, seen)
    assert "The 429 marks are partial: the mock's request log held 3 of the 5 429s" in text


def test_a_run_the_server_accepted_nothing_of_has_no_chart_and_passes_only_what_it_can():
    seen = Observation(requests=0, status_429=0, max_requests_in_window=0, arrivals_s=(), received={}, outcomes={})
    text = page(LoadPlan(SERVER, SERVER, 6, 1), seen)
    assert "<svg" not in text and "The server accepted no request of this run." in text
    assert "exit 1" in text  # the achieved rate is 0
