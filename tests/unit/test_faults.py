"""Delivery truth under faults, the pure parts: the spacing rule, the exit-code order, token lifetimes, the
status table, the 429 notice, hostile input, null and control characters, template white space."""

from __future__ import annotations

import csv
import json
import logging

import pytest
import requests

from mwsync.config import load_job
from mwsync.config.job import SourceSpec
from mwsync.errors import (
    AuthError,
    ConfigError,
    OutcomeUnknown,
    PermanentError,
    RateLimited,
    Redirected,
    TransientError,
)
from mwsync.plan import message_problems
from mwsync.report import JobReport, run_exit_code
from mwsync.send.api import expires_in_s, status_error
from mwsync.send.session import MoveworksSession
from mwsync.send.throttle import SlidingWindowLimiter
from mwsync.sources import iter_rows
from mwsync.templates import MessageRenderer
from tests.support import FakeClock, make_job, make_message

# -- the spacing rule ---------------------------------------------------------------------------------


def test_a_window_counts_from_the_completion_the_server_can_last_have_seen():
    """A request that took 0.4 s to complete pushes the request `limit` places later by those 0.4 s: however
    late it reached the server, the next one arrives more than a window after it."""
    clock = FakeClock(0.0)
    limiter = SlidingWindowLimiter(2, 1.0, margin_s=0.0, clock=clock, sleep=clock.sleep)
    slow = limiter.acquire()
    limiter.acquire().done()
    clock.advance(0.4)
    slow.done()  # its answer came at 0.4: the server saw it at 0.4 at the latest
    limiter.acquire().done()  # the slot 2 places after `slow`
    assert clock.now_s == pytest.approx(1.4)


def test_a_slot_still_in_flight_holds_the_slot_limit_places_later(monkeypatch):
    clock = FakeClock(0.0)
    limiter = SlidingWindowLimiter(1, 1.0, margin_s=0.0, clock=clock, sleep=clock.sleep)
    first = limiter.acquire()
    waits = []

    def first_completes_while_waiting(timeout):  # stands in for Condition.wait: `first` answers 0.3 s later
        waits.append(timeout)
        clock.advance(0.3)
        first.end = clock.now_s

    monkeypatch.setattr(limiter._completed, "wait", first_completes_while_waiting)
    limiter.acquire().done()  # could not start until `first` completed, then a window after it
    assert waits and clock.now_s == pytest.approx(1.3)


def test_a_cancelled_slot_gives_its_place_back():
    clock = FakeClock(0.0)
    limiter = SlidingWindowLimiter(1, 1.0, margin_s=0.0, clock=clock, sleep=clock.sleep)
    limiter.acquire().cancel()
    limiter.acquire().done()
    assert clock.sleeps == []


# -- exit codes --------------------------------------------------------------------------------------


def report(**messages) -> JobReport:
    base = {"total": 1, "sent": 0, "failed": 0, "unknown": 0, "held": 0, "invalid": 0}
    stopped = messages.pop("stopped", None)
    return JobReport("j", "j.yaml", "embedded", {}, {}, dict(base, **messages), {}, 0, 1, 0.1, stopped=stopped)


@pytest.mark.parametrize("reports,expected", [
    ([report(sent=1)], 0),
    ([report(failed=1)], 1),
    ([report(invalid=1)], 1),
    ([report(unknown=1)], 3),
    ([report(held=1)], 3),
    ([report(stopped="interrupted")], 4),
    ([report(failed=1), report(stopped="interrupted")], 4),
    ([report(unknown=1, stopped="interrupted"), report(failed=1)], 3),
], ids=["sent", "failed", "invalid", "unknown", "held", "stopped", "stopped-over-failed", "doubt-over-all"])
def test_the_most_urgent_exit_code_wins(reports, expected):
    assert run_exit_code(reports) == expected


# -- token lifetimes and the status table --------------------------------------------------------------


