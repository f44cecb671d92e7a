"""Bearer authentication for Moveworks API calls: OAuth 2.0 client credentials or a static API key.

Facts (Moveworks Events API reference, "Authentication"): `POST /oauth/v1/token` exchanges
`client_id` + `client_secret` (`grant_type=client_credentials`) for an access token; there is no
refresh token, so a client asks again when the token expires; `expires_in` is documented both as
3600 s and as 60 s, so it is trusted, never assumed; every call carries `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests


@dataclass(frozen=True)
class AccessToken:
    """An access token and when to stop using it: `refresh_at` in monotonic seconds."""

    value: str
    refresh_at: float


def refresh_margin_s(expires_in_s: float) -> float:
    """Seconds before expiry to fetch a new token: 10 % of the lifetime, at most 30 s
    (a 60 s token is replaced after 54 s, a 3600 s token after 3570 s)."""
    return min(30.0, 0.1 * expires_in_s)


class TokenCache:
    """Holds the current access token and fetches a new one shortly before it expires.

    `fetch()` returns `(access_token, expires_in_s)` and may raise (the error propagates to the
    caller). Thread-safe: one fetch per expiry however many threads ask, by a lock and a second
    check after acquiring it. `clock` is monotonic seconds, injectable for tests.
    """

    def __init__(self, fetch: Callable[[], tuple[str, float]], *, clock: Callable[[], float] = time.monotonic):
        self._fetch = fetch
        self._clock = clock
        self._token: AccessToken | None = None
        self._lock = threading.Lock()
        self.fetches = 0

    def valid(self) -> bool:
        """True while the current access token may still be used (no fetch needed)."""
        return self._valid() is not None

    def _valid(self) -> AccessToken | None:
        token = self._token
        return token if token is not None and self._clock() < token.refresh_at else None

    def get(self) -> str:
        """The current access token, fetching a new one when none is valid."""
        token = self._valid()
        if token is not None:
            return token.value
        with self._lock:
            token = self._valid()
            if token is None:
                started = self._clock()
                value, expires_in_s = self._fetch()
                self.fetches += 1
                token = AccessToken(value, started + expires_in_s - refresh_margin_s(expires_in_s))
                self._token = token
            return token.value

    def invalidate(self, value: str) -> None:
        """Forget `value` (the API answered 401 to it); a token fetched since is kept."""
        with self._lock:
            if self._token is not None and self._token.value == value:
                self._token = None


class BearerAuth(requests.auth.AuthBase):
    """`requests` auth that sets `Authorization: Bearer <token>` from `token()` on each request.

    `token` is `TokenCache.get` for client credentials, or a constant for a static API key. The
    request remembers its auth (`mwsync_auth`) so that `MoveworksSession.send` can stamp it again
    once a rate-limit slot is granted: a request that waited longer than its token had left would
    otherwise go out with an expired token, meet a 401 and spend another slot.
    """

    def __init__(self, token: Callable[[], str], ready: Callable[[], bool] = lambda: True):
        self._token = token
        self._ready = ready

    def ready(self) -> bool:
        """True when stamping needs no access-token request (the token is valid, or a static key)."""
        return self._ready()

    def refresh(self) -> None:
        """Fetch the access token now (before taking the request's own rate-limit slot)."""
        self._token()

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token()}"
        request.mwsync_auth = self  # type: ignore[attr-defined]
        return request

    @staticmethod
    def token_of(request: requests.PreparedRequest) -> str:
        """The bearer value a sent request carried ('' when none)."""
        return request.headers.get("Authorization", "").removeprefix("Bearer ")
