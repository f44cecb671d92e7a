"""Check rendered messages against the API's limits, then chunk and coalesce them into requests.

Limits (Moveworks Events API reference, "Send a message for an event"): `message` 1..20000
characters; `recipients` 1..500 e-mail addresses a request; `event_id` a UUID. A message with more
than 500 recipients is split over several requests; messages with identical (event id, text,
slots) are coalesced into one request of up to 500 recipients, since the API charges per request,
not per recipient.
"""

from __future__ import annotations

import json
import math
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Iterator

from email_validator import EmailNotValidError, validate_email

from .job import Throttle
from .records import Batch, Delivery, RenderedMessage

MAX_RECIPIENTS = 500
MAX_TEXT_CHARS = 20_000


@lru_cache(maxsize=65_536)
def email_problem(address: str) -> str | None:
    """Why `address` is not a valid e-mail (syntax only, via email-validator), or None."""
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        return str(exc)
    return None


def message_problems(message: RenderedMessage) -> list[tuple[str, str]]:
    """Every way `message` breaks the API's limits, as `(field, problem with fix)` pairs."""
    problems: list[tuple[str, str]] = []
    try:
        uuid.UUID(message.event_id)
    except ValueError:
        problems.append(("message.event_id", f"'{message.event_id}' is not a UUID (the event's id from Creator Studio)"))
    size = len(message.text)
    if size == 0:
        problems.append(("message.text", "renders empty; the API needs 1..20000 characters"))
    elif size > MAX_TEXT_CHARS:
        problems.append(("message.text", f"{size} characters, over the API's 20000; shorten the template"))
    if not message.recipients:
        problems.append(("message.recipients", "no recipients; the row needs at least one e-mail address"))
    for address in message.recipients:
        why = email_problem(address)
        if why:
            problems.append(("message.recipients", f"'{address}' is not a valid e-mail: {why}"))
    for name, value in message.slots.items():
        if not isinstance(value, str):
            problems.append((f"message.slots.{name}", "slot values must be strings"))
    return problems


def group_key(message: RenderedMessage) -> str:
    """Messages with the same group key can share a request: event id, text and slots (key order ignored)."""
    return json.dumps([message.event_id, message.text, sorted(message.slots.items())], ensure_ascii=False)


class _Group:
    __slots__ = ("message", "deliveries", "recipients")

    def __init__(self, message: RenderedMessage):
        self.message = message
        self.deliveries: list[Delivery] = []
        self.recipients: set[str] = set()

    def batch(self) -> Batch:
        m = self.message
        return Batch(m.event_id, m.text, dict(m.slots), tuple(self.deliveries))


class Batcher:
    """Coalesce deliveries of identical messages into `Batch`es of at most `MAX_RECIPIENTS`.

    Streaming: a group is emitted as soon as it holds 500 distinct recipients; at most
    `max_open_groups` partial groups are held (the oldest is emitted when one more opens), so memory is
    bounded whatever the row count. The trade-off: identical messages further apart than that many
    distinct groups land in separate requests. `flush()` emits what is left, oldest first.
    """

    def __init__(self, max_open_groups: int = 10_000, max_recipients: int = MAX_RECIPIENTS):
        self.max_open_groups = max_open_groups
        self.max_recipients = max_recipients
        self._groups: OrderedDict[str, _Group] = OrderedDict()

    def add(self, message: RenderedMessage, deliveries: Iterable[Delivery]) -> Iterator[Batch]:
        """Add `deliveries` (recipients of `message`); yield every batch that filled up."""
        key = group_key(message)
        for delivery in deliveries:
            group = self._groups.get(key)
            if group is None:
                if len(self._groups) >= self.max_open_groups:
                    _, oldest = self._groups.popitem(last=False)
                    yield oldest.batch()
                group = self._groups[key] = _Group(message)
            if delivery.recipient not in group.recipients and len(group.recipients) >= self.max_recipients:
                yield self._groups.pop(key).batch()
                group = self._groups[key] = _Group(message)
            group.recipients.add(delivery.recipient)
            group.deliveries.append(delivery)

    def flush(self) -> Iterator[Batch]:
        """Emit every partial group, oldest first."""
        while self._groups:
            _, group = self._groups.popitem(last=False)
            yield group.batch()


@dataclass(frozen=True)
class Estimate:
    """Time to send `requests` requests (plus `token_requests`) under `throttle`, in seconds."""

    throttle: Throttle
    requests: int
    token_requests: int = 1

    @property
    def duration_s(self) -> float:
        """Sliding window: the first `limit` calls start at once, each further `limit` one window later."""
        calls = self.requests + self.token_requests
        if calls <= 0:
            return 0.0
        return math.floor((calls - 1) / self.throttle.limit) * self.throttle.window_s
