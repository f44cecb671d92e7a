"""`MockClient`: the one client of a running mock server's `/_mock/` API (docs/mock-server.md), for load
tests, benchmarks and tests that drive a mock in another process. Standard library only (no web stack).
The in-process handle, `MockServer`, offers the same documents as methods.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime
from typing import Any

TIMEOUT_S = 30.0
PAGE_SIZE = 5000  # messages per `/_mock/messages` page (the server allows up to 10,000)


class MockUnreachable(Exception):
    """The URL did not answer like a mwsync mock server (connection refused, not JSON, an HTTP error)."""


class MockClient:
    """`MockClient("http://127.0.0.1:8765")`: GET, POST and DELETE `/_mock/` documents as JSON.

    Raises `MockUnreachable` naming the URL when the server does not answer like a mwsync mock."""

    def __init__(self, url: str, timeout_s: float = TIMEOUT_S):
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s

    def document(self, path: str, body: dict | None = None, *, method: str | None = None) -> Any:
        """GET `path` (POST `body` as JSON when given; `method` overrides) and return the JSON answer."""
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"} if data else {})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                raw = response.read()
        except (urllib.error.URLError, OSError) as exc:
            raise MockUnreachable(f"{self.url}{path}: {exc}; is {self.url} a mwsync mock server "
                                  "(mwsync mock-server)?") from None
        try:
            return json.loads(raw) if raw else {}
        except ValueError:
            raise MockUnreachable(f"{self.url}{path}: the answer is not JSON; is {self.url} a mwsync mock "
                                  "server?") from None

    def reset(self) -> None:
        """Forget messages, statistics, tokens, the rate-limit window and faults."""
        self.document("/_mock/reset", {})

    def stats(self) -> dict:
        """`/_mock/stats`: requests, by_status, status_429, max_requests_in_window, rate_limit, ..."""
        return self.document("/_mock/stats")

    def messages(self) -> list[dict]:
        """Every kept accepted send (seq, event_id, message, recipients, context, received_at, ...), in arrival
        order: all pages of `/_mock/messages`. A server keeps the last `--keep-messages`; compare
        `stats()["messages_kept"]` with `stats()["messages"]` to know whether some were let go."""
        out: list[dict] = []
        after: int | None = 0
        while after is not None:
            page = self.document(f"/_mock/messages?limit={PAGE_SIZE}&after={after}")
            out += page["messages"]
            after = page.get("next_after")
        return out

    def requests(self, limit: int | None = None, **filters: Any) -> list[dict]:
        """`/_mock/requests`: the request log (method, path, status, at, duration_ms, event_id, recipients),
        newest last; `filters`: path, method, status, event_id, recipient."""
        return self.document("/_mock/requests" + _query(limit=limit, **filters))["requests"]

    def verify(self, **filters: Any) -> dict:
        """`/_mock/verify`: `{"messages": accepted sends matching event_id/recipient (every message),
        "requests": matching API requests in the log, "requests_complete", "match"}`."""
        return self.document("/_mock/verify" + _query(**filters))

    def count(self, event_id: str | None = None, recipient: str | None = None) -> int:
        """Accepted sends for `event_id` and/or to `recipient`, over every message since the last reset."""
        return self.verify(event_id=event_id, recipient=recipient)["messages"]

    def set_faults(self, **faults: Any) -> dict:
        """POST `/_mock/faults` (e.g. `latency_ms=200, latency_on="send"`); returns the active faults."""
        return self.document("/_mock/faults", faults)

    def clear_faults(self) -> None:
        """DELETE `/_mock/faults`."""
        self.document("/_mock/faults", method="DELETE")

    def arrivals_s(self, admitted_only: bool = True) -> list[float]:
        """Arrival times (epoch seconds, ms resolution) of the API requests in the request log: each entry's
        completion time `at` minus its `duration_ms`, sorted; `admitted_only` leaves out 429s."""
        return sorted(epoch_s(e["at"]) - e["duration_ms"] / 1000.0 for e in self.requests()
                      if not admitted_only or e["status"] != 429)


def _query(**params: Any) -> str:
    given = {name: value for name, value in params.items() if value is not None}
    return "?" + urllib.parse.urlencode(given) if given else ""


def epoch_s(stamp: str) -> float:
    """Epoch seconds of a mock timestamp (`2026-12-01T09:00:00.123Z`)."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
