"""The OpenAPI 3.1 document of what the mock serves (`GET /openapi.json`, committed as
`schema/mock-openapi.json`), generated from the mock's own route tables (`api.API_ROUTES`,
`admin.ADMIN_ROUTES`: paths, and methods from each resource's `on_*` responders), its contract module
(limits, error shape, codes) and the fault spec (`faults.FaultSpec`). Pure; `python -m
mwsync.mock_server.openapi` prints it (`make schema` writes the committed copy).

Tags: `moveworks` for the Events API and webhook-listener endpoints the mock implements (shared contract
files), `mock` for the `/_mock/` inspection and control API, which is the mock's own.
"""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

from .. import __version__ as MWSYNC_VERSION
from .admin import ADMIN_ROUTES, DEFAULT_PAGE, MAX_PAGE
from .api import API_ROUTES
from .contract import MAX_BODY_BYTES, MAX_MESSAGE_CHARS, MAX_RECIPIENTS, STATUS_CODES
from .faults import CHOICES, FLAGS, FaultSpec
from .listener_api import LISTENER_ROUTES
from .listeners import ACK, MAX_LISTENER_BODY_BYTES
from .requestlog import FILTERS

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
ERROR_TEXT = {400: "Bad request", 401: "Unauthenticated", 403: "Forbidden (fault only)", 404: "Not found",
              413: f"Body over {MAX_BODY_BYTES} bytes", 429: "Rate limited",
              **{s: f"{c} (injected fault)" for s, c in STATUS_CODES.items() if s >= 500}}  # fmt: skip
RATE_HEADERS = {name: {"description": text, "schema": {"type": "integer"}} for name, text in (
    ("X-RateLimit-Limit", "Requests allowed per window (absent with --no-rate-limit-headers or --no-rate-limit)"),
    ("X-RateLimit-Remaining", "Slots left after this request"),
    ("X-RateLimit-Reset", "Whole seconds until the window fully resets"))}  # fmt: skip


def _obj(properties: dict[str, Any], required: tuple[str, ...] = (), extra: bool = True) -> dict[str, Any]:
    doc: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        doc["required"] = list(required)
    if not extra:
        doc["additionalProperties"] = False
    return doc


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _token_fields() -> dict[str, Any]:
    return _obj({"client_id": {"type": "string", "minLength": 1}, "client_secret": {"type": "string", "minLength": 1},
                 "grant_type": {"type": "string", "enum": ["client_credentials"]}},
                ("client_id", "client_secret", "grant_type"))  # fmt: skip


def _fault_field(spec_field: Any) -> dict[str, Any]:
    name = spec_field.name
    if name.endswith("_rate"):
        return {"type": "number", "minimum": 0, "maximum": 1}
    if name.endswith("_next"):
        return {"type": "integer", "minimum": 0}
    if name.endswith("_ms"):
        return {"type": "number", "minimum": 0}
    if name in CHOICES:
        return {"enum": list(CHOICES[name])}
    if name in FLAGS:
        return {"type": "boolean"}
    if name == "rules":
        return {"type": "array", "items": {"type": "object"}, "description": "Scenario rules"}
    if name == "token_expires_in_raw":
        return {"type": ["string", "null"], "description": "JSON text written verbatim as expires_in"}
    if name == "token_access_token":
        return {"type": ["string", "null"], "description": "The access_token 200 token answers carry"}
    return {"type": ["integer", "null"], "minimum": 1}  # force_429_retry_after_s


def schemas() -> dict[str, Any]:
    """The `components.schemas` section (limits from `contract`, Moveworks Events API reference)."""
    email = {"type": "string", "format": "email"}
    return {
        "Error": _obj({"error": _obj({"code": {"type": "string"}, "message": {"type": "string"}},
                                     ("code", "message"), extra=False)}, ("error",), extra=False),
        "TokenRequest": _token_fields(),
        "Token": _obj({"access_token": {"type": "string"}, "expires_in": {"type": "number"},
                       "token_type": {"type": "string", "enum": ["Bearer"]}}, ("access_token", "token_type")),
        "TokenResponse": {"oneOf": [_ref("Token"), _obj({"data": _ref("Token")}, ("data",), extra=False)]},
        "SendRequest": _obj({
            "message": {"type": "string", "minLength": 1, "maxLength": MAX_MESSAGE_CHARS},
            "recipients": {"type": "array", "items": email, "minItems": 1, "maxItems": MAX_RECIPIENTS},
            "context": {"type": ["object", "null"], "properties": {"slots": {"type": ["object", "null"]}}},
        }, ("message", "recipients")),  # fmt: skip
        "Status": _obj({"data": _obj({"status": {"type": "string"}}, ("status",))}, ("data",)),
        "FaultSpec": _obj({f.name: _fault_field(f) for f in fields(FaultSpec)}, extra=False),
        "Message": _obj({"seq": {"type": "integer"}, "event_id": {"type": ["string", "null"]},
                         "message": {"type": "string"}, "recipients": {"type": "array", "items": {"type": "string"}},
                         "context": {"type": ["object", "null"]}, "received_at": {"type": "string"},
                         "endpoint": {"type": "string"}, "token_id": {"type": "string"}},
                        ("seq", "event_id", "message", "recipients", "received_at", "endpoint", "token_id")),
        "Object": {"type": "object"},
        "ListenerAck": _obj({"message": {"type": "string", "enum": [ACK["message"]]},
                             "status": {"type": "string", "enum": [ACK["status"]]}}, ("message", "status")),
        "ListenerEvent": _obj({"seq": {"type": "integer"}, "listener_id": {"type": "string"},
                               "body": {"type": "object"}, "received_at": {"type": "string"},
                               "auth": {"enum": ["none", "bearer", "hmac"]}, "token_id": {"type": ["string", "null"]}},
                              ("seq", "listener_id", "body", "received_at", "auth")),
    }  # fmt: skip


