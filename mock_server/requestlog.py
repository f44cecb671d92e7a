"""The request log behind `/_mock/requests` and `/_mock/verify`: the last N API requests, filterable. Pure.

Each entry: `method`, `path`, `status` (None = connection dropped), `duration_ms`, `at` (ISO 8601 UTC),
`event_id` and `recipients` (sends only, else None; recipients once the body parsed). With `log_headers`,
`headers` (lower-case names; `Authorization`, `Proxy-Authorization`, `Cookie`, `Set-Cookie` redacted to
their scheme); with `log_bodies`, `body` (the request) and `response` (the answer's body), as text cut at
`MAX_LOGGED_CHARS`, with `client_secret` (form or JSON) and `access_token` (plain or wrapped) redacted.
Secrets never reach the log: the redaction rules are the cassette scrubber's (`cassettes`).
"""

from __future__ import annotations

import fnmatch
import uuid
from collections import deque
from collections.abc import Iterable
from typing import Any

from .cassettes import FORM, REDACTED, replace_form_fields, replace_paths

MAX_LOGGED_CHARS = 16_384
SECRET_HEADERS = ("authorization", "proxy-authorization", "cookie", "set-cookie")
BODY_SECRETS = {"client_secret": REDACTED}
RESPONSE_SECRETS = {"access_token": REDACTED, "data.access_token": REDACTED}
FILTERS = ("path", "method", "status", "event_id", "recipient")


def redact_headers(headers: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """ASGI header pairs as `{name: value}` (repeats joined by ", "), secrets redacted to their scheme."""
    out: dict[str, str] = {}
    for raw_name, raw_value in headers:
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        if name in SECRET_HEADERS:
            scheme = value.split(" ", 1)[0] if " " in value.strip() else ""
            value = f"{scheme} {REDACTED}".strip() if name.endswith("authorization") else REDACTED
        out[name] = f"{out[name]}, {value}" if name in out else value
    return out


def redact_body(raw: bytes | None, content_type: str, secrets: dict[str, str] = BODY_SECRETS) -> str | None:
    """A body as loggable text: UTF-8 (bad bytes escaped), secrets redacted, cut at `MAX_LOGGED_CHARS`."""
    if raw is None:
        return None
    text = raw.decode("utf-8", errors="backslashreplace")
    if content_type.startswith(FORM):
        text, _ = replace_form_fields(text, secrets)
    elif text.lstrip().startswith("{"):
        text = _redact_json(text, secrets)
    return text if len(text) <= MAX_LOGGED_CHARS else text[:MAX_LOGGED_CHARS] + f"... ({len(text)} chars)"


def _redact_json(text: str, secrets: dict[str, str]) -> str:
    import json

    try:
        doc = json.loads(text)
    except ValueError:
        return text
    doc, changed = replace_paths(doc, secrets)
    return json.dumps(doc, ensure_ascii=False) if changed else text


class RequestLog:
    """The last `size` entries (see module docstring), oldest first; `total` counts every entry added."""

    def __init__(self, size: int) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=size)
        self.total = 0

    def add(self, entry: dict[str, Any]) -> None:
        self._entries.append(entry)
        self.total += 1

    @property
    def complete(self) -> bool:
        """True while the log still holds every entry added since the last reset."""
        return self.total == len(self._entries)

    def select(self, limit: int | None = None, **filters: Any) -> list[dict[str, Any]]:
        """The last `limit` entries matching every filter (copies), oldest first; see `matches`."""
        chosen = [dict(e) for e in self._entries if matches(e, **filters)] if any(
            v is not None for v in filters.values()) else [dict(e) for e in self._entries]
        if limit is None:
            return chosen
        return chosen[-limit:] if limit > 0 else []


def matches(entry: dict[str, Any], path: str | None = None, method: str | None = None, status: int | None = None,
            event_id: str | None = None, recipient: str | None = None) -> bool:
    """`path`: exact, or a glob with `*` (`/rest/v1/events/*`); `method` case-blind; `status` exact
    (0 = dropped connections); `event_id` any UUID spelling; `recipient` case-blind, one of the send's."""
    if path is not None and entry["path"] != path and not ("*" in path and fnmatch.fnmatchcase(entry["path"], path)):
        return False
    if method is not None and entry["method"] != method.upper():
        return False
    if status is not None and (entry["status"] or 0) != status:
        return False
    if event_id is not None and entry.get("event_id") != canonical_event(event_id):
        return False
    recipients = entry.get("recipients") or ()
    return recipient is None or any(r.lower() == recipient.lower() for r in recipients)


def canonical_event(event_id: str) -> str:
    """A UUID in canonical lower-case form; the text unchanged when it is not a UUID."""
    try:
        return str(uuid.UUID(event_id))
    except ValueError:
        return event_id
