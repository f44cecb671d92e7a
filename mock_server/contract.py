"""The Moveworks Events API rules the mock enforces: limits, stable error codes, payload checks. Pure, no I/O.

Written from the project's contract notes (restating Moveworks' public API reference and troubleshooting
page); the runner's client holds the twin of this knowledge. Send checks run in the documented order:
types/JSON, then payload size limits, then e-mail syntax, then the recipient allow-list.

Error body, always: `{"error": {"code": "<STABLE_CODE>", "message": "<human text>"}}`.
"""

from __future__ import annotations

import functools
import json
import re
import uuid
from collections.abc import Collection
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email

MAX_RECIPIENTS = 500  # recipients per send (Moveworks Events API reference)
MAX_MESSAGE_CHARS = 20_000  # characters in `message` (Moveworks Events API reference)
MAX_BODY_BYTES = 1 << 20  # 1 MiB; the mock's own cap (unspecified by Moveworks), answered with 413
MAX_NAMED_ADDRESSES = 20  # addresses quoted in one error message; the rest are counted

# Codes named by Moveworks for the Events API (troubleshooting page).
BAD_REQUEST = "BAD_REQUEST"
INVALID_EVENT_ID = "INVALID_EVENT_ID"
INVALID_VALUE_SIZE_TOO_LONG = "INVALID_VALUE_SIZE_TOO_LONG"
# Codes the mock chose where Moveworks is silent (docs/mock-server.md); stable.
INVALID_EMAIL_ADDRESS = "INVALID_EMAIL_ADDRESS"
RECIPIENT_NOT_ALLOWED = "RECIPIENT_NOT_ALLOWED"
UNSUPPORTED_GRANT_TYPE = "UNSUPPORTED_GRANT_TYPE"
UNAUTHENTICATED = "UNAUTHENTICATED"
FORBIDDEN = "FORBIDDEN"
NOT_FOUND = "NOT_FOUND"
METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
TOO_MANY_REQUESTS = "TOO_MANY_REQUESTS"
STATUS_CODES = {500: "INTERNAL_SERVER_ERROR", 502: "BAD_GATEWAY", 503: "SERVICE_UNAVAILABLE", 504: "GATEWAY_TIMEOUT",
                403: FORBIDDEN}
DEFAULT_CODES = {400: BAD_REQUEST, 401: UNAUTHENTICATED, 403: FORBIDDEN, 404: NOT_FOUND, 405: METHOD_NOT_ALLOWED,
                 413: PAYLOAD_TOO_LARGE, 429: TOO_MANY_REQUESTS, **STATUS_CODES}
"""The stable code a status gets when a fault or a scenario rule names only the status (`HTTP_<n>` otherwise)."""
LONE_SURROGATE_RE = re.compile("[\ud800-\udfff]")

TOKEN_VALIDATION_FAILED = "Token validation failed"  # Moveworks' 401 text (troubleshooting page)
JSON_PARSE_FAILED = "Parsing of json payload failed"
INCORRECT_DATA_TYPE = "One or more fields have an incorrect data-type"


