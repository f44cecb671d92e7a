"""POST /oauth/v1/token and GET /rest/v1/auth/test against a running mock server."""

from __future__ import annotations

import base64
import json
import time

import pytest
import requests
from mock_helpers import CLIENT_ID, CLIENT_SECRET, TOKEN_FORM, FakeClock, error_of, get_token

from mwsync.mock_server import MockServer

WRONG = {"client_id": CLIENT_ID, "client_secret": "nope", "grant_type": "client_credentials"}


def _post_token(srv: MockServer, http: requests.Session, kind: str, fields: dict, **kwargs) -> requests.Response:
    url = f"{srv.url}/oauth/v1/token"
    return http.post(url, json=fields, **kwargs) if kind == "json" else http.post(url, data=fields, **kwargs)


@pytest.mark.parametrize("kind", ["form", "json"])
def test_client_credentials_grant_returns_plain_bearer_token(srv, http, kind):
    response = _post_token(srv, http, kind, TOKEN_FORM)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "expires_in", "token_type"}
    assert body["access_token"].startswith("mwt_") and body["expires_in"] == 3600 and body["token_type"] == "Bearer"
    assert response.headers["Cache-Control"] == "no-store"
    assert srv.stats()["tokens_issued"] == 1


CASES = [
    ("form", {**TOKEN_FORM, "grant_type": "password"}, 400, "UNSUPPORTED_GRANT_TYPE"),
    ("json", {**TOKEN_FORM, "grant_type": "authorization_code"}, 400, "UNSUPPORTED_GRANT_TYPE"),
    ("form", {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}, 400, "BAD_REQUEST"),
    ("json", {"client_id": CLIENT_ID, "grant_type": "client_credentials"}, 400, "BAD_REQUEST"),
    ("json", {**TOKEN_FORM, "client_secret": 42}, 400, "BAD_REQUEST"),
    ("form", WRONG, 401, "UNAUTHENTICATED"),
    ("json", {**TOKEN_FORM, "client_id": "stranger"}, 401, "UNAUTHENTICATED"),
]


@pytest.mark.parametrize(
    ("kind", "fields", "status", "code"),
    CASES,
    ids=["other-grant-form", "other-grant-json", "no-grant", "no-secret", "secret-not-string", "wrong-secret",
         "unknown-client"],
)
def test_token_request_errors(srv, http, kind, fields, status, code):
    assert error_of(_post_token(srv, http, kind, fields))[:2] == (status, code)
    assert srv.stats()["tokens_issued"] == 0


@pytest.mark.parametrize(
    ("content_type", "body"),
    [("text/plain", b"client_id=x"), (None, b""), ("application/json", b"{not json"), ("application/json", b"[1, 2]"),
     ("application/x-www-form-urlencoded", b"client_id=a&client_id=b"),
     ("application/x-www-form-urlencoded", b"\xff\xfe")],
    ids=["text-plain", "no-content-type", "bad-json", "json-array", "repeated-field", "not-utf8"],
)  # fmt: skip
def test_malformed_token_requests_are_400(srv, http, content_type, body):
    headers = {"Content-Type": content_type} if content_type else {}
    assert error_of(http.post(f"{srv.url}/oauth/v1/token", data=body, headers=headers))[:2] == (400, "BAD_REQUEST")


@pytest.mark.parametrize(
    ("token_request", "kind", "status"),
    [("form", "form", 200), ("form", "json", 400), ("json", "json", 200), ("json", "form", 400)],
    ids=["form-only-form", "form-only-json", "json-only-json", "json-only-form"],
)
def test_token_request_format_can_be_restricted(http, token_request, kind, status):
    with MockServer(token_request=token_request) as srv:
        response = _post_token(srv, http, kind, TOKEN_FORM)
    assert response.status_code == status
    if status == 400:
        assert error_of(response)[1] == "BAD_REQUEST"


def test_wrapped_token_response(http):
    with MockServer(token_response="wrapped", token_ttl_s=60) as srv:
        body = _post_token(srv, http, "form", TOKEN_FORM).json()
    assert set(body) == {"data"} and body["data"]["expires_in"] == 60 and body["data"]["token_type"] == "Bearer"


