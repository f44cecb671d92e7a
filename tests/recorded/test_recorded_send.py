"""Sends on tape: `POST /rest/v1/events/{event_id}/messages/send` and each class of answer.

Source: Moveworks Events API reference ("Send a message for an event", "Errors", "Rate limits"):
200 `{"data": {"status": "RECEIVED"}}`; 400 `INVALID_VALUE_SIZE_TOO_LONG` beyond 500 recipients or 20000
characters, 400 `BAD_REQUEST` for a wrong data type, 400 for a malformed e-mail (code unspecified by
Moveworks), 401 "Token validation failed", 404 `INVALID_EVENT_ID`, 429 with `Retry-After`.
"""

from __future__ import annotations

import pytest
from recording import EVENT_ID

from mwsync.errors import AuthError

pytestmark = pytest.mark.vcr

UNKNOWN_EVENT_ID = "00000000-0000-4000-8000-000000000404"


def test_send_is_received(make_client, target):
    result = make_client().send_message(target.event_id, "Hello <b>Ada</b>", [target.recipient])

    assert (result.state, result.status, result.attempts) == ("sent", 200, 1)


@pytest.mark.scrub("context.slots.employee_id")
def test_send_with_slots_scrubs_configured_slot(make_client, target, vcr):
    slots = {"employee_id": "E100042", "laptop_model": "ThinkPad T14 Gen 3"}

    result = make_client().send_message(target.event_id, "Your laptop is due", [target.recipient], slots)

    assert result.state == "sent"
    assert b"E100042" not in vcr.requests[-1].body


REJECTED = [
    pytest.param([f"user{n}@example.com" for n in range(501)], "Hello",
                 "INVALID_VALUE_SIZE_TOO_LONG", id="400-over-500-recipients"),
    pytest.param(["ada@example.com"], "x" * 20_001, "INVALID_VALUE_SIZE_TOO_LONG", id="400-message-over-20000-chars"),
    pytest.param([42], "Hello", "BAD_REQUEST", id="400-recipient-not-a-string"),
    pytest.param(["not-an-email"], "Hello", None, id="400-malformed-email"),
]


@pytest.mark.parametrize("recipients, text, code", REJECTED)
def test_rejected_send_fails_without_retry(make_client, target, recipients, text, code):
    result = make_client().send_message(target.event_id, text, recipients)

    assert (result.state, result.status, result.attempts) == ("failed", 400, 1)
    if code is not None:  # Moveworks names no code for a malformed e-mail
        assert result.code == code


@pytest.mark.recording_mock(events=[EVENT_ID])
def test_unknown_event_fails_with_invalid_event_id(make_client, target):
    result = make_client().send_message(UNKNOWN_EVENT_ID, "Hello", [target.recipient])

    assert (result.state, result.status, result.code, result.attempts) == ("failed", 404, "INVALID_EVENT_ID", 1)


@pytest.mark.mock_only
def test_429_waits_retry_after_then_sends(make_client, target):
    sleeps: list[float] = []
    client = make_client(sleep=sleeps.append)
    client.tokens.get()
    target.arrange(force_429_next=1, force_429_retry_after_s=1)

    result = client.send_message(target.event_id, "Hello", [target.recipient])

    assert (result.state, result.status, result.attempts, result.retried_429) == ("sent", 200, 2, 1)
    assert sleeps == [1.0]


@pytest.mark.mock_only
def test_401_on_send_fetches_one_new_token_then_sends(make_client, target):
    client = make_client()
    client.tokens.get()
    target.revoke_tokens()

    result = client.send_message(target.event_id, "Hello", [target.recipient])

    assert (result.state, result.attempts, client.tokens.fetches) == ("sent", 2, 2)


def test_refused_api_key_raises_auth_error(make_client, target):
    client = make_client(client_id="", client_secret="", api_key="not-a-valid-key")

    with pytest.raises(AuthError, match="refused the access token") as caught:
        client.send_message(target.event_id, "Hello", [target.recipient])

    assert caught.value.status == 401
