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
})

#: Client credentials the bundled mock server accepts (documented in the README; not a secret).
DEMO_CLIENT: tuple[str, str] = ("mwsync-demo", "mwsync-demo-secret")

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
