"""`mwsync loadtest`: show that a throttle profile holds under load, before touching a tenant.

The flow, one way::

    LoadtestOptions -> LoadPlan (profile, server limit, duration, users) -> mock server (unless --host)
      -> Locust, headless, in a subprocess (`mwsync.loadtests.locustfile`) -> Observation (the users' ledger,
      Locust's --json-file statistics, /_mock/stats, /_mock/messages) -> judge -> LoadtestReport

Locust runs in a subprocess because importing it monkey-patches the standard library with gevent; this
process (and pytest) stays unpatched. The checks themselves are in `mwsync.loadtest.verdict`.
"""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
import tempfile
import uuid
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from .. import loadtests
from ..config import Job, load_job, parse_throttle
from ..errors import LoadtestError, UsageError
from ..mock_server.remote import MockClient, MockUnreachable, epoch_s
from ..rate import Rate, is_rate
from ..redact import url_without_password as redact_url
from ..rules import API_DEFAULT_RATE, BUILTIN_PROFILES, DEMO_CLIENT
from . import listener
from .verdict import (  # noqa: F401  (render: for the CLI, with the rest of this interface)
    LoadPlan,
    LoadtestReport,
    LocustEntry,
    Observation,
    concurrency_advice,
    judge,
    needed_users,
    render,
)

LOCUSTFILE = Path(loadtests.__file__).resolve().parent / "locustfile.py"
LOADTEST_EVENT_ID = "6f1e7a52-3c4b-4d8e-9f20-1a2b3c4d5e6f"
LOADTEST_RECIPIENT = "loadtest@example.com"
ID_SLOT = "loadtest_id"  # the slot carrying each message's unique id (see loadtests/support.py)
RATE_LIMITED_FAILURE = "RateLimitedResponse"  # the locustfile's failure class for a 429 (not an "error")
TOKEN_TTL_S = 60.0  # the started mock's access-token lifetime: "tokens expire every 60 s" (API Credentials page)
LOCUST_START_S = 60.0  # allowance for Locust to start and write its reports, on top of duration and stop
DEFAULT_PROFILE = "ongoing"
MIN_WINDOWS = 3  # shortest run, in windows: the first burst, then at least two more to measure the rate
USER_CLASSES = {"mwsync": "MwsyncUser", "unthrottled": "UnthrottledMwsyncUser", "raw": "RawUser"}
"""`--user-class` choice -> Locust user class in loadtests/locustfile.py."""


@dataclass(frozen=True)
class LoadtestOptions:
    """`mwsync loadtest` choices. `profile`: name or `N/S`; `server_limit`: `N/S` for the mock this command
    starts (default Moveworks' 120/60, or for `target="listener"` the listener limit of the load-test
    listener's kind); `host`: an already running mock server instead; `workers`: Locust worker processes
    (1: no master); `limiter`: a `redis://` limiter every worker shares (else each process its own, the
    profile split between workers)."""

    job: Path | None = None
    profile: str | None = None
    server_limit: str | None = None
    duration_s: int | None = None
    users: int | None = None
    latency_ms: float = 0.0
    host: str | None = None
    html: Path | None = None
    user_class: str = "mwsync"
    workers: int = 1
    limiter: str | None = None
    target: str = "events"  # or `listener`: the mock's webhook listener and its limit (`listener`)


def default_server_limit() -> Rate:
    """Moveworks' default organisation-wide limit, 120 requests per 60 s (Events API reference)."""
    return API_DEFAULT_RATE


def resolve_profile(job: Job | None, spec: str | None, target: str = "events") -> Rate:
    """The throttle profile to test. `spec`: a profile name (built in, or the job's) or `N/S` (e.g. `20/2`);
    None means the job's own profile, or `ongoing` without a job (`listener_secured` for the listener
    target). Raises `UsageError` listing the names."""
    profiles = dict(job.profiles) if job else dict(BUILTIN_PROFILES)
    if not spec:
        return job.throttle if job else profiles[listener.DEFAULT_PROFILE if target == "listener" else DEFAULT_PROFILE]
    if spec in profiles:
        return profiles[spec]
    if is_rate(spec):
        return parse_throttle(spec)
    raise UsageError(f"unknown throttle profile {spec!r} (valid: {', '.join(sorted(profiles))}, or N/S such as 20/2)")


