"""Rendering: autoescaped chat markup, strict variables, errors that name template, line and row."""

from __future__ import annotations

import datetime as dt

import pytest

from mwsync.config import load_job
from mwsync.errors import TemplateError
from mwsync.templates import MessageRenderer
from tests.support import job_dict, make_job

TODAY = dt.date(2026, 11, 29)


def renderer(text="Hi {{ name }}", template_file=None, **message):
    """A renderer for `make_job()` with `text` inline, or `template_file` as the text of `templates/t.html.j2`;
    other keywords replace `MessageSpec` fields."""
    if template_file is not None:
        message.update(text_name="t.html.j2", text_source=template_file)
    else:
        message["text_source"] = text
    return MessageRenderer(make_job(message=message), today=TODAY)


ROW = {"id": "7", "name": "Amy", "email": "amy@example.com", "dept": "R&D", "nick": "<b>Bobby</b>"}


@pytest.mark.parametrize("text,expected", [
    ("{{ dept }}", "R&amp;D"),
    ("{{ nick }}", "&lt;b&gt;Bobby&lt;/b&gt;"),
    ("<b>{{ name }}</b>", "<b>Amy</b>"),
    ("{{ nick | safe }}", "<b>Bobby</b>"),
    ("{{ \"O'Connor\" }}", "O&#39;Connor"),
], ids=["ampersand", "markup-in-data", "template-markup-kept", "safe-opt-in", "quote"])
def test_values_are_escaped_into_markup(text, expected):
    assert renderer(text).render(ROW, 1).text == expected


def test_plain_fields_are_not_escaped():
    r = renderer(slots={"dept": "{{ dept }}"}, idempotency_key="{{ dept }}-{{ id }}")
    message = r.render(ROW, 1)
    assert message.slots == {"dept": "R&D"} and message.key == "R&D-7"


def test_recipients_split_and_deduplicated():
    r = renderer(recipients=["{{ email }}, b@example.com", "amy@example.com;c@example.com"])
    assert r.render(ROW, 1).recipients == ("amy@example.com", "b@example.com", "c@example.com")


def test_default_key_is_stable_content_hash():
    r = renderer(idempotency_key=None)
    first, again = r.render(ROW, 1), r.render(dict(ROW), 9)
    assert first.key == again.key and first.key.startswith("sha256:")
    assert r.render(dict(ROW, name="Bo"), 1).key != first.key


def test_undefined_variable_names_template_line_and_row():
    r = renderer(template_file="Hello\n{{ nmae }}\n")
    with pytest.raises(TemplateError) as info:
        r.render(ROW, 12)
    problem = info.value.problems[0]
    assert problem.file.endswith("t.html.j2") and problem.line == 2 and problem.location == "row 12"
    assert "'nmae' is undefined" in problem.message


def test_syntax_error_is_reported_before_any_row():
    with pytest.raises(TemplateError) as info:
        renderer(template_file="ok\n{% if %}\n")
    assert info.value.problems[0].line == 2 and "syntax error" in info.value.problems[0].message


def test_sandbox_blocks_unsafe_attribute_access():
    r = renderer("{{ name.__class__.__mro__ }}")
    with pytest.raises(TemplateError):
        r.render(ROW, 1)


def test_dates_filter_and_today():
    r = renderer("{{ '2026-12-06' | days_until }} {{ today }}")
    assert r.render(ROW, 1).text == "7 2026-11-29"


@pytest.mark.parametrize("value", ["31/12/2026", "soon", "2026-02-30"])
def test_a_value_that_is_not_a_date_names_itself_and_the_format(value):
    r = renderer("{{ expires | days_until }}")
    with pytest.raises(TemplateError) as info:
        r.render(dict(ROW, expires=value), 4)
    problem = info.value.problems[0]
    assert problem.location == "row 4, message.text"
    assert f"'{value}' is not a date: write YYYY-MM-DD" in problem.message
    assert "isoformat" not in problem.message


def test_filter_expression():
    r = MessageRenderer(make_job(source={"filter": "id | int >= 3"}), today=TODAY)
    assert [r.accepts({"id": str(i)}, i) for i in range(5)] == [False, False, False, True, True]


@pytest.mark.parametrize("source,row,expected", [
    ("{{ email }}", {"email": ["a@example.com", "b@example.com"]}, ("a@example.com", "b@example.com")),
    ("{{email}}", {"email": "a@example.com"}, ("a@example.com",)),
    ("{{ user }}@example.com", {"user": "amy"}, ("amy@example.com",)),
    ("{{ email | lower }}", {"email": "AMY@example.com"}, ("amy@example.com",)),
    ("fixed@example.com", {}, ("fixed@example.com",)),
], ids=["jsonl-list", "lookup", "interpolation", "jinja-filter", "constant"])
def test_plain_fields_fast_paths_match_jinja(source, row, expected):
    r = renderer(recipients=source, idempotency_key="key-{{ row_number }}")
    message = r.render(dict(row, name="x"), 4)
    assert message.recipients == expected and message.key == "key-4"


