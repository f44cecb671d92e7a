"""The Falcon resource for webhook listeners: `POST /webhooks/v1/listeners/{listener_id}/notify` (listener
reference, "The call"; rules and signatures in `listeners`).

Order for a notify: injected latency, then the send faults (a dropped connection, or a 5xx; nothing
recorded), the listener (404, empty body, for an unknown id), the bearer token (401, bearer listeners),
the body (413 over 1 MiB at the gateway, over 1,000,000 bytes here), the signature (401, hmac listeners),
`Content-Type: application/json` and a JSON object (400); then the event is recorded and the after-accept
faults (a lost reply, accept-then-5xx) apply; otherwise 200 `{"message": "Event received successfully",
"status": "RECEIVED"}`. The org-wide listener rate limit (429) is the gateway's. Scenario rules apply to
Events API requests only.
"""

from __future__ import annotations

import time

import falcon
import falcon.asgi

from .api import DRIP_SCOPE_KEY, DROP_SCOPE_KEY, bearer, injected, pause, read_body
from .contract import INCORRECT_DATA_TYPE, PAYLOAD_TOO_LARGE, UNAUTHENTICATED, ApiError, bad_request, parse_json
from .listeners import ACK, MAX_LISTENER_BODY_BYTES, ListenerConfig, signature_problem
from .oauth import JSON, media_type
from .state import MockState


class ListenerNotifyResource:
    """`POST /webhooks/v1/listeners/{listener_id}/notify`: 200 on receipt (see the module docstring)."""

    def __init__(self, state: MockState) -> None:
        self.state = state

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response, listener_id: str) -> None:
        state = self.state
        with state.lock:
            delay_s = state.settings.latency_ms / 1000.0 + state.faults.extra_latency_s("send")
            action = state.faults.send_action()
            req.scope[DRIP_SCOPE_KEY] = state.faults.drip_interval_s("send")
        if delay_s:
            await pause(delay_s)
        if action and action[0] == "drop":
            req.scope[DROP_SCOPE_KEY] = True
            return
        if action:
            raise injected(action[1])
        config = state.listener(req.path)
        if config is None:  # Moveworks answers an unknown listener with 404 and no body
            resp.status = 404
            resp.data = b""
            return
        token_id = bearer(req, state).token_id if config.mode == "bearer" else None
        raw = await read_body(req)
        if len(raw) > MAX_LISTENER_BODY_BYTES:
            raise ApiError(413, PAYLOAD_TOO_LARGE, f"Listener body of {len(raw)} bytes exceeds 1 MB "
                                                   f"({MAX_LISTENER_BODY_BYTES} bytes)")
        doc = _checked_body(config, req, raw)
        state.record_event(config.listener_id, doc, raw, config.mode, token_id)
        with state.lock:
            after = state.faults.after_accept()
        if after and after[0] == "lose":
            req.scope[DROP_SCOPE_KEY] = True
            return
        if after:
            raise injected(after[1])
        resp.media = dict(ACK)


def _checked_body(config: ListenerConfig, req: falcon.asgi.Request, raw: bytes) -> dict:
    """The parsed body once the signature (hmac listeners) verifies: 401, or 400 for a body that is not a
    JSON object sent as `application/json`."""
    if config.mode == "hmac":
        why = signature_problem(config, req.get_header, raw, time.time())
        if why:
            raise ApiError(401, UNAUTHENTICATED, f"Signature verification failed: {why}")
    if media_type(req.content_type) != JSON:
        raise bad_request(f"Content-Type must be {JSON}, got {media_type(req.content_type) or 'none'!r}")
    doc = parse_json(raw)
    if not isinstance(doc, dict):
        raise bad_request(f"{INCORRECT_DATA_TYPE}: the body must be a JSON object")
    return doc


LISTENER_ROUTES = (
    ("/webhooks/v1/listeners/{listener_id}/notify", "listener_notify", ListenerNotifyResource),
)
"""The listener routes the mock serves: (path template, operation name, resource); `openapi` reads it."""


def add_listener_routes(app: falcon.asgi.App, state: MockState) -> None:
    """Mount the webhook-listener resource on `app`."""
    for path, _, resource in LISTENER_ROUTES:
        app.add_route(path, resource(state))
