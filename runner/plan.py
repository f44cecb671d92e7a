"""Check rendered messages against the API's limits, then chunk and coalesce them into requests.

Limits (Moveworks Events API reference, "Send a message for an event"): `message` 1..20000
characters; `recipients` 1..500 e-mail addresses a request; `event_id` a UUID. A message with more
than 500 recipients is split over several requests; messages with identical (event id, text,
slots) are coalesced into one request of up to 500 recipients, since the API charges per request,
not per recipient.
"""

from __future__ import annotations

import math
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Iterator

from email_validator import EmailNotValidError, validate_email
from email_validator.syntax import validate_email_local_part

from .job import Throttle
from .records import Batch, Delivery, RenderedMessage

MAX_RECIPIENTS = 500
MAX_TEXT_CHARS = 20_000


MAX_EMAIL_CHARS = 254  # email-validator's (and RFC 3696 errata's) limit on a whole address


def _validator_problem(address: str) -> str | None:
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        return str(exc)
    return None


@lru_cache(maxsize=4096)
def _domain_problem(domain: str) -> str | None:
    return _validator_problem(f"x@{domain}")


def email_problem(address: str) -> str | None:
    """Why `address` is not a valid e-mail (syntax only, decided by email-validator), or None.

    Bulk sets repeat a few domains over millions of addresses, so each domain's verdict is cached, and
    a plain ASCII local part (no quotes, no backslash) goes straight to email-validator's own
    local-part check: the same rules as `validate_email`, without re-parsing the whole address. Any
    other address (quoted, non-ASCII, no `@`, too long) gets the full `validate_email`.
    """
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or len(address) > MAX_EMAIL_CHARS or not address.isascii() \
            or '"' in local or "\\" in local:
        return _validator_problem(address)
    try:
        validate_email_local_part(local, allow_smtputf8=True, allow_empty_local=False, quoted_local_part=False)
    except EmailNotValidError as exc:
        return str(exc)
    return _domain_problem(domain)


@lru_cache(maxsize=1024)
def _is_uuid(value: str) -> bool:
    """True for the canonical hyphenated form only (`urn:uuid:...`, braces or no hyphens would go into
    the URL path as written)."""
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


def message_problems(message: RenderedMessage) -> list[tuple[str, str]]:
    """Every way `message` breaks the API's limits, as `(field, problem with fix)` pairs."""
    problems: list[tuple[str, str]] = []
    if not _is_uuid(message.event_id):
        problems.append(("message.event_id", f"'{message.event_id}' is not a UUID like "
                                             "3f1c2a9e-5b7d-4e8f-9a10-2b3c4d5e6f70 (the event's id in Creator Studio)"))
    size = len(message.text)
    if size == 0:
        problems.append(("message.text", "renders empty; the API needs 1..20000 characters"))
    elif size > MAX_TEXT_CHARS:
        problems.append(("message.text", f"{size} characters, over the API's 20000; shorten the template"))
    if not message.recipients:
        problems.append(("message.recipients", "no recipients; the row needs at least one e-mail address"))
    try:
        "".join((message.key, message.text, *message.slots.keys(), *message.slots.values())).encode("utf-8")
    except UnicodeEncodeError:
        problems.append(("message", "holds characters that are not valid Unicode (lone surrogates); fix the data"))
    for address in message.recipients:
        why = email_problem(address)
        if why:
            problems.append(("message.recipients", f"'{address}' is not a valid e-mail: {why}"))
    return problems


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
    bounded whatever the row count; so is the number of deliveries held (`max_buffered`). The
    trade-off: identical messages further apart than that many distinct groups (or deliveries) land in
    separate requests. `flush()` emits what is left, oldest first.
    """

    def __init__(self, max_open_groups: int = 10_000, max_recipients: int = MAX_RECIPIENTS,
                 max_buffered: int = 200_000):
        self.max_open_groups = max_open_groups
        self.max_recipients = max_recipients
        self.max_buffered = max_buffered
        self._groups: OrderedDict[str, _Group] = OrderedDict()
        self._buffered = 0

    def add(self, message: RenderedMessage, deliveries: Iterable[Delivery]) -> Iterator[Batch]:
        """Add `deliveries` (recipients of `message`); yield every batch that filled up."""
        key = message.content_hash  # identical (event id, text, slots) share requests
        for delivery in deliveries:
            group = self._groups.get(key)
            if group is None:
                if len(self._groups) >= self.max_open_groups:
                    yield self._emit(next(iter(self._groups)))
                group = self._groups[key] = _Group(message)
            address = delivery.recipient.lower()  # one person, however the address is spelt
            if address not in group.recipients and len(group.recipients) >= self.max_recipients:
                yield self._emit(key)
                group = self._groups[key] = _Group(message)
            group.recipients.add(address)
            group.deliveries.append(delivery)
            self._buffered += 1
            if self._buffered > self.max_buffered:
                yield self._emit(next(iter(self._groups)))

    def _emit(self, key: str) -> Batch:
        group = self._groups.pop(key)
        self._buffered -= len(group.deliveries)
        return group.batch()

    def flush(self) -> Iterator[Batch]:
        """Emit every partial group, oldest first."""
        while self._groups:
            yield self._emit(next(iter(self._groups)))


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
