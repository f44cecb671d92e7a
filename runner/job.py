"""What *runs*: the frozen runtime objects that `runner.config.load_job` builds from a job file.

Every `${ENV}` reference is resolved and every value checked by the time these exist.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

EMBEDDED = "embedded"
#: Hosts that may be reached over plain http (the mock server); anything else needs https.
LOOPBACK_RE = re.compile(r"^(127\.\d+\.\d+\.\d+|localhost|::1)$")
#: Credentials the embedded mock server accepts (documented in the README; not a secret).
EMBEDDED_CLIENT = ("mwsync-demo", "mwsync-demo-secret")

#: The iPaaS.com subscription's recommended throttle profiles (seed document, "Throttling and
#: Concurrency"): API Throttle Limit calls per API Throttle Seconds.
BUILTIN_PROFILES: Mapping[str, tuple[int, float]] = MappingProxyType(
    {"initial": (5, 60.0), "ongoing": (500, 60.0), "high_volume": (500, 60.0)}
)

#: Moveworks' default organisation-wide rate limit: 120 requests per minute (Events API reference).
API_DEFAULT_LIMIT = (120, 60.0)


@dataclass(frozen=True)
class Throttle:
    """A throttle profile: at most `limit` request starts in any span of `window_s` seconds."""

    name: str
    limit: int
    window_s: float

    @property
    def rate_per_s(self) -> float:
        """Sustained calls per second the profile allows."""
        return self.limit / self.window_s

    def __str__(self) -> str:
        return f"{self.name} ({self.limit}/{self.window_s:g}s)"


@dataclass(frozen=True)
class Subscription:
    """Where and as whom to send. `api_url` is None for the embedded mock server.

    `client_secret` and `api_key` never appear in repr, logs or reports.
    """

    api_url: str | None
    client_id: str
    client_secret: str = field(repr=False)
    api_key: str = field(repr=False, default="")
    token_request: str = "form"
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 30.0

    @property
    def embedded(self) -> bool:
        """True when the job targets the bundled mock server."""
        return self.api_url is None

    @property
    def target(self) -> str:
        """Journal namespace for this target: the API URL without trailing slash, or `embedded`."""
        return self.api_url.rstrip("/") if self.api_url else EMBEDDED


@dataclass(frozen=True)
class RetryPolicy:
    """Retry settings (seconds); see `runner.models.RetryModel` for meanings."""

    max_attempts: int = 5
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    retry_after_default_s: float = 60.0
    max_retry_after_s: float = 120.0


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
    `profiles` every profile known to the job (built-ins plus its own)."""

    name: str
    path: Path
    subscription: Subscription
    throttle: Throttle
    profiles: Mapping[str, Throttle]
    concurrent_connections: int
    concurrent_batch_executions: int
    retry: RetryPolicy
    message: MessageSpec
    source: SourceSpec
    templates_dir: Path
    vars: Mapping[str, object]
    description: str = ""
    lines: Mapping[str, int] = field(default_factory=dict)  # dotted key path -> line in the job file
