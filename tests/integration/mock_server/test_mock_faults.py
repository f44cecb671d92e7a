"""Fault injection through `srv.inject`, `POST /_mock/faults` and the revoke endpoint."""

from __future__ import annotations

import time

import pytest
import requests
from mock_helpers import TOKEN_FORM, error_of, get_token, send

from mwsync.mock_server import MockServer
from mwsync.mock_server.faults import FaultSpec, Faults


@pytest.mark.parametrize("status", [500, 502, 503])
def test_fail_next_sends(srv, http, status):
    token = get_token(srv, http)
    srv.inject(fail_next=2, fail_status=status)
    codes = [send(srv, http, token).status_code for _ in range(3)]
    assert codes == [status, status, 200]
    assert len(srv.messages()) == 1 and srv.stats()["faults"]["failed_sends"] == 2


def test_fail_rate_is_deterministic_with_seed(http):
    def run() -> list[int]:
        with MockServer(seed=7, rate_limit="1000/1", faults={"fail_rate": 0.5, "fail_status": 503}) as srv:
            token = get_token(srv, http)
            return [send(srv, http, token).status_code for _ in range(20)]

    first, second = run(), run()
    assert first == second and {200, 503} == set(first)


def test_fault_error_body_has_stable_code(srv, http):
    srv.inject(fail_next=1, fail_status=503)
    assert error_of(send(srv, http, get_token(srv, http)))[:2] == (503, "SERVICE_UNAVAILABLE")


def test_drop_closes_connection_without_response_and_records_nothing(srv, http):
    token = get_token(srv, http)
    srv.inject(drop_next=1)
    with pytest.raises(requests.ConnectionError, match="without response|aborted|reset"):
        send(srv, http, token)
    assert srv.messages() == []
    assert send(srv, http, token).status_code == 200  # the session reconnects
    stats = srv.stats()
    assert stats["faults"]["dropped_connections"] == 1 and stats["by_status"] == {"200": 2}
    assert srv.requests()[1]["status"] is None


def test_lost_reply_records_message_then_drops(srv, http):
    token = get_token(srv, http)
    srv.inject(lose_reply_next=1)
    assert send(srv, http, token, {"message": "hi", "recipients": ["bad"]}).status_code == 400  # not spent
    with pytest.raises(requests.ConnectionError):
        send(srv, http, token, {"message": "once", "recipients": ["ada@example.com"]})
    assert [m["message"] for m in srv.messages()] == ["once"]
    assert srv.stats()["faults"]["replies_lost"] == 1


def test_drop_rate_with_fresh_connections(http):
    with MockServer(seed=3, rate_limit="1000/1", faults={"drop_rate": 0.5}) as srv:
        token = get_token(srv, http)
        outcomes = []
        for _ in range(10):
            try:
                outcomes.append(send(srv, http, token).status_code)
            except requests.ConnectionError:
                outcomes.append(None)
        assert None in outcomes and 200 in outcomes
        assert len(srv.messages()) == outcomes.count(200)


@pytest.mark.parametrize(
    ("spec", "target", "min_ms"),
    [({"latency_ms": 60}, "send", 60), ({"latency_ms": 60, "latency_on": "token"}, "token", 60),
     ({"latency_ms": 40, "latency_jitter_ms": 20, "latency_on": "both"}, "send", 40)],
    ids=["fixed-on-send", "fixed-on-token", "jitter-on-both"],
)  # fmt: skip
def test_latency_faults(srv, http, spec, target, min_ms):
    token = get_token(srv, http)
    srv.inject(**spec)
    if target == "token":
        http.post(f"{srv.url}/oauth/v1/token", data=TOKEN_FORM)
    else:
        send(srv, http, token)
    deadline = time.monotonic() + 5  # the server logs a request just after its answer left: wait for it
    while len(srv.requests()) < 2 and time.monotonic() < deadline:
        time.sleep(0.005)
    assert srv.requests(limit=1)[0]["duration_ms"] >= min_ms
    assert srv.stats()["faults"]["delayed_requests"] == 1


