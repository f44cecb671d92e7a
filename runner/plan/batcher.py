"""Chunk and coalesce deliveries into requests.

A message with more than 500 recipients is split over several requests; messages with identical
(event id, text, slots) are coalesced into one request of up to 500 recipients, since the API's rate
limit counts requests, not recipients (Moveworks Events API reference).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator

from ..records import Batch, Delivery, RenderedMessage
from ..rules import MAX_RECIPIENTS, address_key


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
            address = address_key(delivery.recipient)  # one person, however the address is spelt
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