@pytest.mark.parametrize("value,expected", [(3600, 3600.0), (60.5, 60.5), ("120", 120.0), (None, 60.0)],
                         ids=["int", "float", "digits", "missing"])
def test_expires_in_accepted(value, expected):
    assert expires_in_s(value) == expected


@pytest.mark.parametrize("value", ["soon", "0x10", [1], float("inf"), -5, 0, True, {"s": 1}],
                         ids=["word", "hex", "list", "inf", "negative", "zero", "bool", "object"])
def test_expires_in_refused_with_its_value(value):
    with pytest.raises(AuthError, match="expires_in is .* not a number of seconds above 0"):
        expires_in_s(value)


def response(status: int, body: object = None) -> requests.Response:
    out = requests.Response()
    out.status_code = status
    out._content = json.dumps(body if body is not None else {"error": {"code": "X", "message": "m"}}).encode()
    out.url = "https://api.moveworks.ai/rest/v1/events/e/messages/send"
    return out


@pytest.mark.parametrize("status,call,kind", [
    (500, "send", OutcomeUnknown), (502, "send", OutcomeUnknown), (504, "send", OutcomeUnknown),
    (503, "send", TransientError), (429, "send", RateLimited), (400, "send", PermanentError),
    (404, "send", PermanentError), (401, "send", AuthError),
    (500, "token", TransientError), (400, "token", AuthError), (429, "token", RateLimited),
    (302, "send", Redirected), (307, "send", Redirected), (303, "send", OutcomeUnknown),
    (302, "token", AuthError), (301, "auth test", AuthError),
])
def test_the_status_table(status, call, kind):
    error = status_error(response(status), call)
    assert type(error) is kind


@pytest.mark.parametrize("location", ["http://[evil/x", "http://evil\x1b]0;PWNED\x07.example/",
                                      "/rel\x1b[31mRED\x1b[0m\x07", "http://evil.example/p\x1b[2K\u202eFAKE"])
@pytest.mark.parametrize("call", ["send", "token", "auth test"])
def test_a_hostile_location_is_an_ordinary_error_with_its_text_escaped(location, call):
    """A malformed IPv6 Location made urlsplit raise (an internal error, rows left in doubt); escapes in it
    reached the terminal raw."""
    answer = response(307)
    answer.headers["Location"] = location
    text = str(status_error(answer, call))
    assert "307 redirect to" in text and not any(c in text for c in "\x1b\x07\u202e")


def test_an_oauth_error_string_is_capped_and_escaped():
    answer = response(401, {"error": "inv\x1b[31mESC\x00\ud800" + "A" * 200_000})
    error = status_error(answer, "token")
    assert error.code.startswith("inv\\x1b[31mESC\\x00\ufffd") and len(error.code) < 130  # 100, escapes spelt out
    assert len(str(error)) < 1000 and "\x1b" not in str(error)
    str(error).encode("utf-8")  # a lone surrogate made every later write raise UnicodeEncodeError


def test_resend_on_opts_a_5xx_into_retries():
    assert type(status_error(response(502), "send", resend_on=frozenset({502}))) is TransientError


def test_a_long_429_pause_is_announced(caplog):
    session = MoveworksSession(SlidingWindowLimiter(10, 1.0), max_retry_after_s=120, retry_after_default_s=60)
    answer = response(429)
    answer.headers["Retry-After"] = "300"
    with caplog.at_level(logging.WARNING, logger="mwsync"):
        session._pause(answer)
    assert "429 from api.moveworks.ai: no request starts for 120 s (Retry-After 300 s, capped by " \
           "retry.max_retry_after_s)" in caplog.text
    session.close()


@pytest.mark.parametrize("header, why", [(None, "no Retry-After: retry.retry_after_default_s"),
                                         ("abc", "Retry-After 'abc' is not seconds or a date: "
                                                 "retry.retry_after_default_s")])
