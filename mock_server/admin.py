"""The mock's own inspection and control endpoints under `/_mock/` (not part of the Moveworks API).

They need no token, are never rate limited and are not counted in stats; GET ones answer HEAD too::

    GET    /_mock/health                        -> {"status": "ok"}
    GET    /_mock/messages?limit=&after=        -> {"messages": [...], "next_after", "total", "kept"}
    GET    /_mock/stats                         -> {...}                    see MockState.stats
    GET    /_mock/requests?limit=&path=&method=&status=&event_id=&recipient=   -> {"requests": [...]}
    GET    /_mock/verify?path=&method=&status=&event_id=&recipient=            -> {"messages", "requests", ...}
    POST   /_mock/reset                         -> {"status": "reset"}
    GET    /_mock/faults                        -> {"faults": {...}}        active fault spec
    POST   /_mock/faults   {partial}            -> {"faults": {...}}        400 BAD_REQUEST listing bad fields
    DELETE /_mock/faults                        -> {"faults": {...}}        all faults off
    POST   /_mock/revoke-tokens {"client_id"?}  -> {"revoked": n}
    GET    /openapi.json                        -> the OpenAPI 3.1 document of all of the above (`openapi`)

`/_mock/messages` pages: at most `limit` (default 1000, at most 10000) messages with `seq > after`;
`next_after` is the `after` of the next page, or null at the newest. Decoding a page runs in a worker
thread (decoded and JSON-encoded there), so a large read never holds the event loop: sends keep being served.
"""

from __future__ import annotations

import asyncio
import json

import falcon
import falcon.asgi

from .api import read_body
from .contract import INCORRECT_DATA_TYPE, bad_request, parse_json
from .state import MockState

DEFAULT_PAGE = 1000
MAX_PAGE = 10_000


async def read_json_object(req: falcon.asgi.Request) -> dict:
    """The body as a JSON object; an empty body is `{}`. Raises 400 `BAD_REQUEST`."""
    raw = await read_body(req)
    doc = parse_json(raw) if raw.strip() else {}
    if not isinstance(doc, dict):
        raise bad_request(f"{INCORRECT_DATA_TYPE}: the body must be a JSON object")
    return doc


def int_param(req: falcon.asgi.Request, name: str, default: int | None = None, high: int | None = None) -> int | None:
    """Query parameter `name` as a whole number >= 0 (at most `high`); 400 `BAD_REQUEST` naming it otherwise."""
    text = req.get_param(name)
    if text is None:
        return default
    if not (text.isascii() and text.isdigit()) or (high is not None and int(text) > high):
        bound = f"0..{high}" if high is not None else ">= 0"
        raise bad_request(f"{name} must be a whole number {bound}, got {text[:40]!r}")
    return int(text)


def log_filters(req: falcon.asgi.Request) -> dict:
    """The request-log filters of a query string (`requestlog.matches`); unknown parameters are refused."""
    known = {"limit", "path", "method", "status", "event_id", "recipient"}
    unknown = sorted(set(req.params) - known)
    if unknown:
        raise bad_request(f"unknown query parameter(s) {', '.join(unknown)} (valid: {', '.join(sorted(known))})")
    return {"path": req.get_param("path"), "method": req.get_param("method"),
            "status": int_param(req, "status", high=599), "event_id": req.get_param("event_id"),
            "recipient": req.get_param("recipient")}  # fmt: skip


class Resource:
    """A `/_mock/` resource: the state, and HEAD wherever GET is."""

    def __init__(self, state: MockState) -> None:
        self.state = state

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "on_get" in cls.__dict__:
            cls.on_head = cls.on_get  # type: ignore[attr-defined]


class Health(Resource):
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.media = {"status": "ok"}


class Messages(Resource):
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        limit = int_param(req, "limit", DEFAULT_PAGE, MAX_PAGE)
        after = int_param(req, "after", 0)
        resp.data = await asyncio.to_thread(self._page_json, after, limit)
        resp.content_type = "application/json"

    def _page_json(self, after: int, limit: int | None) -> bytes:
        """One page as JSON bytes, built in a worker thread: the event loop only waits, it never encodes."""
        page, next_after = self.state.messages_page(after, limit)
        total, kept = self.state.message_totals()
        doc = {"messages": page, "next_after": next_after, "total": total, "kept": kept}
        return json.dumps(doc, ensure_ascii=False).encode("utf-8")


class Stats(Resource):
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.media = self.state.stats()


class Requests(Resource):
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        filters = log_filters(req)
        resp.media = {"requests": self.state.request_log(int_param(req, "limit"), **filters)}


class Verify(Resource):
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        if req.get_param("limit") is not None:
            raise bad_request("limit does not apply to /_mock/verify (it counts every match)")
        resp.media = self.state.verify(**log_filters(req))


class Reset(Resource):
    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        self.state.reset()
        resp.media = {"status": "reset"}


class Faults(Resource):
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.media = {"faults": self.state.fault_spec()}

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        changes = await read_json_object(req)
        try:
            resp.media = {"faults": self.state.inject(changes)}
        except ValueError as exc:
            raise bad_request(f"invalid fault spec: {exc}") from None

    async def on_delete(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.media = {"faults": self.state.clear_faults()}


class RevokeTokens(Resource):
    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        doc = await read_json_object(req)
        unknown = sorted(set(doc) - {"client_id"})
        if unknown:
            raise bad_request(f"unknown field(s) {', '.join(unknown)[:200]} (valid: client_id)")
        client_id = doc.get("client_id")
        if client_id is not None and not isinstance(client_id, str):
            raise bad_request(f"{INCORRECT_DATA_TYPE}: client_id must be a string")
        resp.media = {"revoked": self.state.revoke_tokens(client_id)}


class OpenApi(Resource):
    """`GET /openapi.json`: the document `openapi.build_document` generates (built once per server)."""

    def __init__(self, state: MockState) -> None:
        super().__init__(state)
        self._data: bytes | None = None

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        if self._data is None:
            from .openapi import document_bytes

            self._data = document_bytes()
        resp.data = self._data
        resp.content_type = "application/json"


ADMIN_ROUTES = (
    ("/_mock/health", "health", Health), ("/_mock/messages", "messages", Messages),
    ("/_mock/stats", "stats", Stats), ("/_mock/requests", "requests", Requests), ("/_mock/verify", "verify", Verify),
    ("/_mock/reset", "reset", Reset), ("/_mock/faults", "faults", Faults),
    ("/_mock/revoke-tokens", "revoke_tokens", RevokeTokens), ("/openapi.json", "openapi", OpenApi),
)  # fmt: skip
"""The mock's own routes: (path, operation name, resource class); `openapi` reads it."""


def add_admin_routes(app: falcon.asgi.App, state: MockState) -> None:
    """Mount the `/_mock/` endpoints (and `/openapi.json`) on `app`."""
    for path, _, resource in ADMIN_ROUTES:
        app.add_route(path, resource(state))
