"""The exactly-once decision (`mwsync.plan.decide`): every row of the table in its docstring, per recipient
and per message, addresses compared case-blind, and what `resend_unknown` changes."""

from __future__ import annotations

import pytest

from mwsync.plan import Decision, decide

A, B = "a@example.com", "b@example.com"
SAME, OTHER = "hash-same", "hash-other"  # the message's content hash now, and another one

SEND_A, SEND_B, SEND_AB = Decision("send", (A,)), Decision("send", (B,)), Decision("send", (A, B))
SKIP, CHANGED, HELD = Decision("skip"), Decision("changed"), Decision("held")

TABLE = [
    # one recipient: each journal state
    ((A,), {}, SEND_A),
    ((A,), {A: ("failed", SAME)}, SEND_A),
    ((A,), {A: ("failed", OTHER)}, SEND_A),
    ((A,), {A: ("sent", SAME)}, SKIP),
    ((A,), {A: ("sent", OTHER)}, CHANGED),
    ((A,), {A: ("unknown", SAME)}, HELD),
    ((A,), {A: ("pending", SAME)}, HELD),
    # two recipients: per recipient first, then the message
    ((A, B), {}, SEND_AB),
    ((A, B), {A: ("sent", SAME)}, SEND_B),
    ((A, B), {A: ("failed", SAME), B: ("sent", SAME)}, SEND_A),
    ((A, B), {A: ("unknown", SAME)}, SEND_B),
    ((A, B), {A: ("sent", SAME), B: ("unknown", SAME)}, HELD),
    ((A, B), {A: ("sent", SAME), B: ("sent", SAME)}, SKIP),
    ((A, B), {A: ("sent", OTHER)}, CHANGED),
    ((A, B), {B: ("sent", OTHER)}, CHANGED),
    ((A, B), {A: ("unknown", SAME), B: ("sent", OTHER)}, CHANGED),
]
TABLE_IDS = [
    "nothing-send", "failed-send", "failed-other-content-send", "sent-same-skip", "sent-other-changed",
    "unknown-held", "pending-held",
    "both-new-send-both", "one-sent-send-the-other", "one-failed-send-it", "one-in-doubt-send-the-other",
    "sent-and-in-doubt-held", "both-sent-skip", "first-changed-sends-nobody", "later-changed-sends-nobody",
    "changed-wins-over-held",
]


@pytest.mark.parametrize(("recipients", "recorded", "expected"), TABLE, ids=TABLE_IDS)
def test_the_decision_table(recipients, recorded, expected):
    assert decide(recipients, SAME, recorded) == expected


@pytest.mark.parametrize(("recipients", "recorded", "expected"), [
    ((A,), {A: ("unknown", SAME)}, SEND_A),
    ((A,), {A: ("pending", SAME)}, SEND_A),
    ((A, B), {A: ("sent", SAME), B: ("unknown", SAME)}, SEND_B),
    ((A,), {A: ("sent", SAME)}, SKIP),
    ((A,), {A: ("sent", OTHER)}, CHANGED),
    ((A, B), {A: ("unknown", SAME), B: ("sent", OTHER)}, CHANGED),
], ids=["unknown-sent-again", "pending-sent-again", "only-the-one-in-doubt", "sent-is-never-resent",
        "changed-is-never-resent", "changed-wins"])
def test_resend_unknown_resends_only_what_is_in_doubt(recipients, recorded, expected):
    assert decide(recipients, SAME, recorded, resend_unknown=True) == expected


@pytest.mark.parametrize(("state", "content", "expected"), [
    (None, None, Decision("send", ("Ann@Example.COM",))),
    ("sent", SAME, SKIP),
    ("sent", OTHER, CHANGED),
    ("unknown", SAME, HELD),
], ids=["new-keeps-the-rendered-spelling", "sent-skip", "sent-other-changed", "unknown-held"])
def test_addresses_compare_case_blind(state, content, expected):
    """The journal keys recipients lower-case (`address_key`); a re-spelt address is the same person."""
    recorded = {} if state is None else {"ann@example.com": (state, content)}
    assert decide(("Ann@Example.COM",), SAME, recorded) == expected



@pytest.mark.parametrize(("recipients", "recorded", "expected"), [
    ((A,), {A: ("claimed", SAME)}, Decision("elsewhere")),
    ((A, B), {A: ("claimed", SAME)}, SEND_B),
    ((A, B), {A: ("claimed", SAME), B: ("unknown", SAME)}, HELD),
    ((A, B), {A: ("claimed", SAME), B: ("sent", SAME)}, Decision("elsewhere")),
    ((A, B), {A: ("claimed", SAME), B: ("sent", OTHER)}, CHANGED),
], ids=["claimed-elsewhere", "send-the-unclaimed-one", "held-wins", "claimed-and-sent-elsewhere", "changed-wins"])
def test_a_delivery_another_runner_holds_is_left_to_it(recipients, recorded, expected):
    """A shared journal reports `claimed` for what another live runner holds: never sent here, even when
    resending what is in doubt."""
    assert decide(recipients, SAME, recorded) == expected
    assert A not in decide(recipients, SAME, recorded, resend_unknown=True).recipients
