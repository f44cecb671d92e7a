"""Assemble the ASGI application: Falcon routes + error handlers, wrapped by the gateway.

Every error leaves as `{"error": {"code", "message"}}` (shared contract, "Errors"): `ApiError` as raised,
Falcon's own HTTP errors (unknown path 404, wrong method 405, malformed header 400) mapped to a stable
code, and anything unexpected as 500 `INTERNAL_SERVER_ERROR` with the traceback logged server-side only
(never in a response).
"""

from __future__ import annotations

import logging

import falcon
import falcon.asgi

from .admin import add_admin_routes
from .api import add_api_routes
from .contract import (
    BAD_REQUEST,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    PAYLOAD_TOO_LARGE,
    ApiError,
    error_body,
)
from .gateway import Gateway
from .state import MockState

logger = logging.getLogger("mwsync.mock_server")

HTTP_ERROR_CODES = {400: BAD_REQUEST, 404: NOT_FOUND, 405: METHOD_NOT_ALLOWED, 413: PAYLOAD_TOO_LARGE}


async def _on_api_error(req: falcon.asgi.Request, resp: falcon.asgi.Response, ex: ApiError, params: dict) -> None:
    resp.status = ex.status
    resp.media = ex.body()
    for name, value in ex.headers.items():
        resp.set_header(name, value)


async def _on_http_error(
    req: falcon.asgi.Request, resp: falcon.asgi.Response, ex: falcon.HTTPError, params: dict
) -> None:
    status = ex.status_code
    code = HTTP_ERROR_CODES.get(status, f"HTTP_{status}")
    message = ex.description or ex.title or "HTTP error"
    if status == 404:
        message = f"No such endpoint: {req.method} {req.path[:200]}"
    resp.status = status
    resp.media = error_body(code, message)
    for name, value in (ex.headers or {}).items():
        resp.set_header(name, value)


async def _on_unexpected(req: falcon.asgi.Request, resp: falcon.asgi.Response, ex: Exception, params: dict) -> None:
    logger.error("unexpected error handling %s %s", req.method, req.path, exc_info=ex)
    resp.status = 500
    resp.media = error_body("INTERNAL_SERVER_ERROR", "Unexpected error in the mock server")


def create_app(state: MockState) -> Gateway:
    """The complete ASGI app serving `state` (API routes, `/_mock/` routes, error handlers, gateway)."""
    app = falcon.asgi.App()
    add_api_routes(app, state)
    add_admin_routes(app, state)
    app.add_error_handler(Exception, _on_unexpected)
    app.add_error_handler(falcon.HTTPError, _on_http_error)
    app.add_error_handler(ApiError, _on_api_error)
    return Gateway(app, state)
