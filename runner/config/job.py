"""What *runs*: the frozen runtime objects that `mwsync.config.load_job` builds from a job file.

Every `${ENV}` reference is resolved and every value checked by the time these exist.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..rate import Rate
from ..rules import EMBEDDED, TargetKind, listener_secured, listener_url, target_kind


@dataclass(frozen=True)
class Subscription:
    """Where and as whom to send. `api_url` is None for the embedded mock server.

    `client_secret` and `api_key` never appear in repr, logs or reports. `env_refs`: the environment
    variables each credential field references in the job file (to name them when they are unset).
    """

    api_url: str | None
    client_id: str
    client_secret: str = field(repr=False)
    api_key: str = field(repr=False, default="")
    token_request: str = "form"
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 30.0
    request_deadline_s: float | None = None
    env_refs: Mapping[str, tuple[str, ...]] = field(default_factory=dict, repr=False)  # credential field -> VARs

    @property
    def deadline_s(self) -> float:
        """Most seconds one request may take in all: the job's `deadline_s`, else connect + read timeouts."""
        return self.request_deadline_s or self.connect_timeout_s + self.read_timeout_s

    @property
    def embedded(self) -> bool:
        """True when the job targets the bundled mock server."""
        return self.api_url is None

    @property
    def kind(self) -> TargetKind:
        """`embedded`, `loopback` (a server on this machine) or `tenant` (`mwsync.rules.target_kind`)."""
        return target_kind(self.api_url)

    @property
    def target(self) -> str:
        """Journal namespace for this target: the API URL without trailing slash, or `embedded`."""
        return self.api_url.rstrip("/") if self.api_url else EMBEDDED


@dataclass(frozen=True)
class RetryPolicy:
    """Retry settings (seconds); see `mwsync.config.models.RetryModel` for meanings."""

    max_attempts: int = 5
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    retry_after_default_s: float = 60.0
    max_retry_after_s: float = 120.0
    resend_on: frozenset[int] = frozenset()


@dataclass(frozen=True)
class MessageSpec:
    """Templates of one message per row. `text_source` is the template's source text and
    `text_name` its name (file name or `<job>:message.text`) for error messages."""

    event_id: str
    text_name: str
    text_source: str
    recipients: tuple[str, ...]
    slots: Mapping[str, str]
    idempotency_key: str | None
    slots_from: str | None = None


@dataclass(frozen=True)
class HmacSigning:
    """How a listener request is signed (`mwsync.send.listener.HmacAuth`): `header` carries `prefix` + the
    `encoding` (hex, lowercase, or base64) of HMAC-`algorithm` (sha256, sha512) keyed with `secret` over
    `signed_string`, where `{body}` is the exact body bytes and `{timestamp}` the Unix seconds sent in
    `timestamp_header` (None: no timestamp). `secret` never appears in repr, logs or reports."""

    secret: str = field(repr=False)
    header: str = "X-Signature"
    algorithm: str = "sha256"
    encoding: str = "hex"
    prefix: str = ""
    timestamp_header: str | None = None
    signed_string: str = "{body}"


@dataclass(frozen=True)
class ListenerSpec:
    """A webhook listener target: `listener_id` the listener's UUID (lower case); `auth` one of none,
    api_key, client_credentials, hmac (`mwsync.rules.LISTENER_AUTH_MODES`); `payload` the body's template
    tree (str leaves, lists and mappings, as the job file gives it);
    `idempotency_key` a template or None; `hmac` the signing settings for `auth: hmac`."""

    listener_id: str
    auth: str
    payload: Mapping[str, object]
    idempotency_key: str | None = None
    hmac: HmacSigning | None = None

    @property
    def secured(self) -> bool:
        """True unless `auth` is `none` (the listener limit is then 5/s, not 1 per 10 s)."""
        return listener_secured(self.auth)


@dataclass(frozen=True)
class SourceSpec:
    """Where rows come from: `kind` is `csv`, `jsonl` or `inline`; `path` for files, `rows` inline."""

    kind: str
    path: Path | None = None
    rows: tuple[Mapping[str, object], ...] = ()
    filter: str | None = None
    encoding: str = "utf-8"
    delimiter: str = ","

    @property
    def label(self) -> str:
        """How to name the source in messages: the file path as the job wrote it, `..` folded
        (`jobs/../data/x.csv` reads `data/x.csv`), or `inline rows`."""
        return os.path.normpath(self.path) if self.path else "inline rows"


@dataclass(frozen=True)
class Job:
    """A loaded, validated job. `path` is the job file; `throttle` the selected profile;
    `profiles` every profile known to the job (built-ins plus its own); `lines` the line of each
    dotted key path in the job file (for render errors); `today` the pinned reference date.
    Exactly one of `message` (an Events API job) and `listener` (a webhook listener job) is set."""

    name: str
    path: Path
    subscription: Subscription
    throttle: Rate
    profiles: Mapping[str, Rate]
    concurrent_connections: int
    concurrent_batch_executions: int
    retry: RetryPolicy
    message: MessageSpec | None
    source: SourceSpec
    templates_dir: Path
    vars: Mapping[str, object]
    description: str = ""
    lines: Mapping[str, int] = field(default_factory=dict)  # dotted key path -> line in the job file
    today: dt.date | None = None  # `vars.today`, the reference date templates see (None: the real date)
    journal: str | Path | None = None  # the job file's `journal:`: a postgresql:// URL, or a path (resolved)
    limiter: str | None = None  # the job file's `limiter:`: a redis:// URL

    listener: ListenerSpec | None = None

    @property
    def target(self) -> str:
        """The journal's namespace for this job: the subscription's target for an event job, the canonical
        listener URL for a listener job (`embedded/webhooks/v1/listeners/<id>/notify` when embedded), so
        event jobs and listener jobs never share journal rows."""
        if self.listener is None:
            return self.subscription.target
        return listener_url(self.subscription.target, self.listener.listener_id)

    @property
    def rate_scope(self) -> str:
        """Which organisation-wide budget the job's requests spend: the Events API's for an event job; for a
        listener job the one all secured (or all unsecured) listeners of the target share."""
        if self.listener is None:
            return self.subscription.target
        return f"{self.subscription.target} listeners ({'secured' if self.listener.secured else 'unsecured'})"
