"""The message ledger on its own (pure): bounded bodies, paging, counts and duplicates over every message."""

from __future__ import annotations

import hashlib
import json

import pytest

from mwsync.mock_server.contract import SendPayload
from mwsync.mock_server.ledger import DigestSet, MessageLedger, decode

EVENT = "5c1d6f0e-6a8b-4c53-9a51-0f7b8e4a2d11"


def payload(message: str = "hi", *recipients: str, context: dict | None = None) -> SendPayload:
    return SendPayload(message, recipients or ("ada@example.com",), context)


def add(ledger: MessageLedger, message: str = "hi", *recipients: str, event: str | None = EVENT) -> int:
    body = payload(message, *recipients)
    raw = json.dumps({"message": message, "recipients": list(body.recipients)}).encode()
    return ledger.add("/send", event, body, "tok_000001", raw, 1_700_000_000.0)


def test_keeps_the_last_n_bodies_and_counts_them_all():
    ledger = MessageLedger(keep=3)
    seqs = [add(ledger, f"m{n}") for n in range(10)]
    assert seqs == list(range(1, 11)) and (ledger.total, ledger.kept_count) == (10, 3)
    assert [decode(item)["message"] for item in ledger.page()] == ["m7", "m8", "m9"]
    assert ledger.count(EVENT) == 10 and ledger.count(recipient="ADA@example.com") == 10


def test_keep_zero_keeps_no_body():
    ledger = MessageLedger(keep=0)
    add(ledger)
    assert ledger.page() == [] and ledger.total == 1


def test_byte_bound_evicts_oldest_whatever_keep_says():
    ledger = MessageLedger(keep=100, max_kept_bytes=200)
    for n in range(10):
        add(ledger, f"message-{n:02d}")
    assert ledger.kept_bytes <= 200 and 1 <= ledger.kept_count < 10
    assert decode(ledger.page()[-1])["message"] == "message-09"


@pytest.mark.parametrize(("after", "limit", "expected"), [
    (0, 0, []), (0, 2, [1, 2]), (2, 2, [3, 4]), (4, 5, [5]), (5, 5, []), (0, None, [1, 2, 3, 4, 5]), (99, 1, []),
])
def test_page_by_sequence_number(after, limit, expected):
    ledger = MessageLedger(keep=10)
    for n in range(5):
        add(ledger, f"m{n}")
    assert [item[0] for item in ledger.page(after, limit)] == expected


def test_page_after_an_evicted_sequence_starts_at_the_oldest_kept():
    ledger = MessageLedger(keep=2)
    for n in range(5):
        add(ledger, f"m{n}")
    assert [item[0] for item in ledger.page(1, 10)] == [4, 5]


def test_duplicates_are_by_event_content_and_recipient():
    ledger = MessageLedger()
    add(ledger, "a", "ada@example.com", "bob@example.com")
    add(ledger, "a", "ADA@example.com")  # same content, same person: duplicate
    add(ledger, "b", "ada@example.com")  # other content
    add(ledger, "a", "ada@example.com", event="11111111-2222-4333-8444-555555555555")  # other event
    assert (ledger.deliveries, ledger.duplicate_deliveries) == (5, 1)
    assert ledger.count(EVENT, "ada@example.com") == 3 and ledger.count(EVENT, "bob@example.com") == 1


def test_counts_for_the_deprecated_endpoint():
    ledger = MessageLedger()
    add(ledger, "x", event=None)
    add(ledger)
    assert ledger.count() == 2 and ledger.count(None, any_event=False) == 1


def test_digest_set_is_exact_and_packed():
    digests = DigestSet()
    values = [hashlib.blake2b(str(n).encode(), digest_size=8).digest() for n in range(20_000)]
    assert all(digests.add(v) for v in values) and not any(digests.add(v) for v in values[:100])
    assert digests.size == 20_000
    unaligned = values[0][4:] + values[1][:4]  # bytes spanning two stored digests are not a member
    assert digests.add(unaligned)


def test_padded_bodies_are_kept_compact():
    ledger = MessageLedger()
    raw = b'{"message": "hi", "recipients": ["ada@example.com"]}' + b" " * 100_000
    ledger.add("/send", EVENT, payload(), "tok", raw, 0.0)
    assert ledger.kept_bytes < 200 and decode(ledger.page()[0])["recipients"] == ["ada@example.com"]
