"""Edges from issue 13: no rate limit, OPTIONS and HEAD, unknown repeated token fields, reserved domains and
quoted local parts, the `0/N` rate-limit message."""

from __future__ import annotations

import pytest
import requests
from click.testing import CliRunner
from mock_helpers import TOKEN_FORM, error_of, get_token, send

from mwsync.mock_server import MockServer
from mwsync.mock_server.cli import main


def test_no_rate_limit_admits_everything_and_sends_no_limit_headers(http):
    with MockServer(rate_limit=None) as srv:
        token = get_token(srv, http)
        responses = [send(srv, http, token) for _ in range(30)]
        stats = srv.stats()
    assert {r.status_code for r in responses} == {200}
    assert not any(h.lower().startswith("x-ratelimit") for h in responses[0].headers)
    assert stats["rate_limit"] is None and stats["max_requests_in_window"] == 31


def test_cli_no_rate_limit_flag_and_zero_limit_message():
    result = CliRunner().invoke(main, ["--port", "0", "--rate-limit", "0/1"])
    assert result.exit_code == 2 and "--no-rate-limit" in result.output
    assert "would refuse every request" in result.output


@pytest.mark.parametrize("path", ["/oauth/v1/token", "/rest/v1/auth/test", "/rest/v1/messages/send", "/_mock/stats",
                                  "/_mock/reset"])
def test_options_is_a_wrong_method(srv, http, path):
    response = http.options(srv.url + path)
    assert error_of(response)[:2] == (405, "METHOD_NOT_ALLOWED")
    assert "OPTIONS" not in response.headers["Allow"] and response.headers["Allow"]


def test_head_answers_like_get_without_a_body(srv, http):
    token = get_token(srv, http)
    head = http.head(f"{srv.url}/rest/v1/auth/test", headers={"Authorization": f"Bearer {token}"})
    assert head.status_code == 200 and head.content == b"" and head.headers["Content-Type"] == "application/json"
    assert http.head(f"{srv.url}/rest/v1/auth/test").status_code == 401
    assert http.head(f"{srv.url}/_mock/messages").status_code == 200
    assert http.head(f"{srv.url}/oauth/v1/token").status_code == 405  # POST-only endpoints: still wrong


def test_repeated_unknown_token_fields_are_ignored_known_ones_refused(srv, http):
    body = "&".join(f"{k}={v}" for k, v in TOKEN_FORM.items()) + "&scope=a&scope=b"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert http.post(f"{srv.url}/oauth/v1/token", data=body, headers=form).status_code == 200
    twice = body + "&grant_type=client_credentials"
    status, code, message = error_of(http.post(f"{srv.url}/oauth/v1/token", data=twice, headers=form))
    assert (status, code) == (400, "BAD_REQUEST") and "grant_type" in message


@pytest.mark.parametrize("address", ["ada@host.local", "ada@example.test", '"ada lovelace"@example.com'],
                         ids=["dot-local", "dot-test", "quoted-local-part"])
def test_reserved_domains_and_quoted_local_parts_are_refused_as_documented(srv, http, address):
    response = send(srv, http, get_token(srv, http), {"message": "hi", "recipients": [address]})
    assert error_of(response)[:2] == (400, "INVALID_EMAIL_ADDRESS")


def test_openapi_and_admin_paths_are_not_api_requests(srv, http):
    http.get(f"{srv.url}/openapi.json")
    http.head(f"{srv.url}/_mock/health")
    assert srv.stats()["requests"] == 0 and requests.get(f"{srv.url}/openapi.json").json()["openapi"] == "3.1.0"
