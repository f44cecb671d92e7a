"""Falcon ASGI resources for the Moveworks API twin: token, auth test, event send, deprecated send.

Paths and shapes from the shared contract (Moveworks Events API reference, restated)::

    POST /oauth/v1/token                          -> 200 token (plain or wrapped)
    GET  /rest/v1/auth/test                       -> 200 {"data": {"status": "OK"}} | 401
    POST /rest/v1/events/{event_id}/messages/send -> 200 {"data": {"status": "RECEIVED"}}
    POST /rest/v1/messages/send  (deprecated)     -> 204, no body

Order for a send: injected latency, send faults (drop / 5xx), bearer token (401), event id (400/404),
body (413, JSON 400), field types, size limits, e-mail syntax, allow-list, scenario rules; then the message
is recorded, and the after-accept faults (lost reply, accept-then-5xx) apply. Rate limiting,
413-by-Content-Length and accounting happen before, in `gateway`. Responders talk to the gateway through
scope keys: drop the connection, drip the reply, and what the request log may show of the send.
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
    code_for,
    parse_json,
)
from .oauth import JSON, client_credentials, media_type, parse_token_request, token_response
from .scenario import Respond
from .state import MockState
from .tokens import TokenRecord

DROP_SCOPE_KEY = "mwsync.mock.drop"
"""Set to True in the ASGI scope by a responder that wants the connection closed without an answer."""
DRIP_SCOPE_KEY = "mwsync.mock.drip_s"
"""Seconds between the reply's body bytes (the slow-drip fault); absent or 0 = written at once."""
SEND_SCOPE_KEY = "mwsync.mock.send"
"""`(event_id, recipients)` of a send, for the request log's filters (recipients () until the body parsed)."""
BODY_SCOPE_KEY = "mwsync.mock.body"
"""The request body as read (bytes), for `--log-bodies` and the echo fault."""
CLOSE_SCOPE_KEY = "mwsync.mock.close"
"""True when the body was not read to its end (over the drain cap): the answer closes the connection."""
MAX_DRAIN_BYTES = 16 << 20
"""An oversized body is read and discarded up to this many bytes before the 413, so closing the connection
after the answer never resets it under a client still sending (a reset can destroy the 413 in flight)."""


async def pause(delay_s: float) -> None:
    """Sleep at least `delay_s` seconds without blocking other requests.

    uvloop's timers have millisecond granularity and start from a cached loop time, so a bare
    `asyncio.sleep` can end up to ~1 ms early; injected latency is a lower bound tests rely on.
    """
    deadline_s = time.perf_counter() + delay_s
    while (remaining_s := deadline_s - time.perf_counter()) > 0:
        await asyncio.sleep(remaining_s)


async def read_body(req: falcon.asgi.Request) -> bytes:
    """The whole request body; 413 `PAYLOAD_TOO_LARGE` beyond 1 MiB (also for chunked bodies, which are
    then read on, up to `MAX_DRAIN_BYTES`, and discarded)."""
    too_large = ApiError(413, PAYLOAD_TOO_LARGE, f"Request body exceeds {MAX_BODY_BYTES} bytes")
    if (req.content_length or 0) > MAX_BODY_BYTES:
        raise too_large
    chunks, size = [], 0
    async for chunk in req.stream:
        size += len(chunk)
        if size > MAX_DRAIN_BYTES:
            req.scope[CLOSE_SCOPE_KEY] = True
            raise too_large
        if size <= MAX_BODY_BYTES:
            chunks.append(chunk)
    if size > MAX_BODY_BYTES:
        raise too_large
    raw = b"".join(chunks)
    req.scope[BODY_SCOPE_KEY] = raw
    return raw


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


def injected(status: int) -> ApiError:
    """The error answer of an injected 5xx/403 (the same text whether or not the request was accepted)."""
    return ApiError(status, STATUS_CODES[status], f"Upstream error {status} (injected fault)")


