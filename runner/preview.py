"""`mwsync preview`: the requests a job would send, exactly as `run` would build them (the plan pass,
then the send pass's chunking and coalescing), without a journal and without the network.

Each request is `{"request": n (1-based), "event_id", "recipients": [...], "recipient_count", "text",
"slots": {...}, "keys": [idempotency keys], "rows": [source rows]}`; a coalesced request lists every
message (key and row) it carries, a chunked message appears in each of its requests.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from .config import Job
from .errors import UsageError
from .pipeline import RunOptions, reference_date, rendered
from .plan import SendOptions, no_journal, plan_pass, send_pass
from .records import Batch, Filtered
from .templates import MessageRenderer


@dataclass(frozen=True)
class Preview:
    """What `preview_job` found: `requests` shown (each a dict, module docstring), `total` requests the
    job needs, `messages` rendered; `row` the source row asked for (None: all)."""

    job: Job
    requests: list[dict]
    total: int
    messages: int
    row: int | None = None


def _as_dict(number: int, batch: Batch) -> dict:
    keys = list(dict.fromkeys(d.key for d in batch.deliveries))
    rows = list(dict.fromkeys(d.row for d in batch.deliveries))
    return {"request": number, "event_id": batch.event_id, "recipients": batch.recipients,
            "recipient_count": len(batch.recipients), "text": batch.text, "slots": dict(batch.slots),
            "keys": keys, "rows": rows}


def _batches(job: Job, options: RunOptions) -> tuple[Iterator[Batch], int, int]:
    """The send pass's batches (as if nothing was sent before), the request count and the message count.
    Raises `InvalidMessages` / `TemplateError` as `mwsync plan` does."""
    renderer = MessageRenderer(job, reference_date(job, options))
    plan = plan_pass(rendered(job, renderer), no_journal, SendOptions(), label=job.source.label,
                     job_file=str(job.path))
    return send_pass(rendered(job, renderer), no_journal, SendOptions(), plan), plan.requests, plan.messages


def _row_state(job: Job, options: RunOptions, row: int) -> str | None:
    """Why source row `row` has no request: filtered out, or past the last row; None when it should have one."""
    renderer = MessageRenderer(job, reference_date(job, options))
    last = 0
    for item in rendered(job, renderer):
        last = item.row
        if item.row == row:
            return "is filtered out by source.filter" if isinstance(item, Filtered) else None
    return f"does not exist ({job.source.label} has {last} rows)"


def preview_job(job: Job, options: RunOptions = RunOptions(), *, row: int | None = None,
                limit: int | None = 10) -> Preview:
    """Up to `limit` requests of `job` (None or 0: all), only those carrying source row `row` when given.
    Raises `UsageError` when `row` is filtered out or does not exist, and what `mwsync plan` raises."""
    batches, total, messages = _batches(job, options)
    shown: list[dict] = []
    for number, batch in enumerate(batches, 1):
        if row is not None and all(d.row != row for d in batch.deliveries):
            continue
        shown.append(_as_dict(number, batch))
        if limit and len(shown) >= limit:
            break
    if row is not None and not shown:
        why = _row_state(job, options, row) or "has no recipient left to send to"
        raise UsageError(f"--row {row}: row {row} of {job.source.label} {why}")
    return Preview(job, shown, total, messages, row)
