"""The Moveworks Events API client: the only runner module that knows its URL paths and JSON shapes.

Source for every fact: the Moveworks Events API reference (restated in the project's contract notes,
README "API facts"): `POST /oauth/v1/token`, `GET /rest/v1/auth/test`,
`POST /rest/v1/events/{event_id}/messages/send` with `{"message", "recipients", "context": {"slots"}}`,
200 `{"data": {"status": "RECEIVED"}}`, errors `{"error": {"code", "message"}}` (or flat `{code, message}`).

Outcomes: 2xx -> `sent`; 429 -> wait Retry-After (else 60 s, capped) and retry; 5xx, connection
refused, connect timeout -> exponential backoff with full jitter, bounded attempts; 401 -> one new
access token, then `AuthError`; other 4xx -> `failed`, never retried; read timeout or a connection
dropped after the request went out -> `unknown`, never resent automatically.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Literal
from urllib.parse import quote

import requests
import urllib3
from oauthlib.oauth2.rfc6749.errors import OAuth2Error

from ..config.job import RetryPolicy, Subscription
from ..errors import AuthError, MwsyncError, OutcomeUnknown, PermanentError, RateLimited, TransientError, UsageError
from ..records import SendResult
from .auth import BearerAuth, TokenCache
from .retry import Reauthenticate, retrying
from .session import MoveworksSession, allow_loopback_http, retry_after_s
from .throttle import Limiter

TOKEN_PATH = "/oauth/v1/token"
AUTH_TEST_PATH = "/rest/v1/auth/test"
SEND_PATH = "/rest/v1/events/{event_id}/messages/send"

Call = Literal["token", "send", "auth test"]


def api_error(response: requests.Response) -> tuple[str | None, str | None]:
    """`(code, message)` from an error body, nested `{"error": {...}}` or flat `{code, message}`."""
    try:
        body = response.json()
    except ValueError:
        return None, (response.text[:200] or None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            return inner.get("code"), inner.get("message")
        if isinstance(inner, str):
            return inner, body.get("error_description") or body.get("message")
    return None, None


def status_error(response: requests.Response, call: Call) -> MwsyncError:
    """The error for a non-2xx answer to `call`: the one status table of the client.

    | status | token                | send                 | auth test  |
    |--------|----------------------|----------------------|------------|
    | 429    | RateLimited (retry)  | RateLimited (retry)  | AuthError  |
    | 401    | AuthError            | AuthError (*)        | AuthError  |
    | 5xx    | TransientError       | TransientError       | AuthError  |
    | other  | AuthError            | PermanentError       | AuthError  |

    (*) the client first retries a send's 401 once with a new access token (`Reauthenticate`).
    """
    status = response.status_code
    code, message = api_error(response)
    detail = " ".join(str(p) for p in (status, code, message) if p)
    if call == "auth test":
        return AuthError(f"auth test failed: {detail}", status=status, code=code)
    if status == 429:
        what = "token request rate limited" if call == "token" else "rate limited"
        return RateLimited(f"{what}: {detail}", retry_after_s(response), code=code, api_message=message)
    if status >= 500:
        what = "token endpoint failed" if call == "token" else "server error"
        return TransientError(f"{what}: {detail}", status=status, code=code, api_message=message)
    if call == "token":
        return AuthError(f"token request refused: {detail}; check client_id/client_secret and the API URL's region",
                         status=status, code=code)
    if status == 401:
        return AuthError(f"the API refused the access token: {detail}; check the API URL's region and the "
                         "credentials", status=401, code=code)
    return PermanentError(f"rejected: {detail}", status=status, code=code, api_message=message)


def _json_token_request(url: str, headers: dict, request_kwargs: dict) -> tuple[str, dict, dict]:
    """Compliance hook: send the token request as JSON (the current OpenAPI) instead of a form."""
    request_kwargs["data"] = json.dumps(request_kwargs.pop("data", {}))
    return url, dict(headers, **{"Content-Type": "application/json"}), request_kwargs


def _token_response(response: requests.Response) -> requests.Response:
    """Compliance hook: raise our errors for non-200 answers; unwrap `{"data": {...}}` (current
    OpenAPI) into the plain OAuth shape (older guide) that oauthlib parses."""
    if response.status_code != 200:
        raise status_error(response, "token")
    try:
        body = response.json()
    except ValueError:
        raise AuthError("token response is not JSON", status=200) from None
    if isinstance(body, dict) and isinstance(body.get("data"), dict) and "access_token" not in body:
        response._content = json.dumps(body["data"]).encode("utf-8")
    return response


def _never_sent(exc: requests.exceptions.ConnectionError) -> bool:
    """True when the connection failed before the request went out (refused, DNS, connect timeout)."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(exc, requests.exceptions.ConnectTimeout) or isinstance(
        reason, (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError))


