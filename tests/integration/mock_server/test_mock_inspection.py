"""Inspection endpoints (`/_mock/messages`, `/_mock/stats`, `/_mock/requests`, `/_mock/reset`) and their
Python twins on the handle."""

from __future__ import annotations

import pytest
from mock_helpers import CLIENT_SECRET, TOKEN_FORM, error_of, get_token, random_event, send

MESSAGE_KEYS = {"seq", "event_id", "message", "recipients", "context", "received_at", "endpoint", "token_id"}
STATS_KEYS = {
    "requests", "by_status", "status_429", "messages", "messages_kept", "deliveries", "duplicate_deliveries",
    "tokens_issued", "tokens_expired", "tokens_revoked", "rate_limit", "max_requests_in_window", "faults",
}  # fmt: skip
LOG_KEYS = {"method", "path", "status", "duration_ms", "at", "event_id", "recipients"}


def test_messages_in_arrival_order_http_equals_handle(srv, http):
    token = get_token(srv, http)
    events = [random_event() for _ in range(5)]
    for n, event in enumerate(events):
        send(srv, http, token, {"message": f"m{n}", "recipients": [f"u{n}@example.com"]}, event_id=event)
    over_http = http.get(f"{srv.url}/_mock/messages").json()
    assert over_http == {"messages": srv.messages(), "next_after": None, "total": 5, "kept": 5}
    assert [m["seq"] for m in over_http["messages"]] == [1, 2, 3, 4, 5]
    assert [m["event_id"] for m in over_http["messages"]] == events
    assert all(set(m) == MESSAGE_KEYS for m in over_http["messages"])
    assert over_http["messages"][0]["received_at"].endswith("Z")


def test_messages_are_copies(srv, http):
    send(srv, http, get_token(srv, http))
    srv.messages()[0]["recipients"].append("x@example.com")
    assert srv.messages()[0]["recipients"] == ["ada@example.com"]


def test_stats_document(srv, http):
    token = get_token(srv, http)
    send(srv, http, token)
    send(srv, http, "bad")
    stats = http.get(f"{srv.url}/_mock/stats").json()
    assert set(stats) == STATS_KEYS and stats == srv.stats()
    assert stats["requests"] == 3 and stats["by_status"] == {"200": 2, "401": 1}
    assert (stats["tokens_issued"], stats["messages"], stats["max_requests_in_window"]) == (1, 1, 3)


def test_request_log_has_no_secrets(srv, http):
    token = get_token(srv, http)
    send(srv, http, token)
    http.get(f"{srv.url}/rest/v1/auth/test?client_secret={CLIENT_SECRET}", headers={"Authorization": f"Bearer {token}"})
    entries = http.get(f"{srv.url}/_mock/requests").json()["requests"]
    assert [e["path"] for e in entries] == ["/oauth/v1/token", entries[1]["path"], "/rest/v1/auth/test"]
    assert all(set(e) == LOG_KEYS for e in entries)
    assert token not in str(entries) and CLIENT_SECRET not in str(entries)


@pytest.mark.parametrize(("limit", "count"), [("1", 1), ("2", 2), ("0", 0), ("99", 3)])
def test_request_log_limit(srv, http, limit, count):
    for _ in range(3):
        http.get(f"{srv.url}/rest/v1/auth/test")
    entries = http.get(f"{srv.url}/_mock/requests", params={"limit": limit}).json()["requests"]
    assert len(entries) == count and entries == srv.requests(int(limit))


@pytest.mark.parametrize("limit", ["-1", "x", "1.5"])
def test_request_log_bad_limit(srv, http, limit):
    assert error_of(http.get(f"{srv.url}/_mock/requests", params={"limit": limit}))[:2] == (400, "BAD_REQUEST")


def test_reset_over_http_clears_everything(srv, http):
    token = get_token(srv, http)
    send(srv, http, token)
    srv.inject(fail_next=3)
    assert http.post(f"{srv.url}/_mock/reset").json() == {"status": "reset"}
    stats = srv.stats()
    assert (srv.messages(), srv.requests(), stats["requests"], stats["tokens_issued"]) == ([], [], 0, 0)
    assert error_of(send(srv, http, token))[0] == 401  # tokens forgotten
    assert http.get(f"{srv.url}/_mock/faults").json()["faults"]["fail_next"] == 0


def test_admin_requests_are_not_counted(srv, http):
    for path in ("/_mock/stats", "/_mock/messages", "/_mock/requests", "/_mock/health"):
        assert http.get(srv.url + path).status_code == 200
    assert srv.stats()["requests"] == 0


def test_health(srv, http):
    assert http.get(f"{srv.url}/_mock/health").json() == {"status": "ok"}


def test_token_form_secret_not_in_any_inspection_output(srv, http):
    http.post(f"{srv.url}/oauth/v1/token", data=TOKEN_FORM)
    dumps = [http.get(srv.url + p).text for p in ("/_mock/stats", "/_mock/messages", "/_mock/requests")]
    assert all(CLIENT_SECRET not in text and "mwt_" not in text for text in dumps)
