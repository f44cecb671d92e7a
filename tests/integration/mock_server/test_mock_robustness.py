"""Robustness: oversized and malformed input gets a 4xx (never a 500 or a traceback), counters stay exact
under concurrency, secrets stay out of logs, loopback by default."""

from __future__ import annotations

import json
import logging
import random
import socket
import threading

import pytest
import requests
from mock_helpers import CLIENT_SECRET, EVENT_ID, TOKEN_FORM, error_of, get_token, send

from mwsync.mock_server import MockServer
from mwsync.mock_server.contract import MAX_BODY_BYTES

SEND_PATH = f"/rest/v1/events/{EVENT_ID}/messages/send"


@pytest.mark.parametrize("path", [SEND_PATH, "/oauth/v1/token", "/rest/v1/messages/send"])
def test_body_over_1_mib_is_413(srv, http, path):
    body = b"x" * (MAX_BODY_BYTES + 1)
    headers = {"Authorization": f"Bearer {get_token(srv, http)}", "Content-Type": "application/json"}
    response = http.post(srv.url + path, data=body, headers=headers)
    assert error_of(response)[:2] == (413, "PAYLOAD_TOO_LARGE")
    assert http.get(f"{srv.url}/_mock/health").status_code == 200  # the connection is still usable


def test_chunked_body_over_1_mib_is_413(srv, http):
    chunks = (b"y" * 65_536 for _ in range(17))
    headers = {"Authorization": f"Bearer {get_token(srv, http)}", "Content-Type": "application/json"}
    response = http.post(srv.url + SEND_PATH, data=chunks, headers=headers)
    assert error_of(response)[:2] == (413, "PAYLOAD_TOO_LARGE")


def test_body_of_exactly_1_mib_is_read(srv, http):
    body = json.dumps({"message": "m" * (MAX_BODY_BYTES - 100), "recipients": ["a@example.com"]}).encode()
    body += b" " * (MAX_BODY_BYTES - len(body))
    headers = {"Authorization": f"Bearer {get_token(srv, http)}", "Content-Type": "application/json"}
    response = http.post(srv.url + SEND_PATH, data=body, headers=headers)
    assert error_of(response)[:2] == (400, "INVALID_VALUE_SIZE_TOO_LONG")


def _fuzz_bodies(seed: int, count: int) -> list[bytes]:
    rng = random.Random(seed)
    atoms = [None, True, 0, -1.5, "", "x", "a@example.com", [], {}, "\u0000", "é@é.com", 10**400]
    shapes = []
    for _ in range(count):
        doc = {
            rng.choice(["message", "recipients", "context", "slots", "x"]): rng.choice(atoms + [[rng.choice(atoms)]])
            for _ in range(rng.randint(0, 4))
        }
        shapes.append(json.dumps(doc).encode() if rng.random() < 0.8 else rng.randbytes(rng.randint(0, 64)))
    return shapes


@pytest.mark.parametrize("path", [SEND_PATH, "/oauth/v1/token", "/rest/v1/messages/send", "/_mock/faults"])
def test_fuzzed_bodies_never_500(srv, http, path):
    token = get_token(srv, http)
    for body in _fuzz_bodies(seed=len(path), count=150):
        for content_type in ("application/json", "application/x-www-form-urlencoded"):
            response = http.post(
                srv.url + path, data=body, headers={"Authorization": f"Bearer {token}", "Content-Type": content_type}
            )
            assert response.status_code < 500, (body, response.text)
            assert "Traceback" not in response.text
            srv.clear_faults()


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [("GET", SEND_PATH, 405, "METHOD_NOT_ALLOWED"), ("PUT", "/oauth/v1/token", 405, "METHOD_NOT_ALLOWED"),
     ("POST", "/rest/v1/events//messages/send", 404, "NOT_FOUND"), ("POST", "//oauth/v1/token", 404, "NOT_FOUND"),
     ("GET", "/", 404, "NOT_FOUND"), ("DELETE", "/_mock/messages", 405, "METHOD_NOT_ALLOWED")],
    ids=["get-send", "put-token", "empty-event", "double-slash", "root", "delete-messages"],
)  # fmt: skip
def test_unknown_routes_and_methods(srv, http, method, path, status, code):
    response = http.request(method, srv.url + path)
    assert error_of(response)[:2] == (status, code)
    if status == 405:
        assert "Allow" in response.headers


@pytest.mark.parametrize(
    "raw",
    [b"GARBAGE\r\n\r\n", b"POST /oauth/v1/token HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
     b"GET /rest/v1/auth/test HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n"],
    ids=["not-http", "bad-content-length", "bad-header-line"],
)  # fmt: skip
def test_malformed_http_gets_400(srv, raw):
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as conn:
        conn.sendall(raw)
        reply = conn.recv(4096)
    assert reply.startswith(b"HTTP/1.1 400"), reply


