"""The naive baseline `benchmarks/bulk.py` compares mwsync against: what a hand-written replay script does.

One `requests.post` per message (no coalescing, a new connection each time), behind the `ratelimit`
package's plain fixed-window decorator (`@sleep_and_retry @limits(calls=limit, period=window_s)`), one
access token fetched up front outside the decorator, and no retry: a 429 is counted and the message is
lost. The only Moveworks facts used are the two endpoints and the send body (Moveworks Events API
reference): `POST /oauth/v1/token` (client credentials in a form) and
`POST /rest/v1/events/{event_id}/messages/send` with `{"message", "recipients", "context": {"slots"}}`.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import requests
from ratelimit import limits, sleep_and_retry

TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Message:
    """One message as a replay script sees it: one row, one request."""

    event_id: str
    text: str
    recipients: Sequence[str]
    slots: Mapping[str, str]


@dataclass(frozen=True)
class BaselineResult:
    """`requests` send requests made (the token request not counted), `status_429` of them answered 429,
    `delivered` answered 2xx, `duration_s` wall time from the token request to the last answer."""

    requests: int
    status_429: int
    delivered: int
    duration_s: float
    by_status: Mapping[str, int]


def send_all(base_url: str, client: tuple[str, str], messages: Iterable[Message], *, limit: int,
             window_s: float) -> BaselineResult:
    """Send every message in `messages` the naive way (module docstring); return the counts."""
    started_s = time.perf_counter()
    form = {"grant_type": "client_credentials", "client_id": client[0], "client_secret": client[1]}
    token = requests.post(f"{base_url}/oauth/v1/token", data=form, timeout=TIMEOUT_S).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}

    @sleep_and_retry
    @limits(calls=limit, period=window_s)
    def post(message: Message) -> int:
        body = {"message": message.text, "recipients": list(message.recipients)}
        if message.slots:
            body["context"] = {"slots": dict(message.slots)}
        url = f"{base_url}/rest/v1/events/{message.event_id}/messages/send"
        return requests.post(url, json=body, headers=headers, timeout=TIMEOUT_S).status_code

    statuses: Counter[int] = Counter(post(message) for message in messages)
    return BaselineResult(
        requests=sum(statuses.values()),
        status_429=statuses[429],
        delivered=sum(n for status, n in statuses.items() if 200 <= status < 300),
        duration_s=time.perf_counter() - started_s,
        by_status={str(status): n for status, n in sorted(statuses.items())},
    )
