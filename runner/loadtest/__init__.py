"""`mwsync loadtest`: show that a throttle profile holds under load, before touching a tenant.

The flow, one way::

    LoadtestOptions -> LoadPlan (profile, server limit, duration, users) -> mock server (unless --host)
      -> Locust, headless, in a subprocess (`mwsync.loadtests.locustfile`) -> Observation (the users' ledger,
      Locust's --json-file statistics, /_mock/stats, /_mock/messages, the 429s of /_mock/requests)
      -> judge -> LoadtestReport -> (--html) the page of `mwsync.loadtest.page`

Locust runs in a subprocess because importing it monkey-patches the standard library with gevent; this
process (and pytest) stays unpatched. What is read back is in `mwsync.loadtest.observation`, the checks in
`mwsync.loadtest.verdict`.
"""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from .. import loadtests
from ..config import Job, load_job, parse_throttle
from ..errors import LoadtestError, UsageError
from ..mock_server.remote import MockClient, MockUnreachable
from ..rate import Rate, is_rate
from ..redact import url_without_password as redact_url
from ..rules import API_DEFAULT_RATE, BUILTIN_PROFILES, DEMO_CLIENT
from . import listener
from .observation import ID_SLOT, observe, request_log_size  # noqa: F401  (ID_SLOT: for the locustfile)
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
    profile split between workers); `locust_html`: where Locust writes its own HTML report (its `--html`)."""

    job: Path | None = None
    profile: str | None = None
    server_limit: str | None = None
    duration_s: int | None = None
    users: int | None = None
    latency_ms: float = 0.0
    host: str | None = None
    locust_html: Path | None = None
    user_class: str = "mwsync"
    workers: int = 1
    limiter: str | None = None
    target: str = "events"  # or `listener`: the mock's webhook listener and its limit (`listener`)


@dataclass(frozen=True)
class LoadtestRun:
    """One load test, judged: its `plan`, what it observed (`seen`), the verdicts (`report`), and for people
    `target` (what was loaded, e.g. "the Events API at http://127.0.0.1:37059"), `workers` and `limiter`
    (the shared limiter's URL as given, password included: redact before showing)."""

    plan: LoadPlan
    seen: Observation
    report: LoadtestReport
    target: str
    workers: int = 1
    limiter: str | None = None


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


def run_loadtest(options: LoadtestOptions, announce: Callable[[str], None] = lambda text: None) -> LoadtestRun:
    """Run the load test `options` describe against a mock server and judge it; `announce(text)` gets the plan
    before the run starts. Returns the plan, what was observed and the verdicts. Raises `UsageError`,
    `ConfigError` (the job file) or `LoadtestError`."""
    if importlib.util.find_spec("locust") is None:
        raise UsageError("Locust is not installed (the 'load' extra): pip install 'locust>=2.20' psutil")
    job = load_job(options.job) if options.job else None
    if options.target == "listener" and options.user_class == "raw":
        raise UsageError("--user-class raw posts Events API sends only; use mwsync or unthrottled with --target "
                         "listener")
    profile = resolve_profile(job, options.profile, options.target)  # a misspelt profile fails before any server
    with ExitStack() as stack:
        host, plan, auth = _target(options, job, profile, stack)
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
        command = locust_command(plan, host, work, run_id, options.locust_html, options.limiter, auth)
        output = _run_distributed(command, plan, options.workers) if options.workers > 1 else \
            _run_locust(command, plan)
        seen = observe(host, work, run_id, output, auth)
    return LoadtestRun(plan, seen, judge(plan, seen), f"{what} at {host}", options.workers, options.limiter)


def _target(options: LoadtestOptions, job: Job | None, profile: Rate,
            stack: ExitStack) -> tuple[str, LoadPlan, str | None]:
    """The mock server's URL, the plan against its limit and, for the listener target, the load-test listener's
    auth: the mock at `--host` (reset first), else one started here, its request log sized for the whole run
    (`request_log_size`) so that every 429 can be charted. Raises `UsageError`, `LoadtestError`."""
    if options.host:
        url, server, auth = _running_mock(options, stack)
        return url, plan_for(options, job, server), auth
    if options.target == "listener":
        plan = plan_for(options, job, listener.server_rate(profile, options.server_limit))
        url, auth = listener.start_mock(profile, plan.server, options.latency_ms, stack, request_log_size(plan))
        return url, plan, auth
    from ..mock_server import MockServer  # only when this command starts the mock

    server = parse_throttle(options.server_limit, name="server", flag="--server-limit") if options.server_limit \
        else default_server_limit()
    plan = plan_for(options, job, server)
    mock = MockServer(rate_limit=server, latency_ms=options.latency_ms, token_ttl_s=TOKEN_TTL_S,
                      clients=dict([DEMO_CLIENT]), request_log_size=request_log_size(plan))
    stack.enter_context(mock)
    return mock.url, plan, None


def _running_mock(options: LoadtestOptions, stack: ExitStack) -> tuple[str, Rate, str | None]:
    """The mock at `--host`, reset (its latency set for the run): `(url, its limit, the listener's auth or
    None)`. Raises `UsageError` for `--server-limit`, `LoadtestError` when it cannot be reached."""
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


def stop_timeout_s(plan: LoadPlan) -> int:
    """Whole seconds Locust lets users finish their message at the stop: a throttle slot, a 429's Retry-After
    and the send itself, twice over."""
    return math.ceil(2 * (plan.profile.window_s + plan.server.window_s + plan.latency_ms / 1000)) + 5


def locust_command(plan: LoadPlan, host: str, work: Path, run_id: str, locust_html: Path | None,
                   limiter: str | None = None, listener_auth: str | None = None) -> list[str]:
    """The headless Locust command line; its statistics and the users' ledger go to `work`, Locust's own HTML
    report to `locust_html` (None: none); `limiter`: the Redis URL every process takes its slots from;
    `listener_auth` (none, hmac) sends to the load-test listener instead of the Events API."""
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
    if locust_html:
        command += ["--html", str(locust_html)]
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


def write_report(report: LoadtestReport, path: Path) -> None:
    """Write the report document (`LoadtestReport.as_dict`) as JSON to `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.as_dict(), indent=2) + "\n", encoding="utf-8")
