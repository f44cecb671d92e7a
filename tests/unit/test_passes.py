"""`plan_pass` and `send_pass` over a list of rendered records with a dict for the journal's lookup: the
counts the plan reports, the requests the send pass yields, invalid rows, repeated keys, coalescing.
No template, file or journal: the stream is built with `make_message`."""

from __future__ import annotations

import pytest

from mwsync.errors import InvalidMessages, Problem
from mwsync.plan import PlanSummary, SendOptions, plan_pass, send_pass
from mwsync.records import Filtered, Rejected
from tests.support import make_message

SKIP_INVALID = SendOptions(skip_invalid=True)


def lookup_of(journal: dict[str, dict[str, tuple[str, str]]]):
    """A journal `lookup(key)` backed by `{key: {address: (state, content hash)}}`."""
    return lambda key: journal.get(key, {})


def no_record(key: str) -> dict:
    return {}


def both_passes(items, lookup=no_record, options=SendOptions()):
    """The plan pass, then the send pass over the same records: `(summary, [(recipients, keys), ...])`."""
    plan = plan_pass(items, lookup, options, label="rows.jsonl")
    requests = [(batch.recipients, sorted({d.key for d in batch.deliveries}))
                for batch in send_pass(items, lookup, options, plan)]
    return plan, requests


def test_each_decision_is_counted_and_only_what_is_to_send_is_requested():
    sent_before = make_message(key="sent", text="s", recipients=["s@example.com"], row=2)
    changed = make_message(key="changed", text="new text", recipients=["c@example.com"], row=3)
    held = make_message(key="held", text="h", recipients=["h@example.com"], row=4)
    fresh = make_message(key="fresh", text="f", recipients=["f1@example.com", "f2@example.com"], row=5)
    journal = {"sent": {"s@example.com": ("sent", sent_before.content_hash)},
               "changed": {"c@example.com": ("sent", "the-old-content")},
               "held": {"h@example.com": ("unknown", held.content_hash)}}
    items = [Filtered(1), sent_before, changed, held, fresh, Filtered(6)]

    plan, requests = both_passes(items, lookup_of(journal))

    assert (plan.messages, plan.to_send, plan.skipped, plan.changed, plan.held, plan.filtered) == (4, 1, 1, 1, 1, 2)
    assert (plan.recipients, plan.requests, plan.invalid, plan.duplicates) == (5, 1, 0, 0)
    assert plan.changed_keys == ("changed",)
    assert requests == [(["f1@example.com", "f2@example.com"], ["fresh"])]


def test_resend_unknown_requests_the_held_message():
    held = make_message(key="held", recipients=["h@example.com"])
    journal = {"held": {"h@example.com": ("unknown", held.content_hash)}}
    plan, requests = both_passes([held], lookup_of(journal), SendOptions(resend_unknown=True))
    assert (plan.held, plan.to_send, requests) == (0, 1, [(["h@example.com"], ["held"])])


def test_an_invalid_row_stops_the_plan_naming_every_problem():
    items = [make_message(key="ok", row=1), make_message(key="bad", recipients=["not-an-email"], row=2),
             Rejected(3, (Problem("rows.jsonl", "message.text", "'nmae' is undefined", row=3),))]
    with pytest.raises(InvalidMessages) as info:
        plan_pass(items, no_record, SendOptions(), label="rows.jsonl", job_file="job.yaml")
    assert [(p.row, p.where) for p in info.value.problems] == [(2, "message.recipients"), (3, "message.text")]
    assert info.value.total == 2 and "job.yaml: nothing was sent" in info.value.note


def test_skip_invalid_counts_invalid_rows_and_the_send_pass_leaves_them_out():
    items = [make_message(key="a", recipients=["a@example.com"], row=1),
             make_message(key="bad", recipients=["not-an-email"], row=2),
             Rejected(3, (Problem("rows.jsonl", "message.text", "'nmae' is undefined", row=3),)),
             make_message(key="b", text="other", recipients=["b@example.com"], row=4)]
    plan, requests = both_passes(items, options=SKIP_INVALID)
    assert (plan.messages, plan.invalid, plan.problem_count, plan.invalid_rows) == (2, 2, 2, frozenset({2, 3}))
    assert plan.requests == len(requests) == 2
    assert requests == [(["a@example.com"], ["a"]), (["b@example.com"], ["b"])]


