"""Locust users that load-test a throttle profile through mwsync's own sending client, next to a raw baseline.

By hand (start a mock first: `mwsync mock-server --rate-limit 20/2`)::

    locust -f "$(mwsync loadtest --locustfile)" -H http://127.0.0.1:8765                       # web UI on :8089
    locust -f "$(mwsync loadtest --locustfile)" -H http://127.0.0.1:8765 --headless -u 2 -t 30s --mwsync-throttle 20/2
    locust -f "$(mwsync loadtest --locustfile)" -H http://127.0.0.1:8765 --headless -u 50 -t 10s RawUser

Distributed: `--master --mwsync-throttle 500/60` on one node, `--worker` (same locustfile) on each other one.
Settings (`--mwsync-*`) reach the workers with the master's options. With `--mwsync-limiter redis://HOST:PORT/DB`
every worker takes its slots from one Redis limiter (`mwsync.send.redis_limiter`): one budget, the whole
profile, shared by all of them, also by workers that join later. Without it each worker throttles on its own,
so at test start the master splits the profile's budget: worker i of n gets `limit // n` calls per window,
plus one for the first `limit % n` workers (`support.budget_share`); the shares add up to the profile. Workers
that join later are not counted then: start all workers first (`--expect-workers`).

Users (name one on the command line; with none named, only `MwsyncUser` runs, not a mix):

- `MwsyncUser`: mwsync's `MoveworksClient` (access token, `SlidingWindowLimiter`, retries on 429/5xx). All users
  of a process share one client, as the `concurrent_connections` threads of `mwsync run` do, so `-u` is the
  concurrent connections.
- `UnthrottledMwsyncUser`: the same client with throttling disabled (`Unlimited`): retries, no pacing.
- `RawUser`: a `FastHttpUser` posting sends as fast as it can, no throttle and no retry: shows the server's
  429 enforcement and capacity. Its access token comes from mwsync's client.

Statistics (Locust's counts equal the HTTP requests the server saw):

- `POST /oauth/v1/token`: every access-token request (the first one, and each refresh);
- `POST /rest/v1/events/{event_id}/messages/send` (or, with `--mwsync-listener-auth`, `POST
  /webhooks/v1/listeners/{listener_id}/notify`): each message sent; its time runs from asking the client to
  send until the 2xx, so it includes the wait for a throttle slot and any retries;
- `... (sent after 429)`: messages that met a 429 and were then delivered, apart from the others;
- failures: every HTTP answer >= 400 (a 429 as `RateLimitedResponse`, others as `HttpStatusError`), and
  `MessageNotSent` for a message that ended `failed` or `unknown` without an HTTP answer to show.

The process exits 1 when there were failures other than 429s or exceptions in users, else 0: 429s are
expected when a profile exceeds the server's limit, and `mwsync loadtest` judges them itself.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

from locust import FastHttpUser, User, constant, events, task
from locust.exception import StopUser
from locust.runners import MasterRunner, WorkerRunner
from locust.stats import StatsError

from mwsync.config import RetryPolicy, Subscription, load_job
from mwsync.config.job import HmacSigning, ListenerSpec
from mwsync.errors import AuthError
from mwsync.loadtest import ID_SLOT, LOADTEST_EVENT_ID, LOADTEST_RECIPIENT, RATE_LIMITED_FAILURE, resolve_profile
from mwsync.loadtest.listener import ID_FIELD, LOADTEST_LISTENER_ID, LOADTEST_LISTENER_SECRET
from mwsync.loadtests.support import Ledger, MessageIds, budget_share
from mwsync.rate import Rate
from mwsync.rules import DEMO_CLIENT, LISTENER_NOTIFY_PATH
from mwsync.send import ListenerClient, MoveworksClient, Unlimited, open_limiter
from mwsync.send.api import SEND_PATH, TOKEN_PATH

POOL_SIZE = 64  # connections kept per process: the most `concurrent_connections` a job may ask for


class RateLimitedResponse(Exception):
    """An HTTP 429 answer. `mwsync loadtest` judges 429s with its own checks and leaves out of "Locust
    errors" every failure whose text holds this class name (`mwsync.loadtest.RATE_LIMITED_FAILURE`)."""


class HttpStatusError(Exception):
    """An HTTP answer >= 400 other than 429."""


class MessageNotSent(Exception):
    """A message ended `failed` or `unknown` with no HTTP answer to report (connection refused, timeout)."""


