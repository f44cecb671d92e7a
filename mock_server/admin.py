"""The mock's own inspection and control endpoints under `/_mock/` (not part of the Moveworks API).

They need no token, are never rate limited and are not counted in stats::

    GET    /_mock/health               -> {"status": "ok"}
    GET    /_mock/messages             -> {"messages": [...]}      accepted sends, arrival order
    GET    /_mock/stats                -> {...}                    see MockState.stats
    GET    /_mock/requests?limit=N     -> {"requests": [...]}      last N API requests, no bodies/headers
    POST   /_mock/reset                -> {"status": "reset"}
    GET    /_mock/faults               -> {"faults": {...}}        active fault spec
    POST   /_mock/faults   {partial}   -> {"faults": {...}}        400 BAD_REQUEST listing bad fields
    DELETE /_mock/faults               -> {"faults": {...}}        all faults off
    POST   /_mock/revoke-tokens {"client_id"?} -> {"revoked": n}
"""

from __future__ import annotations

import falcon
import falcon.asgi

from .api import read_body
from .contract import INCORRECT_DATA_TYPE, bad_request, parse_json
from .state import MockState


async def read_json_object(req: falcon.asgi.Request) -> dict:
    """The body as a JSON object; an empty body is `{}`. Raises 400 `BAD_REQUEST`."""
    raw = await read_body(req)
    doc = parse_json(raw) if raw.strip() else {}
    if not isinstance(doc, dict):
        raise bad_request(f"{INCORRECT_DATA_TYPE}: the body must be a JSON object")
    return doc


class Health:
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.media = {"status": "ok"}


class Messages:
    def __init__(self, state: MockState) -> None:
        self.state = state

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.media = {"messages": self.state.messages()}


class Stats:
    def __init__(self, state: MockState) -> None:
        self.state = state

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.media = self.state.stats()


class Requests:
    def __init__(self, state: MockState) -> None:
        self.state = state

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        limit_text = req.get_param("limit")
        limit = None
        if limit_text is not None:
            if not limit_text.isdigit():
                raise bad_request(f"limit must be an integer >= 0, got {limit_text[:40]!r}")
            limit = int(limit_text)
        resp.media = {"requests": self.state.request_log(limit)}


class Reset:
    def __init__(self, state: MockState) -> None:
        self.state = state

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        self.state.reset()
        resp.media = {"status": "reset"}


class Faults:
    def __init__(self, state: MockState) -> None:
        self.state = state

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


class RevokeTokens:
    def __init__(self, state: MockState) -> None:
        self.state = state

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        client_id = (await read_json_object(req)).get("client_id")
        if client_id is not None and not isinstance(client_id, str):
            raise bad_request(f"{INCORRECT_DATA_TYPE}: client_id must be a string")
        resp.media = {"revoked": self.state.revoke_tokens(client_id)}


def add_admin_routes(app: falcon.asgi.App, state: MockState) -> None:
    """Mount the `/_mock/` endpoints on `app`."""
    app.add_route("/_mock/health", Health())
    app.add_route("/_mock/messages", Messages(state))
    app.add_route("/_mock/stats", Stats(state))
    app.add_route("/_mock/requests", Requests(state))
    app.add_route("/_mock/reset", Reset(state))
    app.add_route("/_mock/faults", Faults(state))
    app.add_route("/_mock/revoke-tokens", RevokeTokens(state))
