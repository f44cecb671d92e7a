"""Small frozen records that cross stages: render -> plan -> send -> journal -> report.

    rows -> RenderedMessage | Filtered | Rejected -> (plan) Delivery -> Batch -> (send) SendResult, Attempt
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

from .errors import Problem
from .rules import address_key


def content_hash(event_id: str, text: str, slots: Mapping[str, str]) -> str:
    """SHA-256 (hex, 32 chars) of what a recipient receives: event id, text and slots (key order ignored)."""
    blob = json.dumps([event_id, text, dict(sorted(slots.items()))], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class RenderedMessage:
    """One source row rendered: `recipients` 1.. e-mails (deduplicated, in order), `text` chat markup,
    `slots` context slot values, `key` the idempotency key, `row` the 1-based source row number."""

    job: str
    row: int
    key: str
    event_id: str
    recipients: tuple[str, ...]
    text: str
    slots: Mapping[str, str]

    @cached_property
    def content_hash(self) -> str:
        """Hash of (event id, text, slots): what identical-content coalescing and change detection use."""
        return content_hash(self.event_id, self.text, self.slots)


@dataclass(frozen=True)
class Filtered:
    """Source row `row` (1-based) that the job's `source.filter` dropped."""

    row: int


@dataclass(frozen=True)
class Rejected:
    """Source row `row` that could not be rendered; `problems` say why (template, line, field)."""

    row: int
    problems: tuple[Problem, ...]


@dataclass(frozen=True)
class Delivery:
    """One recipient of one message: the unit the journal records (so a split or coalesced message is
    never sent twice to anyone). `content` is the message's content hash."""

    key: str
    recipient: str
    content: str
    row: int


@dataclass(frozen=True)
class Batch:
    """One send request: `recipients` 1..500 (Moveworks Events API limit), all deliveries of identical
    (event id, text, slots). `deliveries` maps each recipient back to its message keys."""

    event_id: str
    text: str
    slots: Mapping[str, str]
    deliveries: tuple[Delivery, ...]

    @property
    def recipients(self) -> list[str]:
        """The request's `recipients` array: each address once (compared case-blind), in first-seen order."""
        first: dict[str, str] = {}
        for delivery in self.deliveries:
            first.setdefault(address_key(delivery.recipient), delivery.recipient)
        return list(first.values())


@dataclass(frozen=True)
class SendResult:
    """Outcome of one send request. `status` HTTP status (None: no answer); `state` one of
    `sent`, `failed`, `unknown`; `attempts` requests made (retries included); `error` text, and
    `code` the API's error code when there was one."""

    state: str
    status: int | None
    attempts: int
    error: str | None = None
    code: str | None = None
    retried_429: int = 0
    latency_ms: float = 0.0
    extra: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Attempt:
    """One HTTP request as the client made it (what `--html` charts): `kind` `send`, `token` or `auth test`;
    `started_s` wall-clock seconds (`time.time()`) when it went out (its rate-limit slot granted, its access
    token stamped), `ended_s` when its answer ended; `status` the HTTP status, None when no answer came;
    `retry` True for a send's second or later attempt (after a 429, a 503, a refused connection, a 401)."""

    kind: str
    started_s: float
    ended_s: float
    status: int | None
    retry: bool = False
