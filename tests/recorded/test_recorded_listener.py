"""Webhook listeners on tape: `POST /webhooks/v1/listeners/{listener_id}/notify` and each class of answer.

Source: the project's listener reference (Moveworks' Ambient Agents webhook docs and demo app): 200
`{"message": "Event received successfully", "status": "RECEIVED"}`, 404 with no body for an unknown listener,
401 for bad credentials or a bad signature, 429 when rate limited (Retry-After unspecified). Recorded against
the mock only (a tenant recording needs a listener of your own: not wired yet); the `X-Signature` header is
scrubbed like a credential (docs/recording.md).
"""

from __future__ import annotations

import pytest
from recording import LISTENER_ID, MOCK_LISTENER_SECRET

from mwsync.errors import AuthError
from mwsync.mock_server.cassettes import SIGNATURE

LISTENERS = {"listener_rate_unsecured": None, "listener_rate_secured": None}
UNSECURED = {"listeners": [LISTENER_ID], **LISTENERS}
SIGNED = {"listeners": [f"{LISTENER_ID}:hmac:{MOCK_LISTENER_SECRET}"], **LISTENERS}
BEARER = {"listeners": [f"{LISTENER_ID}:bearer"], "api_keys": ["recorded-listener-key"], **LISTENERS}
BODY = b'{"email":"ada@example.com","message":"Payments: 4 open incidents","open_incidents":4}'

pytestmark = [pytest.mark.vcr, pytest.mark.mock_only]


@pytest.mark.recording_mock(**UNSECURED)
def test_unsecured_notify_is_received(make_listener_client, vcr):
    result = make_listener_client("none").notify(LISTENER_ID, BODY)

    assert (result.state, result.status, result.attempts) == ("sent", 200, 1)
    assert "Authorization" not in vcr.requests[-1].headers and vcr.requests[-1].body == BODY


@pytest.mark.recording_mock(**SIGNED)
def test_signed_notify_is_received_and_its_signature_scrubbed(make_listener_client, vcr):
    result = make_listener_client("hmac").notify(LISTENER_ID, BODY)

    assert (result.state, result.status) == ("sent", 200)
    assert vcr.requests[-1].headers["X-Signature"] == SIGNATURE


@pytest.mark.recording_mock(**BEARER)
def test_api_key_notify_is_received(make_listener_client):
    client = make_listener_client("api_key", client_id="", client_secret="", api_key="recorded-listener-key")

    assert client.notify(LISTENER_ID, BODY).state == "sent"


@pytest.mark.recording_mock(**BEARER)
def test_client_credentials_notify_fetches_a_token_then_is_received(make_listener_client):
    client = make_listener_client("client_credentials")

    result = client.notify(LISTENER_ID, BODY)

    assert (result.state, client.tokens.fetches) == ("sent", 1)


@pytest.mark.recording_mock(**SIGNED)
def test_a_wrong_signature_is_refused_and_stops_the_run(make_listener_client):
    client = make_listener_client("hmac", secret="not-the-listener-secret")

    with pytest.raises(AuthError, match="signature refused: check the secret") as caught:
        client.notify(LISTENER_ID, BODY)

    assert caught.value.status == 401


@pytest.mark.recording_mock(**LISTENERS)
def test_an_unknown_listener_fails_with_404_and_no_retry(make_listener_client):
    result = make_listener_client("none").notify(LISTENER_ID, BODY)

    assert (result.state, result.status, result.attempts) == ("failed", 404, 1)
    assert f"unknown listener: 404 (listener {LISTENER_ID})" in result.error


@pytest.mark.recording_mock(**SIGNED)
def test_429_waits_retry_after_then_is_received_once(make_listener_client, target):
    sleeps: list[float] = []
    client = make_listener_client("hmac", sleep=sleeps.append)
    target.arrange(force_429_next=1, force_429_retry_after_s=1)

    result = client.notify(LISTENER_ID, BODY)

    assert (result.state, result.attempts, result.retried_429, sleeps) == ("sent", 2, 1, [1.0])


@pytest.mark.recording_mock(**SIGNED)
def test_accept_then_502_is_unknown_and_not_retried(make_listener_client, target):
    target.arrange(accept_fail_next=1, accept_fail_status=502)

    result = make_listener_client("hmac").notify(LISTENER_ID, BODY)

    assert (result.state, result.status, result.attempts) == ("unknown", 502, 1)
