"""Proxy mode (`--proxy-to URL`): API requests go to a real tenant, checked against the contract both ways.

Each API request the gateway admits (the mock's rate limit still protects the tenant) is:

1. checked as the mock would check it (shared contract): endpoint and method known, `Bearer ` prefix,
   event id a UUID, token and send bodies well-formed (types, sizes, e-mail syntax). A request that fails
   is answered here with the contract's error and **never forwarded** (`proxy.refused`);
2. forwarded (hop-by-hop headers dropped, 30 s timeout, no redirects). An unreachable tenant is 502
   `BAD_GATEWAY`, naming the error class only;
3. its answer checked: a status the contract documents for the endpoint, the error envelope
   `{"error": {"code", "message"}}`, the token shape (plain or wrapped), `{"data": {"status": ...}}` for a
   send. A mismatch is passed through unchanged, flagged in `X-Mock-Contract-Violation` and counted
   (`proxy.violations`, the last 20 in `proxy.recent_violations`);
4. accounted: accepted sends appear in `/_mock/messages` (token id `proxied`) and the verification counts;
   with `record_to`, interactions with no violation are written to a cassette (`cassettes.CassetteRecorder`,
   the recorded tests' format and scrubbing).

Faults and scenario rules do not apply in proxy mode. This module owns the forwarding client (requests).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import requests

from .api import BODY_SCOPE_KEY, SEND_SCOPE_KEY
from .cassettes import CassetteRecorder
from .contract import (
    MAX_BODY_BYTES,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    PAYLOAD_TOO_LARGE,
    TOKEN_VALIDATION_FAILED,
    UNAUTHENTICATED,
    ApiError,
    bad_request,
    check_event_id,
    check_send_payload,
    error_body,
    parse_json,  # fmt: skip
)
from .oauth import JSON, client_credentials, media_type, parse_token_request
from .state import MockState

FORWARD_TIMEOUT_S = 30.0
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
              "transfer-encoding", "upgrade", "host", "content-length", "content-encoding", "accept-encoding"}
DOCUMENTED = {"token": {200, 400, 401, 429, 500}, "auth_test": {200, 401, 429},
              "event_send": {200, 400, 401, 403, 404, 429}, "legacy_send": {200, 204, 400, 401, 403, 429}}
"""Statuses the contract documents per endpoint (shared contract: token, auth test, send sections)."""
ROUTES = {"/oauth/v1/token": ("token", "POST"), "/rest/v1/auth/test": ("auth_test", "GET"),
          "/rest/v1/messages/send": ("legacy_send", "POST")}
EVENT_PREFIX, EVENT_SUFFIX = "/rest/v1/events/", "/messages/send"


def endpoint_of(path: str) -> tuple[str, str, str | None] | None:
    """`(endpoint, method, event_id)` for a contract path, None for any other."""
    if path in ROUTES:
        return (*ROUTES[path], None)
    middle = path[len(EVENT_PREFIX) : -len(EVENT_SUFFIX)]
    if path.startswith(EVENT_PREFIX) and path.endswith(EVENT_SUFFIX) and middle and "/" not in middle:
        return ("event_send", "POST", middle)
    return None


def check_request(method: str, path: str, headers: dict[str, str], raw: bytes, allow_basic: bool) -> Any:
    """Check one request against the contract before forwarding; returns the send payload (sends), or
    None. Raises `ApiError` with the answer the mock itself would give."""
    found = endpoint_of(path)
    if found is None:
        raise ApiError(404, NOT_FOUND, f"No such endpoint: {method} {path[:200]} (not forwarded)")
    endpoint, allowed, event_id = found
    if method != allowed:
        raise ApiError(405, METHOD_NOT_ALLOWED, f"{method} is not allowed here (allowed: {allowed})",
                       {"Allow": allowed})
    if endpoint == "token":
        fields = parse_token_request(headers.get("content-type"), raw, "both")
        client_credentials(fields, headers.get("authorization"), allow_basic)
        return None
    if not headers.get("authorization", "").startswith("Bearer "):
        raise ApiError(401, UNAUTHENTICATED, TOKEN_VALIDATION_FAILED)
    if endpoint == "auth_test":
        return None
    if event_id is not None:
        check_event_id(event_id, None)
    if media_type(headers.get("content-type")) != JSON:
        raise bad_request(f"Content-Type must be {JSON}")
    return check_send_payload(parse_json(raw), None)


def response_violations(endpoint: str, status: int, body: bytes) -> list[str]:
    """What in a tenant's answer the contract does not allow ([] when it conforms)."""
    problems = [] if status in DOCUMENTED[endpoint] else [f"status {status} is not documented for {endpoint}"]
    if status == 204:
        return problems
    try:
        doc = json.loads(body)
    except ValueError:
        return [*problems, "the body is not JSON"]
    if status >= 400:
        error = doc.get("error") if isinstance(doc, dict) else None
        fields = (error.get("code"), error.get("message")) if isinstance(error, dict) else (None, None)
        if not all(isinstance(field, str) for field in fields):
            flat = isinstance(doc, dict) and "code" in doc
            problems.append("a flat error body {code, message}" if flat else "no {error: {code, message}} envelope")
    elif endpoint == "token":
        token = doc.get("data", doc) if isinstance(doc, dict) else None
        expires_in = token.get("expires_in") if isinstance(token, dict) else None
        numeric = isinstance(expires_in, (int, float)) and not isinstance(expires_in, bool)
        if not (isinstance(token, dict) and isinstance(token.get("access_token"), str) and numeric):
            problems.append("no access_token with a numeric expires_in (plain or in data)")
    elif not (isinstance(doc, dict) and isinstance(doc.get("data"), dict) and "status" in doc["data"]):
        problems.append('no {"data": {"status": ...}}')
    return problems


