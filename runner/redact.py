"""The redaction filter at the output boundary: every string mwsync prints, logs, reports, writes to
JUnit or to the journal passes through `redact`.

It knows the run's secrets: each job's client secret and API key, every access token issued (the client
registers them as they arrive), and environment values referenced in a job's `subscription` or `vars`.
Each is also matched in its URL-encoded and JSON-escaped spellings, because a server that echoes a form
body or a JSON request shows the secret encoded. Identifiers (event ids, URLs without credentials,
client ids given literally) are not secrets and are shown.
"""

from __future__ import annotations

import json
import re
import threading
from urllib.parse import quote, quote_plus

REDACTED = "[redacted]"
MIN_SECRET_CHARS = 4  # shorter values would blank out ordinary words


class SecretRegistry:
    """The secrets known to this process; `redact(text)` replaces each with `[redacted]`. Thread-safe."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def add(self, value: str | None) -> None:
        """Register `value` (and its encoded spellings); values under 4 characters are ignored."""
        if not value or len(value) < MIN_SECRET_CHARS:
            return
        spellings = {value, quote_plus(value), quote(value, safe=""), json.dumps(value)[1:-1]}
        with self._lock:
            if spellings - self._values:
                self._values |= spellings
                self._pattern = None

    def redact(self, text: str) -> str:
        """`text` with every registered secret replaced by `[redacted]`."""
        if not text or not self._values:
            return text
        pattern = self._pattern
        if pattern is None:
            with self._lock:
                ordered = sorted(self._values, key=len, reverse=True)
                pattern = self._pattern = re.compile("|".join(re.escape(v) for v in ordered))
        return pattern.sub(REDACTED, text)

    def clear(self) -> None:
        """Forget every secret (tests)."""
        with self._lock:
            self._values.clear()
            self._pattern = None


SECRETS = SecretRegistry()


def redact(text: str | None) -> str | None:
    """`text` through the process's `SECRETS` (None stays None)."""
    return None if text is None else SECRETS.redact(str(text))


def url_without_password(url: str) -> str:
    """`url` as it may be shown: its password (in the user part, or a `password=` query parameter) removed,
    and registered in `SECRETS` so that it is redacted wherever else it turns up (a driver's error message).
    `postgresql://mwsync:s3cret@db:5432/mwsync` -> `postgresql://mwsync@db:5432/mwsync`."""
    from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

    parts = urlsplit(url)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    user, colon, password = userinfo.partition(":")
    query = parse_qsl(parts.query, keep_blank_values=True)
    for secret in [password] + [value for name, value in query if name == "password"]:
        SECRETS.add(secret)
        SECRETS.add(unquote(secret))
    netloc = f"{user}@{hostport}" if at and user else hostport
    shown = urlencode([(name, value) for name, value in query if name != "password"])
    return urlunsplit((parts.scheme, netloc, parts.path, shown, parts.fragment))
