"""Assemble the ASGI application: Falcon routes + error handlers, wrapped by the gateway.

Every error leaves as `{"error": {"code", "message"}}` (shared contract, "Errors"): `ApiError` as raised,
Falcon's own HTTP errors (unknown path 404, wrong method 405, malformed header 400) mapped to a stable
code, and anything unexpected as 500 `INTERNAL_SERVER_ERROR` with the traceback logged server-side only
(never in a response). `OPTIONS` is a wrong method like any other (405 with `Allow`); `HEAD` is served
wherever `GET` is (RFC 9110 §9.3.2).

The echo fault (`echo_request_in_errors`) is the one place a secret may leave: it simulates a hostile or
careless server quoting the request's body and Authorization header in API error messages, so tests can
prove a client never passes such a message on.
"""

from __future__ import annotations

import logging

import falcon
import falcon.asgi

from .admin import add_admin_routes
from .api import BODY_SCOPE_KEY, add_api_routes
from .contract import (
    BAD_REQUEST,
    MAX_BODY_BYTES,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    PAYLOAD_TOO_LARGE,
    ApiError,
    error_body,
)
from .gateway import Gateway, is_admin_path
from .state import MockState

logger = logging.getLogger("mwsync.mock_server")

HTTP_ERROR_CODES = {400: BAD_REQUEST, 404: NOT_FOUND, 405: METHOD_NOT_ALLOWED, 413: PAYLOAD_TOO_LARGE}
MAX_ECHO_CHARS = 8192


class RefuseOptions:
    """Falcon middleware: `OPTIONS` gets 405 `METHOD_NOT_ALLOWED` with the resource's `Allow` list."""

    async def process_resource(self, req: falcon.asgi.Request, resp: falcon.asgi.Response, resource: object,
                               params: dict) -> None:
        if req.method == "OPTIONS" and resource is not None:
            allowed = sorted(name[3:].upper() for name in dir(resource) if name.startswith("on_")
                             and name != "on_options" and callable(getattr(resource, name)))
            raise falcon.HTTPMethodNotAllowed(allowed)


class ErrorHandlers:
    """Falcon error handlers that know the state (for the echo fault)."""

    def __init__(self, state: MockState) -> None:
        self.state = state

    async def api_error(self, req: falcon.asgi.Request, resp: falcon.asgi.Response, ex: ApiError, params: dict) -> None:
        resp.status = ex.status
        message = ex.message
        if not is_admin_path(req.path):
            with self.state.lock:
                echo = self.state.faults.echo()
            if echo:
                message += await _echo(req)
        resp.media = error_body(ex.code, message)
        for name, value in ex.headers.items():
            resp.set_header(name, value)

    async def http_error(self, req: falcon.asgi.Request, resp: falcon.asgi.Response, ex: falcon.HTTPError,
                         params: dict) -> None:
        status = ex.status_code
        code = HTTP_ERROR_CODES.get(status, f"HTTP_{status}")
        message = ex.description or ex.title or "HTTP error"
        if status == 404:
            message = f"No such endpoint: {req.method} {req.path[:200]}"
        resp.status = status
        resp.media = error_body(code, message)
        for name, value in (ex.headers or {}).items():
            resp.set_header(name, value)

    async def unexpected(self, req: falcon.asgi.Request, resp: falcon.asgi.Response, ex: Exception,
                         params: dict) -> None:
        logger.error("unexpected error handling %s %s", req.method, req.path, exc_info=ex)
        resp.status = 500
        resp.media = error_body("INTERNAL_SERVER_ERROR", "Unexpected error in the mock server")


async def _echo(req: falcon.asgi.Request) -> str:
    """` [request: Authorization: ...; body: ...]` quoting the request verbatim (secrets included)."""
    raw = req.scope.get(BODY_SCOPE_KEY)
    if raw is None and (req.content_length or 0) <= MAX_BODY_BYTES:
        try:
            raw = await req.stream.read()
        except Exception:  # noqa: BLE001 - a half-read stream: echo what is known
            raw = b""
    body = (raw or b"").decode("utf-8", errors="replace")[:MAX_ECHO_CHARS]
    return f" [request: Authorization: {req.get_header('Authorization') or ''}; body: {body}]"


def create_app(state: MockState) -> Gateway:
    """The complete ASGI app serving `state` (API routes, `/_mock/` routes, error handlers, gateway)."""
    app = falcon.asgi.App(middleware=[RefuseOptions()])
    add_api_routes(app, state)
    add_admin_routes(app, state)
    handlers = ErrorHandlers(state)
    app.add_error_handler(Exception, handlers.unexpected)
    app.add_error_handler(falcon.HTTPError, handlers.http_error)
    app.add_error_handler(ApiError, handlers.api_error)
    proxy = None
    if state.settings.proxy_to:
        from .proxy import Proxy

        proxy = Proxy(state)
    return Gateway(app, state, proxy)
