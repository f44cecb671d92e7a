"""The API's limits, chunking to 500 recipients and coalescing of identical messages."""

from __future__ import annotations

import pytest

from mwsync.plan import Batcher, Estimate, message_problems
from mwsync.rate import Rate
from mwsync.records import Delivery
from mwsync.rules import MAX_RECIPIENTS
from tests.support import EVENT_ID as EVENT
from tests.support import make_message as msg


def deliveries(m):
    return [Delivery(m.key, r, m.content_hash, m.row) for r in m.recipients]


@pytest.mark.parametrize("message,fragment", [
    (msg(text=""), "renders empty"),
    (msg(text="x" * 20_001), "20001 characters, over the API's 20000"),
    (msg(recipients=()), "no recipients"),
    (msg(recipients=("not-an-email",)), "'not-an-email' is not a valid e-mail"),
    (msg(recipients=("a@b@example.com",)), "is not a valid e-mail"),
    (msg(event="onboarding"), "is not a UUID"),
    (msg(event="urn:uuid:" + EVENT), "is not a UUID"),
    (msg(event="{" + EVENT + "}"), "is not a UUID"),
    (msg(event=EVENT.replace("-", "")), "is not a UUID"),
], ids=["empty", "too-long", "no-recipients", "no-at", "two-at", "event-not-uuid", "urn", "braces", "no-hyphens"])
def test_limits(message, fragment):
    assert any(fragment in text for _, text in message_problems(message))


def test_valid_message_at_the_limits_has_no_problem():
    assert message_problems(msg(text="x" * 20_000, recipients=[f"u{i}@example.com" for i in range(600)])) == []


def run(batcher, messages):
    out = []
    for m in messages:
        out.extend(batcher.add(m, deliveries(m)))
    return out + list(batcher.flush())


def test_broadcast_of_2000_becomes_4_requests():
    batches = run(Batcher(), [msg(key=f"k{i}", recipients=[f"u{i}@example.com"]) for i in range(2000)])
    assert [len(b.recipients) for b in batches] == [500, 500, 500, 500]


def test_one_message_with_1200_recipients_is_split():
    batches = run(Batcher(), [msg(recipients=[f"u{i}@example.com" for i in range(1200)])])
    assert [len(b.recipients) for b in batches] == [500, 500, 200]
    assert sum(len(b.deliveries) for b in batches) == 1200


def test_only_identical_event_text_and_slots_coalesce():
    messages = [msg(key="a"), msg(key="b", recipients=["b@example.com"]), msg(key="c", text="other"),
                msg(key="d", slots={"x": "1"}), msg(key="e", slots={"x": "1"}, recipients=["e@example.com"])]
    batches = run(Batcher(), messages)
    assert sorted(sorted(d.key for d in b.deliveries) for b in batches) == [["a", "b"], ["c"], ["d", "e"]]


def test_same_recipient_twice_in_a_group_is_listed_once():
    batches = run(Batcher(), [msg(key="a"), msg(key="b")])
    assert batches[0].recipients == ["a@example.com"] and len(batches[0].deliveries) == 2


def test_bounded_open_groups_trade_requests_for_memory():
    messages = [msg(key=f"k{i}", text=f"t{i % 3}", recipients=[f"u{i}@example.com"]) for i in range(9)]
    assert len(run(Batcher(), messages)) == 3
    assert len(run(Batcher(max_open_groups=1), messages)) == 9


@pytest.mark.parametrize("requests,expected", [(0, 0.0), (9, 0.0), (10, 60.0), (250, 1500.0)],
                         ids=["none", "one-window", "spills", "many"])
def test_estimate_counts_the_token_request(requests, expected):
    assert Estimate(Rate(10, 60.0, "t"), requests).duration_s == expected


def test_max_recipients_is_the_api_limit():
    assert MAX_RECIPIENTS == 500


def test_buffered_deliveries_are_bounded():
    batcher = Batcher(max_buffered=10)
    messages = [msg(key=f"k{i}", text=f"t{i % 2}", recipients=[f"u{i}@example.com"]) for i in range(30)]
    early = []
    for m in messages:
        early.extend(batcher.add(m, deliveries(m)))
        assert batcher._buffered <= 10
    rest = list(batcher.flush())
    assert sum(len(b.deliveries) for b in early + rest) == 30


ADDRESSES = ["a@example.com", "first.last+tag@example.co.uk", "a..b@example.com", ".a@example.com",
             "a.@example.com", "a b@example.com", "a(b)@example.com", "a@b@example.com", '"a b"@example.com',
             "ä@example.com", "a@exämple.com", "a@-bad.com", "a@example", "a@localhost", "", "@example.com",
             "a@", "x" * 64 + "@example.com", "x" * 65 + "@example.com", "a@" + "b" * 250 + ".com",
             "Name <a@example.com>", "a\\b@example.com", "a@[127.0.0.1]", "o'connor@example.com"]


@pytest.mark.parametrize("address", ADDRESSES, ids=range(len(ADDRESSES)))
def test_email_fast_path_agrees_with_email_validator(address):
    from email_validator import EmailNotValidError, validate_email

    from mwsync.plan import email_problem

    try:
        validate_email(address, check_deliverability=False)
        expected_valid = True
    except EmailNotValidError:
        expected_valid = False
    assert (email_problem(address) is None) == expected_valid


def test_one_person_spelt_twice_is_listed_once():
    batches = run(Batcher(), [msg(key="a", recipients=["Ann@Example.com"]),
                              msg(key="b", recipients=["ann@example.com"])])
    assert batches[0].recipients == ["Ann@Example.com"] and len(batches[0].deliveries) == 2


def test_lone_surrogates_are_a_problem_not_a_crash():
    assert any("not valid Unicode" in text for _, text in message_problems(msg(text="t\ud800")))
