"""Bounded inspection and verification over HTTP: paged `/_mock/messages`, `MockClient` paging,
`/_mock/requests` filters, headers and bodies in the log (redacted), `/_mock/verify` and `srv.count`."""

from __future__ import annotations

import json

import pytest
from mock_helpers import CLIENT_SECRET, EVENT_ID, TOKEN_FORM, error_of, get_token, random_event, send

from mwsync.mock_server import MockServer
from mwsync.mock_server.remote import MockClient


def test_messages_page_with_limit_and_after(srv, http):
    token = get_token(srv, http)
    for n in range(5):
        send(srv, http, token, {"message": f"m{n}", "recipients": ["ada@example.com"]})
    first = http.get(f"{srv.url}/_mock/messages", params={"limit": 2}).json()
    assert [m["message"] for m in first["messages"]] == ["m0", "m1"] and first["next_after"] == 2
    rest = http.get(f"{srv.url}/_mock/messages", params={"limit": 10, "after": 2}).json()
    assert [m["seq"] for m in rest["messages"]] == [3, 4, 5] and rest["next_after"] is None
    assert (rest["total"], rest["kept"]) == (5, 5)


@pytest.mark.parametrize("params", [{"limit": "-1"}, {"limit": "10001"}, {"after": "x"}])
def test_bad_paging_parameters(srv, http, params):
    status, code, message = error_of(http.get(f"{srv.url}/_mock/messages", params=params))
    assert (status, code) == (400, "BAD_REQUEST") and next(iter(params)) in message


def test_keep_messages_bounds_bodies_not_counts(http):
    with MockServer(keep_messages=3) as srv:
        token = get_token(srv, http)
        for n in range(7):
            send(srv, http, token, {"message": f"m{n}", "recipients": [f"u{n % 2}@example.com"]})
        assert [m["message"] for m in srv.messages()] == ["m4", "m5", "m6"]
        stats = srv.stats()
        assert (stats["messages"], stats["messages_kept"], stats["deliveries"]) == (7, 3, 7)
        assert srv.count(EVENT_ID, "u0@example.com") == 4 and srv.count(recipient="U1@example.com") == 3


def test_mock_client_pages_through_everything(monkeypatch, http):
    import mwsync.mock_server.remote as remote

    monkeypatch.setattr(remote, "PAGE_SIZE", 3)
    with MockServer() as srv:
        token = get_token(srv, http)
        for n in range(8):
            send(srv, http, token, {"message": f"m{n}", "recipients": ["ada@example.com"]})
        client = MockClient(srv.url)
        assert [m["message"] for m in client.messages()] == [f"m{n}" for n in range(8)]
        assert client.count(EVENT_ID, "ada@example.com") == 8 and client.verify(status=200)["requests"] == 9


def test_request_log_filters(srv, http):
    token = get_token(srv, http)
    other = random_event()
    send(srv, http, token, {"message": "a", "recipients": ["ada@example.com", "bob@example.com"]})
    send(srv, http, token, {"message": "b", "recipients": ["eve@example.com"]}, event_id=other)
    send(srv, http, token, {"message": "c", "recipients": []})
    url = f"{srv.url}/_mock/requests"
    assert [e["path"] for e in http.get(url, params={"status": 400}).json()["requests"]] == [
        f"/rest/v1/events/{EVENT_ID}/messages/send"]
    assert len(http.get(url, params={"event_id": other.upper()}).json()["requests"]) == 1
    assert len(http.get(url, params={"recipient": "BOB@example.com"}).json()["requests"]) == 1
    assert len(http.get(url, params={"path": "/rest/v1/events/*", "limit": 2}).json()["requests"]) == 2
    assert len(http.get(url, params={"method": "post", "path": "/oauth/v1/token"}).json()["requests"]) == 1
    assert srv.requests(status=200, recipient="eve@example.com")[0]["event_id"] == other
    assert error_of(http.get(url, params={"colour": "red"}))[:2] == (400, "BAD_REQUEST")
    with pytest.raises(ValueError, match="valid: path"):
        srv.requests(colour="red")


def test_status_413_filter_with_limit(srv, http):
    for _ in range(7):
        http.post(f"{srv.url}/oauth/v1/token", data=b"x" * ((1 << 20) + 1))
    http.get(f"{srv.url}/rest/v1/auth/test")
    entries = http.get(f"{srv.url}/_mock/requests", params={"status": 413, "limit": 5}).json()["requests"]
    assert len(entries) == 5 and {e["status"] for e in entries} == {413}


def test_verify_counts_messages_and_requests(srv, http):
    token = get_token(srv, http)
    for _ in range(3):
        send(srv, http, token, {"message": "a", "recipients": ["ada@example.com"]})
    send(srv, http, token, {"message": "a", "recipients": ["bad address"]})
    doc = http.get(f"{srv.url}/_mock/verify", params={"event_id": EVENT_ID, "recipient": "ada@example.com"}).json()
    assert doc == {"messages": 3, "requests": 3, "requests_complete": True,
                   "match": {"event_id": EVENT_ID, "recipient": "ada@example.com"}}
    assert srv.verify(status=400)["requests"] == 1 and srv.count(random_event()) == 0
    assert srv.stats()["duplicate_deliveries"] == 2


def test_log_headers_and_bodies_redact_secrets(http):
    with MockServer(log_headers=True, log_bodies=True) as srv:
        token = get_token(srv, http)
        http.post(f"{srv.url}/oauth/v1/token", json=TOKEN_FORM)
        send(srv, http, token, {"message": "hi", "recipients": ["ada@example.com"]})
        http.get(f"{srv.url}/rest/v1/auth/test", headers={"Authorization": f"Basic {CLIENT_SECRET}", "Cookie": "s=1"})
        entries = srv.requests()
    dump = json.dumps(entries)
    assert token not in dump and CLIENT_SECRET not in dump and "mwt_" not in dump
    form, as_json, sent, basic = entries
    assert "client_secret=REDACTED" in form["body"] and "client_id=mwsync-demo" in form["body"]
    assert json.loads(as_json["body"])["client_secret"] == "REDACTED"
    assert json.loads(form["response"])["access_token"] == "REDACTED"
    assert sent["headers"]["authorization"] == "Bearer REDACTED" and json.loads(sent["body"])["message"] == "hi"
    assert basic["headers"]["authorization"] == "Basic REDACTED" and basic["headers"]["cookie"] == "REDACTED"


def test_bodies_and_headers_are_not_logged_by_default(srv, http):
    send(srv, http, get_token(srv, http))
    assert all("body" not in e and "headers" not in e for e in srv.requests())


def test_limit_zero_and_non_ascii_digits(srv, http):
    """Found by Schemathesis: `limit=0` with messages kept, and `status=²` (a Unicode digit)."""
    send(srv, http, get_token(srv, http))
    page = http.get(f"{srv.url}/_mock/messages", params={"limit": 0}).json()
    assert (page["messages"], page["next_after"]) == ([], 0)
    assert error_of(http.get(f"{srv.url}/_mock/requests", params={"status": "²"}))[:2] == (400, "BAD_REQUEST")
    assert error_of(http.post(f"{srv.url}/_mock/revoke-tokens", json={"client": "x"}))[:2] == (400, "BAD_REQUEST")
