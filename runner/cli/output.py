"""What the commands print: one summary line per job, one line per failure, and the JSON documents of
`--json` (the one envelope of `mwsync.report.envelope`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import click

from ..errors import MwsyncError
from ..redact import redact
from ..wording import counted

MAX_LISTED = 10


def summary(report) -> str:
    text = _summary(report)
    if report.journal.get("shared"):
        text += f"; journal {report.journal['location']} (shared by every runner)"
    return text


def _summary(report) -> str:
    m, r = report.messages, report.requests
    head = f"{report.job} -> {report.target}"
    extra = "".join(f", {name} {m[name]}" for name in ("invalid", "duplicates", "changed") if m.get(name))
    if m.get("elsewhere"):
        extra += f", {m['elsewhere']} sent or being sent by other runners"
    if report.dry_run:
        return (f"{head}: dry run: {counted(m['to_send'], 'message')} to send in {counted(r['planned'], 'request')} "
                f"({m['skipped']} already sent{extra})")
    if not r["total"] and not m["failed"] and not m["unknown"] and not report.stopped:
        return f"{head}: nothing new to send ({m['skipped']} of {counted(m['total'], 'message')} already sent{extra})"
    by_status = ", ".join(f"{k}: {v}" for k, v in sorted(r["by_status"].items()))
    text = (f"{head}: sent {counted(m['sent'], 'message')} in {counted(r['total'], 'request')} in "
            f"{report.duration_s:.1f} s"
            + (f" ({by_status})" if by_status else "")
            + f"; skipped {m['skipped']}, failed {m['failed']}, unknown {m['unknown']}{extra}")
    if report.status_429:
        text += f"; {report.status_429} answered 429 (each retried while retry.max_attempts allowed)"
    if report.stopped:
        text += f"; STOPPED: {report.stopped}"
    return text


def failure_line(failure: dict) -> str:
    what = f"message {failure['key']} (row {failure['row']})" if failure["key"] else f"row {failure['row']}"
    return f"  {failure['state']}: {what}: {failure['error']}"


def json_text(document: dict) -> str:
    """`document` as indented JSON, through the redaction filter."""
    return redact(json.dumps(document, indent=2, ensure_ascii=False))


@dataclass
class JsonOutput:
    """The `jobs` entries a command collects for `--json`, and the exit code it will end with."""

    jobs: list[dict] = field(default_factory=list)
    exit_code: int = 0


@contextmanager
def json_output(enabled: bool) -> Iterator[JsonOutput]:
    """With `enabled` (`--json`), print the envelope `{"mwsync", "exit_code", "error", "jobs"}` on stdout
    when the block ends: the entries it collected, or, when it raises an `MwsyncError`, that error (with
    the entries so far) before the error goes on to stderr and the exit code. Without, do nothing."""
    from ..envelope import envelope

    out = JsonOutput()
    try:
        yield out
    except MwsyncError as exc:
        if enabled:
            click.echo(json_text(envelope(out.jobs, exc)))
        raise
    if enabled:
        click.echo(json_text(envelope(out.jobs, exit_code=out.exit_code)))
