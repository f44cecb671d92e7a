"""One `requests` session per run: a connection pool sized to the run's concurrency, and the
throttle on every request it sends, access-token requests included.

`MoveworksSession` is a requests-oauthlib `OAuth2Session` (so token requests go through the same pool
and limiter as the sends and count toward the rate limit, as they do at the server) whose `send()`:

1. takes a rate-limit slot (`Interrupted` once the run is stopping);
2. stamps the current access token and calls the request's `before_send` hook (the journal's
   "about to go out": a request that never got this far was certainly not sent);
3. sends under a total deadline: a watchdog closes the connection when the whole exchange (connect,
   request, answer) takes longer than `deadline_s`, which a read timeout alone never does against an
   answer dripped one byte at a time; `requests` then raises and `deadline_exceeded()` says why;
4. completes the slot (the window counts from now) and, on a 429, pauses every thread of the run for
   the `Retry-After` seconds (or the default when the header is absent).

It knows no Moveworks paths or JSON shapes: those live in `mwsync.send.api`.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import socket
import threading
import time
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from oauthlib.oauth2 import BackendApplicationClient
from requests.adapters import HTTPAdapter
from requests_oauthlib import OAuth2Session
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from ..errors import AuthError, Interrupted
from ..rules import is_loopback_host
from ..wording import printable
from .throttle import Limiter

# requests-oauthlib logs token request bodies (client_secret) and tokens at DEBUG: never let them out.
for _name in ("requests_oauthlib", "oauthlib"):
    logging.getLogger(_name).setLevel(logging.WARNING)


def retry_after_s(response: requests.Response) -> float | None:
    """Seconds from a `Retry-After` header, either form of RFC 9110 section 10.2.3 (delta-seconds or an
    HTTP date; a date in the past is 0), or None when absent or unreadable (`abc`, `nan`, `-1`: delay-seconds
    is a non-negative number)."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


class _Watch:
    """One request under the deadline: the connection it took and whether the watchdog fired."""

    __slots__ = ("conn", "expired")

    def __init__(self) -> None:
        self.conn: Any = None
        self.expired = False


log = logging.getLogger("mwsync")
NOTICE_WAIT_S = 5.0  # a 429 pause this long or longer is announced: a silent two-minute wait looks hung
MAX_REFRESHES_PER_SLOT = 3  # a token that expires every time its send waits for a slot: give up
_watches: dict[int, _Watch] = {}  # thread id -> the request that thread is sending
_last = threading.local()  # `expired` of this thread's last request


def _track(conn: Any) -> Any:
    watch = _watches.get(threading.get_ident())
    if watch is not None:
        watch.conn = conn
        if watch.expired:
            _abort(conn)
    return conn


class _TrackedPool(HTTPConnectionPool):
    """A urllib3 pool that tells the deadline watchdog which connection this thread took."""

    def _get_conn(self, timeout: float | None = None) -> Any:
        return _track(super()._get_conn(timeout))


class _TrackedHttpsPool(HTTPSConnectionPool):
    """`_TrackedPool` for https."""

    def _get_conn(self, timeout: float | None = None) -> Any:
        return _track(super()._get_conn(timeout))


class _TrackedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _TrackedPool, "https": _TrackedHttpsPool}


