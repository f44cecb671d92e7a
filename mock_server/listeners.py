"""Webhook listeners the mock serves: their configuration, signature verification, and what it remembers of
the events received. Pure, no I/O (the Falcon resource is `listener_api`).

Written from the project's listener reference (restating Moveworks' Ambient Agents webhook docs and its
public demo app), the mock's own twin of the runner's listener client:

- `POST /webhooks/v1/listeners/{listener_id}/notify`, any JSON object as the body, answered
  `200 {"message": "Event received successfully", "status": "RECEIVED"}`; an unknown listener gets 404 with
  an empty body; bad credentials or a bad signature 401 `{"error": {...}}`.
- Per listener one mode: `none` (unsecured), `bearer` (a Moveworks API key or a client-credentials access
  token) or `hmac` (a shared secret; by default a bare lowercase hex HMAC-SHA256 of the raw body in
  `X-Signature`; header, algorithm, encoding, a prefix, a timestamp header with a signed-string format are
  options, since Moveworks lets each listener configure what is signed). A `sha256=` prefix is stripped
  (Moveworks does); a timestamp older or newer than `tolerance_s` is refused (the mock's choice).
- Bodies over 1 MB (read as 1,000,000 bytes) get 413 (the status is unspecified; the runner refuses them
  locally first).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from .ledger import MAX_KEPT_BYTES, DigestSet, KeptItems, iso_utc

MODES = ("none", "bearer", "hmac")
ALGORITHMS = ("sha256", "sha512")
ENCODINGS = ("hex", "base64")
MAX_LISTENER_BODY_BYTES = 1_000_000
LISTENER_PATH_RE = re.compile(r"^/webhooks/v1/listeners/([^/]+)/notify$")
ACK = {"message": "Event received successfully", "status": "RECEIVED"}
HEADER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")


@dataclass(frozen=True)
class ListenerConfig:
    """One listener: `listener_id` (canonical lower-case UUID), `mode` (none, bearer, hmac) and, for hmac,
    `secret`, `header`, `algorithm` (sha256, sha512), `encoding` (hex, base64), `prefix` (expected before
    the signature; `<algorithm>=` is always accepted), `timestamp_header` (None: none), `signed_string`
    (`{body}` the raw body, `{timestamp}` the header's value), `tolerance_s` for the timestamp."""

    listener_id: str
    mode: str = "none"
    secret: str = ""
    header: str = "X-Signature"
    algorithm: str = "sha256"
    encoding: str = "hex"
    prefix: str = ""
    timestamp_header: str | None = None
    signed_string: str = "{body}"
    tolerance_s: float = 300.0

    @property
    def secured(self) -> bool:
        """True unless unsecured: the secured listeners' rate limit applies (5/s by default, not 1 per 10 s)."""
        return self.mode != "none"

    def public(self) -> dict[str, Any]:
        """The configuration without the secret (for `/_mock/stats`)."""
        doc = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "secret"}
        return doc if self.mode == "hmac" else {"listener_id": self.listener_id, "mode": self.mode}


