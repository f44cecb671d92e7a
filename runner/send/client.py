"""The Moveworks Events API client: sends through the run's session with auth, throttle and retries. The
paths, JSON shapes and status table it follows are `mwsync.send.api`.

Outcomes of a send (the table is `api.status_error`):

- 2xx -> `sent`;
- 429, 503, connection refused, connect timeout: the API certainly did not process it -> retried
  (429 after Retry-After, else 60 s, capped; the others with exponential backoff and full jitter);
- 401 -> one new access token, then `AuthError` (the run stops);
- other 4xx -> `failed`, never retried: the API certainly refused it;
- 500, 502, 504 and other 5xx, a connection dropped after the request was written, no complete
  answer within the deadline -> `unknown`: the API may have scheduled it, so it is never resent
  automatically (`retry.resend_on` opts chosen statuses into retries, at the risk of a duplicate).

When nothing can succeed (the API cannot be reached, its token endpoint keeps failing, the credentials
are refused) the error raised stops the whole run (`Unreachable`, `AuthError`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from urllib.parse import quote, urlsplit

import requests
import urllib3
from oauthlib.oauth2.rfc6749.errors import OAuth2Error

from ..config.job import RetryPolicy, Subscription
from ..errors import (
    AuthError,
    MwsyncError,
    OutcomeUnknown,
    PermanentError,
    RateLimited,
    Redirected,
    TransientError,
    Unreachable,
    UsageError,
)
from ..records import Attempt, SendResult
from ..wording import printable
from .api import (
    AUTH_TEST_PATH,
    SEND_PATH,
    TOKEN_PATH,
    expires_in_s,
    json_token_request,
    status_error,
    token_response,
)
from .auth import BearerAuth, TokenCache
from .retry import Reauthenticate, retrying
from .session import MoveworksSession, allow_loopback_http
from .throttle import Limiter


def _never_sent(exc: requests.exceptions.ConnectionError) -> bool:
    """True when the connection failed before the request went out (refused, DNS, connect timeout)."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(exc, requests.exceptions.ConnectTimeout) or isinstance(
        reason, (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError))


class CannotConnect(TransientError):
    """The connection failed before the request went out: retried; when retries run out, the run stops."""


class _CallAuth(requests.auth.AuthBase):
    """The client's bearer auth plus this call's `before_send` hook (run once the slot is granted)."""

    def __init__(self, bearer: BearerAuth, before_send: Callable[[], None] | None):
        self.bearer, self.before_send = bearer, before_send

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request = self.bearer(request)
        request.mwsync_before_send = self.before_send  # type: ignore[attr-defined]
        return request


