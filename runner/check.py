"""`mwsync check`: test a job's connection in three steps, sending no message.

1. **credentials** from the environment (the unset variables are named: exit 2);
2. **access token** from the API's host (`POST /oauth/v1/token`; skipped for a static API key): refused
   is exit 4 with the region hint, unreachable is exit 4 naming the host;
3. **auth test**: `GET /rest/v1/auth/test` with that token (Moveworks Events API reference: 200 when
   valid, 401 otherwise; a wrong regional host answers 401 "Token validation failed").

An embedded job is checked against the bundled mock server, started for the check.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from urllib.parse import urlsplit

from .config import Job, credentials_problem
from .errors import AuthError, MwsyncError, RunStopped, TransientError
from .redact import SECRETS, redact
from .rules import DEMO_CLIENT

REGION_HINT = ("a host of the wrong region answers 401 'Token validation failed': check that {host} is your "
               "organisation's Moveworks region (there are separate hosts, e.g. for the US, the EU, Canada, the "
               "UK, Japan, US-gov and demo organisations), and the credentials")


@dataclass(frozen=True)
class Step:
    """One step's outcome: `name` `credentials`, `access token` or `auth test`; `ok` True, False (failed)
    or None (not run: an earlier step failed); `detail` what happened; `exit_code` of a failure."""

    name: str
    ok: bool | None
    detail: str
    exit_code: int = 0


def _credentials(job: Job) -> Step:
    sub = job.subscription
    if sub.embedded:
        return Step("credentials", True, "the mock's demo client (the job targets the embedded mock)")
    missing = credentials_problem(sub)
    if missing:
        return Step("credentials", False, f"subscription.{missing[0]}: {missing[1]}", 2)
    fields = ("api_key",) if sub.api_key and not sub.client_secret else ("client_id", "client_secret")
    names = [name for field in fields for name in sub.env_refs.get(field, ())]
    source = f"{', '.join(names)} from the environment" if names else "from the job file"
    kind = "API key" if fields == ("api_key",) else "client credentials"
    return Step("credentials", True, f"{kind}, {source}")


def _failed(name: str, exc: MwsyncError, host: str) -> Step:
    text = redact(str(exc))
    if isinstance(exc, AuthError) and exc.status in (400, 401):
        text += "; " + REGION_HINT.format(host=host)
    elif isinstance(exc, TransientError) and "cannot connect" not in text:
        text = f"{host}: {text}"
    return Step(name, False, text, 4)


def _remote_steps(job: Job, base_url: str) -> list[Step]:
    """Steps 2 and 3 against `base_url`."""
    from .send.client import MoveworksClient
    from .send.throttle import SlidingWindowLimiter

    host = urlsplit(base_url).netloc
    limiter = SlidingWindowLimiter(job.throttle.limit, job.throttle.window_s)
    client = MoveworksClient(base_url, job.subscription, limiter, retry=job.retry, on_token=SECRETS.add)
    steps = []
    try:
        if client.tokens is None:
            steps.append(Step("access token", True, "a static API key: no token request"))
        else:
            try:
                client.tokens.get()
                steps.append(Step("access token", True, f"issued by {host}"))
            except (RunStopped, TransientError) as exc:
                return [_failed("access token", exc, host), Step("auth test", None, "not run")]
        try:
            client.test_auth()
            steps.append(Step("auth test", True, f"GET {host}/rest/v1/auth/test answered 200"))
        except (RunStopped, TransientError) as exc:
            steps.append(_failed("auth test", exc, host))
    finally:
        client.close()
    return steps


def check_job(job: Job) -> list[Step]:
    """The three steps for `job` (module docstring); an embedded job is checked against a mock server
    started here. Never raises for what it checks: each failure is a `Step` with its exit code."""
    first = _credentials(job)
    if not first.ok:
        return [first, Step("access token", None, "not run"), Step("auth test", None, "not run")]
    if not job.subscription.embedded:
        return [first, *_remote_steps(job, job.subscription.api_url)]
    from .mock_server import MockServer

    demo = replace(job, subscription=replace(job.subscription, client_id=DEMO_CLIENT[0],
                                             client_secret=DEMO_CLIENT[1], api_key=""))
    with MockServer(clients=dict([DEMO_CLIENT])) as server:
        return [first, *_remote_steps(demo, server.url)]


def exit_code(steps: list[Step]) -> int:
    """The first failed step's exit code, else 0."""
    return next((s.exit_code for s in steps if s.ok is False), 0)


def as_dict(job: Job, steps: list[Step]) -> dict:
    """`check --json`'s entry: `{"job", "file", "target", "ok", "exit_code", "steps": [{"name", "ok", "detail",
    "exit_code"}]}`."""
    return {"job": job.name, "file": str(job.path), "target": job.subscription.target,
            "ok": exit_code(steps) == 0, "exit_code": exit_code(steps), "steps": [asdict(s) for s in steps]}
