"""What a load test produced, read back after Locust stopped: the users' ledger (loadtests/support.py), Locust's
`--json-file` statistics, and the mock's stats, accepted sends (or listener events) and request log.

    ledger.json + locust.json + /_mock/stats + /_mock/messages (/_mock/events) + /_mock/requests?status=429
      -> Observation (mwsync.loadtest.verdict)

The verdicts read `arrivals_s` (accepted sends and granted tokens before the stop); the `--html` chart reads
every arrival, the tail after the stop included, sends, tokens and 429s apart (`mwsync.loadtest.page`).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from ..errors import LoadtestError
from ..mock_server.remote import MockClient, MockUnreachable, epoch_s
from . import listener
from .verdict import LoadPlan, LocustEntry, Observation, tally

ID_SLOT = "loadtest_id"  # the slot carrying each message's unique id (see loadtests/support.py)
LOG_MARGIN = 3  # request-log entries kept per request the plan's pace allows (retries, tokens, the tail)
UNPACED_RATE_PER_S = 2000.0  # requests per second to keep room for when no throttle paces the users
MIN_REQUEST_LOG, MAX_REQUEST_LOG = 1000, 50_000  # entries: the mock's default, and ~40 MB of log at most


def request_log_size(plan: LoadPlan) -> int:
    """Request-log entries the mock this command starts keeps, so that every 429 of the run is still in
    `/_mock/requests` when it is read: `LOG_MARGIN` x the requests the users' pace allows over the duration and
    two windows of tail, between `MIN_REQUEST_LOG` and `MAX_REQUEST_LOG` (beyond it the page says its 429
    marks are partial). The pace is the profile's for `mwsync` users, `UNPACED_RATE_PER_S` for the others."""
    rate_per_s = plan.profile.rate_per_s if plan.user_class == "mwsync" else UNPACED_RATE_PER_S
    span_s = plan.duration_s + 2 * max(plan.profile.window_s, plan.server.window_s)
    return min(MAX_REQUEST_LOG, max(MIN_REQUEST_LOG, math.ceil(LOG_MARGIN * rate_per_s * span_s)))


def _ledger(work: Path) -> dict:
    """The users' ledger: `ledger.json`, or the workers' `ledger.json.worker<i>` merged into one."""
    single = work / "ledger.json"
    if single.exists():
        return json.loads(single.read_text(encoding="utf-8"))
    parts = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(work.glob("ledger.json.worker*"))]
    if not parts:
        raise OSError(f"no ledger in {work}")
    return {"run_id": parts[0]["run_id"], "started_at": min(p["started_at"] for p in parts),
            "stopping_at": min(p["stopping_at"] for p in parts),
            "send_latency_ms": {k: sum(p["send_latency_ms"][k] for p in parts) for k in ("count", "total")},
            "token_at": sorted(t for p in parts for t in p["token_at"]),
            "errors": {k: sum(p["errors"][k] for p in parts) for k in ("failures", "exceptions")},
            "outcomes": {k: v for p in parts for k, v in p["outcomes"].items()},
            "after_429": [key for p in parts for key in p.get("after_429", ())]}


def observe(host: str, work: Path, run_id: str, output: str, listener_auth: str | None = None) -> Observation:
    """Read what the run produced: the users' ledger (outcomes, errors; loadtests/support.py), Locust's
    statistics (`--json-file`), the mock's stats and messages (or, for the listener target, its events) and
    the 429s of its request log. Raises `LoadtestError` when Locust left no complete output or the mock
    cannot be read."""
    try:
        ledger = _ledger(work)
        errors = ledger["errors"]["failures"] + ledger["errors"]["exceptions"]
        entries = tuple(LocustEntry(f"{e['method']} {e['name']}", e["num_requests"], e["num_failures"],
                                    e["total_response_time"] / max(1, e["num_requests"]))
                        for e in json.loads((work / "locust.json").read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError) as exc:
        tail = "\n".join(output.strip().splitlines()[-15:])
        raise LoadtestError(f"Locust did not complete the run ({exc}); its output ends with:\n{tail}") from None
    mock = MockClient(host)
    after_429 = frozenset(ledger.get("after_429", ()))
    got = listener.observed(mock, run_id, listener_auth, after_429) if listener_auth else \
        _events_api(mock, run_id, after_429)
    stopping_at, tokens = ledger["stopping_at"], sorted(ledger["token_at"])
    arrivals_s = [at_s for at_s in got["send_arrivals_s"] if at_s <= stopping_at]
    if not listener_auth:
        arrivals_s += [at_s for at_s in tokens if at_s <= stopping_at]
    return Observation(got["requests"], got["status_429"], got["max_requests_in_window"], tuple(sorted(arrivals_s)),
                       got["received"], ledger["outcomes"], _round_trip_ms(ledger), errors, entries,
                       send_arrivals_s=tuple(sorted(got["send_arrivals_s"])), token_arrivals_s=tuple(tokens),
                       arrivals_429_s=arrivals_429(mock), retry_arrivals_s=tuple(sorted(got["retry_arrivals_s"])))


def _events_api(mock: MockClient, run_id: str, after_429: frozenset[str]) -> dict:
    """The Events API side of `observe`: the mock's figures, this run's messages (`received`: id -> copies)
    and their arrival times (`send_arrivals_s`; `retry_arrivals_s` those of `after_429`)."""
    try:
        stats, messages = mock.stats(), mock.messages()
    except MockUnreachable as exc:
        raise LoadtestError(str(exc)) from None
    if stats.get("messages_kept", len(messages)) < stats["messages"]:
        raise LoadtestError(f"the mock server at {mock.url} kept only the last {stats['messages_kept']} of "
                            f"{stats['messages']} messages, so delivery cannot be checked; start it with "
                            f"--keep-messages {stats['messages']} or more")
    received, sends_s, retries_s = tally(
        ((str(((m.get("context") or {}).get("slots") or {}).get(ID_SLOT, "")), epoch_s(m["received_at"]))
         for m in messages), run_id, after_429)
    return {"requests": stats["requests"], "status_429": stats["status_429"],
            "max_requests_in_window": stats["max_requests_in_window"], "received": received,
            "send_arrivals_s": sends_s, "retry_arrivals_s": retries_s}


def arrivals_429(mock: MockClient) -> tuple[float, ...]:
    """Epoch seconds at which each 429 the mock's request log holds arrived (its completion `at` minus its
    `duration_ms`), sorted. The log is bounded: fewer than `/_mock/stats` `status_429` means it dropped some."""
    try:
        logged = mock.requests(status=429)
    except MockUnreachable as exc:
        raise LoadtestError(str(exc)) from None
    return tuple(sorted(epoch_s(entry["at"]) - entry["duration_ms"] / 1000.0 for entry in logged))


def _round_trip_ms(ledger: dict) -> float | None:
    """The mean round trip of the 2xx sends in the users' ledger, or None when there was none."""
    latency = ledger["send_latency_ms"]
    return latency["total"] / latency["count"] if latency["count"] else None
