"""The send endpoints' contract (current and deprecated) against a running mock server."""

from __future__ import annotations

import pytest
from mock_helpers import EVENT_ID, error_of, get_token, random_event, send

from mwsync.mock_server import MockServer

OK = {"message": "Hello <b>team</b>", "recipients": ["ada@example.com", "bob@example.com"]}
MANY = [f"user{n}@example.com" for n in range(501)]

BAD_BODIES = [
    ([1, 2], "BAD_REQUEST", "incorrect data-type"),
    ({"recipients": ["a@example.com"]}, "BAD_REQUEST", "Missing required field(s): message"),
    ({"message": "hi"}, "BAD_REQUEST", "Missing required field(s): recipients"),
    ({"message": "hi", "recipients": "a@example.com"}, "BAD_REQUEST", "One or more fields have an incorrect data-type"),
    ({"message": "hi", "recipients": [1]}, "BAD_REQUEST", "One or more fields have an incorrect data-type"),
    ({"message": "hi", "recipients": [["a@example.com"]]}, "BAD_REQUEST", "incorrect data-type"),
    ({"message": 5, "recipients": ["a@example.com"]}, "BAD_REQUEST", "One or more fields have an incorrect data-type"),
    ({"message": None, "recipients": ["a@example.com"]}, "BAD_REQUEST", "incorrect data-type"),
    ({**OK, "context": []}, "BAD_REQUEST", "context must be an object"),
    ({**OK, "context": {"slots": "x"}}, "BAD_REQUEST", "context.slots must be an object"),
    ({"message": "hi", "recipients": MANY}, "INVALID_VALUE_SIZE_TOO_LONG", "501"),
    ({"message": "x" * 20_001, "recipients": ["a@example.com"]}, "INVALID_VALUE_SIZE_TOO_LONG", "20001"),
    ({"message": "", "recipients": ["a@example.com"]}, "BAD_REQUEST", "message"),
    ({"message": "hi", "recipients": []}, "BAD_REQUEST", "recipients"),
    ({"message": "hi", "recipients": ["not-an-email"]}, "INVALID_EMAIL_ADDRESS", "'not-an-email'"),
    ({"message": "hi", "recipients": ["a@example.com", "b@@x.com"]}, "INVALID_EMAIL_ADDRESS", "'b@@x.com'"),
    ({"message": "hi", "recipients": ["a b@example.com"]}, "INVALID_EMAIL_ADDRESS", "'a b@example.com'"),
    ({"message": "hi", "recipients": ["user@localhost"]}, "INVALID_EMAIL_ADDRESS", "user@localhost"),
]
BAD_IDS = [
    "array-body", "no-message", "no-recipients", "recipients-string", "recipient-number", "recipient-nested",
    "message-number", "message-null", "context-array", "slots-string", "501-recipients", "20001-chars",
    "empty-message", "empty-recipients", "no-at-sign", "double-at", "space-in-local", "no-dot-domain",
]  # fmt: skip


@pytest.mark.parametrize(("body", "code", "text"), BAD_BODIES, ids=BAD_IDS)
@pytest.mark.parametrize("endpoint", ["event", "deprecated"])
def test_invalid_bodies_are_400_with_stable_code(srv, http, body, code, text, endpoint):
    token = get_token(srv, http)
    if endpoint == "event":
        response = send(srv, http, token, body)
    else:
        headers = {"Authorization": f"Bearer {token}"}
        response = http.post(f"{srv.url}/rest/v1/messages/send", json=body, headers=headers)
    status, got_code, message = error_of(response)
    assert (status, got_code) == (400, code) and text in message
    assert srv.messages() == []


def test_limits_are_inclusive(srv, http):
    token = get_token(srv, http)
    body = {"message": "x" * 20_000, "recipients": MANY[:500]}
    assert send(srv, http, token, body).status_code == 200


def test_event_send_success_is_recorded(srv, http):
    token = get_token(srv, http)
    body = {**OK, "context": {"slots": {"first_name": "Ada", "count": 3}}}
    response = send(srv, http, token, body)
    assert response.status_code == 200 and response.json() == {"data": {"status": "RECEIVED"}}
    [message] = srv.messages()
    assert message["event_id"] == EVENT_ID and message["recipients"] == OK["recipients"]
    assert message["message"] == OK["message"] and message["context"] == body["context"]
    assert message["endpoint"] == f"/rest/v1/events/{EVENT_ID}/messages/send"
    assert message["token_id"] == "tok_000001" and token not in str(message)


