"""Faults for delivery truth (issue 10): accept-then-5xx, any `expires_in`, error bodies that echo the
request, slow-drip replies; set through `srv.inject`, `POST /_mock/faults`, `faults=` and the CLI."""

from __future__ import annotations

import json
import socket
import time

import pytest
import requests
from mock_helpers import CLIENT_SECRET, EVENT_ID, TOKEN_FORM, error_of, get_token, send

from mwsync.mock_server import MockServer
from mwsync.mock_server.cli import FAULT_FIELDS_BY_DEST, _fault_spec


@pytest.mark.parametrize("status", [500, 502, 504])
def test_accept_fail_next_records_the_send_then_answers_5xx(srv, http, status):
    token = get_token(srv, http)
    srv.inject(accept_fail_next=1, accept_fail_status=status)
    assert send(srv, http, token, {"message": "hi", "recipients": ["bad"]}).status_code == 400  # not spent
    first = send(srv, http, token, {"message": "once", "recipients": ["ada@example.com"]})
    assert error_of(first)[0] == status
    retry = send(srv, http, token, {"message": "once", "recipients": ["ada@example.com"]})
    assert retry.status_code == 200
    assert [m["message"] for m in srv.messages()] == ["once", "once"]  # a blind retry delivered twice
    stats = srv.stats()
    assert stats["faults"]["accepted_then_failed"] == 1 and stats["duplicate_deliveries"] == 1
    assert stats["by_status"][str(status)] == 1


def test_accept_fail_rate_one_fails_every_accepted_send_over_http(srv, http):
    token = get_token(srv, http)
    assert http.post(f"{srv.url}/_mock/faults", json={"accept_fail_rate": 1, "accept_fail_status": 502}).ok
    codes = [send(srv, http, token).status_code for _ in range(3)]
    assert codes == [502, 502, 502] and len(srv.messages()) == 3


def test_accept_fail_differs_from_lost_reply(srv, http):
    """lose_reply_next: recorded, then no answer at all; accept_fail_next: recorded, then a 5xx answer."""
    token = get_token(srv, http)
    srv.inject(lose_reply_next=1, accept_fail_next=1)
    with pytest.raises(requests.ConnectionError):
        send(srv, http, token)
    assert send(srv, http, token).status_code == 500
    assert len(srv.messages()) == 2 and srv.requests()[-2]["status"] is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [('"soon"', "soon"), ('"0x10"', "0x10"), ("[1]", [1]), ("null", None), ("-5", -5), ("1e400", float("inf"))],
    ids=["string", "hex-string", "array", "null", "negative", "huge-number"],
)  # fmt: skip
def test_token_expires_in_any_json_value(srv, http, raw, expected):
    srv.inject(token_expires_in_raw=raw)
    response = http.post(f"{srv.url}/oauth/v1/token", data=TOKEN_FORM)
    assert response.status_code == 200
    assert f'"expires_in": {raw}' in response.text  # written verbatim, e.g. the raw number token 1e400
    assert response.json()["expires_in"] == expected
    assert send(srv, http, response.json()["access_token"]).status_code == 200  # the token itself works


def test_token_expires_in_missing_and_wrapped():
    with MockServer(token_response="wrapped", faults={"token_omit_expires_in": True}) as srv:
        body = requests.post(f"{srv.url}/oauth/v1/token", data=TOKEN_FORM).json()
    assert set(body["data"]) == {"access_token", "token_type"}


@pytest.mark.parametrize("raw", ["soon", "1e400x", "NaN", "", 5],
                         ids=["unquoted", "trailing", "nan", "empty", "not-text"])
def test_bad_expires_in_raw_is_refused_naming_the_field(srv, http, raw):
    status, code, message = error_of(http.post(f"{srv.url}/_mock/faults", json={"token_expires_in_raw": raw}))
    assert (status, code) == (400, "BAD_REQUEST") and "token_expires_in_raw" in message


