"""The mock's webhook listeners over HTTP: the documented answers (listener reference, "The call"), each mode's
credentials and signatures, the 1 MB limit, the org-wide listener limits apart from the Events API's, the
send faults on notifies, and inspection (`/_mock/events`, stats, verify, the request log)."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest
import requests
from click.testing import CliRunner
from mock_helpers import get_token, send

from mwsync.mock_server import MockServer
from mwsync.mock_server.cli import main

NONE_ID = "11111111-2222-4333-8444-555555555555"
BEARER_ID = "22222222-3333-4444-8555-666666666666"
HMAC_ID = "33333333-4444-4555-8666-777777777777"
SECRET = "listener-s3cret"
ACK = {"message": "Event received successfully", "status": "RECEIVED"}


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    listeners = [NONE_ID, f"{BEARER_ID}:bearer", f"{HMAC_ID}:hmac:{SECRET}"]
    with MockServer(rate_limit=None, api_keys=["key-1"], listeners=listeners, listener_rate_unsecured=None,
                    listener_rate_secured=None) as srv:
        yield srv


@pytest.fixture
def srv(server: MockServer) -> MockServer:
    server.reset()
    return server


def notify(srv: MockServer, listener_id: str, body: bytes = b'{"a":1}', **headers: str) -> requests.Response:
    headers.setdefault("Content-Type", "application/json")
    return requests.post(f"{srv.url}/webhooks/v1/listeners/{listener_id}/notify", data=body, headers=headers)


def signed(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_an_unsecured_listener_answers_received_and_keeps_the_body(srv):
    response = notify(srv, NONE_ID.upper(), b'{"email":"ada@example.com","n":[1,2]}')
    assert (response.status_code, response.json()) == (200, ACK)
    [event] = srv.events()
    assert (event["listener_id"], event["body"], event["auth"]) == (NONE_ID, {"email": "ada@example.com", "n": [1, 2]},
                                                                    "none")
    assert srv.messages() == [] and srv.count_events(NONE_ID) == 1


def test_an_unknown_listener_is_404_with_no_body(srv):
    response = notify(srv, "44444444-5555-4666-8777-888888888888")
    assert (response.status_code, response.content) == (404, b"")
    assert notify(srv, "not-a-uuid").status_code == 404 and srv.count_events() == 0


@pytest.mark.parametrize(("authorization", "status"), [
    (None, 401), ("Bearer wrong", 401), ("key-1", 401), ("Bearer key-1", 200), ("TOKEN", 200),
], ids=["none", "unknown", "no-bearer-prefix", "api-key", "access-token"])
def test_a_bearer_listener_checks_the_api_key_or_access_token(srv, authorization, status):
    headers = {} if authorization is None else {"Authorization": authorization}
    if authorization == "TOKEN":
        with requests.Session() as http:
            headers["Authorization"] = f"Bearer {get_token(srv, http)}"
    response = notify(srv, BEARER_ID, **headers)
    assert response.status_code == status
    if status == 401:
        assert response.json()["error"]["code"] == "UNAUTHENTICATED" and srv.count_events() == 0


@pytest.mark.parametrize(("header", "status"), [
    (signed(b'{"a":1}'), 200), ("sha256=" + signed(b'{"a":1}'), 200), (signed(b'{"a":1}', "wrong"), 401),
    (signed(b'{"a": 1}'), 401), (None, 401),
], ids=["signed", "sha256-prefix", "wrong-secret", "other-bytes", "unsigned"])
def test_an_hmac_listener_verifies_the_signature_over_the_raw_body(srv, header, status):
    headers = {} if header is None else {"X-Signature": header}
    response = notify(srv, HMAC_ID, **headers)
    assert response.status_code == status
    if status == 401:
        assert response.json()["error"]["message"].startswith("Signature verification failed")
        assert srv.count_events() == 0
    else:
        assert srv.events()[0]["auth"] == "hmac"


@pytest.mark.parametrize(("body", "content_type", "fragment"), [
    (b"[1, 2]", "application/json", "the body must be a JSON object"),
    (b"{not json", "application/json", "Parsing of json payload failed"),
    (b'{"a":1}', "text/plain", "Content-Type must be application/json"),
], ids=["not-an-object", "not-json", "content-type"])
def test_a_body_that_is_no_json_object_is_400(srv, body, content_type, fragment):
    response = notify(srv, NONE_ID, body, **{"Content-Type": content_type})
    assert response.status_code == 400 and fragment in response.json()["error"]["message"]


def test_a_body_over_1_mb_is_413_and_not_kept(srv):
    body = b'{"v":"' + b"x" * (1_000_000 - 8) + b'"}'
    assert len(body) == 1_000_000 and notify(srv, NONE_ID, body).status_code == 200
    response = notify(srv, NONE_ID, body[:-2] + b'x"}')
    assert response.status_code == 413 and "exceeds 1 MB (1000000 bytes)" in response.json()["error"]["message"]
    assert notify(srv, NONE_ID, b"x" * (2 << 20)).status_code == 413  # over 1 MiB: refused at the gateway
    assert srv.count_events() == 1


@pytest.mark.parametrize(("fault", "status", "kept"), [
    ({"accept_fail_next": 1, "accept_fail_status": 502}, 502, 1), ({"fail_next": 1, "fail_status": 503}, 503, 0),
    ({"drop_next": 1}, None, 0), ({"lose_reply_next": 1}, None, 1),
], ids=["accept-then-502", "503-before", "drop", "lose-reply"])
def test_send_faults_apply_to_notifies(srv, fault, status, kept):
    srv.inject(**fault)
    if status is None:
        with pytest.raises(requests.ConnectionError):
            notify(srv, NONE_ID)
    else:
        assert notify(srv, NONE_ID).status_code == status
    assert srv.count_events() == kept
    assert notify(srv, NONE_ID).status_code == 200  # the fault was spent


def test_events_page_filter_and_count_every_event_and_duplicates(srv):
    for n in range(5):
        notify(srv, NONE_ID, json.dumps({"n": n % 3}).encode())
    notify(srv, BEARER_ID, headers := b'{"b":1}', Authorization="Bearer key-1")
    page = requests.get(f"{srv.url}/_mock/events", params={"limit": 2, "after": 1}).json()
    assert [e["body"] for e in page["events"]] == [{"n": 1}, {"n": 2}] and page["next_after"] == 3
    assert (page["total"], page["kept"]) == (6, 6)
    only = requests.get(f"{srv.url}/_mock/events", params={"listener_id": BEARER_ID.upper()}).json()
    assert [e["body"] for e in only["events"]] == [json.loads(headers)] and only["next_after"] is None
    stats = srv.stats()["listeners"]
    assert (stats["events"], stats["duplicate_events"], stats["by_listener"]) == (6, 2, {NONE_ID: 5, BEARER_ID: 1})
    assert srv.verify(listener_id=BEARER_ID)["events"] == 1 and srv.verify(listener_id=BEARER_ID)["requests"] == 1
    assert [r["listener_id"] for r in srv.requests(listener_id=NONE_ID)] == [NONE_ID] * 5
    assert requests.get(f"{srv.url}/_mock/events", params={"kind": "x"}).status_code == 400


def test_listener_limits_are_org_wide_per_class_and_apart_from_the_events_api():
    other = "55555555-6666-4777-8888-999999999999"
    with MockServer(rate_limit=(1, 60.0), listeners=[NONE_ID, other, f"{HMAC_ID}:hmac:{SECRET}"],
                    listener_rate_unsecured="1/10", listener_rate_secured="2/10") as srv:
        assert notify(srv, NONE_ID).status_code == 200
        refused = notify(srv, other)  # another unsecured listener: the same organisation-wide budget
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 9
        assert "org-wide listener rate limit" in refused.json()["error"]["message"]
        assert refused.headers["X-RateLimit-Limit"] == "1"
        sig = signed(b'{"a":1}')
        assert [notify(srv, HMAC_ID, **{"X-Signature": sig}).status_code for _ in range(3)] == [200, 200, 429]
        with requests.Session() as http:  # the Events API's own budget is untouched: its token fits
            token = get_token(srv, http)
            assert send(srv, http, token).status_code == 429  # ...and its second request does not
        stats = srv.stats()
        assert stats["listeners"]["max_requests_in_window"] == {"unsecured": 2, "secured": 3}
        assert stats["max_requests_in_window"] == 2 and stats["listeners"]["events"] == 3


def test_the_cli_serves_listeners_with_signing_options_and_no_rate_limit_turns_every_limit_off():
    args = ["--no-rate-limit", "--listener-header", "X-Hub-Signature-256", "--listener-prefix", "sha256="]
    proc = subprocess.Popen([sys.executable, "-m", "mwsync.mock_server", "--port", "0", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, MOCK_SERVER_LISTENERS=f"{NONE_ID} {HMAC_ID}:hmac:{SECRET}"))
    try:
        first = proc.stdout.readline()
        url = re.search(r"http://\S+", first).group(0)
        body = b'{"a":1}'
        path = f"{url}/webhooks/v1/listeners/{HMAC_ID}/notify"
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": "sha256=" + signed(body)}
        assert [requests.post(path, data=body, headers=headers).status_code for _ in range(12)] == [200] * 12
        stats = requests.get(f"{url}/_mock/stats").json()
        assert stats["listeners"]["rate_limits"] == {"unsecured": None, "secured": None}
        assert [r["mode"] for r in stats["listeners"]["registered"]] == ["none", "hmac"]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=15)
        out, err = first + proc.stdout.read(), proc.stderr.read()  # the buffered stream: readline read ahead
        proc.stdout.close()
        proc.stderr.close()
    assert f"listener {HMAC_ID} (hmac)" in out and SECRET not in out + err
    both = CliRunner().invoke(main, ["--no-rate-limit", "--listener-rate-limit-secured", "5/1"])
    bad = CliRunner().invoke(main, ["--listener", f"{HMAC_ID}:hmac"])
    assert both.exit_code == bad.exit_code == 2 and "an hmac listener needs a secret" in bad.output