def plan_for(options: LoadtestOptions, job: Job | None, server: Rate) -> LoadPlan:
    """Resolve the options against the job and the server's limit. Raises `UsageError`."""
    profile = resolve_profile(job, options.profile, options.target)
    window_s = max(profile.window_s, server.window_s)
    shortest = math.ceil(MIN_WINDOWS * window_s)
    duration_s = options.duration_s or shortest
    if duration_s < shortest:
        raise UsageError(f"--duration {duration_s} is too short for {window_s:g} s windows: the rate check needs "
                         f"at least {MIN_WINDOWS} windows ({shortest} s)")
    users = max(options.users or (job.concurrent_connections if job else 1), options.workers)
    return LoadPlan(profile, server, duration_s, users, options.latency_ms, options.user_class, options.job)


def run_loadtest(options: LoadtestOptions, announce: Callable[[str], None] = lambda text: None) -> LoadtestReport:
    """Run the load test `options` describe against a mock server and judge it; `announce(text)` gets the plan
    before the run starts. Raises `UsageError`, `ConfigError` (the job file) or `LoadtestError`."""
    if importlib.util.find_spec("locust") is None:
        raise UsageError("Locust is not installed (the 'load' extra): pip install 'locust>=2.20' psutil")
    job = load_job(options.job) if options.job else None
    if options.target == "listener" and options.user_class == "raw":
        raise UsageError("--user-class raw posts Events API sends only; use mwsync or unthrottled with --target "
                         "listener")
    profile = resolve_profile(job, options.profile, options.target)  # a misspelt profile fails before any server
    with ExitStack() as stack:
        host, server, auth = _target(options, profile, stack)
        plan = plan_for(options, job, server)
        what = f"listener {listener.LOADTEST_LISTENER_ID} ({auth})" if auth else "the Events API"
        announce(f"load test: {USER_CLASSES[plan.user_class]} to {what}, profile {plan.profile} against server limit "
                 f"{plan.server} at {host}, {plan.users} user(s), {plan.duration_s} s, latency {plan.latency_ms:g} ms")
        if plan.users < needed_users(plan.limit_rate_per_s, plan.latency_ms):
            announce(f"warning: {concurrency_advice(plan, plan.latency_ms)}")
        if options.workers > 1:
            announce(f"distributed: {options.workers} workers, "
                     + (f"one budget shared through {redact_url(options.limiter)}" if options.limiter
                        else "the profile split between them (no shared limiter)"))
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mwsync-loadtest-")))
        run_id = uuid.uuid4().hex[:8]
        command = locust_command(plan, host, work, run_id, options.html, options.limiter, auth)
        output = _run_distributed(command, plan, options.workers) if options.workers > 1 else \
            _run_locust(command, plan)
        seen = observe(host, work, run_id, output, auth)
    return judge(plan, seen)


def _target(options: LoadtestOptions, profile: Rate, stack: ExitStack) -> tuple[str, Rate, str | None]:
    """The mock server's URL, its rate limit and, for the listener target, the load-test listener's auth: the
    mock at `--host` (reset first), else one started here."""
    if options.target == "listener" and not options.host:
        return listener.start_mock(profile, options.server_limit, options.latency_ms, stack)
    if options.host:
        if options.server_limit:
            raise UsageError("--server-limit sets the limit of the mock server loadtest starts; with --host the "
                             "limit is read from that server's /_mock/stats")
        mock = MockClient(options.host)
        try:
            mock.reset()
            if options.latency_ms:
                mock.set_faults(latency_ms=options.latency_ms, latency_on="send")
                stack.callback(mock.clear_faults)
            if options.target == "listener":
                return (mock.url, *listener.running_mock(mock))
            rate = mock.stats()["rate_limit"]
        except MockUnreachable as exc:
            raise LoadtestError(str(exc)) from None
        return mock.url, Rate(int(rate["limit"]), float(rate["window_s"]), "server"), None
    from ..mock_server import MockServer  # only when this command starts the mock

    server = parse_throttle(options.server_limit, name="server", flag="--server-limit") if options.server_limit \
        else default_server_limit()
    mock = MockServer(rate_limit=server, latency_ms=options.latency_ms, token_ttl_s=TOKEN_TTL_S,
                      clients=dict([DEMO_CLIENT]))
    stack.enter_context(mock)
    return mock.url, server, None


def stop_timeout_s(plan: LoadPlan) -> int:
    """Whole seconds Locust lets users finish their message at the stop: a throttle slot, a 429's Retry-After
    and the send itself, twice over."""
    return math.ceil(2 * (plan.profile.window_s + plan.server.window_s + plan.latency_ms / 1000)) + 5


