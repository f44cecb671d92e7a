"""The client against the real mock server on 127.0.0.1: tokens, sends, retries, in-doubt outcomes."""

from __future__ import annotations

import socket

import pytest

from mwsync.config.job import RetryPolicy, Subscription
from mwsync.errors import AuthError, Unreachable
from mwsync.mock_server import MockServer
from mwsync.rules import DEMO_CLIENT
from mwsync.send.client import MoveworksClient
from mwsync.send.throttle import SlidingWindowLimiter, Unlimited
from tests.support import EVENT_ID

FAST = RetryPolicy(max_attempts=4, backoff_initial_s=0.01, backoff_max_s=0.05, retry_after_default_s=0.2,
                   max_retry_after_s=2.0)


def make_client(url, *, secret=DEMO_CLIENT[1], limiter=None, token_request="form", read_timeout_s=5.0, **kw):
    sub = Subscription(url, DEMO_CLIENT[0], secret, token_request=token_request, read_timeout_s=read_timeout_s)
    return MoveworksClient(url, sub, limiter or Unlimited(), retry=kw.pop("retry", FAST), **kw)


def send(client, recipients=("a@example.com",), text="hi", slots=None):
    return client.send_message(EVENT_ID, text, list(recipients), slots)


@pytest.mark.parametrize("token_request,token_response", [("form", "plain"), ("form", "wrapped"),
                                                          ("json", "plain"), ("json", "wrapped")],
                         ids=["form-plain", "form-wrapped", "json-plain", "json-wrapped"])
def test_token_formats_and_send(token_request, token_response):
    with MockServer(clients=dict([DEMO_CLIENT]), token_request=token_request,
                    token_response=token_response) as server:
        client = make_client(server.url + "/", token_request=token_request)
        result = send(client, slots={"employee_id": "E1"})
        assert (result.state, result.status, result.attempts) == ("sent", 200, 1)
        [message] = server.messages()
        assert message["recipients"] == ["a@example.com"] and message["context"] == {"slots": {"employee_id": "E1"}}
        assert message["event_id"] == EVENT_ID and server.stats()["tokens_issued"] == 1


def test_wrong_secret_is_an_auth_error_without_the_secret(mock):
    with pytest.raises(AuthError) as info:
        send(make_client(mock.url, secret="wrong-secret-value"))
    assert info.value.status == 401 and "wrong-secret-value" not in str(info.value)
    assert mock.messages() == []


def test_400_is_permanent_and_not_retried(mock):
    result = send(make_client(mock.url), text="x" * 20_001)
    assert (result.state, result.status, result.attempts, result.code) == \
        ("failed", 400, 1, "INVALID_VALUE_SIZE_TOO_LONG")


def test_429_with_retry_after_is_waited_then_sent(mock):
    mock.inject(force_429_next=2, force_429_retry_after_s=1)
    sleeps = []
    client = make_client(mock.url, sleep=sleeps.append)
    result = send(client)
    assert (result.state, result.attempts, result.retried_429) == ("sent", 3, 2)
    assert sleeps == [1.0, 1.0]
    assert len(mock.messages()) == 1


def test_429_without_retry_after_waits_the_default(mock):
    mock.inject(force_429_next=1, force_429_retry_after_s=None)
    sleeps = []
    assert send(make_client(mock.url, sleep=sleeps.append)).state == "sent"
    assert sleeps == [FAST.retry_after_default_s]


def test_5xx_backs_off_then_gives_up(mock):
    mock.inject(fail_next=10, fail_status=503)
    sleeps = []
    result = send(make_client(mock.url, sleep=sleeps.append))
    assert (result.state, result.status, result.attempts) == ("failed", 503, 4)
    assert len(sleeps) == 3 and all(0 <= s <= FAST.backoff_max_s for s in sleeps)
    assert mock.messages() == []


def test_expired_token_is_replaced():
    with MockServer(clients=dict([DEMO_CLIENT]), token_ttl_s=1.0) as server:
        clock = [0.0]
        client = make_client(server.url, clock=lambda: clock[0])
        assert send(client).state == "sent"
        clock[0] = 0.95  # past 1 s minus the 10 % margin
        assert send(client).state == "sent"
        assert server.stats()["tokens_issued"] == 2


def test_revoked_token_gets_one_new_token(mock):
    client = make_client(mock.url)
    assert send(client).state == "sent"
    mock.revoke_tokens()
    result = send(client)
    assert (result.state, result.attempts) == ("sent", 2)
    assert mock.stats()["tokens_issued"] == 2


def test_read_timeout_is_unknown_and_not_resent(mock):
    mock.inject(latency_ms=800, latency_on="send")
    result = send(make_client(mock.url, read_timeout_s=0.2))
    assert (result.state, result.attempts) == ("unknown", 1)


def test_lost_reply_is_unknown_not_resent(mock):
    mock.inject(lose_reply_next=1)
    result = send(make_client(mock.url))
    assert (result.state, result.attempts) == ("unknown", 1)
    assert len(mock.messages()) == 1  # the server did schedule it: resending would double it


def test_connection_refused_is_retried_then_stops_the_run_naming_the_host():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sleeps = []
    with pytest.raises(Unreachable, match=f"cannot connect to 127.0.0.1:{port}: connection refused"):
        send(make_client(f"http://127.0.0.1:{port}", sleep=sleeps.append))
    assert len(sleeps) == 3


def test_token_requests_count_toward_the_limit():
    with MockServer(clients=dict([DEMO_CLIENT]), rate_limit=(3, 1.0)) as server:
        client = make_client(server.url, limiter=SlidingWindowLimiter(3, 1.0))
        results = [send(client, recipients=[f"u{i}@example.com"]) for i in range(5)]
        stats = server.stats()
        assert [r.state for r in results] == ["sent"] * 5
        assert stats["status_429"] == 0 and stats["max_requests_in_window"] <= 3 and stats["requests"] == 6


def test_api_key_is_sent_as_static_bearer():
    with MockServer(clients=dict([DEMO_CLIENT]), api_keys=["key-123"]) as server:
        sub = Subscription(server.url, "", "", api_key="key-123")
        client = MoveworksClient(server.url, sub, Unlimited(), retry=FAST)
        assert send(client).state == "sent" and server.stats()["tokens_issued"] == 0


def test_token_is_stamped_after_the_slot_wait_not_before():
    """A send that waits for a slot longer than its token lives goes out with a fresh token, not a 401."""
    with MockServer(clients=dict([DEMO_CLIENT]), token_ttl_s=1.0) as server:
        client = make_client(server.url, limiter=SlidingWindowLimiter(2, 1.5, margin_s=0.0))
        assert send(client).state == "sent"  # token + send in the first window
        assert send(client).state == "sent"  # waits 1.5 s, longer than the token lives: a new one first
        stats = server.stats()
    assert "401" not in stats["by_status"] and stats["tokens_issued"] == 2