class Proxy:
    """The proxy-mode handler the gateway calls for admitted API requests: `await proxy(scope, receive, send)`."""

    def __init__(self, state: MockState) -> None:
        self.state = state
        self.base_url = state.settings.proxy_to
        self.session = requests.Session()
        self.recorder = CassetteRecorder(state.settings.record_to) if state.settings.record_to else None

    async def __call__(self, scope: MutableMapping[str, Any], receive: Callable[[], Awaitable[dict]],
                       send: Callable[[dict], Awaitable[None]]) -> None:
        raw = await _read_body(receive)
        scope[BODY_SCOPE_KEY] = raw
        method, path = scope["method"], scope["path"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", ())}
        try:
            if raw is None:
                raise ApiError(413, PAYLOAD_TOO_LARGE, f"Request body exceeds {MAX_BODY_BYTES} bytes")
            payload = check_request(method, path, headers, raw, self.state.settings.allow_basic_auth)
        except ApiError as exc:
            self.state.count_proxy("refused")
            await _answer(send, exc.status, json.dumps(exc.body()).encode(), {"content-type": JSON, **exc.headers})
            return
        query = scope.get("query_string", b"").decode("latin-1")
        url = self.base_url + path + (f"?{query}" if query else "")
        forwarded = {k: v for k, v in headers.items() if k not in HOP_BY_HOP}
        try:
            answer = await asyncio.to_thread(self._forward, method, url, forwarded, raw)
        except requests.RequestException as exc:
            self.state.count_proxy("unreachable")
            body = error_body("BAD_GATEWAY", f"the proxied API did not answer ({type(exc).__name__})")
            await _answer(send, 502, json.dumps(body).encode(), {"content-type": JSON})
            return
        await self._relay(scope, send, payload, url, forwarded, raw, answer)

    def _forward(self, method: str, url: str, headers: dict[str, str], raw: bytes) -> requests.Response:
        return self.session.request(method, url, headers=headers, data=raw or None, timeout=FORWARD_TIMEOUT_S,
                                    allow_redirects=False)

    async def _relay(self, scope: MutableMapping[str, Any], send: Callable[[dict], Awaitable[None]], payload: Any,
                     url: str, forwarded: dict[str, str], raw: bytes, answer: requests.Response) -> None:
        endpoint, _, event_id = endpoint_of(scope["path"])  # type: ignore[misc]
        event = check_event_id(event_id, None) if event_id else None
        problems = response_violations(endpoint, answer.status_code, answer.content)
        self.state.count_proxy("forwarded", problems)
        if payload is not None:
            scope[SEND_SCOPE_KEY] = (event, payload.recipients)
            if 200 <= answer.status_code < 300:
                self.state.record_message(scope["path"], event, payload, "proxied", raw)
        out = {k.lower(): v for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP}
        if problems:
            out["x-mock-contract-violation"] = "; ".join(problems)[:500]
        elif self.recorder is not None:
            self.recorder.add(scope["method"], url, forwarded, raw, answer.status_code, answer.reason or "",
                              {k: v for k, v in out.items() if k != "set-cookie"}, answer.content)
        await _answer(send, answer.status_code, answer.content, out)


async def _read_body(receive: Callable[[], Awaitable[dict]]) -> bytes | None:
    """The whole body, or None once it exceeds 1 MiB (the rest is read and discarded)."""
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        size += len(message.get("body", b""))
        if size <= MAX_BODY_BYTES:
            chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks) if size <= MAX_BODY_BYTES else None


async def _answer(send: Callable[[dict], Awaitable[None]], status: int, body: bytes, headers: dict[str, str]) -> None:
    body = b"" if status in (204, 304) else body
    pairs = [(k.encode("latin-1"), str(v).encode("latin-1")) for k, v in headers.items()]
    pairs.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": pairs})
    await send({"type": "http.response.body", "body": body, "more_body": False})