def _responses(ok: dict[str, Any], errors: tuple[int, ...], rate_headers: bool = True) -> dict[str, Any]:
    headers = {"headers": RATE_HEADERS} if rate_headers else {}
    out = {str(status): {**body, **headers} for status, body in ok.items()}
    for status in errors:
        out[str(status)] = {"description": ERROR_TEXT.get(status, "Error"), **headers,
                            "content": {JSON: {"schema": _ref("Error")}}}
    return out


def _json_ok(schema: dict[str, Any], text: str = "OK") -> dict[str, Any]:
    return {"description": text, "content": {JSON: {"schema": schema}}}


def _body(schema: dict[str, Any], form: bool = False) -> dict[str, Any]:
    content = {JSON: {"schema": schema}} | ({FORM: {"schema": schema}} if form else {})
    return {"required": True, "content": content}


def _query(name: str, schema: dict[str, Any], text: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": text}


FIVE_XX = tuple(s for s in STATUS_CODES if s >= 500)
SEND_ERRORS = (400, 401, 403, 404, 413, 429, *FIVE_XX)
FILTER_PARAMS = [
    _query("path", {"type": "string"}, "Exact path, or a glob with *"),
    _query("method", {"type": "string"}, "HTTP method"),
    _query("status", {"type": "integer", "minimum": 0, "maximum": 599}, "Status (0 = dropped)"),
    _query("event_id", {"type": "string"}, "Event id"),
    _query("recipient", {"type": "string"}, "A recipient, case-blind"),
    _query("listener_id", {"type": "string"}, "Listener id (notifies)"),
]  # fmt: skip
LISTENER_ERRORS = {
    "401": {"description": "Bad credentials or signature", "content": {JSON: {"schema": _ref("Error")}}},
    "404": {"description": "Unknown listener (no body)"},
    **{str(code): {"description": ERROR_TEXT[code], "content": {JSON: {"schema": _ref("Error")}}}
       for code in (400, 429, *FIVE_XX)},
    "413": {"description": f"Body over {MAX_LISTENER_BODY_BYTES} bytes (1 MB)",
            "content": {JSON: {"schema": _ref("Error")}}},
}  # fmt: skip
OPERATIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("token", "post"): {"summary": "OAuth 2.0 client-credentials token (no refresh token)",
                        "requestBody": _body(_ref("TokenRequest"), form=True),
                        "responses": _responses({200: _json_ok(_ref("TokenResponse"))}, (400, 401, 413, 429, 500))},
    ("auth_test", "get"): {"summary": "Check a bearer token", "security": [{"bearer": []}],
                           "responses": _responses({200: _json_ok(_ref("Status"))}, (400, 401, 429, *FIVE_XX))},
    ("event_send", "post"): {"summary": "Send a message for an event", "security": [{"bearer": []}],
                             "parameters": [{"name": "event_id", "in": "path", "required": True,
                                             "schema": {"type": "string", "format": "uuid"}}],
                             "requestBody": _body(_ref("SendRequest")),
                             "responses": _responses({200: _json_ok(_ref("Status"), "Scheduled")}, SEND_ERRORS)},
    ("legacy_send", "post"): {"summary": "Send a message (deprecated, no event)", "deprecated": True,
                              "security": [{"bearer": []}], "requestBody": _body(_ref("SendRequest")),
                              "responses": _responses({204: {"description": "Scheduled"}}, SEND_ERRORS)},
    ("listener_notify", "post"): {
        "summary": "Notify a webhook listener (Ambient Agents): any JSON object, 200 on receipt",
        "security": [{}, {"bearer": []}, {"hmac": []}],
        "parameters": [{"name": "listener_id", "in": "path", "required": True, "schema": {"type": "string"}}],
        "requestBody": _body({"type": "object"}),
        "responses": {"200": {**_json_ok(_ref("ListenerAck"), "Received"), "headers": RATE_HEADERS},
                      **LISTENER_ERRORS}},
    ("events", "get"): {"parameters": [
        _query("limit", {"type": "integer", "minimum": 0, "maximum": MAX_PAGE}, f"Page size (default {DEFAULT_PAGE})"),
        _query("after", {"type": "integer", "minimum": 0}, "Events with seq > after"),
        _query("listener_id", {"type": "string"}, "Only this listener's events")],
        "responses": _responses({200: _json_ok(_obj({
            "events": {"type": "array", "items": _ref("ListenerEvent")}, "next_after": {"type": ["integer", "null"]},
            "total": {"type": "integer"}, "kept": {"type": "integer"}}, ("events", "next_after", "total", "kept")))},
            (400,), False)},  # fmt: skip
    ("health", "get"): {"responses": _responses({200: _json_ok(_ref("Object"))}, (), False)},
    ("messages", "get"): {"parameters": [
        _query("limit", {"type": "integer", "minimum": 0, "maximum": MAX_PAGE}, f"Page size (default {DEFAULT_PAGE})"),
        _query("after", {"type": "integer", "minimum": 0}, "Messages with seq > after")],
        "responses": _responses({200: _json_ok(_obj({
            "messages": {"type": "array", "items": _ref("Message")}, "next_after": {"type": ["integer", "null"]},
            "total": {"type": "integer"}, "kept": {"type": "integer"}}, ("messages", "next_after", "total", "kept")))},
            (400,), False)},  # fmt: skip
    ("stats", "get"): {"responses": _responses({200: _json_ok(_ref("Object"))}, (), False)},
    ("requests", "get"): {"parameters": [_query("limit", {"type": "integer", "minimum": 0}, "Last N"), *FILTER_PARAMS],
                          "responses": _responses({200: _json_ok(_obj({"requests": {"type": "array"}}, ("requests",)))},
                                                  (400,), False)},
    ("verify", "get"): {"parameters": FILTER_PARAMS, "responses": _responses({200: _json_ok(_obj({
        "messages": {"type": "integer"}, "events": {"type": "integer"}, "requests": {"type": "integer"},
        "requests_complete": {"type": "boolean"}, "match": {"type": "object"}},
        ("messages", "events", "requests", "requests_complete", "match")))}, (400,), False)},
    ("reset", "post"): {"responses": _responses({200: _json_ok(_ref("Object"))}, (), False)},
    ("faults", "get"): {"responses": _responses({200: _json_ok(_obj({"faults": _ref("FaultSpec")}))}, (), False)},
    ("faults", "post"): {"requestBody": {**_body(_ref("FaultSpec")), "required": False},
                         "responses": _responses({200: _json_ok(_obj({"faults": _ref("FaultSpec")}))}, (400,), False)},
    ("faults", "delete"): {"responses": _responses({200: _json_ok(_obj({"faults": _ref("FaultSpec")}))}, (), False)},
    ("revoke_tokens", "post"): {"requestBody": {"required": False, "content": {JSON: {"schema": _obj(
        {"client_id": {"type": ["string", "null"]}}, extra=False)}}},
        "responses": _responses({200: _json_ok(_obj({"revoked": {"type": "integer"}}, ("revoked",)))}, (400,), False)},
    ("openapi", "get"): {"responses": _responses({200: _json_ok(_ref("Object"))}, (), False)},
}  # fmt: skip
"""Per (operation name, method): what `build_document` adds to the route table's paths."""


