"""Idempotency keys within one pass over a source: a message set must not send the same key twice.

Two rows with the same idempotency key are one message: the same recipient listed again is a
duplicate (sent once, counted), and different content under one key is a conflict (the later row is
invalid: which one should go out?). The journal settles this across runs; this ledger settles it
within a run, before anything is journalled. It lives in a temporary SQLite database on disk, so a
set of millions of rows is checked in flat memory.
"""

from __future__ import annotations

import sqlite3

from ..records import RenderedMessage
from ..rules import address_key

_COMMIT_EVERY = 10_000


class KeyLedger:
    """What one pass has seen: per idempotency key, its content, first row and recipients.

    `check(message)` -> `(conflict, new_recipients)`: `conflict` is a message naming the first row when
    the key was seen with other content, else None; `new_recipients` are the message's recipients not
    yet seen under its key, in order. A key seen for the first time costs one insert; only a repeated
    key reads back its recipients. Not thread-safe (one pass reads rows in one thread).
    """

    def __init__(self) -> None:
        self._db = sqlite3.connect("")  # "" = a private temporary database, on disk, deleted on close
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("CREATE TABLE keys (key TEXT PRIMARY KEY, content TEXT NOT NULL, row INTEGER, "
                         "recipients TEXT NOT NULL)")
        self._pending = 0

    def check(self, message: RenderedMessage) -> tuple[str | None, tuple[str, ...]]:
        """See the class docstring."""
        db = self._db
        lowered = [address_key(r) for r in message.recipients]
        self._pending += 1
        if self._pending >= _COMMIT_EVERY:
            db.commit()
            self._pending = 0
        if db.execute("INSERT OR IGNORE INTO keys VALUES (?, ?, ?, ?)",
                      (message.key, message.content_hash, message.row, "\n".join(lowered))).rowcount:
            return None, message.recipients
        content, row, seen_text = db.execute("SELECT content, row, recipients FROM keys WHERE key = ?",
                                             (message.key,)).fetchone()
        if content != message.content_hash:
            return (f"idempotency key '{message.key}' was already used by row {row} with other content; "
                    "give each message its own key"), ()
        seen = set(seen_text.split("\n"))
        new = tuple(r for r, low in zip(message.recipients, lowered, strict=True) if low not in seen)
        if new:
            db.execute("UPDATE keys SET recipients = ? WHERE key = ?",
                       (seen_text + "\n" + "\n".join(address_key(r) for r in new), message.key))
        return None, new

    def close(self) -> None:
        """Drop the temporary database."""
        self._db.close()
