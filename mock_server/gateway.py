"""The edge in front of the API (a raw ASGI wrapper): rate limit, empty path segments (404), 413 by
Content-Length, rate-limit headers, accounting, and closing connections without an answer.

Every request outside `/_mock/` is an API request (token endpoint included): it is counted as an arrival,
may get a fault-injected 429, then meets the org-wide limit (shared contract, "Rate limits"). Admitted
responses get `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset` (whole seconds until the
window fully resets); a 429 gets `Retry-After` (whole seconds until a slot frees, >= 1). With
`rate_limit_headers` off, none of these four headers are sent.

A responder asks for a dropped connection by setting `scope[DROP_SCOPE_KEY]`; the gateway then swallows
the response and calls the `ABORT_EXTENSION` callable that `server.AbortableHttpToolsProtocol` puts in the
scope: the socket is closed with no bytes written, so the client sees "connection closed without response".
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .api import DROP_SCOPE_KEY
from .contract import MAX_BODY_BYTES, NOT_FOUND, PAYLOAD_TOO_LARGE, TOO_MANY_REQUESTS, error_body
from .state import Admission, MockState

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Send = Callable[[Message], Awaitable[None]]
Receive = Callable[[], Awaitable[Message]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]

ABORT_EXTENSION = "mwsync.mock.abort"
ADMIN_PREFIX = "/_mock/"


class Gateway:
    """ASGI app wrapping the Falcon app `app` with the edge behaviour described in the module docstring."""

    def __init__(self, app: AsgiApp, state: MockState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        started_s = time.perf_counter()
        admission = self.state.admit()
        headers = self._rate_headers(admission)
        if not admission.allowed:
            status: int | None = 429
            await _send_json(send, 429, error_body(TOO_MANY_REQUESTS, _too_many(admission)), headers)
        elif "//" in scope["path"]:  # Falcon's router would skip the empty segment; Moveworks would not route it
            status = 404
            await _send_json(send, 404, error_body(NOT_FOUND, f"No such endpoint: {scope['path'][:200]}"), headers)
        elif _content_length(scope) > MAX_BODY_BYTES:
            status = 413
            body = error_body(PAYLOAD_TOO_LARGE, f"Request body exceeds {MAX_BODY_BYTES} bytes")
            await _send_json(send, 413, body, headers)
        else:
            status = await self._forward(scope, receive, send, headers)
        duration_ms = (time.perf_counter() - started_s) * 1000.0
        self.state.record_response(scope["method"], scope["path"], status, duration_ms)

    async def _forward(self, scope: Scope, receive: Receive, send: Send, headers: list[tuple[bytes, bytes]]) -> int | None:
        """Run the Falcon app, adding `headers`; returns the status, or None when the connection was dropped."""
        seen: dict[str, int] = {}

        async def send_with_headers(message: Message) -> None:
            if scope.get(DROP_SCOPE_KEY):
                return
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), *headers]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
        if scope.get(DROP_SCOPE_KEY):
            await _abort_connection(scope)
            return None
        return seen.get("status")

    def _rate_headers(self, admission: Admission) -> list[tuple[bytes, bytes]]:
        """`X-RateLimit-*` and (for a 429) `Retry-After` header pairs, or [] when headers are off."""
        settings = self.state.settings
        forced_retry = admission.forced and admission.retry_after_s is not None
        if not settings.rate_limit_headers:
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


def _too_many(admission: Admission) -> str:
    rate = "" if admission.forced else " (org-wide rate limit)"
    wait = f"; retry after {admission.retry_after_s} s" if admission.retry_after_s is not None else ""
    return f"Too many requests{rate}{wait}"


def _content_length(scope: Scope) -> int:
    """The Content-Length header as an int; 0 when absent or malformed (Falcon answers malformed ones)."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return int(value) if value.isdigit() else 0
    return 0


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