def _basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


@pytest.mark.parametrize(
    ("allow", "headers", "status"),
    [(False, _basic(CLIENT_ID, CLIENT_SECRET), 401), (True, _basic(CLIENT_ID, CLIENT_SECRET), 200),
     (True, _basic(CLIENT_ID, "wrong"), 401), (True, {"Authorization": "Basic !!!"}, 401)],
    ids=["basic-refused-by-default", "basic-allowed", "basic-wrong-secret", "basic-malformed"],
)  # fmt: skip
def test_credentials_in_basic_header(http, allow, headers, status):
    with MockServer(allow_basic_auth=allow) as srv:
        response = http.post(f"{srv.url}/oauth/v1/token", data={"grant_type": "client_credentials"}, headers=headers)
    assert response.status_code == status
    if status == 401:
        assert error_of(response)[1] == "UNAUTHENTICATED"


def test_tokens_are_unique_and_opaque(srv, http):
    tokens = {get_token(srv, http) for _ in range(20)}
    assert len(tokens) == 20 and all(t.startswith("mwt_") and len(t) > 30 for t in tokens)
    assert CLIENT_SECRET not in "".join(tokens)


def test_token_expires_exactly_at_ttl(http):
    clock = FakeClock()
    with MockServer(token_ttl_s=60, clock=clock) as srv:
        token = get_token(srv, http)
        auth = {"Authorization": f"Bearer {token}"}
        clock.advance(59.999)
        assert http.get(f"{srv.url}/rest/v1/auth/test", headers=auth).status_code == 200
        clock.advance(0.001)
        response = http.get(f"{srv.url}/rest/v1/auth/test", headers=auth)
        assert error_of(response) == (401, "UNAUTHENTICATED", "Token validation failed")
        assert srv.stats()["tokens_expired"] == 1


def test_real_short_ttl_expires(http):
    with MockServer(token_ttl_s=0.2) as srv:
        body = _post_token(srv, http, "json", TOKEN_FORM).json()
        assert body["expires_in"] == 0.2
        auth = {"Authorization": f"Bearer {body['access_token']}"}
        assert http.get(f"{srv.url}/rest/v1/auth/test", headers=auth).status_code == 200
        time.sleep(0.25)
        assert http.get(f"{srv.url}/rest/v1/auth/test", headers=auth).status_code == 401


@pytest.mark.parametrize(
    "header",
    ["", "Bearer", "Bearer ", "bearer {t}", "Token {t}", "{t}", "Bearer  {t}", "Bearer {t}x", "Bearer mwt_forged"],
    ids=["empty", "scheme-only", "scheme-space", "lowercase-scheme", "other-scheme", "no-prefix", "double-space",
         "altered", "forged"],
)  # fmt: skip
def test_auth_test_rejects_anything_but_exact_bearer(srv, http, header):
    token = get_token(srv, http)
    headers = {"Authorization": header.format(t=token)} if header else {}
    response = http.get(f"{srv.url}/rest/v1/auth/test", headers=headers)
    assert error_of(response) == (401, "UNAUTHENTICATED", "Token validation failed")


def test_auth_test_accepts_valid_token_and_api_key(http):
    with MockServer(api_keys=["static-key-1"]) as srv:
        token = get_token(srv, http)
        for bearer in (token, "static-key-1"):
            response = http.get(f"{srv.url}/rest/v1/auth/test", headers={"Authorization": f"Bearer {bearer}"})
            assert response.status_code == 200 and response.json() == {"data": {"status": "OK"}}


def test_extra_clients_and_json_body_with_charset(http):
    with MockServer(clients={"ci": "s3cret"}) as srv:
        fields = {"client_id": "ci", "client_secret": "s3cret", "grant_type": "client_credentials"}
        response = http.post(
            f"{srv.url}/oauth/v1/token",
            data=json.dumps(fields),
            headers={"Content-Type": "application/json; charset=utf-8"},
        )
        assert response.status_code == 200
        assert _post_token(srv, http, "form", TOKEN_FORM).status_code == 401  # default client replaced
