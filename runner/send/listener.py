"""The webhook-listener client: `POST {api_url}/webhooks/v1/listeners/{listener_id}/notify` with a JSON body,
unsigned, with a bearer (API key or client-credentials access token) or HMAC-signed. A sibling of `client`
(which would pass 300 lines): it reuses `MoveworksClient`'s session, throttle, deadline, retries and its
one status table, and only refines what a listener answers differently.

Source: the project's listener reference (restating Moveworks' Ambient Agents webhook documentation and
its public demo app). The answers, and what they lead to:

| status               | outcome                                                                        |
|----------------------|--------------------------------------------------------------------------------|
| 200                  | `sent` ("Event received successfully"; processing happens later)              |
| 404 (empty body)     | `failed`: unknown listener, named                                               |
| 401                  | `AuthError`: the run stops (HMAC: "signature refused: check the secret")      |
| 429                  | retried after Retry-After, else `retry_after_default_s` (unspecified: 60 s)    |
| 503                  | retried with backoff                                                           |
| other 5xx            | `unknown`: the listener may have received it (held, as for events)            |
| 400, 413, other 4xx  | `failed`                                                                       |

The body is sent as the exact bytes the renderer produced; the HMAC signature (and its timestamp) is
computed over those bytes after the request's rate-limit slot was granted, right before it goes out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import replace
from urllib.parse import quote

import requests

from ..config.job import HmacSigning, ListenerSpec, Subscription
from ..errors import AuthError, MwsyncError, PermanentError
from ..records import SendResult
from ..rules import LISTENER_NOTIFY_PATH
from .api import api_error
from .client import MoveworksClient
from .throttle import Limiter

JSON = "application/json"


def signature(signing: HmacSigning, body: bytes, timestamp: str | None = None) -> str:
    """The header value for `body`: `prefix` + hex (lowercase) or base64 of HMAC-`algorithm` keyed with the
    secret over `signed_string` (`{body}` the exact bytes, `{timestamp}` the timestamp header's value)."""
    head, _, tail = signing.signed_string.partition("{body}")
    stamp = timestamp or ""
    signed = head.replace("{timestamp}", stamp).encode("utf-8") + body + tail.replace("{timestamp}", stamp).encode()
    digest = hmac.new(signing.secret.encode("utf-8"), signed, getattr(hashlib, signing.algorithm)).digest()
    text = digest.hex() if signing.encoding == "hex" else base64.b64encode(digest).decode("ascii")
    return signing.prefix + text


class HmacAuth(requests.auth.AuthBase):
    """Signs each request over its exact body bytes (`signature`); sets the timestamp header when the
    listener wants one. Like `BearerAuth` it remembers itself on the request (`mwsync_auth`), so the session
    signs again once the rate-limit slot is granted: a timestamp is as fresh as the request. `wall_clock`:
    Unix seconds (injectable)."""

    def __init__(self, signing: HmacSigning, wall_clock: Callable[[], float] = time.time):
        self.signing = signing
        self._clock = wall_clock

    def ready(self) -> bool:
        """Signing needs no request of its own."""
        return True

    def refresh(self) -> None:
        """Nothing to fetch."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body if isinstance(request.body, bytes) else (request.body or "").encode("utf-8")
        stamp = str(int(self._clock())) if self.signing.timestamp_header else None
        if stamp is not None:
            request.headers[self.signing.timestamp_header] = stamp
        request.headers[self.signing.header] = signature(self.signing, body, stamp)
        request.mwsync_auth = self  # type: ignore[attr-defined]
        return request


class NoAuth(requests.auth.AuthBase):
    """An unsecured listener: no Authorization header at all."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return request


REFUSED = {
    "none": "the listener refused an unsecured request: it verifies credentials or signatures; set listener.auth "
            "to how it is secured",
    "api_key": "the listener refused the API key (subscription.api_key); check the key and the API URL's region",
    "client_credentials": "the listener refused the access token; check client_id/client_secret and the API "
                          "URL's region",
    "hmac": "signature refused: check the secret (listener.hmac.secret) and that header, algorithm, encoding, "
            "prefix and timestamp settings match the listener's",
}


class ListenerClient(MoveworksClient):
    """Sends listener bodies (`notify`) as `listener.auth` says: `none`, `api_key` (subscription.api_key as a
    bearer), `client_credentials` (the access-token flow, token URL `/oauth/v1/token` on the API URL: the
    listener reference leaves it unspecified) or `hmac`. Other arguments as for `MoveworksClient`;
    `wall_clock` stamps HMAC timestamps. Thread-safe."""

    def __init__(self, base_url: str, subscription: Subscription, limiter: Limiter, *, listener: ListenerSpec,
                 wall_clock: Callable[[], float] = time.time, **kwargs):
        if listener.auth != "client_credentials":  # only that mode fetches access tokens
            subscription = replace(subscription, client_id="", client_secret="")
        super().__init__(base_url, subscription, limiter, **kwargs)
        self.listener = listener
        if listener.auth in ("none", "hmac"):
            self.tokens = None
            self.auth = HmacAuth(listener.hmac, wall_clock) if listener.auth == "hmac" else NoAuth()

    def notify(self, listener_id: str, body: bytes, *, before_send: Callable[[], None] | None = None) -> SendResult:
        """POST `body` (JSON bytes, sent as they are) to listener `listener_id`; its `SendResult` (the table in
        the module docstring). `before_send` as for `send_message`. Raises `AuthError` (the listener refused
        the credentials or the signature), `Unreachable`, `Interrupted`."""
        url = self.base_url + LISTENER_NOTIFY_PATH.format(listener_id=quote(listener_id, safe=""))
        content = {"data": body, "headers": {"Content-Type": JSON}}
        return self._deliver(url, content, before_send, f"listener {listener_id}")

    def _status_error(self, response: requests.Response, what: str) -> MwsyncError:
        status = response.status_code
        if status == 404:
            code, message = api_error(response)
            return PermanentError(f"unknown listener: 404 ({what}); check listener.id or listener.url and the API "
                                  "URL", status=404, code=code, api_message=message)
        if status == 401:
            code, message = api_error(response)
            detail = " ".join(str(p) for p in (401, code, message) if p)
            return AuthError(f"{REFUSED[self.listener.auth]}: {detail} ({what})", status=401, code=code)
        return super()._status_error(response, what)