def _methods(resource: type) -> list[str]:
    skipped = ("on_head", "on_options")
    return sorted(name[3:] for name in vars(resource) if name.startswith("on_") and name not in skipped)


def build_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document (a dict). Raises `KeyError` when a route's method has no `OPERATIONS` entry."""
    paths: dict[str, Any] = {}
    for routes, tag in ((API_ROUTES, "moveworks"), (LISTENER_ROUTES, "moveworks"), (ADMIN_ROUTES, "mock")):
        for path, name, resource in routes:
            for method in _methods(resource):
                operation = {"operationId": f"{name}_{method}", "tags": [tag], **OPERATIONS[(name, method)]}
                paths.setdefault(path, {})[method] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "mwsync mock Moveworks Events API", "version": MWSYNC_VERSION,
                 "description": "The Moveworks Events API and webhook-listener endpoints the mock implements (tag "
                                "moveworks, from the "
                                "project's contract notes) and the mock's own /_mock/ API (tag mock). Filters for "
                                f"/_mock/requests and /_mock/verify: {', '.join(FILTERS)}."},
        "tags": [{"name": "moveworks", "description": "Moveworks Events API twin"},
                 {"name": "mock", "description": "Inspection and control, not part of Moveworks"}],
        "paths": paths,
        "components": {"schemas": schemas(),
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                                           "hmac": {"type": "apiKey", "in": "header", "name": "X-Signature",
                                                    "description": "Hex HMAC-SHA256 of the raw body by default; "
                                                                   "header, hash and encoding per listener"}}},
    }  # fmt: skip


def document_bytes() -> bytes:
    """`build_document()` as the JSON text served and committed (2-space indent, trailing newline)."""
    return (json.dumps(build_document(), indent=2) + "\n").encode("utf-8")


if __name__ == "__main__":
    import sys

    sys.stdout.write(document_bytes().decode("utf-8"))
