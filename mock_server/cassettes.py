"""What a cassette may keep: the `before_record_request` / `before_record_response` filters of `vcr_config`.

vcrpy runs both filters when it records *and* (the request one) before it matches a request on replay, so a
scrubbed field is compared as its placeholder on both sides and any credentials replay. What is replaced:

- request URI: scheme, host and port become `REPLAY_URL` (the mock's random port, a tenant's host);
- request bodies: `client_id` / `client_secret` in form bodies, and JSON fields by dotted path
  (`client_id`, `context.slots.*`; `*` matches every key of an object);
- request headers carrying a webhook-listener signature (any name holding `signature`, case-blind:
  `X-Signature`, `X-Hub-Signature-256`): `SIGNATURE`. A signature is derived from the HMAC secret and the
  body, so it is scrubbed like a credential (the secret itself never travels);
- responses: `access_token` in the plain and the `{"data": {...}}`-wrapped token shapes, `Set-Cookie`;
- `aliases`: tenant-specific values (an event id, a real recipient) replaced by example ones everywhere.

The `Authorization` header is replaced by vcrpy's own `filter_headers` (see `conftest.vcr_config`).
Pure functions of their inputs: no I/O, no environment.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus, unquote_plus, urlsplit, urlunsplit

#: Base URL every recorded request is rewritten to, and the one the runner is pointed at on replay.
#: `.invalid` is reserved (RFC 2606): it never resolves, so a replay can never reach a real host.
REPLAY_URL = "https://api.moveworks.invalid"
#: Placeholder access token: what the token cassettes answer, so what the runner sends as bearer on replay.
ACCESS_TOKEN = "recorded-access-token"
CLIENT_ID = "recorded-client-id"
CLIENT_SECRET = "recorded-client-secret"
#: Placeholder for every listener signature header (`is_signature_header`).
SIGNATURE = "recorded-signature"
REDACTED = "REDACTED"

#: Request fields scrubbed by default: form field names, and JSON dotted paths.
REQUEST_FIELDS: Mapping[str, str] = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
#: Response JSON paths scrubbed by default: the token answer, plain and wrapped.
RESPONSE_FIELDS: Mapping[str, str] = {"access_token": ACCESS_TOKEN, "data.access_token": ACCESS_TOKEN}

FORM = "application/x-www-form-urlencoded"


def replace_paths(doc: Any, paths: Mapping[str, str]) -> tuple[Any, bool]:
    """Copy of the JSON document `doc` with the value at each dotted path replaced; `(copy, changed)`.

    `{"context.slots.*": "REDACTED"}` replaces every slot value; a path that is absent is skipped.
    """
    changed = False
    for path, placeholder in paths.items():
        doc, hit = _replace(doc, path.split("."), placeholder)
        changed = changed or hit
    return doc, changed


def _replace(node: Any, parts: list[str], placeholder: str) -> tuple[Any, bool]:
    if not isinstance(node, dict) or not parts:
        return node, False
    head, rest = parts[0], parts[1:]
    keys = list(node) if head == "*" else [head] if head in node else []
    out, changed = dict(node), False
    for key in keys:
        if rest:
            out[key], hit = _replace(node[key], rest, placeholder)
        else:
            out[key], hit = placeholder, True
        changed = changed or hit
    return out, changed


def replace_form_fields(body: str, fields: Mapping[str, str]) -> tuple[str, bool]:
    """`a=1&client_secret=s` with the values of `fields` (by field name) replaced; `(body, changed)`.

    Field order and every other field are kept byte for byte.
    """
    pairs, changed = [], False
    for pair in body.split("&"):
        name, sep, _ = pair.partition("=")
        key = unquote_plus(name)
        if sep and key in fields:
            pair, changed = f"{name}={quote_plus(fields[key])}", True
        pairs.append(pair)
    return "&".join(pairs), changed


def is_signature_header(name: str) -> bool:
    """True for a header that carries a request signature (`X-Signature`, `X-Hub-Signature-256`, ...)."""
    return "signature" in name.lower()


def _text(body: Any) -> str | None:
    """A body as text, or None when it is absent or not UTF-8."""
    if body is None or isinstance(body, str):
        return body
    try:
        return bytes(body).decode("utf-8")
    except (TypeError, UnicodeDecodeError):
        return None


def _scrub_body(text: str, content_type: str, json_fields: Mapping[str, str],
                form_fields: Mapping[str, str]) -> tuple[str, bool]:
    """Scrub one body: form fields when it is a form, JSON paths when it parses as JSON."""
    if content_type.startswith(FORM):
        return replace_form_fields(text, form_fields)
    try:
        doc = json.loads(text)
    except ValueError:
        return text, False
    doc, changed = replace_paths(doc, json_fields)
    return (json.dumps(doc), True) if changed else (text, False)


def _alias(text: str, aliases: Mapping[str, str]) -> str:
    for real, example in aliases.items():
        text = text.replace(real, example)
    return text


@dataclass(frozen=True)
class Scrubber:
    """The two vcrpy filters, configured. `request_fields`: form names and JSON paths to placeholders;
    `response_fields`: JSON paths in responses; `aliases`: real value -> example value, everywhere."""

    request_fields: Mapping[str, str] = field(default_factory=lambda: dict(REQUEST_FIELDS))
    response_fields: Mapping[str, str] = field(default_factory=lambda: dict(RESPONSE_FIELDS))
    aliases: Mapping[str, str] = field(default_factory=dict)
    base_url: str = REPLAY_URL

    def request(self, request):
        """`before_record_request`: rewrite the base URL, scrub signature headers and the body (vcrpy hands us a
    copy)."""
        parts = urlsplit(request.uri)
        base = urlsplit(self.base_url)
        request.uri = _alias(urlunsplit((base.scheme, base.netloc, parts.path, parts.query, "")), self.aliases)
        for name in [name for name in request.headers if is_signature_header(name)]:
            request.headers[name] = SIGNATURE
        text = _text(request.body)
        if text:
            content_type = request.headers.get("Content-Type", "")
            scrubbed, _ = _scrub_body(_alias(text, self.aliases), content_type, self.request_fields,
                                      self.request_fields)
            if scrubbed != text:
                request.body = scrubbed.encode("utf-8")
                if "Content-Length" in request.headers:
                    request.headers["Content-Length"] = str(len(request.body))
        return request

    def response(self, response: dict) -> dict:
        """`before_record_response`: scrub the JSON body, drop cookies, keep Content-Length true."""
        headers = {k: v for k, v in response["headers"].items() if k.lower() != "set-cookie"}
        body = response["body"].get("string")
        text = _text(body)
        if text:
            content_type = next((v[0] for k, v in headers.items() if k.lower() == "content-type" and v), "")
            scrubbed, _ = _scrub_body(_alias(text, self.aliases), content_type, self.response_fields, {})
            if scrubbed != text:
                body = scrubbed.encode("utf-8")
                headers = {k: ([str(len(body))] if k.lower() == "content-length" else v) for k, v in headers.items()}
        return dict(response, headers=headers, body=dict(response["body"], string=body))


class CassetteRecorder:
    """Writes interactions to one vcrpy cassette (the format the recorded tests replay), scrubbed like them:
    `Scrubber` for URIs, bodies and tokens, the `Authorization` header replaced by `Bearer <ACCESS_TOKEN>`,
    cookies dropped. The file is rewritten whole (atomically) after each interaction. Needs vcrpy
    (the `record` extra); raises `RuntimeError` naming the fix when it is missing."""

    def __init__(self, path: Any, scrubber: Scrubber | None = None) -> None:
        from pathlib import Path

        try:
            from vcr.request import Request
            from vcr.serialize import serialize
            from vcr.serializers import yamlserializer
        except ImportError:  # pragma: no cover - vcrpy comes with the test and record extras
            raise RuntimeError("recording cassettes needs vcrpy (the 'record' extra): "
                               "pip install 'vcrpy>=9.4'") from None
        self.path = Path(path)
        self.scrubber = scrubber or Scrubber()
        self._request_class, self._serialize, self._serializer = Request, serialize, yamlserializer
        self._requests: list[Any] = []
        self._responses: list[dict] = []

    def add(self, method: str, uri: str, headers: Mapping[str, str], body: bytes,
            status: int, reason: str, response_headers: Mapping[str, str], response_body: bytes) -> None:
        """Scrub and append one interaction, then rewrite the cassette file."""
        kept = {k: v for k, v in headers.items() if k.lower() not in ("cookie", "authorization")}
        if any(k.lower() == "authorization" for k in headers):
            kept["Authorization"] = f"Bearer {ACCESS_TOKEN}"
        request = self.scrubber.request(self._request_class(method, uri, body or None, kept))
        response = self.scrubber.response({
            "status": {"code": status, "message": reason},
            "headers": {name: [value] for name, value in response_headers.items()},
            "body": {"string": response_body},
        })  # fmt: skip
        self._requests.append(request)
        self._responses.append(response)
        text = self._serialize({"requests": self._requests, "responses": self._responses}, self._serializer)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(self.path.name + ".partial")
        partial.write_text(text, encoding="utf-8")
        partial.replace(self.path)

    @property
    def interactions(self) -> int:
        return len(self._requests)