def test_unexpected_errors_are_json_500_without_traceback(http, caplog):
    def broken(token: str) -> None:
        raise RuntimeError("boom")

    # The server may log just after its answer left: keep capturing until its thread has stopped.
    with caplog.at_level(logging.ERROR, logger="mwsync.mock_server"), MockServer() as srv:
        srv.state.tokens.validate = broken  # our own object, to reach the last-resort handler
        response = send(srv, http, "anything")
    assert error_of(response) == (500, "INTERNAL_SERVER_ERROR", "Unexpected error in the mock server")
    # mwsync's redaction filter (installed by any in-process CLI run) renders exc_info into exc_text
    assert "boom" not in response.text
    assert any("boom" in f"{r.exc_info} {r.exc_text}" for r in caplog.records)


def test_concurrent_clients_counted_exactly(srv):
    token = get_token(srv, requests.Session())
    per_thread, threads = 40, 8

    def client(n: int) -> None:
        with requests.Session() as http:
            for i in range(per_thread):
                body = {"message": f"{n}-{i}", "recipients": [f"u{n}@example.com"]}
                assert send(srv, http, token, body).status_code == 200

    workers = [threading.Thread(target=client, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    stats = srv.stats()
    assert stats["requests"] == 1 + per_thread * threads == stats["by_status"]["200"]
    assert len({m["message"] for m in srv.messages()}) == per_thread * threads


def test_no_secret_or_token_in_logs(http, caplog):
    with caplog.at_level(logging.DEBUG), MockServer(latency_ms=0) as srv:
        token = get_token(srv, http)
        send(srv, http, token)
        send(srv, http, token + "x")
        http.post(f"{srv.url}/oauth/v1/token", json={**TOKEN_FORM, "grant_type": "bad"})
        srv.inject(drop_next=1)
        with pytest.raises(requests.ConnectionError):
            send(srv, http, token)
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert token not in text and CLIENT_SECRET not in text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_binds_loopback_by_default():
    with MockServer() as srv:
        assert srv.url.startswith("http://127.0.0.1:") and srv.port > 0
        with socket.create_connection(("127.0.0.1", srv.port), timeout=2):
            pass


@pytest.mark.parametrize(
    "raw",
    [b'{"message": "\\ud800", "recipients": ["a@example.com"]}',
     b'{"message": "ok", "recipients": ["a@example.com"], "context": {"slots": {"\\udfff": "x"}}}'],
    ids=["in-message", "in-slot-name"],
)  # fmt: skip
def test_lone_surrogate_is_refused_and_inspection_keeps_working(srv, http, raw):
    headers = {"Authorization": f"Bearer {get_token(srv, http)}", "Content-Type": "application/json"}
    status, code, message = error_of(http.post(srv.url + SEND_PATH, data=raw, headers=headers))
    assert (status, code) == (400, "BAD_REQUEST") and "surrogate" in message
    paired = b'{"message": "\\ud83d\\ude00", "recipients": ["a@example.com"]}'  # a valid pair is one character
    assert http.post(srv.url + SEND_PATH, data=paired, headers=headers).status_code == 200
    assert http.get(f"{srv.url}/_mock/messages").json()["messages"][0]["message"] == "\U0001f600"
    assert http.get(f"{srv.url}/_mock/requests").status_code == 200


def test_lone_surrogate_in_a_json_token_request_is_a_400(srv, http):
    raw = b'{"client_id": "\\ud800", "client_secret": "x", "grant_type": "client_credentials"}'
    response = http.post(f"{srv.url}/oauth/v1/token", data=raw, headers={"Content-Type": "application/json"})
    assert error_of(response)[:2] == (400, "BAD_REQUEST")


def _post_closing(port: int, size: int) -> bytes:
    """POST `size` bytes with `Connection: close` through http.client; the status line, or the error."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", SEND_PATH, body=b"x" * size,
                     headers={"Content-Type": "application/json", "Connection": "close"})
        return f"{conn.getresponse().status}".encode()
    except OSError as exc:
        return type(exc).__name__.encode()
    finally:
        conn.close()


def test_oversized_body_with_connection_close_gets_its_413_every_time(srv):
    """Regression: answering before reading the body, then closing, reset the connection while the client was
    still sending (before the drain: 67 resets and 10 broken pipes in 80 tries of 4 MiB from 4 threads)."""
    outcomes: list[bytes] = []

    def client(n: int) -> None:
        outcomes.extend(_post_closing(srv.port, MAX_BODY_BYTES * (1 + (n + i) % 4) + 1) for i in range(12))

    workers = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(outcomes) == 48 and set(outcomes) == {b"413"}, sorted(set(outcomes))