def test_deprecated_send_is_204_without_event(srv, http):
    token = get_token(srv, http)
    response = http.post(f"{srv.url}/rest/v1/messages/send", json=OK, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 204 and response.content == b""
    [message] = srv.messages()
    assert message["event_id"] is None and message["endpoint"] == "/rest/v1/messages/send"


@pytest.mark.parametrize(
    "header",
    [None, "{t}", "bearer {t}", "Bearer wrong", "Basic {t}"],
    ids=["missing", "no-bearer-prefix", "lowercase", "unknown-token", "basic-scheme"],
)
@pytest.mark.parametrize("path", ["/rest/v1/events/" + EVENT_ID + "/messages/send", "/rest/v1/messages/send"])
def test_bad_token_is_401_token_validation_failed(srv, http, header, path):
    token = get_token(srv, http)
    headers = {"Authorization": header.format(t=token)} if header else {}
    response = http.post(srv.url + path, json=OK, headers=headers)
    assert error_of(response) == (401, "UNAUTHENTICATED", "Token validation failed")


@pytest.mark.parametrize(
    ("event_id", "status", "code"),
    [("not-a-uuid", 400, "BAD_REQUEST"), ("12345", 400, "BAD_REQUEST"), (EVENT_ID.upper(), 200, None),
     (random_event(), 404, "INVALID_EVENT_ID")],
    ids=["word", "number", "uppercase-known", "unknown"],
)  # fmt: skip
def test_event_ids_checked_when_events_given(http, event_id, status, code):
    with MockServer(events=[EVENT_ID]) as srv:
        response = send(srv, http, get_token(srv, http), OK, event_id=event_id)
    assert response.status_code == status
    if code:
        assert error_of(response)[1] == code


def test_any_uuid_is_known_without_events(srv, http):
    assert send(srv, http, get_token(srv, http), OK, event_id=random_event()).status_code == 200
    assert error_of(send(srv, http, get_token(srv, http), OK, event_id="nope"))[:2] == (400, "BAD_REQUEST")


@pytest.mark.parametrize(
    ("recipients", "status", "named"),
    [(["ada@example.com"], 200, None), (["ADA@Example.com"], 200, None),
     (["ada@example.com", "eve@example.com", "mal@example.com"], 400, "eve@example.com, mal@example.com")],
    ids=["listed", "listed-other-case", "outsiders-named"],
)  # fmt: skip
def test_allow_list(http, recipients, status, named):
    with MockServer(users=["ada@example.com", "bob@example.com"]) as srv:
        response = send(srv, http, get_token(srv, http), {"message": "hi", "recipients": recipients})
        assert response.status_code == status
        if named:
            code, message = error_of(response)[1:]
            assert code == "RECIPIENT_NOT_ALLOWED" and named in message and "ada@" not in message
            assert srv.messages() == []


CHECK_ORDER = [
    ({"message": "hi", "recipients": ["bad"]}, "wrong", 401, "UNAUTHENTICATED"),
    ({"message": "x" * 20_001, "recipients": ["bad", "eve@example.com"]}, None, 400, "INVALID_VALUE_SIZE_TOO_LONG"),
    ({"message": "hi", "recipients": ["bad", "eve@example.com"]}, None, 400, "INVALID_EMAIL_ADDRESS"),
    ({"message": "hi", "recipients": ["eve@example.com"]}, None, 400, "RECIPIENT_NOT_ALLOWED"),
]


@pytest.mark.parametrize(
    ("body", "token", "status", "code"), CHECK_ORDER,
    ids=["token-first", "size-second", "syntax-third", "allow-list-last"],
)
def test_checks_run_in_documented_order(http, body, token, status, code):
    with MockServer(users=["ada@example.com"]) as srv:
        response = send(srv, http, token or get_token(srv, http), body)
    assert error_of(response)[:2] == (status, code)


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", None], ids=["text", "form", "missing"]
)
def test_send_requires_json_content_type(srv, http, content_type):
    headers = {"Authorization": f"Bearer {get_token(srv, http)}"}
    if content_type:
        headers["Content-Type"] = content_type
    response = http.post(f"{srv.url}/rest/v1/events/{EVENT_ID}/messages/send", data=b'{"a": 1}', headers=headers)
    assert error_of(response)[:2] == (400, "BAD_REQUEST")


@pytest.mark.parametrize(
    "raw",
    [b"", b"{", b'{"message": "hi", "recipients": [ada@example.com]}', b"\xff\xfe\x00", b"null", b"[" * 100_000],
    ids=["empty", "truncated", "unquoted-items", "not-utf8", "null", "deep-nesting"],
)
def test_unparsable_json_is_400_parse_failed(srv, http, raw):
    headers = {"Authorization": f"Bearer {get_token(srv, http)}", "Content-Type": "application/json"}
    response = http.post(f"{srv.url}/rest/v1/events/{EVENT_ID}/messages/send", data=raw, headers=headers)
    status, code, message = error_of(response)
    assert (status, code) == (400, "BAD_REQUEST")
    assert "Parsing of json payload failed" in message or "incorrect data-type" in message


def test_null_context_and_extra_fields_are_accepted(srv, http):
    token = get_token(srv, http)
    assert send(srv, http, token, {**OK, "context": None, "extra": 1}).status_code == 200
    assert send(srv, http, token, {**OK, "context": {"slots": None}}).status_code == 200
    assert send(srv, http, token, {**OK, "context": {}}).status_code == 200


@pytest.mark.parametrize("latency_ms", [80])
def test_configured_latency_applies_to_sends_only(http, latency_ms):
    with MockServer(latency_ms=latency_ms) as srv:
        token = get_token(srv, http)
        send(srv, http, token)
        token_ms, send_ms = (entry["duration_ms"] for entry in srv.requests())
    assert send_ms >= latency_ms > token_ms
