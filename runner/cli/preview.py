"""`mwsync preview`: the requests exactly as they would be sent (`mwsync.preview`), no network."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import click

from ..redact import redact
from ..wording import counted
from .options import JOB_ARG, JSON_FLAG, as_date, throttle_options
from .output import json_output

SHOWN_RECIPIENTS = 3


def _lines(request: dict, total: int) -> list[str]:
    """A request as text: event id, recipients (count and the first few), slots, keys and rows, text; a listener
    request: the listener, the size and the JSON body."""
    if "listener_id" in request:
        return [f"request {request['request']} of {total}: key {request['keys'][0]} (row {request['rows'][0]})",
                f"  listener:   {request['listener_id']}", f"  body:       {request['bytes']} bytes",
                textwrap.indent(json.dumps(request["body"], indent=2, ensure_ascii=False), "    ")]
    recipients = request["recipients"]
    more = f", ... ({len(recipients) - SHOWN_RECIPIENTS} more)" if len(recipients) > SHOWN_RECIPIENTS else ""
    keys, rows = request["keys"], request["rows"]
    messages = (f"key {keys[0]} (row {rows[0]})" if len(keys) == 1 else
                f"{len(keys)} messages coalesced: keys {', '.join(keys[:3])}{', ...' if len(keys) > 3 else ''} "
                f"(rows {', '.join(map(str, rows[:3]))}{', ...' if len(rows) > 3 else ''})")
    slots = ", ".join(f"{k}={v}" for k, v in request["slots"].items()) or "none"
    return [f"request {request['request']} of {total}: {messages}",
            f"  event:      {request['event_id']}",
            f"  recipients: {request['recipient_count']}: {', '.join(recipients[:SHOWN_RECIPIENTS])}{more}",
            f"  slots:      {slots}",
            "  text:",
            textwrap.indent(request["text"], "    ")]


@click.command()
@JOB_ARG
@click.option("--row", type=click.IntRange(1), help="Only the request(s) carrying this source row (1-based).")
@click.option("--limit", type=click.IntRange(0), default=10, show_default=True,
              help="Show at most this many requests per job (0: all).")
@throttle_options
@JSON_FLAG
def preview(jobs: tuple[Path, ...], row, limit, profile, throttle, today, as_json) -> None:
    """Show the messages exactly as they would be sent, after chunking (500 recipients a request) and
    coalescing (identical messages share requests): event id, recipients, text, slots and idempotency
    keys. Renders every row, reads no journal and sends nothing.

    \b
    mwsync preview jobs/password-expiry.yaml --row 5
    mwsync preview jobs/all-hands.yaml --json --limit 0 | jq '.jobs[0].messages[].recipient_count'
    """
    from ..pipeline import RunOptions, load_jobs
    from ..preview import preview_job

    options = RunOptions(profile=profile, throttle=throttle, today=as_date(today))
    with json_output(as_json) as out:
        for job in load_jobs(jobs, options, check_credentials=False):
            found = preview_job(job, options, row=row, limit=limit)
            out.jobs.append({"job": job.name, "file": str(job.path), "target": job.target,
                             "messages_total": found.messages, "requests_total": found.total, "row": row,
                             "messages": found.requests})
            if as_json:
                continue
            click.echo(f"{job.name}: {counted(found.messages, 'message')} in {counted(found.total, 'request')}; "
                       f"showing {len(found.requests)}{f' (row {row})' if row else ''}")
            for request in found.requests:
                click.echo(redact("\n".join(_lines(request, found.total))))