@events.init_command_line_parser.add_listener
def _add_arguments(parser) -> None:
    parser.add_argument("--mwsync-throttle", default="", env_var="MWSYNC_THROTTLE",
                        help="Throttle profile: a name (initial, ongoing, high_volume, or the job's) or N/S such as "
                             "20/2. Default: the job's profile, else ongoing.")
    parser.add_argument("--mwsync-job", default="", env_var="MWSYNC_JOB",
                        help="Job file whose profiles, retry settings and event id to use.")
    parser.add_argument("--mwsync-event-id", default="", env_var="MWSYNC_EVENT_ID",
                        help="Event id to send for (default: the job's, else a fixed test UUID).")
    parser.add_argument("--mwsync-client-id", default=DEMO_CLIENT[0], env_var="MWSYNC_CLIENT_ID",
                        help="Client id (the secret is read from MWSYNC_CLIENT_SECRET only).")
    parser.add_argument("--mwsync-ledger", default="", env_var="MWSYNC_LEDGER", include_in_web_ui=False,
                        help="Write each message's outcome to this JSON file when the test stops.")
    parser.add_argument("--mwsync-limiter", default="", env_var="MWSYNC_LIMITER",
                        help="A Redis limiter shared by every worker (redis://HOST:PORT/DB): one budget, the whole "
                             "profile. Default: each process its own, the profile split between workers.")
    parser.add_argument("--mwsync-run-id", default=uuid.uuid4().hex[:8], env_var="MWSYNC_RUN_ID",
                        include_in_web_ui=False, help="Tag in every message id of this run.")
    parser.add_argument("--mwsync-listener-auth", default="", choices=["", "none", "hmac"],
                        env_var="MWSYNC_LISTENER_AUTH", help="Send to the load-test webhook listener (unsecured, or "
                        "HMAC-signed) instead of the Events API (mwsync loadtest --target listener).")


class LoadProcess:
    """This process's part of the test: settings, the clients its users share, message ids and ledger."""

    def __init__(self, environment, workers: int, index: int):
        options = environment.parsed_options
        job = load_job(options.mwsync_job) if options.mwsync_job else None
        auth = getattr(options, "mwsync_listener_auth", "")
        profile = resolve_profile(job, options.mwsync_throttle or None, "listener" if auth else "events")
        self.limiter_url = options.mwsync_limiter or None
        share = profile.limit if self.limiter_url else budget_share(profile.limit, workers, index)
        self.throttle = Rate(share, profile.window_s, profile.name)
        self.retry = job.retry if job else RetryPolicy()
        self.event_id = options.mwsync_event_id or (job.message.event_id if job else LOADTEST_EVENT_ID)
        secret = os.environ.get("MWSYNC_CLIENT_SECRET", DEMO_CLIENT[1])
        token_request = job.subscription.token_request if job else "form"
        self.subscription = Subscription(None, options.mwsync_client_id, secret, token_request=token_request)
        self.ids = MessageIds(options.mwsync_run_id)
        self.ledger = Ledger(options.mwsync_run_id)
        ledger = options.mwsync_ledger
        self.ledger_path = Path(f"{ledger}.worker{index}" if ledger and workers > 1 else ledger) if ledger else None
        self._environment = environment
        self._clients: dict[bool, MoveworksClient] = {}
        signing = HmacSigning(LOADTEST_LISTENER_SECRET) if auth == "hmac" else None
        self.listener = ListenerSpec(LOADTEST_LISTENER_ID, auth, {}, None, signing) if auth else None
        self.path = LISTENER_NOTIFY_PATH if auth else SEND_PATH  # the statistics' name for a message

    def client(self, throttled: bool = True) -> MoveworksClient:
        """The process's client, throttled by its share of the profile or not at all."""
        if throttled not in self._clients:
            scope = self._environment.host.rstrip("/") + (" listeners" if self.listener else "")
            limiter = open_limiter(self.limiter_url, target=scope, limit=self.throttle.limit,
                                   window_s=self.throttle.window_s) if throttled else Unlimited()
            settings = dict(retry=self.retry, pool_size=POOL_SIZE)
            client = ListenerClient(self._environment.host, self.subscription, limiter, listener=self.listener,
                                    **settings) if self.listener else \
                MoveworksClient(self._environment.host, self.subscription, limiter, **settings)
            client.session.hooks["response"].append(self._report_response)
            self._clients[throttled] = client
        return self._clients[throttled]

    def _report_response(self, response, *args, **kwargs) -> None:
        """Session hook: report token answers and failed send answers (a sent message is reported by its
        user, with the throttle wait and retries in its time)."""
        is_token = response.request.path_url.startswith(TOKEN_PATH)
        elapsed_ms = response.elapsed.total_seconds() * 1000
        if response.status_code < 400 and not is_token:
            self.ledger.observe(elapsed_ms)
            return
        if is_token and response.status_code == 200:
            self.ledger.token_granted()
        self._environment.events.request.fire(
            request_type=response.request.method, name=TOKEN_PATH if is_token else self.path,
            response_time=elapsed_ms, response_length=len(response.content),
            exception=http_failure(response.status_code), context={})

    def close(self) -> None:
        for client in self._clients.values():
            client.close()


def http_failure(status: int) -> Exception | None:
    """The failure Locust records for an HTTP status (None below 400)."""
    if status == 429:
        return RateLimitedResponse("HTTP 429 Too Many Requests")
    return HttpStatusError(f"HTTP {status}") if status >= 400 else None


PROCESS: LoadProcess | None = None


@events.init.add_listener
def _default_user_class(environment, **kwargs) -> None:
    """Run only `MwsyncUser` when no user class was named (Locust would mix all three)."""
    options = environment.parsed_options
    if options and not options.user_classes and not options.worker and not options.class_picker:
        environment.user_classes = [MwsyncUser]