def test_echo_fault_puts_secret_and_token_in_error_messages(srv, http):
    """A hostile-server simulation: what a careless API leaks, so client tests can prove they never repeat it."""
    token = get_token(srv, http)
    srv.inject(echo_request_in_errors=True)
    bad_secret = http.post(f"{srv.url}/oauth/v1/token", data={**TOKEN_FORM, "client_secret": "s3cret-x"})
    assert error_of(bad_secret)[0] == 401 and "client_secret=s3cret-x" in error_of(bad_secret)[2]
    bad_grant = http.post(f"{srv.url}/oauth/v1/token", json={**TOKEN_FORM, "grant_type": "password"})
    assert error_of(bad_grant)[0] == 400 and CLIENT_SECRET in error_of(bad_grant)[2]
    srv.inject(token_fail_next=1)
    assert CLIENT_SECRET in error_of(http.post(f"{srv.url}/oauth/v1/token", data=TOKEN_FORM))[2]
    rejected = send(srv, http, token, {"message": "hi", "recipients": ["not-an-address"]})
    assert error_of(rejected)[0] == 400 and f"Bearer {token}" in error_of(rejected)[2]
    srv.inject(fail_next=1, fail_status=503)
    injected = error_of(send(srv, http, token))
    assert injected[0] == 503 and f"Bearer {token}" in injected[2] and "ada@example.com" in injected[2]
    assert srv.stats()["faults"]["echoed_errors"] == 5
    assert token not in json.dumps(srv.requests()) and CLIENT_SECRET not in json.dumps(srv.requests())


def test_without_the_echo_fault_errors_quote_nothing(srv, http):
    token = get_token(srv, http)
    bad = http.post(f"{srv.url}/oauth/v1/token", data={**TOKEN_FORM, "client_secret": "s3cret-x"})
    rejected = send(srv, http, token, {"message": "hi", "recipients": ["not-an-address"]})
    assert "s3cret-x" not in bad.text and token not in rejected.text


def _timed_read(port: int, request: bytes) -> tuple[bytes, list[float]]:
    """Send a raw request; return (the whole answer, monotonic times at which body bytes arrived)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(request)
        data, times = b"", []
        while chunk := conn.recv(65536):
            data += chunk
            times.append(time.monotonic())
    return data, times


def test_drip_writes_the_body_one_byte_at_a_time(srv, http):
    token = get_token(srv, http)
    srv.inject(drip_interval_ms=40)
    body = json.dumps({"message": "drip", "recipients": ["ada@example.com"]}).encode()
    request = (f"POST /rest/v1/messages/send HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
               "Content-Type: application/json\r\nConnection: close\r\n"
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    srv.inject(drip_on="send")
    answer, _ = _timed_read(srv.port, request)
    assert answer.startswith(b"HTTP/1.1 204")  # no body to drip on the deprecated endpoint
    event_request = request.replace(b"/rest/v1/messages/send", f"/rest/v1/events/{EVENT_ID}/messages/send".encode())
    started = time.monotonic()
    answer, times = _timed_read(srv.port, event_request)
    reply = answer.split(b"\r\n\r\n", 1)[1]
    assert json.loads(reply) == {"data": {"status": "RECEIVED"}}
    assert len(times) >= len(reply) / 2  # arrived in many pieces (a busy reader may find two bytes at once)
    assert times[-1] - started >= (len(reply) - 1) * 0.040


def test_drip_defeats_a_read_timeout_but_not_a_total_deadline(srv, http):
    token = get_token(srv, http)
    srv.inject(drip_interval_ms=100, drip_on="both")
    started = time.monotonic()
    response = http.post(f"{srv.url}/oauth/v1/token", data=TOKEN_FORM, timeout=(5, 1.0), stream=True)
    chunks = []
    for chunk in response.iter_content(1):  # each byte comes well within the 1 s read timeout
        chunks.append(chunk)
        if time.monotonic() - started > 2.0:
            break
    assert time.monotonic() - started > 2.0 and len(chunks) < 60  # a 2 s total deadline would have fired
    response.close()
    assert srv.stats()["faults"]["dripped_replies"] == 1 and token


def test_cli_flags_for_the_new_faults():
    options = {dest: None for dest in FAULT_FIELDS_BY_DEST} | {
        "force_429_no_retry_after": False, "token_omit_expires_in": False, "echo_request_in_errors": True,
        "accept_fail_next": 2, "accept_fail_status": "504", "drip_interval_ms": 500.0,
        "token_expires_in_raw": '"soon"'}  # fmt: skip
    assert _fault_spec(options) == {"accept_fail_next": 2, "accept_fail_status": 504, "drip_interval_ms": 500.0,
                                    "token_expires_in_raw": '"soon"', "echo_request_in_errors": True}
