"""Falcon ASGI resources for the Moveworks API twin: token, auth test, event send, deprecated send.

Paths and shapes from the shared contract (Moveworks Events API reference, restated)::

    POST /oauth/v1/token                          -> 200 token (plain or wrapped)
    GET  /rest/v1/auth/test                       -> 200 {"data": {"status": "OK"}} | 401
    POST /rest/v1/events/{event_id}/messages/send -> 200 {"data": {"status": "RECEIVED"}}
    POST /rest/v1/messages/send  (deprecated)     -> 204, no body

Order for a send: injected latency, send faults (drop / 5xx), bearer token (401), event id (400/404),
body (413, JSON 400), field types, size limits, e-mail syntax, allow-list; then the message is recorded.
Rate limiting, 413-by-Content-Length and accounting happen before, in `gateway`.
"""

from __future__ import annotations

import asyncio
import time

import falcon
import falcon.asgi

from .contract import (
    MAX_BODY_BYTES,
    PAYLOAD_TOO_LARGE,
    STATUS_CODES,
    TOKEN_VALIDATION_FAILED,
    UNAUTHENTICATED,
    ApiError,
    bad_request,
    check_event_id,
    check_send_payload,
    parse_json,
)
from .oauth import JSON, client_credentials, media_type, parse_token_request, token_response
from .state import MockState
from .tokens import TokenRecord

DROP_SCOPE_KEY = "mwsync.mock.drop"
"""Set to True in the ASGI scope by a responder that wants the connection closed without an answer."""


async def pause(delay_s: float) -> None:
    """Sleep at least `delay_s` seconds without blocking other requests.

    uvloop's timers have millisecond granularity and start from a cached loop time, so a bare
    `asyncio.sleep` can end up to ~1 ms early; injected latency is a lower bound tests rely on.
    """
    deadline_s = time.perf_counter() + delay_s
    while (remaining_s := deadline_s - time.perf_counter()) > 0:
        await asyncio.sleep(remaining_s)


async def read_body(req: falcon.asgi.Request) -> bytes:
    """The whole request body; 413 `PAYLOAD_TOO_LARGE` beyond 1 MiB (also for chunked bodies)."""
    too_large = ApiError(413, PAYLOAD_TOO_LARGE, f"Request body exceeds {MAX_BODY_BYTES} bytes")
    if (req.content_length or 0) > MAX_BODY_BYTES:
        raise too_large
    chunks, size = [], 0
    async for chunk in req.stream:
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def bearer(req: falcon.asgi.Request, state: MockState) -> TokenRecord:
    """The token record behind `Authorization: Bearer <token>` (exact prefix); 401 otherwise."""
    header = req.get_header("Authorization") or ""
    record = None
    if header.startswith("Bearer "):
        with state.lock:
            record = state.tokens.validate(header[len("Bearer ") :])
    if record is None:
        raise ApiError(401, UNAUTHENTICATED, TOKEN_VALIDATION_FAILED)
    return record


class TokenResource:
    """`POST /oauth/v1/token`: OAuth 2.0 client-credentials grant (no refresh token)."""

    def __init__(self, state: MockState) -> None:
        self.state = state

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        state, settings = self.state, self.state.settings
        with state.lock:
            delay_s = state.faults.extra_latency_s("token")
            failure = state.faults.token_failure()
        if delay_s:
            await pause(delay_s)
        if failure == 401:
            raise ApiError(401, UNAUTHENTICATED, "Client authentication failed (injected fault)")
        if failure:
            raise ApiError(failure, STATUS_CODES[failure], "Token service error (injected fault)")
        fields = parse_token_request(req.content_type, await read_body(req), settings.token_request)
        client_id, secret = client_credentials(fields, req.get_header("Authorization"), settings.allow_basic_auth)
        with state.lock:
            if not state.tokens.check_client(client_id, secret):
                raise ApiError(401, UNAUTHENTICATED, "Client authentication failed: unknown client_id or wrong secret")
            token, _ = state.tokens.issue(client_id)
        resp.media = token_response(token, settings.token_ttl_s, settings.token_response)
        resp.set_header("Cache-Control", "no-store")
        resp.set_header("Pragma", "no-cache")


class AuthTestResource:
    """`GET /rest/v1/auth/test`: 200 while the bearer token is valid, 401 otherwise."""

    def __init__(self, state: MockState) -> None:
        self.state = state

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        bearer(req, self.state)
        resp.media = {"data": {"status": "OK"}}


class SendFlow:
    """The checks and recording shared by both send endpoints."""

    def __init__(self, state: MockState) -> None:
        self.state = state

    async def run(self, req: falcon.asgi.Request, event_id: str | None) -> bool:
        """Validate and record one send; False when the connection must be dropped (no answer).

        `event_id`: raw path parameter, or None on the deprecated endpoint. Raises `ApiError`.
        """
        state, settings = self.state, self.state.settings
        with state.lock:
            delay_s = settings.latency_ms / 1000.0 + state.faults.extra_latency_s("send")
            action = state.faults.send_action()
        if delay_s:
            await pause(delay_s)
        if action and action[0] == "drop":
            return False
        if action:
            status = action[1]
            raise ApiError(status, STATUS_CODES[status], f"Upstream error {status} (injected fault)")
        token = bearer(req, state)
        event = check_event_id(event_id, settings.events) if event_id is not None else None
        raw = await read_body(req)
        if media_type(req.content_type) != JSON:
            raise bad_request(f"Content-Type must be {JSON}, got {media_type(req.content_type) or 'none'!r}")
        payload = check_send_payload(parse_json(raw), settings.users)
        state.record_message(req.path, event, payload, token)
        with state.lock:
            return not state.faults.take_lose_reply()


class EventSendResource:
    """`POST /rest/v1/events/{event_id}/messages/send` (current): 200 `{"data": {"status": "RECEIVED"}}`."""

    def __init__(self, flow: SendFlow) -> None:
        self.flow = flow

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response, event_id: str) -> None:
        if not await self.flow.run(req, event_id):
            req.scope[DROP_SCOPE_KEY] = True
        resp.media = {"data": {"status": "RECEIVED"}}


class LegacySendResource:
    """`POST /rest/v1/messages/send` (deprecated, no event): 204 with no body."""

    def __init__(self, flow: SendFlow) -> None:
        self.flow = flow

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        if not await self.flow.run(req, None):
            req.scope[DROP_SCOPE_KEY] = True
        resp.status = 204


def add_api_routes(app: falcon.asgi.App, state: MockState) -> None:
    """Mount the Moveworks API resources on `app`."""
    flow = SendFlow(state)
    app.add_route("/oauth/v1/token", TokenResource(state))
    app.add_route("/rest/v1/auth/test", AuthTestResource(state))
    app.add_route("/rest/v1/events/{event_id}/messages/send", EventSendResource(flow))
    app.add_route("/rest/v1/messages/send", LegacySendResource(flow))
