"""Listener jobs in job files: the shape, the defaults that follow the auth mode, and every mix-up `validate`
explains with file, line, key path and the fix (the listener reference: a job is an event or a listener)."""

from __future__ import annotations

import jsonschema
import pytest

from mwsync.config import load_job
from mwsync.config.models import job_schema
from mwsync.errors import ConfigError
from mwsync.redact import SECRETS

LISTENER_ID = "9b2f6c1e-3d4a-4b5c-8d6e-7f8091a2b3c4"
ENV = {"MW_SECRET": "listener-s3cret-value", "MW_KEY": "key-value-1234", "MW_CLIENT_ID": "id",
       "MW_CLIENT_SECRET": "client-s3cret"}

LISTENER = f"""\
listener:
  id: {LISTENER_ID}
  auth: hmac
  hmac:
    secret: ${{MW_SECRET}}
  payload:
    email: "{{{{ email }}}}"
source:
  rows:
    - {{email: a@example.com}}
"""


def problems_of(path, environ=ENV, **kw) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_job(path, environ=environ, **kw)
    return [str(p) for p in info.value.problems]


def test_hmac_listener_job_defaults_to_the_secured_profile_and_its_own_journal_target(write_job):
    job = load_job(write_job(LISTENER), environ=ENV)
    assert (job.listener.listener_id, job.listener.auth, job.message) == (LISTENER_ID, "hmac", None)
    assert (job.throttle.name, job.throttle.limit, job.throttle.window_s) == ("listener_secured", 5, 1.0)
    assert job.target == f"embedded/webhooks/v1/listeners/{LISTENER_ID}/notify"
    assert job.rate_scope == "embedded listeners (secured)"
    assert job.listener.hmac.header == "X-Signature" and job.listener.hmac.algorithm == "sha256"
    assert "listener-s3cret-value" not in repr(job)
    assert SECRETS.redact("sig listener-s3cret-value") == "sig [redacted]"


def test_unsecured_listener_defaults_to_one_request_per_10_s_and_a_named_profile_wins(write_job):
    text = LISTENER.replace("  auth: hmac\n  hmac:\n    secret: ${MW_SECRET}\n", "")
    job = load_job(write_job(text), environ=ENV)
    assert (job.listener.auth, job.throttle.limit, job.throttle.window_s) == ("none", 1, 10.0)
    assert job.rate_scope == "embedded listeners (unsecured)"
    named = load_job(write_job(text + "throttle:\n  profile: listener_secured_50\n"), environ=ENV)
    assert (named.throttle.name, named.throttle.limit) == ("listener_secured_50", 50)


def test_full_webhook_url_names_the_api_url_and_the_listener(write_job):
    url = f"https://api.moveworks.ai/webhooks/v1/listeners/{LISTENER_ID.upper()}/notify"
    job = load_job(write_job(LISTENER.replace(f"id: {LISTENER_ID}", f"url: {url}")), environ=ENV)
    assert (job.subscription.api_url, job.listener.listener_id) == ("https://api.moveworks.ai", LISTENER_ID)
    assert job.target == f"https://api.moveworks.ai/webhooks/v1/listeners/{LISTENER_ID}/notify"
    assert job.subscription.kind == "tenant"


def test_the_same_listener_on_another_target_keeps_another_history(write_job):
    path = write_job(LISTENER)
    embedded, local = load_job(path, environ=ENV), load_job(path, environ=ENV, api_url="http://127.0.0.1:9/")
    assert embedded.target != local.target == f"http://127.0.0.1:9/webhooks/v1/listeners/{LISTENER_ID}/notify"