async def apply_rule(rule: Respond | None) -> tuple[str, int] | None:
    """Carry out a scenario rule's `respond` up to the point of accepting: latency, then an error answer
    (raised as `ApiError`); returns the after-accept part (`("drop"|"lose", 0)`, `("fail", 5xx)`) or None."""
    if rule is None:
        return None
    if rule.latency_ms:
        await pause(rule.latency_ms / 1000.0)
    if rule.status:
        headers = {"Retry-After": str(rule.retry_after_s)} if rule.retry_after_s else None
        message = rule.message or f"{code_for(rule.status)} (scenario rule)"
        raise ApiError(rule.status, rule.code or code_for(rule.status), message, headers)
    if rule.redirect_to:
        raise ApiError(rule.redirect_status, "REDIRECT", f"moved to {rule.redirect_to} (scenario rule)",
                       {"Location": rule.redirect_to})
    if rule.drop:
        return ("drop", 0)
    if rule.lose_reply:
        return ("lose", 0)
    return ("fail", rule.accept_status) if rule.accept_status else None


class TokenResource:
    """`POST /oauth/v1/token`: OAuth 2.0 client-credentials grant (no refresh token)."""

    def __init__(self, state: MockState) -> None:
        self.state = state

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        state, settings = self.state, self.state.settings
        with state.lock:
            delay_s = state.faults.extra_latency_s("token")
            failure = state.faults.token_failure()
            req.scope[DRIP_SCOPE_KEY] = state.faults.drip_interval_s("token")
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
            rule = state.faults.scenario_action("token", None)
        after = await apply_rule(rule)
        if after and after[0] == "drop":
            req.scope[DROP_SCOPE_KEY] = True
            return
        with state.lock:
            token, _ = state.tokens.issue(client_id)
            token = state.faults.access_token_override() or token
            omit, raw_expires_in = state.faults.expires_in_override()
        if after:
            _after_accept(req, after)
        resp.data = token_response(token, settings.token_ttl_s, settings.token_response, raw_expires_in, omit)
        resp.content_type = JSON
        resp.set_header("Cache-Control", "no-store")
        resp.set_header("Pragma", "no-cache")


def _after_accept(req: falcon.asgi.Request, after: tuple[str, int]) -> None:
    """Lose the reply (drop the connection) or raise the 5xx of an accept-then-fail fault."""
    if after[0] in ("drop", "lose"):
        req.scope[DROP_SCOPE_KEY] = True
    else:
        raise injected(after[1])


class AuthTestResource:
    """`GET /rest/v1/auth/test`: 200 while the bearer token is valid, 401 otherwise (HEAD: the same, no body)."""

    def __init__(self, state: MockState) -> None:
        self.state = state

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        bearer(req, self.state)
        with self.state.lock:
            rule = self.state.faults.scenario_action("auth_test", None)
        after = await apply_rule(rule)
        if after:
            _after_accept(req, after)
        resp.media = {"data": {"status": "OK"}}

    on_head = on_get


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
            req.scope[DRIP_SCOPE_KEY] = state.faults.drip_interval_s("send")
        if delay_s:
            await pause(delay_s)
        if action and action[0] == "drop":
            return False
        if action:
            raise injected(action[1])
        token = bearer(req, state)
        event = check_event_id(event_id, settings.events) if event_id is not None else None
        req.scope[SEND_SCOPE_KEY] = (event, ())
        raw = await read_body(req)
        if media_type(req.content_type) != JSON:
            raise bad_request(f"Content-Type must be {JSON}, got {media_type(req.content_type) or 'none'!r}")
        payload = check_send_payload(parse_json(raw), settings.users)
        req.scope[SEND_SCOPE_KEY] = (event, payload.recipients)
        with state.lock:
            rule = state.faults.scenario_action("send", event, payload.recipients)
        after = await apply_rule(rule)
        if after and after[0] == "drop":
            return False
        state.record_message(req.path, event, payload, token, raw)
        with state.lock:
            after = after or state.faults.after_accept()
        if after and after[0] == "lose":
            return False
        if after:
            raise injected(after[1])
        return True


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


API_ROUTES = (
    ("/oauth/v1/token", "token", TokenResource),
    ("/rest/v1/auth/test", "auth_test", AuthTestResource),
    ("/rest/v1/events/{event_id}/messages/send", "event_send", EventSendResource),
    ("/rest/v1/messages/send", "legacy_send", LegacySendResource),
)
"""The Moveworks routes the mock serves: (path template, operation name, resource); `openapi` reads it."""


def add_api_routes(app: falcon.asgi.App, state: MockState) -> None:
    """Mount the Moveworks API resources on `app`."""
    flow = SendFlow(state)
    for path, _, resource in API_ROUTES:
        app.add_route(path, resource(flow) if resource in (EventSendResource, LegacySendResource) else resource(state))
