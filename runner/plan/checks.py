"""Check rendered messages against the API's limits (`mwsync.rules`, from the Moveworks Events API
reference, "Send a message for an event"): `message` 1..20000 characters; every recipient a
syntactically valid e-mail; `event_id` a UUID.
"""

from __future__ import annotations

from functools import lru_cache

from email_validator import EmailNotValidError, validate_email
from email_validator.syntax import validate_email_local_part

from ..records import RenderedMessage
from ..rules import MAX_TEXT_CHARS, is_uuid

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


def message_problems(message: RenderedMessage) -> list[tuple[str, str]]:
    """Every way `message` breaks the API's limits, as `(field, problem with fix)` pairs."""
    problems: list[tuple[str, str]] = []
    if not is_uuid(message.event_id):
        problems.append(("message.event_id", f"'{message.event_id}' is not a UUID like "
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
    for address in message.recipients:
        why = email_problem(address)
        if why:
            problems.append(("message.recipients", f"'{address}' is not a valid e-mail: {why}"))
    return problems