TENANT = "subscription:\n  api_url: https://api.moveworks.ai\n"
MIXUPS = [
    (LISTENER + "message:\n  event_id: 3f1c2a9e-5b7d-4e8f-9a10-2b3c4d5e6f70\n", ":12: message: a job sends to an "
     "Events API event (message, with message.event_id) or to a webhook listener (listener), not both"),
    (LISTENER.replace("  auth: hmac", "  event_id: 3f1c2a9e-5b7d-4e8f-9a10-2b3c4d5e6f70\n  auth: hmac"),
     ":3: listener.event_id: a listener has no event id; give listener.id"),
    (LISTENER.replace("  auth: hmac", "  recipients: \"{{ email }}\"\n  auth: hmac"),
     ":3: listener.recipients: a listener has no recipients"),
    ("message:\n  event_id: 3f1c2a9e-5b7d-4e8f-9a10-2b3c4d5e6f70\n  text: hi\n  recipients: a@example.com\n"
     "  payload: {a: b}\nsource:\n  rows: [{a: 1}]\n", ":5: message.payload: payload belongs to a listener job"),
    ("source:\n  rows: [{a: 1}]\n", ":1: give exactly one of message (an Events API event) or listener"),
    (LISTENER.replace("  hmac:\n    secret: ${MW_SECRET}\n", ""), ":2: listener: auth: hmac needs hmac.secret"),
    (LISTENER.replace("auth: hmac", "auth: none"), ":2: listener: hmac settings are given but auth is 'none'"),
    (LISTENER.replace("${MW_SECRET}", "literal-secret"), ":5: listener.hmac.secret: must be exactly one "
     "environment reference such as ${MOVEWORKS_LISTENER_SECRET}"),
    (TENANT + LISTENER.replace("${MW_SECRET}", "${MW_UNSET_SECRET:-}"),
     ":7: listener.hmac.secret: a real listener needs the signing secret"),
    (TENANT + LISTENER.replace("auth: hmac\n  hmac:\n    secret: ${MW_SECRET}", "auth: api_key"),
     "subscription.api_key: listener.auth: api_key sends subscription.api_key as a bearer"),
    (TENANT + LISTENER.replace("auth: hmac\n  hmac:\n    secret: ${MW_SECRET}", "auth: client_credentials"),
     "subscription.client_secret: listener.auth: client_credentials needs subscription.client_id and client_secret"),
    (LISTENER.replace(LISTENER_ID, "not-a-uuid"), ":2: listener.id: 'not-a-uuid' is not a UUID like"),
    (LISTENER.replace(f"id: {LISTENER_ID}", "url: https://api.moveworks.ai/rest/v1/events/x"),
     ":2: listener.url: 'https://api.moveworks.ai/rest/v1/events/x' is not a listener URL like"),
    (TENANT + LISTENER.replace(f"id: {LISTENER_ID}",
                               f"url: https://api.moveworks.ai/webhooks/v1/listeners/{LISTENER_ID}/notify"),
     ":2: subscription.api_url: listener.url names the API URL already"),
    (LISTENER.replace("    secret: ${MW_SECRET}", "    secret: ${MW_SECRET}\n    signed_string: '{ts}.{body}'"),
     "listener.hmac: signed_string '{ts}.{body}' must hold {body} exactly once"),
    (LISTENER.replace("    secret: ${MW_SECRET}", "    secret: ${MW_SECRET}\n    timestamp_header: X-Timestamp"),
     "listener.hmac: give timestamp_header and a signed_string with {timestamp} together"),
    (LISTENER.replace('    email: "{{ email }}"', '    email: "{{ email }}"\n    extra: ~'),
     ":7: listener.payload: extra: null is not a template"),
]


@pytest.mark.parametrize(("text", "expected"), MIXUPS, ids=[
    "event-and-listener", "listener-with-event-id", "listener-with-recipients", "message-with-payload", "neither",
    "hmac-without-settings", "hmac-settings-unsecured", "literal-secret", "missing-secret-for-tenant",
    "api-key-missing", "client-credentials-missing", "listener-id-not-uuid", "not-a-listener-url",
    "url-and-api-url", "unknown-placeholder", "timestamp-header-unsigned", "null-payload-leaf"])
def test_validate_explains_each_mixup_with_its_line(write_job, text, expected):
    found = problems_of(path := write_job(text))
    assert any(expected in p for p in found), found
    assert all(p.startswith(str(path)) for p in found)


def test_a_secret_from_the_environment_is_never_echoed(write_job):
    text = LISTENER.replace("  hmac:\n    secret: ${MW_SECRET}\n", "  hmac:\n    secret: ${MW_SECRET}\n"
                            "    header: ${MW_SECRET}\n")
    found = "\n".join(problems_of(write_job(text), environ={**ENV, "MW_SECRET": "has spaces: secret!"}))
    assert "listener.hmac.header" in found and "has spaces" not in found


def listener_dict(**listener) -> dict:
    return {"listener": {"id": LISTENER_ID, "payload": {"a": "{{ a }}"}, **listener}, "source": {"rows": [{}]}}


@pytest.mark.parametrize(("document", "valid"), [
    (listener_dict(), True),
    (listener_dict(payload={"a": ["x", {"b": "{{ c }}"}]}), True),
    ({"message": {"event_id": "e", "text": "t", "recipients": "r"}, "source": {"rows": []}}, True),
    ({**listener_dict(), "message": {"event_id": "e", "text": "t", "recipients": "r"}}, False),
    ({"source": {"rows": []}}, False),
    (listener_dict(payload={"a": 1}), False),
], ids=["listener", "nested-payload", "event", "both", "neither", "non-template-leaf"])
def test_the_published_schema_says_a_job_is_one_kind_or_the_other(document, valid):
    validator = jsonschema.Draft202012Validator(job_schema())
    assert validator.is_valid(document) is valid
