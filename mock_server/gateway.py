"""The edge in front of the API (a raw ASGI wrapper): rate limit, empty path segments (404), 413 by
Content-Length, rate-limit headers, accounting, the request log, dripped replies, and closing connections
without an answer.

Every request outside `/_mock/` and `/openapi.json` is an API request (token endpoint included): it is
counted as an arrival, may get a fault-injected 429, then meets the org-wide limit (shared contract,
"Rate limits"). Admitted responses get `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset`
(whole seconds until the window fully resets); a 429 gets `Retry-After` (whole seconds until a slot frees,
>= 1). With `rate_limit_headers` off, or no rate limit at all, none of these four headers are sent.

A responder asks for a dropped connection by setting `scope[DROP_SCOPE_KEY]`; the gateway then swallows
the response and calls the `ABORT_EXTENSION` callable that `server.AbortableHttpToolsProtocol` puts in the
scope: the socket is closed with no bytes written, so the client sees "connection closed without response".
`scope[DRIP_SCOPE_KEY]` (seconds) makes the gateway write the body one byte at a time with that pause.
In proxy mode (`proxy_to`), admitted requests go to `proxy.Proxy` instead of the Falcon app.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .api import BODY_SCOPE_KEY, CLOSE_SCOPE_KEY, DRIP_SCOPE_KEY, DROP_SCOPE_KEY, SEND_SCOPE_KEY, pause
from .contract import MAX_BODY_BYTES, NOT_FOUND, PAYLOAD_TOO_LARGE, TOO_MANY_REQUESTS, error_body
from .requestlog import RESPONSE_SECRETS, redact_body, redact_headers
from .state import Admission, MockState

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Send = Callable[[Message], Awaitable[None]]
Receive = Callable[[], Awaitable[Message]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]

ABORT_EXTENSION = "mwsync.mock.abort"
ADMIN_PREFIX = "/_mock/"
UNCOUNTED_PATHS = ("/openapi.json",)
DRAIN_TIMEOUT_S = 5.0


def is_admin_path(path: str) -> bool:
    """True for the mock's own endpoints (`/_mock/...`, `/openapi.json`): never limited, counted or logged."""
    return path.startswith(ADMIN_PREFIX) or path in UNCOUNTED_PATHS


class Gateway:
    """ASGI app wrapping the Falcon app `app` with the edge behaviour described in the module docstring;
    `proxy`: an ASGI-style handler `(scope, receive, send) -> status` that replaces `app` for API requests."""

    def __init__(self, app: AsgiApp, state: MockState, proxy: Any = None) -> None:
        self.app = app
        self.state = state
        self.proxy = proxy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_admin_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        started_s = time.perf_counter()
        admission = self.state.admit()
        headers = self._rate_headers(admission)
        seen: dict[str, Any] = {}
        send = _capturing(send, seen, self.state.settings.log_bodies)
        if not admission.allowed:
            await _send_json(send, 429, error_body(TOO_MANY_REQUESTS, _too_many(admission)), headers)
        elif "//" in scope["path"]:  # Falcon's router would skip the empty segment; Moveworks would not route it
            await _send_json(send, 404, error_body(NOT_FOUND, f"No such endpoint: {scope['path'][:200]}"), headers)
        elif _content_length(scope) > MAX_BODY_BYTES:
            closing = [] if await _drain(receive, _content_length(scope)) else [(b"connection", b"close")]
            body = error_body(PAYLOAD_TOO_LARGE, f"Request body exceeds {MAX_BODY_BYTES} bytes")
            await _send_json(send, 413, body, [*headers, *closing])
        elif self.proxy is not None:  # the tenant's own rate-limit headers pass through
            await self.proxy(scope, receive, send)
        else:
            await self._forward(scope, receive, send, headers)
        duration_ms = (time.perf_counter() - started_s) * 1000.0
        status = None if scope.get(DROP_SCOPE_KEY) else seen.get("status")
        self.state.record_response(self._entry(scope, status, duration_ms, seen))

    async def _forward(self, scope: Scope, receive: Receive, send: Send, headers: list[tuple[bytes, bytes]]) -> None:
        """Run the Falcon app, adding `headers`, dripping the body when asked, closing when asked."""

        async def send_from_app(message: Message) -> None:
            if scope.get(DROP_SCOPE_KEY):
                return
            if message["type"] == "http.response.start":
                extra = [(b"connection", b"close")] if scope.get(CLOSE_SCOPE_KEY) else []
                message = {**message, "headers": [*message.get("headers", ()), *headers, *extra]}
            elif scope.get(DRIP_SCOPE_KEY) and message.get("body"):
                await _drip(send, message, scope[DRIP_SCOPE_KEY])
                return
            await send(message)

        await self.app(scope, receive, send_from_app)
        if scope.get(DROP_SCOPE_KEY):
            await _abort_connection(scope)

    def _entry(self, scope: Scope, status: int | None, duration_ms: float, seen: dict[str, Any]) -> dict[str, Any]:
        """The request-log entry of one API request (see `requestlog`)."""
        event_id, recipients = scope.get(SEND_SCOPE_KEY) or (None, None)
        entry: dict[str, Any] = {
            "method": scope["method"], "path": scope["path"], "status": status, "duration_ms": round(duration_ms, 3),
            "event_id": event_id, "recipients": list(recipients) if recipients is not None else None,
        }  # fmt: skip
        settings = self.state.settings
        if settings.log_headers:
            entry["headers"] = redact_headers(scope.get("headers", ()))
        if settings.log_bodies:
            content_type = _header(scope, b"content-type")
            entry["body"] = redact_body(scope.get(BODY_SCOPE_KEY), content_type)
            entry["response"] = redact_body(b"".join(seen.get("body", [])), "application/json", RESPONSE_SECRETS)
        return entry

    def _rate_headers(self, admission: Admission) -> list[tuple[bytes, bytes]]:
        """`X-RateLimit-*` and (for a 429) `Retry-After` header pairs, or [] when headers are off."""
        settings = self.state.settings
        forced_retry = admission.forced and admission.retry_after_s is not None
        if not settings.rate_limit_headers or settings.rate_limit is None:
            return [(b"retry-after", str(admission.retry_after_s).encode())] if forced_retry else []
        decision = admission.decision
        limit = settings.rate_limit.limit
        remaining = decision.remaining if decision else 0
        reset_s = decision.reset_s if decision else admission.retry_after_s or int(settings.rate_limit.window_s) or 1
        pairs = [
            (b"x-ratelimit-limit", str(limit).encode()),
            (b"x-ratelimit-remaining", str(remaining).encode()),
            (b"x-ratelimit-reset", str(reset_s).encode()),
        ]
        if not admission.allowed and admission.retry_after_s is not None:
            pairs.append((b"retry-after", str(admission.retry_after_s).encode()))
        return pairs