class MoveworksClient:
    """Sends messages for events through one `MoveworksSession`, with auth, throttle and retries.

    `base_url`: API URL (no trailing slash needed); `subscription`: credentials and timeouts
    (its `api_url` is ignored in favour of `base_url`); `limiter`: shared by every thread;
    `retry`: attempts and waits (seconds); `pool_size`: the run's concurrent connections.
    `clock` and `sleep` are injectable; `stop` (an event set on Ctrl-C) cuts retry waits short and
    keeps further requests from going out (`Interrupted`). Thread-safe: threads share the session
    and token cache.
    Raises `UsageError` for a plain-http URL to anything but a loopback host.
    """

    def __init__(self, base_url: str, subscription: Subscription, limiter: Limiter, *,
                 retry: RetryPolicy = RetryPolicy(), pool_size: int = 1,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] | None = None,
                 stop: threading.Event | None = None):
        self.base_url = base_url.rstrip("/")
        if not allow_loopback_http(self.base_url):
            raise UsageError(f"{self.base_url}: plain http would send credentials in clear text; use https "
                             "(http only for 127.0.0.1/localhost)")
        self.retry = retry
        self.timeout = (subscription.connect_timeout_s, subscription.read_timeout_s)
        self._stop = stop
        self._sleep = sleep or (stop.wait if stop is not None else time.sleep)  # Ctrl-C cuts a retry wait short
        self.session = MoveworksSession(limiter, client_id=subscription.client_id, pool_size=pool_size,
                                        retry_after_default_s=retry.retry_after_default_s,
                                        max_retry_after_s=retry.max_retry_after_s, stop=stop)
        self.session.register_compliance_hook("access_token_response", _token_response)
        if subscription.token_request == "json":
            self.session.register_compliance_hook("access_token_request", _json_token_request)
        self._secret = subscription.client_secret
        if subscription.client_id and subscription.client_secret:
            self.tokens: TokenCache | None = TokenCache(self._fetch_token, clock=clock)
            self.auth = BearerAuth(self.tokens.get)
        else:
            key = subscription.api_key
            self.tokens = None
            self.auth = BearerAuth(lambda: key)

    def _fetch_token(self) -> tuple[str, float]:
        """POST the client credentials (in the body, never a Basic header) for a new access token.
        Returns `(access_token, expires_in_s)`; raises `AuthError` or `TransientError`."""
        try:
            token = self.session.fetch_token(self.base_url + TOKEN_PATH, client_secret=self._secret,
                                             include_client_id=True, timeout=self.timeout)
        except OAuth2Error as exc:
            raise AuthError(f"token response rejected: {exc.description or exc.error}") from None
        except requests.exceptions.RequestException as exc:
            raise TransientError(f"token request failed: {exc.__class__.__name__}") from None
        try:
            return str(token["access_token"]), float(token["expires_in"])
        except (KeyError, TypeError, ValueError):
            raise AuthError("token response lacks access_token or a numeric expires_in") from None

    def send_message(self, event_id: str, text: str, recipients: Sequence[str],
                     slots: Mapping[str, str] | None = None) -> SendResult:
        """Send one request for `event_id` to 1..500 `recipients`; return its `SendResult`
        (`sent`, `failed` or `unknown`). Raises `AuthError` when the credentials are refused."""
        body: dict = {"message": text, "recipients": list(recipients)}
        if slots:
            body["context"] = {"slots": dict(slots)}
        url = self.base_url + SEND_PATH.format(event_id=quote(event_id, safe=""))
        counts = {"attempts": 0, "429": 0, "reauth": 0}
        started = time.monotonic()
        try:
            for attempt in retrying(self.retry, sleep=self._sleep, stop=self._stop):
                with attempt:
                    counts["attempts"] += 1
                    try:
                        status = self._attempt(url, body, counts)
                    except RateLimited:  # from the send or from its access-token request
                        counts["429"] += 1
                        raise
        except (PermanentError, TransientError) as exc:
            return self._result("failed", exc, counts, started)
        except OutcomeUnknown as exc:
            return self._result("unknown", exc, counts, started)
        return SendResult("sent", status, counts["attempts"], retried_429=counts["429"],
                          latency_ms=(time.monotonic() - started) * 1000)

    @staticmethod
    def _result(state: str, exc, counts: dict, started: float) -> SendResult:
        return SendResult(state, exc.status, counts["attempts"], error=str(exc), code=exc.code,
                          retried_429=counts["429"], latency_ms=(time.monotonic() - started) * 1000)

    def _attempt(self, url: str, body: dict, counts: dict) -> int:
        try:
            response = self.session.post(url, json=body, auth=self.auth, timeout=self.timeout, withhold_token=True)
        except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema,
                requests.exceptions.InvalidHeader) as exc:
            raise PermanentError(f"request not sent: {exc.__class__.__name__} ({self.base_url})") from None
        except requests.exceptions.ConnectionError as exc:
            if _never_sent(exc):
                raise TransientError(f"cannot connect to {self.base_url}: {exc.__class__.__name__}") from None
            raise OutcomeUnknown(f"connection dropped after the request was sent ({exc.__class__.__name__})") from None
        except requests.exceptions.Timeout as exc:
            raise OutcomeUnknown(f"no answer within {self.timeout[1]:g} s ({exc.__class__.__name__})") from None
        except requests.exceptions.RequestException as exc:
            raise OutcomeUnknown(f"request failed mid-flight ({exc.__class__.__name__})") from None
        status = response.status_code
        if 200 <= status < 300:
            return status
        error = status_error(response, "send")
        if status == 401 and self.tokens is not None and not counts["reauth"]:
            counts["reauth"] = 1
            self.tokens.invalidate(BearerAuth.token_of(response.request))
            raise Reauthenticate(f"401 on send, fetching a new access token: {error}", status=401, code=error.code)
        raise error

    def test_auth(self) -> None:
        """`GET /rest/v1/auth/test` with the current token. Raises `AuthError` unless it answers 200."""
        response = self.session.get(self.base_url + AUTH_TEST_PATH, auth=self.auth, timeout=self.timeout,
                                    withhold_token=True)
        if response.status_code != 200:
            raise status_error(response, "auth test")

    def close(self) -> None:
        """Close the session's connections."""
        self.session.close()
