"""One `requests` session per run: a connection pool sized to the run's concurrency, and the
throttle on every request it sends, access-token requests included.

`MoveworksSession` is a requests-oauthlib `OAuth2Session` (so token requests go through the same pool
and limiter as the sends and count toward the rate limit, as they do at the server) whose `send()`
acquires a rate-limit slot first and, on a 429, pauses every thread of the run for the
`Retry-After` seconds (or the default when the header is absent). It knows no Moveworks paths or
JSON shapes: those live in `mwsync.send.client`.
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from oauthlib.oauth2 import BackendApplicationClient
from requests.adapters import HTTPAdapter
from requests_oauthlib import OAuth2Session

from ..errors import Interrupted
from ..rules import is_loopback_host
from .throttle import Limiter

# requests-oauthlib logs token request bodies (client_secret) and tokens at DEBUG: never let them out.
for _name in ("requests_oauthlib", "oauthlib"):
    logging.getLogger(_name).setLevel(logging.WARNING)


def retry_after_s(response: requests.Response) -> float | None:
    """Seconds from a `Retry-After` header, either form of RFC 9110 section 10.2.3 (delta-seconds or an
    HTTP date), or None when absent or unreadable."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


class MoveworksSession(OAuth2Session):
    """The run's single session.

    `limiter`: throttles every request; `client_id`: for the client-credentials grant;
    `pool_size`: connections kept per host (the run's concurrent connections);
    `retry_after_default_s` / `max_retry_after_s`: pause after a 429 without / with Retry-After (cap);
    `stop`: once set (Ctrl-C), no further request goes out: `send` raises `Interrupted` instead.
    """

    def __init__(self, limiter: Limiter, *, client_id: str = "", pool_size: int = 1,
                 retry_after_default_s: float = 60.0, max_retry_after_s: float = 120.0,
                 stop: threading.Event | None = None):
        super().__init__(client=BackendApplicationClient(client_id=client_id))
        self.limiter = limiter
        self.stop = stop
        self.retry_after_default_s = retry_after_default_s
        self.max_retry_after_s = max_retry_after_s
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=max(1, pool_size))
        self.mount("http://", adapter)
        self.mount("https://", adapter)
        self.headers["User-Agent"] = "mwsync/0.1"

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        """Acquire a rate-limit slot, stamp the current access token (`BearerAuth`), send, and
        pause the limiter on a 429."""
        self.limiter.acquire()
        if self.stop is not None and self.stop.is_set():
            raise Interrupted("the run was interrupted before this request was sent")
        auth = getattr(request, "mwsync_auth", None)
        if auth is not None:
            auth(request)
        response = super().send(request, **kwargs)
        if response.status_code == 429:
            wait = retry_after_s(response)
            self.limiter.pause(min(self.max_retry_after_s, self.retry_after_default_s if wait is None else wait))
        return response


def allow_loopback_http(url: str) -> bool:
    """True when `url` is https, or plain http to a loopback host (the mock server); for the latter,
    tell requests-oauthlib (which refuses plain http) to allow it. The setting is process-wide, so
    every client checks its own URL with this function first and refuses plain http elsewhere."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return True
    if parts.scheme == "http" and is_loopback_host(parts.hostname):
        os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")
        return True
    return False