@pytest.mark.parametrize(("status", "code"), [(401, "UNAUTHENTICATED"), (500, "INTERNAL_SERVER_ERROR")])
def test_token_fail_next(srv, http, status, code):
    srv.inject(token_fail_next=1, token_fail_status=status)
    assert error_of(http.post(f"{srv.url}/oauth/v1/token", data=TOKEN_FORM))[:2] == (status, code)
    assert get_token(srv, http).startswith("mwt_")
    assert srv.stats()["faults"]["failed_token_requests"] == 1


def test_revoke_tokens_makes_them_401(srv, http):
    old = get_token(srv, http)
    response = http.post(f"{srv.url}/_mock/revoke-tokens")
    assert response.json() == {"revoked": 1}
    assert error_of(send(srv, http, old)) == (401, "UNAUTHENTICATED", "Token validation failed")
    assert send(srv, http, get_token(srv, http)).status_code == 200
    stats = srv.stats()
    assert stats["tokens_revoked"] == 1 and stats["faults"]["revocations"] == 1


def test_revoke_tokens_of_one_client():
    with MockServer(clients={"a": "x", "b": "y"}) as srv, requests.Session() as http:
        for client, secret in (("a", "x"), ("b", "y")):
            form = {"client_id": client, "client_secret": secret, "grant_type": "client_credentials"}
            http.post(f"{srv.url}/oauth/v1/token", data=form)
        assert http.post(f"{srv.url}/_mock/revoke-tokens", json={"client_id": "b"}).json() == {"revoked": 1}
        assert srv.revoke_tokens() == 1


@pytest.mark.parametrize(("retry_after_s", "header"), [(3, "3"), (None, None)], ids=["with-retry-after", "without"])
def test_force_429(srv, http, retry_after_s, header):
    srv.inject(force_429_next=2, force_429_retry_after_s=retry_after_s)
    first = http.post(f"{srv.url}/oauth/v1/token", data=TOKEN_FORM)
    second = http.get(f"{srv.url}/rest/v1/auth/test")
    assert error_of(first)[:2] == (429, "TOO_MANY_REQUESTS") and second.status_code == 429
    assert first.headers.get("Retry-After") == header
    assert get_token(srv, http)
    assert srv.stats()["faults"]["forced_429"] == 2 and srv.stats()["status_429"] == 2


def test_faults_via_http_merge_and_clear(srv, http):
    assert http.post(f"{srv.url}/_mock/faults", json={"fail_next": 2}).json()["faults"]["fail_next"] == 2
    active = http.post(f"{srv.url}/_mock/faults", json={"drop_next": 1}).json()["faults"]
    assert (active["fail_next"], active["drop_next"]) == (2, 1)
    assert http.get(f"{srv.url}/_mock/faults").json()["faults"] == active
    assert http.delete(f"{srv.url}/_mock/faults").json()["faults"] == FaultSpec().as_dict()


@pytest.mark.parametrize(
    "spec",
    [{"fail_rat": 0.1}, {"fail_rate": 2}, {"fail_next": -1}, {"fail_next": 1.5}, {"fail_status": 404},
     {"token_fail_status": 503}, {"latency_ms": "slow"}, {"latency_on": "all"}, {"force_429_retry_after_s": 0},
     {"fail_rate": True}],
    ids=["typo", "rate-above-1", "negative", "float-count", "status-404", "token-503", "latency-string",
         "latency-target", "retry-after-0", "bool-rate"],
)  # fmt: skip
def test_invalid_fault_specs_are_refused(srv, http, spec):
    status, code, message = error_of(http.post(f"{srv.url}/_mock/faults", json=spec))
    assert (status, code) == (400, "BAD_REQUEST") and next(iter(spec)) in message
    with pytest.raises(ValueError):
        srv.inject(**spec)
    assert srv.inject() == FaultSpec().as_dict()


def test_unknown_fault_lists_valid_names():
    with pytest.raises(ValueError, match="valid: fail_rate, fail_next"):
        Faults().update({"explode": 1})


def test_reset_clears_faults(srv, http):
    srv.inject(fail_next=5)
    srv.reset()
    assert send(srv, http, get_token(srv, http)).status_code == 200