@pytest.mark.parametrize("key", ["{{ missing }}", "k-{{ missing }}", "{{ missing | upper }}"],
                         ids=["lookup", "interpolation", "jinja"])
def test_plain_fields_missing_name_is_an_error_on_every_path(key):
    r = renderer(idempotency_key=key)
    with pytest.raises(TemplateError, match="'missing' is undefined"):
        r.render(ROW, 3)


@pytest.mark.parametrize("filter_,fragment", [
    ("1/0", "ZeroDivisionError"),
    ("row.__class__", "is unsafe"),
    ("email.split('@')[5]", "has no element 5"),
    ("name | int > 1", "is not a number"),
], ids=["zero-division", "sandboxed-attribute", "missing-index", "strict-int"])
def test_filter_errors_name_the_row_and_the_line(write_job, filter_, fragment):
    """The line is the job file's: this one loads YAML."""
    job = job_dict()
    job["source"]["filter"] = filter_
    path = write_job(job)
    r = MessageRenderer(load_job(path, environ={}), today=TODAY)
    with pytest.raises(TemplateError) as info:
        r.accepts(ROW, 3)
    problem = info.value.problems[0]
    assert problem.location == "row 3, source.filter" and fragment in problem.message
    assert problem.line == next(i for i, line in enumerate(path.read_text().splitlines(), 1) if "filter:" in line)


def test_errors_in_text_are_template_problems_not_tracebacks():
    r = renderer("{{ 1/0 }}")
    with pytest.raises(TemplateError, match="ZeroDivisionError"):
        r.render(ROW, 1)


@pytest.mark.parametrize("value", [None, "", "   "], ids=["null", "empty", "blank"])
def test_an_empty_idempotency_key_is_a_row_problem(value):
    r = renderer(idempotency_key="{{ key }}")
    with pytest.raises(TemplateError, match="idempotency key is empty"):
        r.render(dict(ROW, key=value), 2)


@pytest.mark.parametrize("text", ["{{ 'a' * 3000000000 }}", "{{ ('a' * 20000) * 20000 }}", "{{ 10 ** 100000000 }}",
                                  "{{ 'a'.ljust(10 ** 9) }}", "{{ 'a' | center(3000000000) }}",
                                  "{{ '%0999999999d' % 1 }}", "{{ '{:>999999999}'.format('x') }}",
                                  "{{ 'a' | indent(999999999, true) }}", "{{ [1] * 3000000000 }}",
                                  # the second attack pass: amplifiers, accumulation, loops writing text
                                  "{% set ns = namespace(s='a') %}{% for i in range(30) %}{% set ns.s = ns.s ~ ns.s %}"
                                  "{% endfor %}{{ ns.s }}",
                                  "{% set a = 'a' * 1000000 %}{% set b = a ~ a %}{% set c = b ~ b %}{{ c }}",
                                  "{{ (['a' * 1000000] * 750) | join }}", "{{ ('a' * 1000000).replace('a', 'aaa') }}",
                                  "{{ ('a' * 1000000) | replace('a', 'aaa') }}",
                                  "{{ ('a' * 750).join('a' * 1000000) }}",
                                  "{{ ('\t' * 2000).expandtabs(750000) }}", "{{ '{:{}}'.format(1, 1500000000) }}",
                                  "{{ (('a\n') * 1000000) | indent('x' * 1500, first=True) }}",
                                  "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
                                  "{% set ns = namespace(n=3) %}{% for i in range(40) %}{% set ns.n = ns.n * ns.n %}"
                                  "{% endfor %}{{ ns.n > 1 }}"])
def test_a_template_cannot_build_gigabytes_or_burn_minutes(text):
    """Each took gigabytes or minutes before the 20,000-character message check could refuse it."""
    with pytest.raises(TemplateError) as info:
        renderer(text).render(ROW, 3)
    problem = info.value.problems[0]
    assert problem.location == "row 3, message.text" and "may not build more than 2,000,000" in problem.message


@pytest.mark.parametrize("text, expected", [("{{ 'ab' * 3 }}", "ababab"), ("{{ 2 ** 10 }}", "1024"),
                                            ("{{ '%05d' % 42 }}", "00042"), ("{{ '{:,}'.format(5000000) }}",
                                                                              "5,000,000"),
                                            ("{{ '%s items' | format(5000000) }}", "5000000 items"),
                                            ("{{ 'x' | center(5) }}", "x"), ("{{ 10 % 3 }}", "1"),
                                            ("{{ ['a', 'b'] | join(', ') }}", "a, b"), ("{{ 'a-b'.replace('-', ' ') }}",
                                                                                       "a b"),
                                            ("{% set ns = namespace(t='') %}{% for i in range(3) %}{% set ns.t = "
                                             "ns.t ~ i %}{% endfor %}{{ ns.t }}", "012")])
def test_ordinary_arithmetic_and_formatting_still_work(text, expected):
    assert renderer(text).render(ROW, 1).text == expected
