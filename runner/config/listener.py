"""Listener jobs in job files: the mix-ups `validate` explains, and building the runtime `ListenerSpec`.

A job is either an event job (`message`, with `message.event_id`) or a listener job (`listener`, with
`listener.id` or `listener.url` and `listener.payload`); see the project's listener reference
(Moveworks no longer lets tenants create events and points them to webhook listeners).

`target_mixups` runs on the raw YAML tree before the schema, so a job that mixes the two shapes gets one
problem that says what to do instead of a cascade of "required key" errors; `build_listener` turns a
validated `ListenerModel` into a `ListenerSpec` and the API URL a `listener.url` names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..rules import is_uuid, split_listener_url
from .job import HmacSigning, ListenerSpec
from .models import ListenerModel

KeyPath = tuple[Any, ...]
Report = Callable[[KeyPath, str], None]
EXAMPLE_ID = "9b2f6c1e-3d4a-4b5c-8d6e-7f8091a2b3c4"
#: Keys a listener job does not have, and what to write instead (`target_mixups`).
LISTENER_MIXUPS = {
    "event_id": "a listener has no event id; give listener.id (the listener's UUID, the first of its url_uuids) "
                "or listener.url (its full webhook URL)",
    "text": "a listener sends listener.payload (a JSON body), not message text; put the text in a payload "
            "field, e.g. payload: {message: \"...\"}",
    "template": "a listener sends listener.payload (a JSON body), not a message template; map the fields "
                "in payload instead",
    "recipients": "a listener has no recipients; the plugin subscribed to it finds people from payload "
                  "fields, e.g. payload: {email: \"{{ email }}\"}",
    "slots": "a listener has no context slots; put the values in listener.payload",
}


def target_mixups(data: dict) -> tuple[dict, list[tuple[KeyPath, str]]]:
    """Find event/listener mix-ups in the raw job tree `data`; return `(data without the mixed-up keys,
    [(key path, problem)])`, so the rest is still checked against the schema in the same pass."""
    problems: list[tuple[KeyPath, str]] = []
    out = dict(data)
    message, listener = out.get("message"), out.get("listener")
    if isinstance(message, dict) and isinstance(listener, dict):
        problems.append((("message",), "a job sends to an Events API event (message, with message.event_id) or "
                                       "to a webhook listener (listener), not both; for a listener remove message "
                                       "(the body is listener.payload), for an event remove listener"))
        out.pop("message")
    if isinstance(listener, dict):
        listener = dict(listener)
        for key, why in LISTENER_MIXUPS.items():
            if key in listener:
                problems.append((("listener", key), why))
                listener.pop(key)
        out["listener"] = listener
    if isinstance(message, dict) and "payload" in message:
        problems.append((("message", "payload"), "payload belongs to a listener job: write listener: {id: ..., "
                                                 "payload: {...}} instead of message"))
        out["message"] = {k: v for k, v in message.items() if k != "payload"}
    return out, problems


def build_listener(model: ListenerModel, problem: Report) -> tuple[ListenerSpec | None, str | None]:
    """`(spec, api URL from listener.url or None)`; None for the spec when a problem was reported."""
    api_url = None
    listener_id = model.id
    if model.url is not None:
        parts = split_listener_url(model.url)
        if parts is None:
            problem(("listener", "url"), f"'{model.url}' is not a listener URL like "
                                         f"https://api.moveworks.ai/webhooks/v1/listeners/{EXAMPLE_ID}/notify")
            return None, None
        api_url, listener_id = parts
    where = ("listener", "url" if model.url is not None else "id")
    if not is_uuid(listener_id or ""):
        problem(where, f"'{listener_id}' is not a UUID like {EXAMPLE_ID} (the first of the listener's url_uuids)")
        return None, None
    signing = None
    if model.hmac is not None:
        h = model.hmac
        signing = HmacSigning(h.secret, h.header, h.algorithm, h.encoding, h.prefix, h.timestamp_header,
                              h.signed_string)
    spec = ListenerSpec(listener_id.lower(), model.auth, dict(model.payload), model.idempotency_key, signing)
    return spec, api_url


def default_profile(auth: str) -> str:
    """A listener job's profile when the job names none: the documented limit of its auth mode."""
    return "listener_unsecured" if auth == "none" else "listener_secured"


def credentials_needed(auth: str) -> str:
    """Which subscription credentials a listener's `auth` needs: `none` (unsecured, or signed with the hmac
    secret), `api_key`, or `client_credentials`."""
    return {"api_key": "api_key", "client_credentials": "client_credentials"}.get(auth, "none")
