"""Signing listener bodies and verifying them (the runner's `HmacAuth` and the mock's twin, checked against each
other and against a hand-computed HMAC), the mock's listener specs, the listener-limit warnings and ETAs
`plan` and `run` give, and the listeners' own limiters. Pure: no network (a request is prepared, never sent)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

import pytest
import requests

from mwsync.config.job import HmacSigning
from mwsync.mock_server.listeners import ListenerConfig, parse_listener, signature_problem
from mwsync.plan import PlanSummary
from mwsync.rate import Rate
from mwsync.report import eta_warning, plan_estimates, plan_warnings
from mwsync.send.listener import HmacAuth, signature
from mwsync.send.stop import StopSignal
from mwsync.send.throttle import SlidingWindowLimiter
from mwsync.state import limiter_location, open_limiters
from tests.support import LISTENER_ID, make_job, make_listener_job

BODY = '{"email":"zoë@example.com","n":3}'.encode()
NOW_S = 1_767_000_000.0


def test_the_default_is_bare_lowercase_hex_hmac_sha256_of_the_exact_bytes():
    expected = hmac.new(b"s3cret", BODY, hashlib.sha256).hexdigest()
    assert signature(HmacSigning("s3cret"), BODY) == expected and expected == expected.lower()


SETTINGS = [
    {},
    {"algorithm": "sha512", "encoding": "base64"},
    {"prefix": "sha256="},
    {"header": "X-Hub-Signature-256", "prefix": "sha256="},
    {"timestamp_header": "X-Timestamp", "signed_string": "{timestamp}.{body}"},
    {"timestamp_header": "X-Timestamp", "signed_string": "v0:{timestamp}:{body}", "encoding": "base64"},
]
IDS = ["default", "sha512-base64", "prefix", "github-style", "timestamp", "timestamp-base64"]


def signed_request(signing: HmacSigning, now_s: float = NOW_S) -> requests.PreparedRequest:
    request = requests.Request("POST", "http://127.0.0.1:9/notify", data=BODY).prepare()
    return HmacAuth(signing, wall_clock=lambda: now_s)(request)


@pytest.mark.parametrize("options", SETTINGS, ids=IDS)
def test_what_the_runner_signs_the_mock_verifies_and_a_wrong_secret_it_refuses(options):
    config = ListenerConfig(LISTENER_ID, "hmac", "s3cret", **options)
    right = signed_request(HmacSigning("s3cret", **options))
    assert signature_problem(config, right.headers.get, BODY, NOW_S + 5) is None
    wrong = signed_request(HmacSigning("not-it", **options))
    assert signature_problem(config, wrong.headers.get, BODY, NOW_S) == "signature mismatch"
    assert signature_problem(config, right.headers.get, BODY + b" ", NOW_S) == "signature mismatch"


def test_the_timestamp_is_stamped_when_signing_and_signed_with_the_body():
    signing = HmacSigning("s3cret", timestamp_header="X-Timestamp", signed_string="{timestamp}.{body}")
    request = signed_request(signing, now_s=1234.9)
    signed = b"1234." + BODY
    assert request.headers["X-Timestamp"] == "1234"
    assert request.headers["X-Signature"] == hmac.new(b"s3cret", signed, hashlib.sha256).hexdigest()
    assert request.mwsync_auth.ready()  # the session stamps it again after the rate-limit slot


def test_the_mock_refuses_a_missing_header_a_stale_timestamp_and_accepts_a_stripped_prefix():
    config = ListenerConfig(LISTENER_ID, "hmac", "s3cret", timestamp_header="X-Timestamp",
                            signed_string="{timestamp}.{body}")
    request = signed_request(HmacSigning("s3cret", timestamp_header="X-Timestamp", signed_string="{timestamp}.{body}"))
    assert signature_problem(config, {}.get, BODY, NOW_S) == "no X-Signature header"
    assert signature_problem(config, request.headers.get, BODY, NOW_S + 301) == \
        "X-Timestamp is more than 300 s away from now"
    plain = ListenerConfig(LISTENER_ID, "hmac", "s3cret")
    value = "sha256=" + hmac.new(b"s3cret", BODY, hashlib.sha256).hexdigest().upper()
    assert signature_problem(plain, {"X-Signature": value}.get, BODY, NOW_S) is None  # Moveworks strips sha256=
    b64 = base64.b64encode(hmac.new(b"s3cret", BODY, hashlib.sha256).digest()).decode()
    assert signature_problem(plain, {"X-Signature": b64}.get, BODY, NOW_S) == "signature mismatch"


@pytest.mark.parametrize(("spec", "expected"), [
    (LISTENER_ID, ("none", "")),
    (f"{LISTENER_ID.upper()}:bearer", ("bearer", "")),
    (f"{LISTENER_ID}:hmac:with:colons", ("hmac", "with:colons")),
    ({"id": LISTENER_ID, "mode": "hmac", "secret": "s", "encoding": "base64"}, ("hmac", "s")),
], ids=["none", "bearer", "hmac", "mapping"])
def test_listener_specs(spec, expected):
    config = parse_listener(spec)
    assert (config.listener_id, config.mode, config.secret) == (LISTENER_ID, *expected)
    assert "secret" not in config.public()


@pytest.mark.parametrize(("spec", "fragment"), [
    ("not-a-uuid", "is not a UUID (ID[:MODE[:SECRET]])"),
    (f"{LISTENER_ID}:basic", "mode 'basic' (valid: none, bearer, hmac)"),
    (f"{LISTENER_ID}:hmac", "an hmac listener needs a secret"),
    ({"id": LISTENER_ID, "colour": "red"}, "unknown listener option(s) colour"),
], ids=["not-uuid", "bad-mode", "hmac-without-secret", "unknown-option"])
def test_bad_listener_specs_name_the_fix(spec, fragment):
    with pytest.raises(ValueError, match=fragment.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        parse_listener(spec)


@pytest.mark.parametrize(("profile", "limit", "fits"), [
    ("5/1", "5/1", True), ("10/2", "5/1", False), ("1/10", "1/10", True), ("1/5", "1/10", False),
    ("1/10", "5/1", True), ("50/1", "5/1", False), ("120/60", "5/1", False),
], ids=["equal", "burst-over", "unsecured", "twice-unsecured", "slower", "fifty", "per-minute-bursts"])
def test_a_profile_fits_a_limit_as_a_sliding_window_counts_it(profile, limit, fits):
    assert Rate.parse(profile).fits_within(Rate.parse(limit)) is fits


@pytest.mark.parametrize(("auth", "throttle", "fragment"), [
    ("none", None, None),
    ("hmac", None, None),
    ("none", "5/1", "exceeds the unsecured listener limit of 1 request per 10 s"),
    ("hmac", "50/1", "exceeds 5 requests/s, the documented limit for secured listeners"),
    ("api_key", "100/1", "it exceeds the newer copies' 50/s too"),
], ids=["unsecured-default", "secured-default", "unsecured-fast", "secured-fifty", "over-every-limit"])
def test_a_profile_over_the_listener_limit_of_its_auth_mode_is_warned(auth, throttle, fragment):
    job = make_listener_job(auth=auth, throttle=throttle or ("1/10" if auth == "none" else "5/1"))
    warnings = plan_warnings(job, PlanSummary(messages=1, requests=1))
    assert warnings == [] if fragment is None else any(fragment in w for w in warnings), warnings


def test_an_unsecured_job_over_an_hour_is_warned_and_the_eta_is_under_the_listener_limit():
    job = make_listener_job(throttle="1/10")
    assert eta_warning(job, PlanSummary(requests=361)) is None  # 360 waits of 10 s: exactly an hour
    warning = eta_warning(job, PlanSummary(requests=400))
    assert warning.startswith("400 requests take ~1.1 h under the unsecured listener limit (1 per 10 s)")
    assert plan_estimates(job, PlanSummary(requests=400)) == {"profile": 3990.0, "listener_limit": 3990.0}
    secured = make_listener_job(auth="client_credentials", throttle="5/1")
    assert plan_estimates(secured, PlanSummary(requests=10)) == {"profile": 2.0, "listener_limit": 2.0}
    assert eta_warning(secured, PlanSummary(requests=100_000)) is None


def test_listener_jobs_have_budgets_of_their_own_and_embedded_ones_stay_in_process():
    @dataclass(frozen=True)
    class Options:
        limiter: str | None = None

    tenant = {"api_url": "https://api.moveworks.ai"}
    event = make_job(subscription=tenant, throttle="100/1")
    secured = make_listener_job(auth="hmac", subscription=tenant, throttle="5/1")
    unsecured = make_listener_job(subscription=tenant, throttle="1/10")
    limiters = open_limiters([event, secured, unsecured], Options(), StopSignal())
    assert {scope: (lim.limit, lim.window_s) for scope, lim in limiters.items()} == {
        "https://api.moveworks.ai": (100, 1.0), "https://api.moveworks.ai listeners (secured)": (5, 1.0),
        "https://api.moveworks.ai listeners (unsecured)": (1, 10.0)}
    assert all(isinstance(lim, SlidingWindowLimiter) for lim in limiters.values())
    assert limiter_location([secured], Options(limiter="redis://r:6379/0"), secured.rate_scope) == "redis://r:6379/0"
    embedded = make_listener_job(auth="hmac")
    assert limiter_location([embedded], Options(limiter="redis://r:6379/0"), embedded.rate_scope) is None
    assert secured.target == f"https://api.moveworks.ai/webhooks/v1/listeners/{LISTENER_ID}/notify"
