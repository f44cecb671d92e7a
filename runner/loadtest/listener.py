"""`mwsync loadtest --target listener`: prove a listener throttle profile against the mock's organisation-wide
listener limit (listener reference, "Rate limits": 1 request per 10 s unsecured, 5/s secured), the same
verdicts as for the Events API (`mwsync.loadtest.verdict`).

The mock serves one load-test listener, `LOADTEST_LISTENER_ID`: unsecured for the `listener_unsecured`
profile, otherwise HMAC-signed with `LOADTEST_LISTENER_SECRET` (not a secret), and `--server-limit` (default
the documented limit of that kind) is that kind's listener limit. Each body carries its message id in
`loadtest_id`, so `/_mock/events` can be matched against the users' ledger. A running mock (`--host`) must
serve that listener: `mwsync mock-server --listener LOADTEST_LISTENER_ID:hmac:LOADTEST_LISTENER_SECRET`.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

from ..config import parse_throttle
from ..errors import LoadtestError
from ..mock_server.remote import MockClient, MockUnreachable, epoch_s
from ..rate import Rate
from ..rules import listener_limit
from .verdict import tally

LOADTEST_LISTENER_ID = "7c3d9e21-4f5a-4b6c-8d7e-9f0a1b2c3d4e"
LOADTEST_LISTENER_SECRET = "mwsync-loadtest-listener-secret"
ID_FIELD = "loadtest_id"  # the body field carrying each message's id (see loadtests/locustfile.py)
DEFAULT_PROFILE = "listener_secured"


def listener_auth(profile: Rate) -> str:
    """The load-test listener's auth: `none` for the unsecured profile, else `hmac` (a secured listener)."""
    return "none" if profile.name == "listener_unsecured" else "hmac"


def kind_of(auth: str) -> str:
    """`unsecured` or `secured`: which listener limit of the mock applies (`/_mock/stats` `listeners`)."""
    return "unsecured" if auth == "none" else "secured"


def server_rate(profile: Rate, server_limit: str | None) -> Rate:
    """The listener limit of the mock this command starts: `server_limit` (`N/S`), else the documented limit
    of the load-test listener's kind. Raises `UsageError`."""
    if server_limit:
        return parse_throttle(server_limit, name="server", flag="--server-limit")
    return listener_limit(listener_auth(profile)).named("server")


def start_mock(profile: Rate, server: Rate, latency_ms: float, stack: ExitStack,
               request_log_size: int = 1000) -> tuple[str, str]:
    """Start a mock serving the load-test listener with `server` as that kind's listener limit, keeping
    `request_log_size` entries of request log; `(url, auth)`."""
    from ..mock_server import MockServer  # only when this command starts the mock

    auth = listener_auth(profile)
    listener = {"id": LOADTEST_LISTENER_ID, "mode": auth, "secret": LOADTEST_LISTENER_SECRET if auth == "hmac" else ""}
    limits = {"listener_rate_unsecured": server if auth == "none" else None,
              "listener_rate_secured": server if auth == "hmac" else None}
    mock = MockServer(latency_ms=latency_ms, listeners=[listener], request_log_size=request_log_size, **limits)
    stack.enter_context(mock)
    return mock.url, auth


def running_mock(mock: MockClient) -> tuple[Rate, str]:
    """`(listener limit, auth)` of the load-test listener on a running mock (reset by the caller). Raises
    `LoadtestError` when the mock does not serve it or has no limit for its kind."""
    try:
        stats = mock.stats()["listeners"]
    except (MockUnreachable, KeyError) as exc:
        raise LoadtestError(f"{mock.url} serves no webhook listeners ({exc}); start it with --listener "
                            f"{LOADTEST_LISTENER_ID}:hmac:{LOADTEST_LISTENER_SECRET}") from None
    registered = {entry["listener_id"]: entry for entry in stats["registered"]}
    entry = registered.get(LOADTEST_LISTENER_ID)
    if entry is None or entry["mode"] not in ("none", "hmac") or \
            (entry["mode"] == "hmac" and entry.get("header", "X-Signature") != "X-Signature"):
        raise LoadtestError(f"{mock.url} does not serve the load-test listener; start it with --listener "
                            f"{LOADTEST_LISTENER_ID}:hmac:{LOADTEST_LISTENER_SECRET} (or :none for unsecured)")
    auth = entry["mode"]
    rate = stats["rate_limits"][kind_of(auth)]
    if rate is None:
        raise LoadtestError(f"{mock.url} has no {kind_of(auth)} listener limit to prove a profile against")
    return Rate(int(rate["limit"]), float(rate["window_s"]), "server"), auth


def observed(mock: MockClient, run_id: str, auth: str, after_429: frozenset[str] = frozenset()) -> dict[str, Any]:
    """What the mock received of run `run_id`: `received` (id -> copies), `send_arrivals_s` (epoch seconds of
    every accepted event of the run; `retry_arrivals_s` those of the ids in `after_429`) and the figures of
    `Observation` (requests, 429s, the most requests in one listener window). Raises `LoadtestError`."""
    try:
        stats, events = mock.stats(), mock.events(LOADTEST_LISTENER_ID)
    except MockUnreachable as exc:
        raise LoadtestError(str(exc)) from None
    listeners = stats["listeners"]
    if listeners["events_kept"] < listeners["events"]:
        raise LoadtestError(f"the mock server at {mock.url} kept only the last {listeners['events_kept']} of "
                            f"{listeners['events']} events; start it with --keep-messages {listeners['events']}")
    received, sends_s, retries_s = tally(((str((e.get("body") or {}).get(ID_FIELD, "")), epoch_s(e["received_at"]))
                                          for e in events), run_id, after_429)
    return {"requests": stats["requests"], "status_429": stats["status_429"],
            "max_requests_in_window": listeners["max_requests_in_window"][kind_of(auth)],
            "received": received, "send_arrivals_s": sends_s, "retry_arrivals_s": retries_s}
