"""Builders for test inputs: a runtime `Job` without YAML, the same job as a YAML-ready dict, rendered
messages, source rows.

`make_job(**overrides)` is for tests that need a `Job` but are not about loading one (templates, plan,
passes): it skips `load_job`, so what it builds is exactly what runs. Tests whose subject is the job file
(schema, YAML pitfalls, `${ENV}` references, file and line in errors) write YAML with the `write_job`
fixture, usually from `job_dict(**overrides)`.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from mwsync.config import Job, MessageSpec, RetryPolicy, SourceSpec, Subscription
from mwsync.config.job import HmacSigning, ListenerSpec
from mwsync.rate import Rate
from mwsync.records import RenderedMessage
from mwsync.rules import BUILTIN_PROFILES, DEMO_CLIENT

EVENT_ID = "3f1c2a9e-5b7d-4e8f-9a10-2b3c4d5e6f70"
LISTENER_ID = "9b2f6c1e-3d4a-4b5c-8d6e-7f8091a2b3c4"
LISTENER_SECRET = "listener-test-secret"
CLIENT_ENV = {"MW_CLIENT_ID": DEMO_CLIENT[0], "MW_CLIENT_SECRET": DEMO_CLIENT[1]}
FAST = Rate(1000, 1.0, "fast")


def rows(n: int, start: int = 0) -> list[dict[str, str]]:
    """`n` source rows `{"id", "name", "email"}`: ids `start..start+n-1`, `user<id>@example.com`."""
    return [{"id": str(i), "name": f"User {i}", "email": f"user{i}@example.com"} for i in range(start, start + n)]


def job_dict(**overrides: Any) -> dict:
    """A valid job file as a dict: inline rows, inline text, `${MW_CLIENT_*}` credentials; `overrides`
    replace top-level keys (a value of None deletes the key)."""
    job = {
        "name": "test-job",
        "subscription": {"api_url": "embedded", "client_id": "${MW_CLIENT_ID:-}",
                         "client_secret": "${MW_CLIENT_SECRET:-}"},
        "throttle": {"profile": "fast", "profiles": {"fast": {"limit": 1000, "window_s": 1}}},
        "retry": {"backoff_initial_s": 0.01, "backoff_max_s": 0.05, "retry_after_default_s": 0.1},
        "message": {"event_id": EVENT_ID, "text": "Hi {{ name }}", "recipients": "{{ email }}",
                    "idempotency_key": "k-{{ id }}"},
        "source": {"rows": rows(5)},
    }
    for key, value in overrides.items():
        if value is None:
            job.pop(key, None)
        else:
            job[key] = value
    return job


_PARTS = {"subscription", "retry", "message", "source"}


def make_job(**overrides: Any) -> Job:
    """The runtime twin of `job_dict()`: `Job` fields as keywords replace the defaults. For `subscription`,
    `retry`, `message` and `source` a dict replaces only the fields it names, e.g.
    `make_job(message={"text_source": "{{ dept }}"}, source={"rows": [...], "filter": "id | int > 2"})`;
    `throttle` may be `N/S` text. Lists become tuples (rows, recipient templates)."""
    job = Job(
        name="test-job",
        path=Path("test-job.yaml"),
        subscription=Subscription(api_url=None, client_id="", client_secret=""),
        throttle=FAST,
        profiles={**BUILTIN_PROFILES, "fast": FAST},
        concurrent_connections=1,
        concurrent_batch_executions=1,
        retry=RetryPolicy(backoff_initial_s=0.01, backoff_max_s=0.05, retry_after_default_s=0.1),
        message=MessageSpec(EVENT_ID, "message.text", "Hi {{ name }}", ("{{ email }}",), {}, "k-{{ id }}"),
        source=SourceSpec("inline", rows=tuple(rows(5))),
        templates_dir=Path("templates"),
        vars={},
    )
    fields: dict[str, Any] = {}
    for name, value in overrides.items():
        if name in _PARTS and isinstance(value, dict):
            value = replace(getattr(job, name), **{k: _frozen(k, v) for k, v in value.items()})
        elif name == "throttle" and isinstance(value, str):
            value = Rate.parse(value)
        fields[name] = value
    return replace(job, **fields)


def _frozen(name: str, value: Any) -> Any:
    if name == "recipients" and isinstance(value, str):
        return (value,)
    return tuple(value) if isinstance(value, list) else value


def make_message(key: str = "k", text: str = "hello", recipients: tuple[str, ...] | list[str] = ("a@example.com",),
                 event: str = EVENT_ID, slots: dict[str, str] | None = None, row: int = 1) -> RenderedMessage:
    """A `RenderedMessage` of job `job` as the renderer would yield it (nothing is checked)."""
    return RenderedMessage("job", row, key, event, tuple(recipients), text, slots or {})


def make_listener_job(payload: dict | None = None, *, auth: str = "none", key: str | None = "k-{{ id }}",
                      signing: HmacSigning | None = None, **overrides: Any) -> Job:
    """A listener job (`make_job`'s twin): listener `LISTENER_ID`, `payload` (default `{"email", "name"}`
    templates), `auth`, the idempotency `key` template; `auth="hmac"` signs with `LISTENER_SECRET` unless
    `signing` says otherwise. Other keywords as for `make_job`."""
    if auth == "hmac" and signing is None:
        signing = HmacSigning(LISTENER_SECRET)
    spec = ListenerSpec(LISTENER_ID, auth, payload or {"email": "{{ email }}", "name": "{{ name }}"}, key, signing)
    return make_job(message=None, listener=spec, **overrides)


def listener_dict(payload: dict | None = None, *, auth: str = "none", **overrides: Any) -> dict:
    """`job_dict`'s twin for a listener job: listener `LISTENER_ID` with `auth` (hmac signs with
    `${MW_LISTENER_SECRET}`), `payload` (default email and name), key `k-{{ id }}`, no message."""
    listener: dict[str, Any] = {"id": LISTENER_ID, "auth": auth,
                                "payload": payload or {"email": "{{ email }}", "name": "{{ name }}"},
                                "idempotency_key": "k-{{ id }}"}
    if auth == "hmac":
        listener["hmac"] = {"secret": "${MW_LISTENER_SECRET}"}
    return job_dict(message=None, listener=listener, **overrides)