def _abort(conn: Any) -> None:
    """Shut the connection's socket down so a blocked read returns at once."""
    sock = getattr(conn, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


class MoveworksSession(OAuth2Session):
    """The run's single session.

    `limiter`: throttles every request; `client_id`: for the client-credentials grant;
    `pool_size`: connections kept per host (the run's concurrent connections);
    `retry_after_default_s` / `max_retry_after_s`: pause after a 429 without / with Retry-After (cap);
    `deadline_s`: the most seconds one request may take from connecting to the last byte of its answer;
    `stop`: once set (Ctrl-C), no further request goes out: `send` raises `Interrupted` instead.
    `on_attempt(request, started_s, status)` is called after each request that went out (wall-clock start,
    HTTP status or None when no answer came); the client sets it.
    """

    @staticmethod
    def on_attempt(request: requests.PreparedRequest, started_s: float, status: int | None) -> None:
        """Told of every request that went out (default: nothing)."""

    def __init__(self, limiter: Limiter, *, client_id: str = "", pool_size: int = 1,
                 retry_after_default_s: float = 60.0, max_retry_after_s: float = 120.0,
                 deadline_s: float = 60.0, stop: threading.Event | None = None):
        super().__init__(client=BackendApplicationClient(client_id=client_id))
        self.limiter = limiter
        self.stop = stop
        self.retry_after_default_s = retry_after_default_s
        self.max_retry_after_s = max_retry_after_s
        self.deadline_s = deadline_s
        adapter = _TrackedAdapter(pool_connections=1, pool_maxsize=max(1, pool_size))
        self.mount("http://", adapter)
        self.mount("https://", adapter)
        self.headers["User-Agent"] = "mwsync/0.1"

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        """Take a slot, stamp the access token, call `before_send`, send under the deadline, complete the
        slot, pause the limiter on a 429 (module docstring). Never follows a redirect: a 3xx is the answer
        (a re-sent POST could deliver twice, outside the limiter, or carry the client secret to another
        host). Raises `Interrupted` before sending when the run is stopping, and what `requests` raises."""
        kwargs["allow_redirects"] = False
        auth = getattr(request, "mwsync_auth", None)
        for refreshes in range(MAX_REFRESHES_PER_SLOT + 1):
            slot = self.limiter.acquire()
            if auth is None or auth.ready():
                break
            slot.cancel()  # the access token ran out while waiting: fetch one first, through its own slot
            if refreshes == MAX_REFRESHES_PER_SLOT:
                raise AuthError(f"the access token expires before a request can follow it: the throttle allows "
                                f"{self.limiter.limit} per {self.limiter.window_s:g} s, so a token and the send it is "
                                "for never fit one token lifetime; raise the profile's limit")
            auth.refresh()
        started = None
        try:
            if self.stop is not None and self.stop.is_set():
                raise Interrupted("the run was interrupted before this request was sent")
            if auth is not None:
                auth(request)
            before_send = getattr(request, "mwsync_before_send", None)
            if before_send is not None:
                before_send()
            started = time.time()
            response = self._send_within_deadline(request, **kwargs)
        except BaseException:
            if started is not None:
                self.on_attempt(request, started, None)
            raise
        finally:
            slot.done()
        self.on_attempt(request, started, response.status_code)
        if response.status_code == 429:
            self._pause(response)
        return response

    def _pause(self, response: requests.Response) -> None:
        asked = retry_after_s(response)
        wait = min(self.max_retry_after_s, self.retry_after_default_s if asked is None else asked)
        self.limiter.pause(wait)
        if wait >= NOTICE_WAIT_S:
            header = response.headers.get("Retry-After")
            if asked is not None:
                why = f"Retry-After {asked:g} s" + (", capped by retry.max_retry_after_s" if asked > wait else "")
            elif header is None:
                why = "no Retry-After: retry.retry_after_default_s"
            else:
                why = f"Retry-After {printable(header, 40)!r} is not seconds or a date: retry.retry_after_default_s"
            log.warning("429 from %s: no request starts for %g s (%s)", urlsplit(response.url).netloc, wait, why)

    def _send_within_deadline(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        watch = _Watch()
        me = threading.get_ident()

        def expire() -> None:
            watch.expired = True
            _abort(watch.conn)

        timer = threading.Timer(self.deadline_s, expire)
        timer.daemon = True
        _watches[me] = watch
        _last.expired = False
        timer.start()
        try:
            return super().send(request, **kwargs)  # without stream=True the body is read here, in time
        finally:
            timer.cancel()
            _watches.pop(me, None)
            _last.expired = watch.expired

    @staticmethod
    def abort_all() -> None:
        """Cut every request in flight now (the run is stopping and their grace is over): each raises, and
        `deadline_exceeded()` is true for it."""
        for watch in list(_watches.values()):
            watch.expired = True
            _abort(watch.conn)

    @staticmethod
    def deadline_exceeded() -> bool:
        """True when this thread's last request was cut off by the deadline watchdog."""
        return getattr(_last, "expired", False)


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