class ApiError(Exception):
    """An error answer: HTTP `status`, stable `code`, human `message`, extra response `headers`."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}

    def body(self) -> dict[str, dict[str, str]]:
        return error_body(self.code, self.message)


def error_body(code: str, message: str) -> dict[str, dict[str, str]]:
    """The one error shape: `{"error": {"code": code, "message": message}}`."""
    return {"error": {"code": code, "message": message}}


def bad_request(message: str, code: str = BAD_REQUEST) -> ApiError:
    return ApiError(400, code, message)


@dataclass(frozen=True)
class SendPayload:
    """A send body that passed every check: `recipients` as given, `context` a dict or None."""

    message: str
    recipients: tuple[str, ...]
    context: dict[str, object] | None


def check_event_id(event_id: str, known_events: Collection[str] | None) -> str:
    """Return the canonical UUID; 400 `BAD_REQUEST` if not a UUID, 404 `INVALID_EVENT_ID` if unknown."""
    try:
        canonical = str(uuid.UUID(event_id))
    except ValueError:
        raise bad_request(f"event_id must be a UUID, got {event_id[:80]!r}") from None
    if known_events is not None and canonical not in known_events:
        raise ApiError(404, INVALID_EVENT_ID, f"Event not found: {canonical}")
    return canonical


def code_for(status: int) -> str:
    """The stable error code for `status` (see `DEFAULT_CODES`)."""
    return DEFAULT_CODES.get(status, f"HTTP_{status}")


def parse_json(raw: bytes) -> object:
    """Decode a UTF-8 JSON body; 400 `BAD_REQUEST` "Parsing of json payload failed" on any failure.

    JSON text may escape a lone UTF-16 surrogate (`"\\ud800"`); that is no Unicode character, so no UTF-8
    answer could echo it back: such a body is refused like any unparsable one (RFC 8259 §8.2).
    """
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise bad_request(JSON_PARSE_FAILED) from None
    if (b"\\ud" in raw or b"\\uD" in raw) and _has_lone_surrogate(doc):
        raise bad_request(f"{JSON_PARSE_FAILED}: a string holds a lone UTF-16 surrogate (\\ud800-\\udfff), "
                          "which is not valid Unicode")
    return doc


def _has_lone_surrogate(node: object) -> bool:
    if isinstance(node, str):
        return LONE_SURROGATE_RE.search(node) is not None
    if isinstance(node, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in node.items())
    if isinstance(node, list):
        return any(_has_lone_surrogate(item) for item in node)
    return False


def check_send_payload(doc: object, users: Collection[str] | None) -> SendPayload:
    """Apply the send checks in the documented order and return the accepted payload.

    `doc`: the parsed JSON body; `users`: lower-case allow-list or None. Raises `ApiError`:
    400 `BAD_REQUEST` (missing field, wrong type, empty), 400 `INVALID_VALUE_SIZE_TOO_LONG` (> 500
    recipients or > 20000 characters), 400 `INVALID_EMAIL_ADDRESS`, 400 `RECIPIENT_NOT_ALLOWED`.
    """
    payload = _check_types(doc)
    _check_sizes(payload)
    _check_email_syntax(payload.recipients)
    if users is not None:
        _check_allow_list(payload.recipients, users)
    return payload


def _check_types(doc: object) -> SendPayload:
    if not isinstance(doc, dict):
        raise bad_request(f"{INCORRECT_DATA_TYPE}: the body must be a JSON object")
    missing = [name for name in ("message", "recipients") if name not in doc]
    if missing:
        raise bad_request(f"Missing required field(s): {', '.join(missing)}")
    message, recipients, context = doc["message"], doc["recipients"], doc.get("context")
    if not isinstance(message, str):
        raise bad_request(f"{INCORRECT_DATA_TYPE}: message must be a string")
    if not isinstance(recipients, list) or not all(isinstance(r, str) for r in recipients):
        raise bad_request(f"{INCORRECT_DATA_TYPE}: recipients must be an array of strings")
    if context is not None:
        if not isinstance(context, dict):
            raise bad_request(f"{INCORRECT_DATA_TYPE}: context must be an object")
        if context.get("slots") is not None and not isinstance(context["slots"], dict):
            raise bad_request(f"{INCORRECT_DATA_TYPE}: context.slots must be an object")
    return SendPayload(message, tuple(recipients), context)


def _check_sizes(payload: SendPayload) -> None:
    if len(payload.recipients) > MAX_RECIPIENTS:
        raise bad_request(
            f"recipients: {len(payload.recipients)} given, at most {MAX_RECIPIENTS} per request; "
            "split them over several requests",
            INVALID_VALUE_SIZE_TOO_LONG,
        )
    if len(payload.message) > MAX_MESSAGE_CHARS:
        raise bad_request(
            f"message: {len(payload.message)} characters, at most {MAX_MESSAGE_CHARS}", INVALID_VALUE_SIZE_TOO_LONG
        )
    if not payload.recipients:
        raise bad_request(f"recipients: 1..{MAX_RECIPIENTS} e-mail addresses required, got none")
    if not payload.message:
        raise bad_request(f"message: 1..{MAX_MESSAGE_CHARS} characters required, got an empty string")


def _check_email_syntax(recipients: tuple[str, ...]) -> None:
    problems = [(address, reason) for address in recipients if (reason := email_problem(address))]
    if problems:
        named = ", ".join(f"{address[:254]!r} ({reason})" for address, reason in problems[:MAX_NAMED_ADDRESSES])
        more = f" and {len(problems) - MAX_NAMED_ADDRESSES} more" if len(problems) > MAX_NAMED_ADDRESSES else ""
        raise bad_request(f"Invalid e-mail address(es): {named}{more}", INVALID_EMAIL_ADDRESS)


def _check_allow_list(recipients: tuple[str, ...], users: Collection[str]) -> None:
    outside = [address for address in recipients if address.lower() not in users]
    if outside:
        named = ", ".join(outside[:MAX_NAMED_ADDRESSES])
        more = f" and {len(outside) - MAX_NAMED_ADDRESSES} more" if len(outside) > MAX_NAMED_ADDRESSES else ""
        raise bad_request(f"Recipients not found or not allow-listed: {named}{more}", RECIPIENT_NOT_ALLOWED)


@functools.lru_cache(maxsize=65_536)
def email_problem(address: str) -> str | None:
    """Why `address` fails e-mail syntax validation (email-validator, no DNS check), or None if valid.

    Cached: the answer depends only on the string, and load tests repeat the same recipients.
    """
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        return str(exc)
    return None
