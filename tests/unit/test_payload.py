"""Listener bodies: payload leaves rendered to JSON (native types for a lone expression, text otherwise), the
exact bytes, the hash and the default key, row problems naming the field and row, the 1 MB limit, and the
plan and send passes (one delivery per body, never coalesced)."""

from __future__ import annotations

import json

import pytest

from mwsync.errors import InvalidMessages, TemplateError
from mwsync.pipeline import rendered, renderer_for
from mwsync.plan import SendOptions, no_journal, plan_pass, send_pass
from mwsync.records import Notify, RenderedPayload
from mwsync.rules import LISTENER_DELIVERY, MAX_LISTENER_BODY_BYTES
from tests.support import LISTENER_ID, make_listener_job, rows

ROW = {"id": "7", "name": "Zoë O'Brien", "email": "zoe@example.com", "n": "3", "tags": "a;b", "flag": "yes",
       "nan": "NaN", "inf": "-Infinity"}


def render(payload: dict, row: dict = ROW, **kw) -> RenderedPayload:
    return renderer_for(make_listener_job(payload, **kw)).render(row, 1)


@pytest.mark.parametrize(("leaf", "value"), [
    ("{{ n | int }}", 3),
    ("{{ n | float }}", 3.0),
    ("{{ flag == 'yes' }}", True),
    ("{{ tags.split(';') }}", ["a", "b"]),
    ("{{ {'k': n | int} }}", {"k": 3}),
    ("{{ name }}", "Zoë O'Brien"),
    ("{{- n -}}", "3"),
    ("n={{ n }}", "n=3"),
    ("{{ n }} and {{ n }}", "3 and 3"),
    ("{% if flag == 'yes' %}on{% endif %}", "on"),
    ("plain text", "plain text"),
    ("<b>R&D</b>", "<b>R&D</b>"),
], ids=["int", "float", "bool", "list", "dict", "text-value", "trimmed", "hole", "two-holes", "tag", "literal",
        "not-escaped"])
def test_a_lone_expression_keeps_its_type_anything_else_is_text(leaf, value):
    assert json.loads(render({"v": leaf}).body) == {"v": value}


def test_the_body_is_compact_utf8_json_in_the_job_s_key_order_and_nested_leaves_render():
    payload = {"z": "{{ n | int }}", "a": ["x", {"deep": "{{ name }}"}], "m": {"email": "{{ email }}"}}
    body = render(payload).body
    assert body == '{"z":3,"a":["x",{"deep":"Zoë O\'Brien"}],"m":{"email":"zoe@example.com"}}'.encode()


def test_the_hash_ignores_key_order_and_the_default_key_follows_it():
    one = render({"a": "{{ n }}", "b": "{{ email }}"}, key=None)
    other = render({"b": "{{ email }}", "a": "{{ n }}"}, key=None)
    changed = render({"a": "{{ name }}", "b": "{{ email }}"}, key=None)
    assert one.body != other.body and one.content_hash == other.content_hash != changed.content_hash
    assert one.key == other.key == "sha256:" + one.content_hash[:24]
    assert (one.recipients, one.listener_id) == ((LISTENER_DELIVERY,), LISTENER_ID)


@pytest.mark.parametrize(("leaf", "fragment"), [
    ("{{ nan | float }}", "nan is not a JSON number (NaN and Infinity are not JSON)"),
    ("{{ inf | float }}", "-inf is not a JSON number"),
    ("{{ today }}", "a date is not a JSON value"),
    ("{{ none }}", "a value is null"),
    ("{{ missing }}", "'missing' is undefined (columns and vars are available by name"),
    ("{{ n | int + 'x' }}", "unsupported operand"),
], ids=["nan", "infinity", "date", "null", "undefined", "type-error"])
def test_a_leaf_that_is_no_json_value_is_a_row_problem_naming_the_field(leaf, fragment):
    with pytest.raises(TemplateError) as info:
        render({"outer": {"v": leaf}})
    [problem] = info.value.problems
    assert (problem.row, problem.where) == (1, "listener.payload.outer.v") and fragment in problem.message


def test_a_lone_surrogate_and_an_empty_key_are_row_problems():
    with pytest.raises(TemplateError, match="lone surrogates"):
        render({"v": "{{ name }}"}, row={**ROW, "name": "\ud800"})
    with pytest.raises(TemplateError, match="the idempotency key is empty for this row"):
        render({"v": "x"}, key="{{ blank }}", row={**ROW, "blank": " "})


def test_a_syntax_error_names_the_leaf_at_construction():
    with pytest.raises(TemplateError, match="listener.payload.v: template syntax error"):
        renderer_for(make_listener_job({"v": "{{ n | }}"}))


def passes(job, lookup=no_journal, options=SendOptions()):
    plan = plan_pass(rendered(job, renderer_for(job)), lookup, options, label="rows")
    return plan, list(send_pass(rendered(job, renderer_for(job)), lookup, options, plan))


def test_each_body_is_one_request_even_when_bodies_are_identical():
    job = make_listener_job({"text": "the same for everyone"}, source={"rows": rows(3)})
    plan, requests = passes(job)
    assert (plan.messages, plan.requests, plan.recipients) == (3, 3, 0)
    assert [type(r) for r in requests] == [Notify] * 3
    assert [r.body for r in requests] == [b'{"text":"the same for everyone"}'] * 3
    assert [[d.recipient for d in r.deliveries] for r in requests] == [[LISTENER_DELIVERY]] * 3


def test_the_journal_decides_each_body_once():
    job = make_listener_job(source={"rows": rows(3)})
    first = renderer_for(job).render(rows(3)[0], 1)
    journal = {"k-0": {LISTENER_DELIVERY: ("sent", first.content_hash)},
               "k-1": {LISTENER_DELIVERY: ("unknown", "whatever")}}
    plan, requests = passes(job, lambda key: journal.get(key, {}))
    assert (plan.skipped, plan.held, plan.to_send) == (1, 1, 1)
    assert [r.deliveries[0].key for r in requests] == ["k-2"]


def test_a_repeated_key_is_a_duplicate_with_the_same_body_and_a_conflict_with_another():
    same = make_listener_job({"v": "x"}, key="one", source={"rows": rows(2)})
    assert passes(same)[0].duplicates == 1
    other = make_listener_job({"v": "{{ id }}"}, key="one", source={"rows": rows(2)})
    with pytest.raises(InvalidMessages, match="row 2, listener.idempotency_key: idempotency key 'one' was already"):
        passes(other)


def test_a_body_over_1_mb_is_a_row_problem_before_anything_is_sent():
    big = "x" * (MAX_LISTENER_BODY_BYTES - len('{"v":""}'))
    data = [{"id": "0", "v": big}, {"id": "1", "v": big + "y"}]
    with pytest.raises(InvalidMessages) as info:
        passes(make_listener_job({"v": "{{ v }}"}, source={"rows": data}))
    [problem] = info.value.problems
    assert (problem.row, problem.where) == (2, "listener.payload")
    assert "1,000,001 bytes as JSON, over the listener's 1 MB (1,000,000 bytes)" in problem.message
