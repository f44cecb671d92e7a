"""The token endpoint's request and response rules (`POST /oauth/v1/token`). Pure, no I/O.

Two public Moveworks sources disagree (shared contract, "Authentication"): the older guide sends a
form-encoded body and gets a plain OAuth response; the current OpenAPI sends JSON and gets the response
wrapped in `{"data": ...}`. The mock accepts `form`, `json` or `both` and emits `plain` or `wrapped`.
Credentials belong in the body (`client_id`, `client_secret`, `grant_type=client_credentials`); an HTTP
Basic header is accepted only when the server allows it (RFC 6749 §2.3.1 encoding).
"""

from __future__ import annotations

import base64
import binascii
import json
import urllib.parse

from .contract import (
    INCORRECT_DATA_TYPE,
    UNAUTHENTICATED,
    UNSUPPORTED_GRANT_TYPE,
    ApiError,
    bad_request,
    parse_json,
)

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
REQUIRED_FIELDS = ("client_id", "client_secret", "grant_type")


def media_type(content_type: str | None) -> str:
    """`"application/json; charset=utf-8"` -> `"application/json"`; "" when absent."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def parse_token_request(content_type: str | None, raw: bytes, accepted: str) -> dict[str, str]:
    """Body fields of a token request; `accepted` is "form", "json" or "both".

    Raises 400 `BAD_REQUEST` for a refused content type, an unparsable body, a repeated form field
    or a non-string JSON field.
    """
    kind = {FORM: "form", JSON: "json"}.get(media_type(content_type))
    allowed = ("form", "json") if accepted == "both" else (accepted,)
    if kind not in allowed:
        names = " or ".join(FORM if a == "form" else JSON for a in allowed)
        raise bad_request(f"Content-Type must be {names}, got {media_type(content_type) or 'none'!r}")
    return _parse_form(raw) if kind == "form" else _parse_json_object(raw)


def _parse_form(raw: bytes) -> dict[str, str]:
    try:
        pairs = urllib.parse.parse_qsl(raw.decode("utf-8"), keep_blank_values=True)
    except (UnicodeDecodeError, ValueError):
        raise bad_request("form body is not valid UTF-8 form encoding") from None
    names = [name for name, _ in pairs if name in REQUIRED_FIELDS]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise bad_request(f"form fields must not repeat (RFC 6749 §3.2): {', '.join(repeated)}")
    return {name: value for name, value in pairs if name in REQUIRED_FIELDS}


def _parse_json_object(raw: bytes) -> dict[str, str]:
    doc = parse_json(raw)
    if not isinstance(doc, dict):
        raise bad_request(f"{INCORRECT_DATA_TYPE}: the body must be a JSON object")
    wrong = [name for name in REQUIRED_FIELDS if name in doc and not isinstance(doc[name], str)]
    if wrong:
        raise bad_request(f"{INCORRECT_DATA_TYPE}: {', '.join(wrong)} must be string(s)")
    return {name: value for name, value in doc.items() if isinstance(value, str)}


def client_credentials(fields: dict[str, str], authorization: str | None, allow_basic: bool) -> tuple[str, str]:
    """`(client_id, client_secret)` from the body, or from a Basic header when allowed.

    Checks `grant_type` too. Raises 400 `BAD_REQUEST` (missing fields), 400 `UNSUPPORTED_GRANT_TYPE`,
    401 `UNAUTHENTICATED` (Basic header refused or malformed).
    """
    header = authorization or ""
    in_body = "client_id" in fields or "client_secret" in fields
    if header.startswith("Basic ") and not in_body:
        if not allow_basic:
            raise ApiError(
                401, UNAUTHENTICATED, "Send client_id and client_secret in the request body; Basic auth is not accepted"
            )
        fields = {**fields, **_decode_basic(header[len("Basic ") :])}
    missing = [name for name in REQUIRED_FIELDS if not fields.get(name)]
    if missing:
        raise bad_request(f"Missing required field(s): {', '.join(missing)}")
    if fields["grant_type"] != "client_credentials":
        raise bad_request(
            f"grant_type {fields['grant_type'][:40]!r} is not supported (valid: client_credentials)",
            UNSUPPORTED_GRANT_TYPE,
        )
    return fields["client_id"], fields["client_secret"]


def _decode_basic(encoded: str) -> dict[str, str]:
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise ApiError(401, UNAUTHENTICATED, "Malformed Basic authorization header") from None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise ApiError(401, UNAUTHENTICATED, "Malformed Basic authorization header")
    return {"client_id": urllib.parse.unquote_plus(client_id), "client_secret": urllib.parse.unquote_plus(secret)}


def token_response(
    token: str, ttl_s: float, shape: str, expires_in_raw: str | None = None, omit_expires_in: bool = False
) -> bytes:
    """The token answer as JSON bytes: `{"access_token", "expires_in" (seconds), "token_type": "Bearer"}`, or
    the same in `{"data": ...}`. `expires_in_raw`: JSON text written verbatim instead of the TTL (a fault:
    `"\\"soon\\""`, `1e400`, `null`); `omit_expires_in` leaves the field out."""
    expires_in = json.dumps(int(ttl_s) if float(ttl_s).is_integer() else ttl_s)
    fields = [f'"access_token": {json.dumps(token)}']
    if not omit_expires_in:
        fields.append(f'"expires_in": {expires_in if expires_in_raw is None else expires_in_raw}')
    fields.append('"token_type": "Bearer"')
    body = "{" + ", ".join(fields) + "}"
    return (f'{{"data": {body}}}' if shape == "wrapped" else body).encode("utf-8")