class MoveworksClient:
    """Sends messages for events through one `MoveworksSession`, with auth, throttle and retries.

    `base_url`: API URL (no trailing slash needed); `subscription`: credentials, timeouts and the request
    deadline (its `api_url` is ignored in favour of `base_url`); `limiter`: shared by every thread;
    `retry`: attempts, waits (seconds) and `resend_on`; `pool_size`: the run's concurrent connections.
    `clock` and `sleep` are injectable; `stop` (an event set on Ctrl-C) cuts retry waits short and keeps
    further requests from going out (`Interrupted`). `on_token(value)` is told every access token issued
    (the run's redaction filter). `on_attempt(Attempt)` is told of every HTTP request that went out, token
    requests and retries included (what `--html` charts). Thread-safe: threads share the session and
    token cache.
    Raises `UsageError` for a plain-http URL to anything but a loopback host.
    """

    def __init__(self, base_url: str, subscription: Subscription, limiter: Limiter, *,
                 retry: RetryPolicy = RetryPolicy(), pool_size: int = 1,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] | None = None,
                 stop: threading.Event | None = None, on_token: Callable[[str], None] | None = None,
                 on_attempt: Callable[[Attempt], None] | None = None):
        self.base_url = base_url.rstrip("/")
        if not allow_loopback_http(self.base_url):
            raise UsageError(f"{self.base_url}: plain http would send credentials in clear text; use https "
                             "(http only for 127.0.0.1/localhost)")
        self.host = urlsplit(self.base_url).netloc
        self.retry = retry
        self.timeout = (subscription.connect_timeout_s, subscription.read_timeout_s)
        self.deadline_s = subscription.deadline_s
        self._stop = stop
        self._sleep = sleep or (stop.wait if stop is not None else time.sleep)  # Ctrl-C cuts a retry wait short
        self._on_token = on_token or (lambda value: None)
        self.session = MoveworksSession(limiter, client_id=subscription.client_id, pool_size=pool_size,
                                        retry_after_default_s=retry.retry_after_default_s,
                                        max_retry_after_s=retry.max_retry_after_s, deadline_s=self.deadline_s,
                                        stop=stop)
        self._on_attempt = on_attempt
        self._local = threading.local()  # this thread's attempt number within its current send
        if on_attempt is not None:
            self.session.on_attempt = self._attempted
        self.session.register_compliance_hook("access_token_response", token_response)
        if subscription.token_request == "json":
            self.session.register_compliance_hook("access_token_request", json_token_request)
        self._secret = subscription.client_secret
        if subscription.client_id and subscription.client_secret:
            self.tokens: TokenCache | None = TokenCache(self._fetch_token, clock=clock)
            self.auth = BearerAuth(self.tokens.get, self.tokens.valid)
        else:
            key = subscription.api_key
            self.tokens = None
            self.auth = BearerAuth(lambda: key)

    def _attempted(self, request: requests.PreparedRequest, started_s: float, status: int | None) -> None:
        path = urlsplit(request.url or "").path
        kind = "token" if path.endswith(TOKEN_PATH) else "auth test" if path.endswith(AUTH_TEST_PATH) else "send"
        retry = kind == "send" and getattr(self._local, "attempt", 1) > 1
        self._on_attempt(Attempt(kind, started_s, time.time(), status, retry))

    def _fetch_token(self) -> tuple[str, float]:
        """POST the client credentials (in the body, never a Basic header) for a new access token.
        Returns `(access_token, expires_in_s)`; raises `AuthError`, `RateLimited`, `CannotConnect` or
        `TransientError`."""
        try:
            token = self.session.fetch_token(self.base_url + TOKEN_PATH, client_secret=self._secret,
                                             include_client_id=True, timeout=self.timeout)
        except OAuth2Error as exc:
            raise AuthError(f"token response rejected: {printable(exc.description or exc.error)}") from None
        except requests.exceptions.RequestException as exc:
            raise self._transport_error(exc, "token request") from None
        value = str(token["access_token"])
        self._on_token(value)
        return value, expires_in_s(token.get("expires_in"))

    def _transport_error(self, exc: requests.exceptions.RequestException, what: str) -> MwsyncError:
        """The error for a request that got no HTTP answer: `CannotConnect` when it never went out, else
        `OutcomeUnknown` (for a token request, a `TransientError`: no message is at stake)."""
        if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                            requests.exceptions.InvalidSchema, requests.exceptions.InvalidHeader)):
            return PermanentError(f"{what} not sent: {exc.__class__.__name__} ({self.base_url})")
        if isinstance(exc, requests.exceptions.ConnectionError) and _never_sent(exc):
            return CannotConnect(f"cannot connect to {self.host}: {_cause(exc)}")
        if self.session.deadline_exceeded() or isinstance(exc, requests.exceptions.Timeout):
            limit = f"within the {self.deadline_s:g} s deadline" if self.session.deadline_exceeded() \
                else f"within {self.timeout[1]:g} s (read_timeout_s)"
            reason = f"no complete answer from {self.host} {limit}"
        else:
            reason = f"the connection to {self.host} failed after the request was sent ({_cause(exc)})"
        if what == "token request":
            return TransientError(f"token request: {reason}")
        return OutcomeUnknown(f"{reason}; it may have been delivered")

    def send_message(self, event_id: str, text: str, recipients: Sequence[str],
                     slots: Mapping[str, str] | None = None, *,
                     before_send: Callable[[], None] | None = None) -> SendResult:
        """Send one request for `event_id` to 1..500 `recipients`; return its `SendResult` (`sent`,
        `failed` or `unknown`). `before_send()` runs right before each attempt goes out (after its
        rate-limit slot and access token); an attempt that never reached it was certainly not sent.
        Raises `AuthError` when the credentials are refused, `Unreachable` when nothing can get through,
        `Interrupted` when the run stopped before the request went out."""
        body: dict = {"message": text, "recipients": list(recipients)}
        if slots:
            body["context"] = {"slots": dict(slots)}
        url = self.base_url + SEND_PATH.format(event_id=quote(event_id, safe=""))
        return self._deliver(url, {"json": body}, before_send, f"event {event_id}")

    def _deliver(self, url: str, content: dict, before_send: Callable[[], None] | None, what: str) -> SendResult:
        """POST `content` (`requests` keywords: `json=` or `data=` and `headers=`) to `url` under the retry
        policy; the `SendResult`, or what stops the run (see `send_message`). `what` names the target."""
        counts = {"attempts": 0, "429": 0, "reauth": 0}
        started = time.monotonic()
        auth = _CallAuth(self.auth, before_send)
        try:
            for attempt in retrying(self.retry, sleep=self._sleep, stop=self._stop):
                with attempt:
                    counts["attempts"] += 1
                    self._local.attempt = counts["attempts"]
                    try:
                        status = self._attempt(url, content, auth, counts, what)
                    except RateLimited:  # from the send or from its access-token request
                        counts["429"] += 1
                        raise
        except CannotConnect as exc:
            raise Unreachable(f"{exc}; nothing can be sent, so the run stops") from None
        except TransientError as exc:
            if not counts.get("sent"):  # the token endpoint kept failing: no send went out
                raise Unreachable(f"{exc}; no access token, so the run stops") from None
            return self._result("failed", exc, counts, started)
        except Redirected as exc:
            raise Unreachable(f"{exc}; every send would be redirected, so the run stops", exc.status) from None
        except PermanentError as exc:
            return self._result("failed", exc, counts, started)
        except OutcomeUnknown as exc:
            return self._result("unknown", exc, counts, started)
        return SendResult("sent", status, counts["attempts"], retried_429=counts["429"],
                          latency_ms=(time.monotonic() - started) * 1000)

    @staticmethod
    def _result(state: str, exc, counts: dict, started: float) -> SendResult:
        return SendResult(state, exc.status, counts["attempts"], error=str(exc), code=exc.code,
                          retried_429=counts["429"], latency_ms=(time.monotonic() - started) * 1000)

    def _attempt(self, url: str, content: dict, auth: _CallAuth, counts: dict, what: str) -> int:
        try:
            response = self.session.post(url, auth=auth, timeout=self.timeout, withhold_token=True, **content)
        except requests.exceptions.RequestException as exc:
            error = self._transport_error(exc, "send")
            counts["sent"] = counts.get("sent") or not isinstance(error, CannotConnect)
            raise error from None
        counts["sent"] = True
        status = response.status_code
        if 200 <= status < 300:
            return status
        error = self._status_error(response, what)
        if status == 401 and self.tokens is not None and not counts["reauth"]:
            counts["reauth"] = 1
            self.tokens.invalidate(BearerAuth.token_of(response.request))
            raise Reauthenticate(f"401 on send, fetching a new access token: {error}", status=401, code=error.code)
        raise error

    def _status_error(self, response: requests.Response, what: str) -> MwsyncError:
        """The error for a non-2xx answer to a send (`status_error`); the listener client refines it."""
        return status_error(response, "send", resend_on=self.retry.resend_on, what=what)

    def test_auth(self) -> None:
        """`GET /rest/v1/auth/test` with the current token. Raises `AuthError` unless it answers 200,
        `Unreachable` when the API cannot be reached."""
        try:
            response = self.session.get(self.base_url + AUTH_TEST_PATH, auth=self.auth, timeout=self.timeout,
                                        withhold_token=True)
        except requests.exceptions.RequestException as exc:
            raise Unreachable(str(self._transport_error(exc, "auth test"))) from None
        except CannotConnect as exc:
            raise Unreachable(str(exc)) from None
        if response.status_code != 200:
            raise status_error(response, "auth test")

    def abort(self) -> None:
        """Cut the requests in flight (the run is stopping): each ends `unknown`."""
        self.session.abort_all()

    def close(self) -> None:
        """Close the session's connections."""
        self.session.close()


def _cause(exc: BaseException) -> str:
    """A short cause for a connection error: `connection refused`, `name not resolved`, the class name."""
    text = str(exc).lower()
    for needle, cause in (("refused", "connection refused"), ("name or service not known", "name not resolved"),
                          ("nodename nor servname", "name not resolved"), ("failed to resolve", "name not resolved"),
                          ("timed out", "connect timeout"), ("reset by peer", "connection reset"),
                          ("remote end closed", "connection closed without an answer")):
        if needle in text:
            return cause
    return exc.__class__.__name__