def _capturing(send: Send, seen: dict[str, Any], keep_body: bool) -> Send:
    """`send` that notes the status (and, with `keep_body`, the body chunks) in `seen`."""

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            seen["status"] = message["status"]
        elif keep_body and message.get("body"):
            seen.setdefault("body", []).append(bytes(message["body"]))
        await send(message)

    return wrapped


async def _drip(send: Send, message: Message, interval_s: float) -> None:
    """Write `message`'s body one byte at a time, `interval_s` apart (the slow-drip fault)."""
    body, more = bytes(message["body"]), message.get("more_body", False)
    for index in range(len(body)):
        await send({"type": "http.response.body", "body": body[index : index + 1], "more_body": True})
        if index < len(body) - 1 or more:
            await pause(interval_s)
    if not more:
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _drain(receive: Receive, declared_bytes: int) -> bool:
    """Read and discard an oversized body before its 413, up to `api.MAX_DRAIN_BYTES` and `DRAIN_TIMEOUT_S`.

    A server that closes a connection with unread bytes makes the kernel send a reset, which can destroy
    the 413 before the client reads it; after a full drain the close is a clean FIN. Returns True when the
    body was read to its end (the connection may be kept alive)."""
    from .api import MAX_DRAIN_BYTES

    if declared_bytes > MAX_DRAIN_BYTES:
        return False

    async def read_all() -> bool:
        while True:
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body"):
                return message["type"] == "http.request"

    try:
        return await asyncio.wait_for(read_all(), DRAIN_TIMEOUT_S)
    except asyncio.TimeoutError:
        return False


def _too_many(admission: Admission) -> str:
    rate = "" if admission.forced else " (org-wide rate limit)"
    wait = f"; retry after {admission.retry_after_s} s" if admission.retry_after_s is not None else ""
    return f"Too many requests{rate}{wait}"


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return ""


def _content_length(scope: Scope) -> int:
    """The Content-Length header as an int; 0 when absent or malformed (Falcon answers malformed ones)."""
    value = _header(scope, b"content-length")
    return int(value) if value.isdigit() else 0


async def _send_json(send: Send, status: int, body: object, headers: list[tuple[bytes, bytes]]) -> None:
    data = json.dumps(body).encode()
    start_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()), *headers]
    await send({"type": "http.response.start", "status": status, "headers": start_headers})
    await send({"type": "http.response.body", "body": data, "more_body": False})


async def _abort_connection(scope: Scope) -> None:
    """Close the client connection with no response; raises `RuntimeError` under a server without the hook."""
    abort = scope.get("extensions", {}).get(ABORT_EXTENSION)
    if abort is None:
        raise RuntimeError("dropping a connection needs mock_server's uvicorn protocol (AbortableHttpToolsProtocol)")
    abort()
    for _ in range(3):  # let the event loop deliver connection_lost before the server inspects the cycle
        await asyncio.sleep(0)
