"""The embedded target: the bundled mock server a run starts for jobs whose API URL is `embedded`, and the
demo credentials those jobs run with whatever their job files name (`mwsync.rules`: the demo client, the
demo API key, the demo listener secret; none of them a secret). The pipeline calls both."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import replace

from .config import Job, parse_throttle
from .rules import DEMO_API_KEY, DEMO_CLIENT, DEMO_LISTENER_SECRET


def start_embedded(jobs: Sequence[Job], rate_limit: str, stack: ExitStack) -> str | None:
    """Start the bundled mock server (closed by `stack`) when a job targets `embedded`, with the Events API
    limit `rate_limit` (`N/S`, `--embedded-rate-limit`), the demo client, the demo API key and each embedded
    listener job's listener; return its URL, or None when no job needs it. Raises `UsageError` for a bad
    `rate_limit`."""
    if not any(job.subscription.embedded for job in jobs):
        return None
    from .mock_server import MockServer  # only embedded runs need it

    limit = parse_throttle(rate_limit, flag="--embedded-rate-limit")
    listeners = [embedded_listener(job) for job in jobs if job.subscription.embedded and job.listener is not None]
    server = MockServer(rate_limit=limit, clients=dict([DEMO_CLIENT]), api_keys=[DEMO_API_KEY], listeners=listeners)
    stack.enter_context(server)
    return server.url


def embedded_listener(job: Job) -> dict:
    """How the embedded mock registers `job`'s listener: its id, `none`, `bearer` (API key or access token)
    or `hmac` with the demo secret and the job's own signing settings (`MockServer(listeners=...)`)."""
    spec = job.listener
    mode = {"none": "none", "hmac": "hmac"}.get(spec.auth, "bearer")
    entry = {"id": spec.listener_id, "mode": mode}
    if spec.hmac is not None:
        h = spec.hmac
        entry.update(secret=DEMO_LISTENER_SECRET, header=h.header, algorithm=h.algorithm, encoding=h.encoding,
                     prefix=h.prefix, timestamp_header=h.timestamp_header, signed_string=h.signed_string)
    return entry


def as_demo_client(job: Job) -> Job:
    """An embedded job runs as the mock's demo client, whatever credentials the job file names; an embedded
    listener job signs with the demo listener secret, or sends the demo API key (`mwsync.rules`)."""
    if not job.subscription.embedded:
        return job
    api_key = DEMO_API_KEY if job.listener is not None and job.listener.auth == "api_key" else ""
    job = replace(job, subscription=replace(job.subscription, client_id=DEMO_CLIENT[0],
                                            client_secret=DEMO_CLIENT[1], api_key=api_key))
    if job.listener is not None and job.listener.hmac is not None:
        signing = replace(job.listener.hmac, secret=DEMO_LISTENER_SECRET)
        job = replace(job, listener=replace(job.listener, hmac=signing))
    return job