@events.test_start.add_listener
def _on_test_start(environment, **kwargs) -> None:
    global PROCESS
    runner = environment.runner
    if isinstance(runner, MasterRunner):  # tell the workers how many share the budget
        environment.parsed_options.mwsync_workers = runner.worker_count
        return
    if PROCESS is not None:  # a new test from the web UI
        PROCESS.close()
    if isinstance(runner, WorkerRunner):
        PROCESS = LoadProcess(environment, getattr(environment.parsed_options, "mwsync_workers", 1),
                              max(0, runner.worker_index))
    else:
        PROCESS = LoadProcess(environment, 1, 0)


@events.test_stopping.add_listener
def _on_test_stopping(environment, **kwargs) -> None:
    if PROCESS is not None:
        PROCESS.ledger.stopping()


@events.test_stop.add_listener
def _on_test_stop(environment, **kwargs) -> None:
    if PROCESS is not None and PROCESS.ledger_path is not None:
        failures, exceptions = errors(environment)
        PROCESS.ledger.errors = {"failures": failures, "exceptions": exceptions}
        PROCESS.ledger.write(PROCESS.ledger_path)


@events.quitting.add_listener
def _exit_code(environment, **kwargs) -> None:
    """Exit 1 on failures other than 429s, or exceptions in users; 429s alone are judged by mwsync loadtest."""
    if PROCESS is not None:
        PROCESS.close()
    environment.process_exit_code = 1 if any(errors(environment)) else 0


def errors(environment) -> tuple[int, int]:
    """`(failures other than 429s, exceptions raised in users)` in this process's statistics."""
    failures = sum(error.occurrences for error in environment.stats.errors.values()
                   if RATE_LIMITED_FAILURE not in StatsError.parse_error(error.error))
    runner = environment.runner
    return failures, sum(e["count"] for e in runner.exceptions.values()) if runner else 0


def message(message_id: str) -> tuple[str, dict[str, str]]:
    """Text and slots of a load-test message carrying `message_id`."""
    return f"mwsync load test message {message_id}", {ID_SLOT: message_id}


class MwsyncUser(User):
    """Sends one message per task through mwsync's client (auth, throttle, retry); see the module docstring."""

    wait_time = constant(0)
    throttled = True

    @task
    def send_message(self) -> None:
        process = PROCESS
        message_id = process.ids.next()
        text, slots = message(message_id)
        client = process.client(self.throttled)
        try:
            if process.listener is not None:  # one listener body carrying the id (mwsync.loadtest.listener)
                body = json.dumps({ID_FIELD: message_id, "message": text}, separators=(",", ":")).encode()
                result = client.notify(LOADTEST_LISTENER_ID, body)
            else:
                result = client.send_message(process.event_id, text, [LOADTEST_RECIPIENT], slots)
        except AuthError as exc:
            process.ledger.record(message_id, "failed")
            if exc.status is None or exc.status < 400:  # an HTTP refusal was already reported by the session hook
                self._fire(process.path, 0.0, MessageNotSent(f"failed: {exc}"))
            raise StopUser() from None
        process.ledger.record(message_id, result.state)
        if result.state == "sent" and result.retried_429:
            process.ledger.sent_after_429(message_id)
        if result.state == "sent":
            self._fire(f"{process.path} (sent after 429)" if result.retried_429 else process.path, result.latency_ms)
        elif result.status is None:  # no HTTP answer: the session hook reported nothing for this attempt
            self._fire(process.path, result.latency_ms, MessageNotSent(f"{result.state}: {result.error}"))

    def _fire(self, name: str, response_time_ms: float, exception: Exception | None = None) -> None:
        self.environment.events.request.fire(request_type="POST", name=name, response_time=response_time_ms,
                                             response_length=0, exception=exception, context={})


class UnthrottledMwsyncUser(MwsyncUser):
    """`MwsyncUser` with throttling disabled: a runner that ignores the profile (still retries 429s)."""

    throttled = False


class RawUser(FastHttpUser):
    """Posts sends with no throttle and no retry (a 429 is final: the message is `failed`)."""

    wait_time = constant(0)

    @task
    def send_message(self) -> None:
        process = PROCESS
        tokens = process.client(throttled=False).tokens
        token = tokens.get()
        message_id = process.ids.next()
        text, slots = message(message_id)
        # The send body (Moveworks Events API reference, "Send a message for an event"); mwsync.send.api defines
        # the same one, but a raw user must bypass that client.
        body = {"message": text, "recipients": [LOADTEST_RECIPIENT], "context": {"slots": slots}}
        started = time.perf_counter()
        with self.client.post(SEND_PATH.format(event_id=process.event_id), json=body, name=SEND_PATH,
                              headers={"Authorization": f"Bearer {token}"}, catch_response=True) as response:
            status = response.status_code or 0
            if 200 <= status < 300:
                response.success()
                process.ledger.observe((time.perf_counter() - started) * 1000)
                process.ledger.record(message_id, "sent")
                return
            process.ledger.record(message_id, "unknown" if status == 0 else "failed")
            if status == 401:
                tokens.invalidate(token)
            response.failure(http_failure(status) if status else MessageNotSent(f"unknown: {response.error}"))