def test_a_429_pause_says_whether_retry_after_was_missing_or_unreadable(caplog, header, why):
    session = MoveworksSession(SlidingWindowLimiter(10, 1.0), max_retry_after_s=120, retry_after_default_s=60)
    answer = response(429)
    if header is not None:
        answer.headers["Retry-After"] = header
    with caplog.at_level(logging.WARNING, logger="mwsync"):
        session._pause(answer)
    assert f"no request starts for 60 s ({why})" in caplog.text
    session.close()


# -- hostile input ------------------------------------------------------------------------------------


def test_a_header_of_100000_columns_is_checked_in_one_pass(tmp_path):
    path = tmp_path / "wide.csv"
    header = [f"c{i}" for i in range(100_000)] + ["c5"]
    with path.open("w", newline="") as out:
        csv.writer(out).writerow(header)
    with pytest.raises(ConfigError, match="column 'c5' appears twice"):
        list(iter_rows(SourceSpec("csv", path=path)))


def test_yaml_aliases_that_expand_past_the_bound_are_refused_at_once(write_job):
    big = "x" * 1_000_000
    lines = [f"big: &b {big}"] + [f"v{i}: *b" for i in range(40)]
    path = write_job("vars:\n" + "".join(f"  {line}\n" for line in lines) + "message: {}\nsource: {}\n")
    with pytest.raises(ConfigError, match="million characters once aliases are expanded"):
        load_job(path, environ={})


def test_json_nested_thousands_deep_names_the_line(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"id": 1}\n{"deep": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    with pytest.raises(ConfigError, match="line 2: JSON nested too deeply"):
        list(iter_rows(SourceSpec("jsonl", path=path)))


@pytest.mark.parametrize("field,value,fragment", [
    ("text", "hi \ud800", "not valid Unicode"),
    ("text", "nul \x00 here", "control character U+0000 at position 4"),
    ("key", "k\x07", "control character U+0007"),
], ids=["surrogate", "nul-in-text", "bell-in-key"])
def test_invalid_characters_are_row_problems(field, value, fragment):
    problems = message_problems(make_message(**{field: value}))
    assert any(fragment in what for _, what in problems), problems


def test_a_null_printed_by_a_template_is_a_row_problem_with_the_fix():
    renderer = MessageRenderer(make_job(message={"text_source": "Hello {{ name }}"}))
    with pytest.raises(Exception, match=r"a value is null; .*default\(''\, true\)") as info:
        renderer.render({"id": "1", "name": None, "email": "a@example.com"}, 4)
    assert info.value.problems[0].row == 4
    text = MessageRenderer(make_job(message={"text_source": "Hello {{ name | default('there', true) }}"}))
    assert text.render({"id": "1", "name": None, "email": "a@example.com"}, 4).text == "Hello there"


# -- template white space (golden) -------------------------------------------------------------------

GOLDEN_TEMPLATE = """

  <b>Hi {{ name }}</b>,
{% if days < 3 %}
  your password expires in {{ days }} days.
{% endif %}
  Thanks<br>IT   \n

"""
GOLDEN_TEXT = "<b>Hi Amy</b>,\n\n  your password expires in 2 days.\n\n  Thanks<br>IT"


def test_template_white_space_is_pinned():
    """Jinja defaults (no trim_blocks, no lstrip_blocks, one trailing newline dropped), then the whole text
    stripped; white space inside is kept (docs: mwsync.templates)."""
    renderer = MessageRenderer(make_job(message={"text_source": GOLDEN_TEMPLATE}))
    assert renderer.render({"id": "1", "name": "Amy", "email": "a@example.com", "days": 2}, 1).text == GOLDEN_TEXT


def test_plain_fields_are_stripped_and_recipients_split():
    renderer = MessageRenderer(make_job(message={"recipients": (" {{ a }} ; {{ b }}\n",), "idempotency_key": " k "}))
    message = renderer.render({"id": "1", "name": "x", "a": "a@example.com", "b": "b@example.com"}, 1)
    assert message.recipients == ("a@example.com", "b@example.com") and message.key == "k"
