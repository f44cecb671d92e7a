"""The cassette filters on their own (no cassette, no network): what they replace and what they keep."""

from __future__ import annotations

import json

import pytest
from vcr.request import Request

from mwsync.mock_server.cassettes import (
    ACCESS_TOKEN,
    CLIENT_ID,
    CLIENT_SECRET,
    REPLAY_URL,
    Scrubber,
    replace_form_fields,
    replace_paths,
)

SEND_PATH = "/rest/v1/events/3f1c2a9e-5b7d-4e8f-9a10-2b3c4d5e6f70/messages/send"


@pytest.mark.parametrize("doc, paths, expected", [
    ({"client_id": "a", "x": 1}, {"client_id": "ID"}, {"client_id": "ID", "x": 1}),
    ({"context": {"slots": {"a": "1", "b": "2"}}}, {"context.slots.*": "R"},
     {"context": {"slots": {"a": "R", "b": "R"}}}),
    ({"data": {"access_token": "t"}}, {"access_token": "P", "data.access_token": "P"}, {"data": {"access_token": "P"}}),
    ({"message": "hi"}, {"context.slots.*": "R"}, {"message": "hi"}),
    (["not", "an", "object"], {"client_id": "ID"}, ["not", "an", "object"]),
], ids=["top-level", "wildcard", "wrapped", "absent-path", "not-an-object"])
def test_replace_paths(doc, paths, expected):
    assert replace_paths(doc, paths)[0] == expected


def test_replace_form_fields_keeps_order_and_other_fields():
    body = "grant_type=client_credentials&client_id=abc&client_secret=s%26cret"

    scrubbed, changed = replace_form_fields(body, {"client_id": "my id", "client_secret": "X"})

    assert (scrubbed, changed) == ("grant_type=client_credentials&client_id=my+id&client_secret=X", True)


def request(uri: str, body: dict | str, content_type: str = "application/json") -> Request:
    data = (json.dumps(body) if isinstance(body, dict) else body).encode("utf-8")
    return Request("POST", uri, data, {"Content-Type": content_type, "Content-Length": str(len(data))})


def test_request_gets_replay_url_placeholders_and_aliases():
    scrubber = Scrubber(aliases={"real-event": "example-event", "cto@corp.io": "ada@example.com"})
    sent = request("http://127.0.0.1:8765/rest/v1/events/real-event/messages/send?x=1",
                   {"recipients": ["cto@corp.io"], "client_id": "id", "client_secret": "secret"})

    recorded = scrubber.request(sent)

    assert recorded.uri == f"{REPLAY_URL}/rest/v1/events/example-event/messages/send?x=1"
    assert json.loads(recorded.body) == {"recipients": ["ada@example.com"], "client_id": CLIENT_ID,
                                         "client_secret": CLIENT_SECRET}
    assert recorded.headers["Content-Length"] == str(len(recorded.body))


def test_request_form_body_is_scrubbed():
    sent = request(f"https://tenant.example.com{SEND_PATH}", "client_id=id&client_secret=secret",
                   "application/x-www-form-urlencoded")

    assert Scrubber().request(sent).body == f"client_id={CLIENT_ID}&client_secret={CLIENT_SECRET}".encode()


@pytest.mark.parametrize("answer", [
    {"access_token": "mwt_abc", "expires_in": 60, "token_type": "Bearer"},
    {"data": {"access_token": "mwt_abc", "expires_in": 60, "token_type": "Bearer"}},
], ids=["plain", "wrapped"])
def test_token_response_gets_placeholder_and_true_length(answer):
    body = json.dumps(answer).encode()
    response = {"status": {"code": 200, "message": "OK"}, "body": {"string": body},
                "headers": {"Content-Type": ["application/json"], "Content-Length": [str(len(body))],
                            "Set-Cookie": ["lb=1"]}}

    recorded = Scrubber().response(response)

    assert b"mwt_" not in recorded["body"]["string"] and ACCESS_TOKEN.encode() in recorded["body"]["string"]
    assert recorded["headers"]["Content-Length"] == [str(len(recorded["body"]["string"]))]
    assert "Set-Cookie" not in recorded["headers"]
