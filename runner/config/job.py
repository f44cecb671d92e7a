"""What *runs*: the frozen runtime objects that `mwsync.config.load_job` builds from a job file.

Every `${ENV}` reference is resolved and every value checked by the time these exist.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..rate import Rate
from ..rules import EMBEDDED, TargetKind, target_kind


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
        """How to name the source in messages: the file path or `inline rows`."""
        return str(self.path) if self.path else "inline rows"


@dataclass(frozen=True)
class Job:
    """A loaded, validated job. `path` is the job file; `throttle` the selected profile;
    `profiles` every profile known to the job (built-ins plus its own); `lines` the line of each
    dotted key path in the job file (for render errors); `today` the pinned reference date."""

    name: str
    path: Path
    subscription: Subscription
    throttle: Rate
    profiles: Mapping[str, Rate]
    concurrent_connections: int
    concurrent_batch_executions: int
    retry: RetryPolicy
    message: MessageSpec
    source: SourceSpec
    templates_dir: Path
    vars: Mapping[str, object]
    description: str = ""
    lines: Mapping[str, int] = field(default_factory=dict)  # dotted key path -> line in the job file
    today: dt.date | None = None  # `vars.today`, the reference date templates see (None: the real date)
    journal: str | Path | None = None  # the job file's `journal:`: a postgresql:// URL, or a path (resolved)
    limiter: str | None = None  # the job file's `limiter:`: a redis:// URL
