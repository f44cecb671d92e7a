"""Check rendered messages against the API's limits (`mwsync.rules`, from the Moveworks Events API
reference, "Send a message for an event"): `message` 1..20000 characters; every recipient a
syntactically valid e-mail; `event_id` a UUID. A listener body (`payload_problems`): at most 1 MB
(listener reference: beyond it the body is not available to the listener's filters and mappings).
"""

from __future__ import annotations

import re
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email
from email_validator.syntax import validate_email_local_part

from ..records import RenderedMessage, RenderedPayload
from ..rules import MAX_LISTENER_BODY_BYTES, MAX_TEXT_CHARS, is_uuid

MAX_EMAIL_CHARS = 254  # email-validator's (and RFC 3696 errata's) limit on a whole address


def _validator_problem(address: str) -> str | None:
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        return str(exc)
    return None


@lru_cache(maxsize=4096)
def _domain_problem(domain: str) -> str | None:
    return _validator_problem(f"x@{domain}")


def email_problem(address: str) -> str | None:
    """Why `address` is not a valid e-mail (syntax only, decided by email-validator), or None.

    Bulk sets repeat a few domains over millions of addresses, so each domain's verdict is cached, and
    a plain ASCII local part (no quotes, no backslash) goes straight to email-validator's own
    local-part check: the same rules as `validate_email`, without re-parsing the whole address. Any
    other address (quoted, non-ASCII, no `@`, too long) gets the full `validate_email`.
    """
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or len(address) > MAX_EMAIL_CHARS or not address.isascii() \
            or '"' in local or "\\" in local:
        return _validator_problem(address)
    try:
        validate_email_local_part(local, allow_smtputf8=True, allow_empty_local=False, quoted_local_part=False)
    except EmailNotValidError as exc:
        return str(exc)
    return _domain_problem(domain)


#: C0 control characters a chat message or slot can never need (tab, newline and carriage return can).
CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def shown(value: str, limit: int = 80) -> str:
    """`value` quoted for an error message: control characters and lone surrogates escaped, cut to `limit`."""
    text = value[:limit] + ("..." if len(value) > limit else "")
    if text.isprintable():
        return f"'{text}'"
    return "'" + text.encode("unicode_escape", "backslashreplace").decode("ascii") + "'"


def _control_problem(message: RenderedMessage) -> tuple[str, str] | None:
    for field, value in (("message.text", message.text), ("message.idempotency_key", message.key),
                         *((f"message.slots.{k}", v) for k, v in message.slots.items())):
        found = CONTROL_RE.search(value)
        if found:
            return field, (f"holds the control character U+{ord(found.group()):04X} at position {found.start()}; "
                           "a NUL or other control character is never meant for a chat message: fix the data")
    return None


def message_problems(message: RenderedMessage) -> list[tuple[str, str]]:
    """Every way `message` breaks the API's limits, as `(field, problem with fix)` pairs: event id, text
    length, recipients, invalid Unicode, control characters."""
    problems: list[tuple[str, str]] = []
    if not is_uuid(message.event_id):
        problems.append(("message.event_id", f"{shown(message.event_id)} is not a UUID like "
                                             "3f1c2a9e-5b7d-4e8f-9a10-2b3c4d5e6f70 (the event's id in Creator Studio)"))
    size = len(message.text)
    if size == 0:
        problems.append(("message.text", "renders empty; the API needs 1..20000 characters"))
    elif size > MAX_TEXT_CHARS:
        problems.append(("message.text", f"{size} characters, over the API's 20000; shorten the template"))
    if not message.recipients:
        problems.append(("message.recipients", "no recipients; the row needs at least one e-mail address"))
    try:
        "".join((message.key, message.text, *message.slots.keys(), *message.slots.values())).encode("utf-8")
    except UnicodeEncodeError:
        problems.append(("message", "holds characters that are not valid Unicode (lone surrogates); fix the data"))
    control = _control_problem(message)
    if control:
        problems.append(control)
    for address in message.recipients:
        why = email_problem(address)
        if why:
            problems.append(("message.recipients", f"{shown(address)} is not a valid e-mail: {why}"))
    return problems


def payload_problems(payload: RenderedPayload) -> list[tuple[str, str]]:
    """`(field, problem)` pairs for a rendered listener body: over `MAX_LISTENER_BODY_BYTES` (1 MB, the
    listener reference's limit, read as 1,000,000 bytes), or an empty idempotency key."""
    problems = []
    size = len(payload.body)
    if size > MAX_LISTENER_BODY_BYTES:
        problems.append(("listener.payload", f"{size:,} bytes as JSON, over the listener's 1 MB "
                                             f"({MAX_LISTENER_BODY_BYTES:,} bytes); shorten the fields"))
    if not payload.key.strip():
        problems.append(("listener.idempotency_key", "empty; every message needs its own key"))
    return problems
