"""One owner per rule: facts and identities every stage must agree on.

- Moveworks Events API limits (Events API reference, "Send a message for an event"): `message` 1..20000
  characters, `recipients` 1..500 a request, `event_id` a UUID; the organisation-wide default rate limit
  of 120 requests per 60 s ("Rate limits").
- iPaaS.com's recommended throttle profiles ("Throttling and Concurrency"): `initial` 5/60, `ongoing`
  500/60, `high_volume` 500/60.
- Identity: a person is their address compared case-blind (`address_key`); an event id is the canonical
  hyphenated UUID (`is_uuid`).
- Targets: `embedded` (the bundled mock), `loopback` (a server on this machine, e.g. a standalone mock)
  or `tenant` (anything else: a real Moveworks organisation). `target_kind` decides it for plan, run,
  warnings and journals alike.
- Webhook listeners (the project's listener reference, restating Moveworks' Ambient Agents docs): the
  notify URL `{api_url}/webhooks/v1/listeners/{listener_id}/notify` (config reads it from `listener.url`,
  the journal keys a listener job's rows on it, the client posts to it), a body of at most 1 MB, the
  organisation-wide limits of 1 request per 10 s (unsecured) and 5/s (secured; 50/s on newer copies),
  and the journal's one delivery per listener message (`LISTENER_DELIVERY`).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType
from typing import Literal
from urllib.parse import urlsplit

from .rate import Rate

MAX_RECIPIENTS = 500
MAX_TEXT_CHARS = 20_000
API_DEFAULT_RATE = Rate(120, 60.0, "moveworks_default")

BUILTIN_PROFILES: Mapping[str, Rate] = MappingProxyType({
    "initial": Rate(5, 60.0, "initial"),
    "ongoing": Rate(500, 60.0, "ongoing"),
    "high_volume": Rate(500, 60.0, "high_volume"),
    "listener_unsecured": Rate(1, 10.0, "listener_unsecured"),
    "listener_secured": Rate(5, 1.0, "listener_secured"),
    "listener_secured_50": Rate(50, 1.0, "listener_secured_50"),
})

#: `POST` path of a webhook listener (listener reference, "The call"). The client builds requests with it;
#: config splits a `listener.url` with it; `listener_url` gives the canonical URL the journal keys rows on.
LISTENER_NOTIFY_PATH = "/webhooks/v1/listeners/{listener_id}/notify"
LISTENER_URL_RE = re.compile(r"^(?P<base>.*?)/webhooks/v1/listeners/(?P<listener_id>[^/?#]+)/notify/?$")
#: Largest listener body: "1 MB" (listener reference); read as 1,000,000 bytes, checked locally per row.
MAX_LISTENER_BODY_BYTES = 1_000_000
#: Organisation-wide listener limits (listener reference, "Rate limits"): unsecured, secured (older and
#: community-confirmed copies), secured on newer copies.
LISTENER_UNSECURED_RATE = BUILTIN_PROFILES["listener_unsecured"]
LISTENER_SECURED_RATE = BUILTIN_PROFILES["listener_secured"]
LISTENER_SECURED_MAX_RATE = BUILTIN_PROFILES["listener_secured_50"]
#: Listener authentication modes (listener reference, "Authentication"): a job's `listener.auth`.
LISTENER_AUTH_MODES = ("none", "api_key", "client_credentials", "hmac")
#: The journal's recipient for a listener message: a listener body has no recipients, so each message is
#: exactly one delivery under this fixed marker (`decide` and the journal work unchanged).
LISTENER_DELIVERY = "(listener)"

#: Client credentials the bundled mock server accepts (documented in the README; not a secret).
DEMO_CLIENT: tuple[str, str] = ("mwsync-demo", "mwsync-demo-secret")
#: What embedded listener jobs sign with and authenticate as, whatever their job file names (not secrets):
#: the embedded mock registers each embedded job's listener with them.
DEMO_LISTENER_SECRET = "mwsync-demo-listener-secret"
DEMO_API_KEY = "mwsync-demo-api-key"

EMBEDDED = "embedded"
#: The embedded mock's rate limit: Moveworks' 120/60 shape scaled to seconds so demos finish quickly.
EMBEDDED_RATE_LIMIT = "20/1"
#: Hosts that may be reached over plain http (the mock server); anything else needs https.
LOOPBACK_RE = re.compile(r"^(127\.\d+\.\d+\.\d+|localhost|::1)$")

TargetKind = Literal["embedded", "loopback", "tenant"]


def is_loopback_host(host: str | None) -> bool:
    """True for 127.0.0.0/8, `localhost` and `::1`."""
    return bool(host) and bool(LOOPBACK_RE.match(host.lower()))


def target_kind(api_url: str | None) -> TargetKind:
    """`embedded` for None or `embedded`, `loopback` for a server on this machine, else `tenant`."""
    if api_url is None or api_url.strip().lower() == EMBEDDED:
        return "embedded"
    return "loopback" if is_loopback_host(urlsplit(api_url).hostname) else "tenant"


@lru_cache(maxsize=1024)
def is_uuid(value: str) -> bool:
    """True for the canonical hyphenated UUID only (`urn:uuid:...`, braces or no hyphens would go into
    the URL path as written), any case."""
    try:
        return str(uuid.UUID(value)) == value.lower()
    except (ValueError, TypeError, AttributeError):
        return False


def address_key(address: str) -> str:
    """The identity of a recipient: the address lower-cased (`Ann@X.com` and `ann@x.com` are one person).
    The journal, the in-run key ledger and coalescing all compare addresses by this key."""
    return address.lower()


def listener_secured(auth: str) -> bool:
    """True for every listener auth mode but `none` (credential or signature verification)."""
    return auth != "none"


def listener_limit(auth: str) -> Rate:
    """The documented organisation-wide limit for a listener secured by `auth` (the conservative 5/s for
    secured listeners; `LISTENER_SECURED_MAX_RATE` is the newer copies' 50/s)."""
    return LISTENER_SECURED_RATE if listener_secured(auth) else LISTENER_UNSECURED_RATE


def listener_url(api_url: str, listener_id: str) -> str:
    """The canonical notify URL of `listener_id` under `api_url` (no trailing slash); also the journal
    target of a listener job (`embedded/webhooks/v1/listeners/<id>/notify` for the embedded mock)."""
    return api_url.rstrip("/") + LISTENER_NOTIFY_PATH.format(listener_id=listener_id.lower())


def split_listener_url(url: str) -> tuple[str, str] | None:
    """`(api_url, listener_id)` of a full notify URL, or None when `url` is not one."""
    match = LISTENER_URL_RE.match(url.strip())
    return (match.group("base"), match.group("listener_id")) if match and match.group("base") else None
