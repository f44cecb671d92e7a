"""What the mock remembers of accepted sends, in bounded memory. Pure, no I/O, not thread-safe (the caller
holds the state lock).

- The last `keep` message bodies (`--keep-messages`, default 100,000), in arrival order, each with a
  sequence number `seq` (1, 2, ... since the last reset) so `/_mock/messages?after=SEQ` can page. Bodies
  are kept as the JSON bytes received (re-encoded compactly when a body is padded beyond 8 KiB) and
  decoded when read: about 300-600 bytes per typical message. Kept bodies never exceed `MAX_KEPT_BYTES`
  in total, whatever `keep` says; the oldest go first.
- For every message ever accepted, whether kept or not: counts by event id, by recipient and by
  (event id, recipient) pair (memory grows with the distinct pairs, not with the messages), and the
  exactly-once accounting: a delivery is one (event id, content, recipient) triple, and a delivery seen
  before is a duplicate. Each distinct delivery costs 8 bytes (a BLAKE2b digest in `DigestSet`).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import datetime, timezone
from typing import Any

DEFAULT_KEEP_MESSAGES = 100_000
MAX_KEPT_BYTES = 256 << 20  # kept bodies in total, whatever `keep` says
COMPACT_OVER_BYTES = 8192  # bodies longer than this are re-encoded without padding before they are kept
DIGEST_BUCKETS = 4096


def iso_utc(epoch_s: float) -> str:
    """Epoch seconds as ISO 8601 UTC with milliseconds, e.g. `2025-01-31T12:00:00.123Z`."""
    return datetime.fromtimestamp(epoch_s, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class DigestSet:
    """A set of 8-byte digests at ~8 bytes each: `DIGEST_BUCKETS` bytearrays of packed digests."""

    def __init__(self) -> None:
        self._buckets = [bytearray() for _ in range(DIGEST_BUCKETS)]
        self.size = 0

    def add(self, digest: bytes) -> bool:
        """Add an 8-byte `digest`; True when it was not in the set yet."""
        bucket = self._buckets[int.from_bytes(digest[:2], "big") % DIGEST_BUCKETS]
        start = 0
        while (found := bucket.find(digest, start)) >= 0:
            if found % 8 == 0:
                return False
            start = found + 1
        bucket += digest
        self.size += 1
        return True


class KeptItems:
    """The last `keep` items in arrival order, their raw bodies at most `max_kept_bytes` in total: tuples whose
    first field is a rising `seq` and last the raw body (bytes). Appending evicts the oldest; the list is
    compacted now and then, so memory follows what is kept. Not thread-safe (the state lock)."""

    def __init__(self, keep: int, max_kept_bytes: int) -> None:
        self.keep, self.max_kept_bytes = keep, max_kept_bytes
        self._items: list[tuple | None] = []  # from _head on
        self._head = 0
        self.kept_bytes = 0

    def append(self, item: tuple) -> None:
        """Keep `item` (nothing when `keep` is 0), evicting the oldest past either bound."""
        if not self.keep:
            return
        self._items.append(item)
        self.kept_bytes += len(item[-1])
        while len(self) > self.keep or self.kept_bytes > self.max_kept_bytes:
            oldest = self._items[self._head]
            self._items[self._head] = None
            self._head += 1
            self.kept_bytes -= len(oldest[-1])  # type: ignore[index]
        if self._head > 1024 and self._head * 2 > len(self._items):
            del self._items[: self._head]
            self._head = 0

    def __len__(self) -> int:
        return len(self._items) - self._head

    def after(self, seq: int, limit: int | None = None) -> list[tuple]:
        """The kept items with a `seq` above `seq`, oldest first, at most `limit` (references only: cheap
        under the lock)."""
        if not len(self):
            return []
        first_seq = self._items[self._head][0]  # type: ignore[index]
        start = self._head + max(0, seq - first_seq + 1)
        return self._items[start:None if limit is None else start + limit]  # type: ignore[return-value]


class MessageLedger:
    """Kept message bodies plus counts over every accepted message (see module docstring).

    `keep`: bodies kept (>= 0); `max_kept_bytes`: bound on their total size in bytes.
    """

    def __init__(self, keep: int = DEFAULT_KEEP_MESSAGES, max_kept_bytes: int = MAX_KEPT_BYTES) -> None:
        self.keep = keep
        self.kept = KeptItems(keep, max_kept_bytes)  # (seq, event_id, endpoint, token_id, at_s, body)
        self.total = 0
        self.by_event: Counter[str | None] = Counter()
        self.by_recipient: Counter[str] = Counter()
        self.by_pair: Counter[tuple[str | None, str]] = Counter()
        self.deliveries = 0
        self._seen = DigestSet()

    def add(self, endpoint: str, event_id: str | None, payload: Any, token_id: str, raw: bytes, at_s: float) -> int:
        """Account one accepted send (`payload`: a `contract.SendPayload`; `raw`: its body bytes); returns
        its `seq`."""
        self.total += 1
        if len(raw) > COMPACT_OVER_BYTES:
            doc = {"message": payload.message, "recipients": list(payload.recipients), "context": payload.context}
            raw = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        self.kept.append((self.total, event_id, endpoint, token_id, at_s, raw))
        self._count(event_id, payload)
        return self.total

    def _count(self, event_id: str | None, payload: Any) -> None:
        recipients = {r.lower() for r in payload.recipients}
        self.by_event[event_id] += 1
        content = hashlib.blake2b(digest_size=16)
        content.update(payload.message.encode("utf-8"))
        content.update(json.dumps(payload.context, sort_keys=True, ensure_ascii=False).encode("utf-8"))
        prefix = content.digest() + (event_id or "").encode()
        for recipient in recipients:
            self.by_recipient[recipient] += 1
            self.by_pair[(event_id, recipient)] += 1
            self.deliveries += 1
            self._seen.add(hashlib.blake2b(prefix + recipient.encode("utf-8"), digest_size=8).digest())

    @property
    def kept_count(self) -> int:
        return len(self.kept)

    @property
    def kept_bytes(self) -> int:
        return self.kept.kept_bytes

    @property
    def duplicate_deliveries(self) -> int:
        """Deliveries whose (event id, content, recipient) had been delivered before."""
        return self.deliveries - self._seen.size

    def page(self, after: int = 0, limit: int | None = None) -> list[tuple]:
        """Raw kept items with `seq > after`, oldest first, at most `limit` (all when None). Cheap: copies
        references only, so a caller can decode them (`decode`) outside the lock."""
        return self.kept.after(after, limit)

    def count(self, event_id: str | None = None, recipient: str | None = None, *, any_event: bool = True) -> int:
        """Accepted sends (kept or not) for `event_id` and/or to `recipient` (case-blind); both None = all.
        `any_event=False` with `event_id=None` counts deprecated-endpoint sends (no event)."""
        if recipient is not None:
            recipient = recipient.lower()
            if event_id is None and any_event:
                return self.by_recipient[recipient]
            return self.by_pair[(event_id, recipient)]
        if event_id is None and any_event:
            return self.total
        return self.by_event[event_id]


def decode(item: tuple) -> dict[str, Any]:
    """A kept item as the `/_mock/messages` document entry."""
    seq, event_id, endpoint, token_id, at_s, raw = item
    doc = json.loads(raw)
    return {"seq": seq, "event_id": event_id, "message": doc["message"], "recipients": doc["recipients"],
            "context": doc.get("context"), "received_at": iso_utc(at_s), "endpoint": endpoint,
            "token_id": token_id}  # fmt: skip