def locust_command(plan: LoadPlan, host: str, work: Path, run_id: str, html: Path | None,
                   limiter: str | None = None, listener_auth: str | None = None) -> list[str]:
    """The headless Locust command line; its reports and the users' ledger go to `work`; `limiter`: the
    Redis URL every process takes its slots from; `listener_auth` (none, hmac) sends to the load-test
    listener instead of the Events API."""
    command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", host,
               "--users", str(plan.users), "--spawn-rate", str(plan.users), "--run-time", f"{plan.duration_s}s",
               "--stop-timeout", str(stop_timeout_s(plan)), "--only-summary", "--loglevel", "WARNING",
               "--json-file", str(work / "locust"),
               "--mwsync-throttle", f"{plan.profile.limit}/{plan.profile.window_s:g}",
               "--mwsync-ledger", str(work / "ledger.json"), "--mwsync-run-id", run_id]
    if plan.job:
        command += ["--mwsync-job", str(plan.job)]
    if listener_auth:
        command += ["--mwsync-listener-auth", listener_auth]
    if limiter:
        command += ["--mwsync-limiter", limiter]
    if html:
        command += ["--html", str(html)]
    return command + [USER_CLASSES[plan.user_class]]


def _run_locust(command: list[str], plan: LoadPlan) -> str:
    """Run Locust to completion (bounded in time); return its output. Raises `LoadtestError`."""
    timeout_s = plan.duration_s + stop_timeout_s(plan) + LOCUST_START_S
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise LoadtestError(f"Locust did not finish within {timeout_s:g} s and was stopped") from None
    return done.stdout + done.stderr


def _run_distributed(command: list[str], plan: LoadPlan, workers: int) -> str:
    """Run `command` as a Locust master on 127.0.0.1 with `workers` worker processes; return the output.
    Raises `LoadtestError` when it does not finish in time."""
    from ..mock_server.server import _listen

    with _listen("127.0.0.1", 0) as sock:  # a free port for the master
        port = str(sock.getsockname()[1])
    worker = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--worker", "--master-host", "127.0.0.1",
              "--master-port", port, "--loglevel", "WARNING"]
    procs = [subprocess.Popen(worker, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(workers)]
    try:
        master = command[:-1] + ["--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", port,
                                 "--expect-workers", str(workers), "--expect-workers-max-wait", "60", command[-1]]
        return _run_locust(master, plan)
    finally:
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


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
            "outcomes": {k: v for p in parts for k, v in p["outcomes"].items()}}


def observe(host: str, work: Path, run_id: str, output: str, listener_auth: str | None = None) -> Observation:
    """Read what the run produced: the users' ledger (outcomes, errors; loadtests/support.py), Locust's
    statistics (`--json-file`), the mock's stats and messages (or, for the listener target, its events).
    Raises `LoadtestError` when Locust left no complete output."""
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
    if listener_auth:
        got = listener.observed(mock, run_id, ledger["stopping_at"], listener_auth)
        return Observation(got["requests"], got["status_429"], got["max_requests_in_window"],
                           tuple(got["arrivals_s"]), got["received"], ledger["outcomes"], _round_trip_ms(ledger),
                           errors, entries)
    try:
        stats, messages = mock.stats(), mock.messages()
    except MockUnreachable as exc:
        raise LoadtestError(str(exc)) from None
    if stats.get("messages_kept", len(messages)) < stats["messages"]:
        raise LoadtestError(f"the mock server at {host} kept only the last {stats['messages_kept']} of "
                            f"{stats['messages']} messages, so delivery cannot be checked; start it with "
                            f"--keep-messages {stats['messages']} or more")
    received: Counter[str] = Counter()
    arrivals_s = []
    for message in messages:
        key = str(((message.get("context") or {}).get("slots") or {}).get(ID_SLOT, ""))
        if key.startswith(f"{run_id}."):
            received[key] += 1
            at_s = epoch_s(message["received_at"])
            if at_s <= ledger["stopping_at"]:
                arrivals_s.append(at_s)
    arrivals_s += [at_s for at_s in ledger["token_at"] if at_s <= ledger["stopping_at"]]
    return Observation(stats["requests"], stats["status_429"], stats["max_requests_in_window"],
                       tuple(sorted(arrivals_s)), dict(received), ledger["outcomes"], _round_trip_ms(ledger), errors,
                       entries)


def _round_trip_ms(ledger: dict) -> float | None:
    """The mean round trip of the 2xx sends in the users' ledger, or None when there was none."""
    latency = ledger["send_latency_ms"]
    return latency["total"] / latency["count"] if latency["count"] else None


def write_report(report: LoadtestReport, path: Path) -> None:
    """Write the report document (`LoadtestReport.as_dict`) as JSON to `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.as_dict(), indent=2) + "\n", encoding="utf-8")
