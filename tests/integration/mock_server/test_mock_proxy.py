"""Proxy and record mode: a second local mock stands in for the tenant (`--proxy-to URL`)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from mock_helpers import CLIENT_SECRET, EVENT_ID, TOKEN_FORM, error_of, get_token, send
from vcr.serialize import deserialize
from vcr.serializers import yamlserializer

from mwsync.mock_server import MockServer
from mwsync.mock_server.cassettes import ACCESS_TOKEN, CLIENT_ID, REPLAY_URL


@pytest.fixture
def tenant():
    with MockServer(rate_limit=(1000, 1.0)) as server:
        yield server


def test_forwards_valid_requests_and_accounts_them(tenant, http):
    with MockServer(proxy_to=tenant.url, rate_limit=(1000, 1.0)) as proxy:
        token = get_token(proxy, http)  # issued by the tenant
        assert send(proxy, http, token, {"message": "hi", "recipients": ["ada@example.com"]}).status_code == 200
        assert http.get(f"{proxy.url}/rest/v1/auth/test", headers={"Authorization": f"Bearer {token}"}).ok
        assert [m["message"] for m in tenant.messages()] == ["hi"]
        assert proxy.messages()[0]["token_id"] == "proxied" and proxy.count(EVENT_ID, "ada@example.com") == 1
        stats = proxy.stats()["proxy"]
        assert (stats["forwarded"], stats["refused"], stats["violations"]) == (3, 0, 0)
        assert proxy.requests(recipient="ada@example.com")[0]["status"] == 200


@pytest.mark.parametrize(
    ("body", "event_id", "status", "code"),
    [({"message": "hi", "recipients": ["not an address"]}, EVENT_ID, 400, "INVALID_EMAIL_ADDRESS"),
     ({"message": "hi"}, EVENT_ID, 400, "BAD_REQUEST"),
     ({"message": "hi", "recipients": ["ada@example.com"]}, "not-a-uuid", 400, "BAD_REQUEST")],
    ids=["bad-email", "missing-recipients", "event-not-uuid"],
)  # fmt: skip
def test_refuses_what_the_contract_refuses_without_forwarding(tenant, http, body, event_id, status, code):
    with MockServer(proxy_to=tenant.url) as proxy:
        token = get_token(proxy, http)
        assert error_of(send(proxy, http, token, body, event_id=event_id))[:2] == (status, code)
        no_bearer = http.post(f"{proxy.url}/rest/v1/messages/send", json=body, headers={"Authorization": token})
        assert error_of(no_bearer)[:2] == (401, "UNAUTHENTICATED")
        assert tenant.stats()["requests"] == 1 and proxy.stats()["proxy"]["refused"] == 2


def test_tenant_errors_pass_through_and_conform(tenant, http):
    tenant.inject(force_429_next=1)
    with MockServer(proxy_to=tenant.url) as proxy:
        response = http.post(f"{proxy.url}/oauth/v1/token", data=TOKEN_FORM)
        assert error_of(response)[:2] == (429, "TOO_MANY_REQUESTS") and response.headers["Retry-After"] == "1"
        assert "X-Mock-Contract-Violation" not in response.headers


class FlatErrors(BaseHTTPRequestHandler):
    """A tenant that answers the harvested spec's flat error body and an undocumented status."""

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers["Content-Length"]))
        body = json.dumps({"code": "BAD", "message": "flat"}).encode()
        self.send_response(418)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_contract_violations_are_flagged_and_counted(http):
    server = ThreadingHTTPServer(("127.0.0.1", 0), FlatErrors)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with MockServer(proxy_to=f"http://127.0.0.1:{server.server_port}") as proxy:
            response = http.post(f"{proxy.url}/oauth/v1/token", data=TOKEN_FORM)
            stats = proxy.stats()["proxy"]
    finally:
        server.shutdown()
        server.server_close()
    assert response.status_code == 418 and response.json() == {"code": "BAD", "message": "flat"}
    assert "flat error body" in response.headers["X-Mock-Contract-Violation"]
    assert stats["violations"] == 1 and "status 418 is not documented" in stats["recent_violations"][0]


def test_unreachable_tenant_is_502(http):
    with MockServer() as gone:
        url = gone.url
    with MockServer(proxy_to=url) as proxy:
        assert error_of(http.post(f"{proxy.url}/oauth/v1/token", data=TOKEN_FORM))[:2] == (502, "BAD_GATEWAY")


def test_record_writes_a_scrubbed_cassette_the_recorded_tests_can_read(tenant, http, tmp_path):
    cassette = tmp_path / "cassettes" / "proxied.yaml"
    with MockServer(proxy_to=tenant.url, record_to=cassette) as proxy:
        token = get_token(proxy, http)
        send(proxy, http, token, {"message": "hi", "recipients": ["ada@example.com"]})
        send(proxy, http, token, {"message": "hi", "recipients": ["nope"]})  # refused: not recorded
    text = cassette.read_text()
    assert token not in text and CLIENT_SECRET not in text and "mwt_" not in text and str(tenant.port) not in text
    recorded, answers = deserialize(text, yamlserializer)
    assert [r.path for r in recorded] == ["/oauth/v1/token", f"/rest/v1/events/{EVENT_ID}/messages/send"]
    assert recorded[0].uri.startswith(REPLAY_URL) and f"client_id={CLIENT_ID}" in recorded[0].body.decode()
    assert recorded[1].headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert json.loads(answers[0]["body"]["string"])["access_token"] == ACCESS_TOKEN
    assert answers[1]["status"]["code"] == 200


@pytest.mark.parametrize(("kwargs", "text"), [({"proxy_to": "ftp://x"}, "proxy_to"),
                                              ({"proxy_to": "https://user:pw@host"}, "without credentials"),
                                              ({"record_to": "x.yaml"}, "give proxy_to")])
def test_bad_proxy_options(kwargs, text):
    with pytest.raises(ValueError, match=text):
        MockServer(**kwargs)


def test_proxy_never_leaks_credentials_into_its_log(tenant, http):
    with MockServer(proxy_to=tenant.url, log_headers=True, log_bodies=True) as proxy:
        token = get_token(proxy, http)
        send(proxy, http, token)
        dump = json.dumps(proxy.requests())
        assert requests.get(f"{proxy.url}/_mock/health").ok
    assert token not in dump and CLIENT_SECRET not in dump and "REDACTED" in dump