def parse_listener(spec: str | Mapping[str, Any] | ListenerConfig, defaults: Mapping[str, Any] | None = None
                   ) -> ListenerConfig:
    """A `ListenerConfig` from `ID[:MODE[:SECRET]]`, a mapping (`{"id", "mode", "secret", ...}`) or a config;
    `defaults` fill unset hmac options (the CLI's `--listener-header` etc.). Raises `ValueError`."""
    if isinstance(spec, ListenerConfig):
        return spec
    if isinstance(spec, str):
        listener_id, _, rest = spec.strip().partition(":")
        mode, _, secret = rest.partition(":")
        values: dict[str, Any] = {"listener_id": listener_id, "mode": mode or "none", "secret": secret}
    else:
        values = {("listener_id" if k == "id" else k): v for k, v in dict(spec).items() if v is not None}
    values = {**{k: v for k, v in (defaults or {}).items() if v is not None}, **values}
    known = {f.name for f in fields(ListenerConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown listener option(s) {', '.join(unknown)} (valid: id, {', '.join(sorted(known))})")
    return _checked(ListenerConfig(**values))


def _checked(config: ListenerConfig) -> ListenerConfig:
    try:
        listener_id = str(uuid.UUID(str(config.listener_id)))
    except ValueError:
        raise ValueError(f"listener id {str(config.listener_id)[:60]!r} is not a UUID (ID[:MODE[:SECRET]])") from None
    problems = []
    if config.mode not in MODES:
        problems.append(f"mode {config.mode!r} (valid: {', '.join(MODES)})")
    if config.mode == "hmac" and not config.secret:
        problems.append("an hmac listener needs a secret: ID:hmac:SECRET")
    if config.algorithm not in ALGORITHMS or config.encoding not in ENCODINGS:
        problems.append(f"algorithm {config.algorithm!r} / encoding {config.encoding!r} (valid: "
                        f"{', '.join(ALGORITHMS)} / {', '.join(ENCODINGS)})")
    headers = [config.header] + ([config.timestamp_header] if config.timestamp_header else [])
    if not all(HEADER_RE.match(h) for h in headers) or config.signed_string.count("{body}") != 1:
        problems.append("header names are letters, digits and '-'; signed_string holds {body} once")
    if problems:
        raise ValueError(f"listener {listener_id}: " + "; ".join(problems))
    return ListenerConfig(**{**{f.name: getattr(config, f.name) for f in fields(config)}, "listener_id": listener_id})


def listener_id_of(path: str) -> str | None:
    """The canonical listener id of a notify path (any UUID spelling), the raw segment when it is not a UUID,
    or None when `path` is not a listener path."""
    match = LISTENER_PATH_RE.match(path)
    if match is None:
        return None
    try:
        return str(uuid.UUID(match.group(1)))
    except ValueError:
        return match.group(1)


def expected_signature(config: ListenerConfig, raw: bytes, timestamp: str = "") -> str:
    """The signature `config` expects for body `raw` (without any prefix)."""
    head, _, tail = config.signed_string.partition("{body}")
    signed = head.replace("{timestamp}", timestamp).encode() + raw + tail.replace("{timestamp}", timestamp).encode()
    digest = hmac.new(config.secret.encode("utf-8"), signed, getattr(hashlib, config.algorithm)).digest()
    return digest.hex() if config.encoding == "hex" else base64.b64encode(digest).decode("ascii")


def signature_problem(config: ListenerConfig, header: Callable[[str], str | None], raw: bytes,
                      now_s: float) -> str | None:
    """Why the request's signature does not verify (missing header, stale timestamp, mismatch), or None.
    `header(name)` reads a request header; `now_s` is wall-clock Unix seconds."""
    given = (header(config.header) or "").strip()
    if not given:
        return f"no {config.header} header"
    for prefix in (config.prefix, f"{config.algorithm}="):
        if prefix and given.startswith(prefix):
            given = given[len(prefix):]
            break
    timestamp = ""
    if config.timestamp_header:
        timestamp = (header(config.timestamp_header) or "").strip()
        if not timestamp.isdigit():
            return f"no Unix-seconds {config.timestamp_header} header"
        if abs(now_s - int(timestamp)) > config.tolerance_s:
            return f"{config.timestamp_header} is more than {config.tolerance_s:g} s away from now"
    expected = expected_signature(config, raw, timestamp)
    candidate = given.lower() if config.encoding == "hex" else given
    return None if hmac.compare_digest(candidate.encode(), expected.encode()) else "signature mismatch"


class EventLedger:
    """Events received, in bounded memory (like `ledger.MessageLedger`): the last `keep` bodies, at most
    `MAX_KEPT_BYTES` in total, each with a `seq`; counts by listener and duplicates (the same body to the same
    listener again: a listener has no idempotency key) over every event. Not thread-safe (the state lock)."""

    def __init__(self, keep: int, max_kept_bytes: int = MAX_KEPT_BYTES) -> None:
        self.keep = keep
        self.kept = KeptItems(keep, max_kept_bytes)  # (seq, listener_id, auth, token_id, at_s, raw)
        self.total = 0
        self.by_listener: Counter[str] = Counter()
        self._seen = DigestSet()

    def add(self, listener_id: str, doc: Any, raw: bytes, auth: str, token_id: str | None, at_s: float) -> int:
        """Account one accepted event (`doc` its parsed body); returns its `seq`."""
        self.total += 1
        self.by_listener[listener_id] += 1
        canonical = json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        self._seen.add(hashlib.blake2b(listener_id.encode() + b"\0" + canonical, digest_size=8).digest())
        self.kept.append((self.total, listener_id, auth, token_id, at_s, raw))
        return self.total

    @property
    def kept_count(self) -> int:
        return len(self.kept)

    @property
    def duplicates(self) -> int:
        """Events whose (listener, body) had been received before."""
        return self.total - self._seen.size

    def page(self, after: int = 0, limit: int | None = None, listener_id: str | None = None) -> list[tuple]:
        """Kept items with `seq > after` (of `listener_id` when given), oldest first, at most `limit`."""
        items = [i for i in self.kept.after(after) if listener_id is None or i[1] == listener_id]
        return items if limit is None else items[:limit]

    def count(self, listener_id: str | None = None) -> int:
        """Accepted events (kept or not), of `listener_id` when given."""
        return self.total if listener_id is None else self.by_listener[listener_id]


def decode_event(item: tuple) -> dict[str, Any]:
    """A kept item as a `/_mock/events` entry."""
    seq, listener_id, auth, token_id, at_s, raw = item
    return {"seq": seq, "listener_id": listener_id, "body": json.loads(raw), "received_at": iso_utc(at_s),
            "auth": auth, "token_id": token_id}