def test_the_send_pass_skips_the_rows_its_plan_found_invalid():
    """The send pass does not check rows again: it leaves out `plan.invalid_rows`, whatever they render to."""
    items = [make_message(key="a", recipients=["a@example.com"], row=1),
             make_message(key="b", recipients=["b@example.com"], row=2)]
    batches = list(send_pass(items, no_record, SKIP_INVALID, PlanSummary(invalid_rows=frozenset({2}))))
    assert [batch.recipients for batch in batches] == [["a@example.com"]]


def test_a_repeated_key_and_recipient_is_one_delivery_and_counted_as_duplicate():
    first = make_message(key="k", recipients=["a@example.com"], row=1)
    again = make_message(key="k", recipients=["A@example.com", "b@example.com"], row=2)  # a@ again, b@ new
    only_repeats = make_message(key="k", recipients=["a@example.com", "b@example.com"], row=3)
    plan, requests = both_passes([first, again, only_repeats])
    assert (plan.messages, plan.duplicates, plan.recipients, plan.requests) == (2, 3, 2, 1)
    assert requests == [(["a@example.com", "b@example.com"], ["k"])]


def test_a_repeated_key_with_other_content_is_an_invalid_row():
    items = [make_message(key="k", text="one", row=1), make_message(key="k", text="two", row=2)]
    with pytest.raises(InvalidMessages, match="row 2, message.idempotency_key: idempotency key 'k' was already "
                                              "used by row 1 with other content"):
        plan_pass(items, no_record, SendOptions(), label="rows.jsonl")
    plan, requests = both_passes(items, options=SKIP_INVALID)
    assert (plan.messages, plan.invalid, requests) == (1, 1, [(["a@example.com"], ["k"])])


def test_identical_content_coalesces_and_more_than_500_recipients_split():
    broadcast = [make_message(key=f"k{i}", text="same", recipients=[f"u{i}@example.com"], row=i + 1)
                 for i in range(1200)]
    other = make_message(key="other", text="different", recipients=["u0@example.com"], row=1201)
    slotted = make_message(key="slotted", text="same", slots={"x": "1"}, recipients=["u1@example.com"], row=1202)
    plan, requests = both_passes(broadcast + [other, slotted])
    assert plan.requests == len(requests) == 5
    assert sorted(len(recipients) for recipients, _ in requests) == [1, 1, 200, 500, 500]
    assert sum(len(keys) for recipients, keys in requests if len(recipients) > 1) == 1200


def test_one_person_spelt_twice_in_a_request_is_listed_once():
    items = [make_message(key="a", recipients=["Ann@Example.com"], row=1),
             make_message(key="b", recipients=["ann@example.com"], row=2)]
    plan, requests = both_passes(items)
    assert plan.requests == 1 and requests == [(["Ann@Example.com"], ["a", "b"])]


def test_the_plan_of_an_empty_stream_is_empty():
    plan, requests = both_passes([Filtered(1)])
    assert (plan.messages, plan.filtered, plan.requests, requests) == (0, 1, 0, [])


def test_the_send_pass_keeps_only_what_its_claim_grants_and_counts_what_other_runners_hold():
    shared = [make_message(key=f"k{i}", text="same", recipients=[f"u{i}@example.com"], row=i) for i in range(4)]
    theirs = make_message(key="theirs", text="t", recipients=["t@example.com"], row=5)
    items = [*shared, theirs]
    journal = lookup_of({"theirs": {"t@example.com": ("claimed", theirs.content_hash)}})
    plan = plan_pass(items, journal, SendOptions(), label="rows.jsonl")
    assert plan.elsewhere == 1 and plan.to_send == 4

    def claim(deliveries):  # another runner got k1 and k3 first
        return [d for d in deliveries if d.key not in ("k1", "k3")]

    tally: dict[str, int] = {}
    batches = list(send_pass(items, journal, SendOptions(), plan, claim=claim, tally=tally))
    assert [b.recipients for b in batches] == [["u0@example.com", "u2@example.com"]]  # still coalesced
    assert tally == {"elsewhere": 3}
    assert list(send_pass(items, journal, SendOptions(), plan, claim=lambda d: [])) == []
