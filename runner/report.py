"""Run reports: the per-job summary printed, written as JSON (`--report`) and as JUnit XML (`--junit`).

JSON shape (one object per job, a list when several jobs ran)::

    {"job", "file", "target", "profile": {"name", "limit", "window_s"}, "dry_run",
     "messages": {"total", "sent", "skipped", "failed", "unknown", "held", "changed", "invalid", "filtered"},
     "requests": {"total", "by_status": {"200": n, ...}}, "status_429", "recipients", "duration_s",
     "stopped", "warnings": [...], "failures": [{"key", "row", "state", "status", "code", "error", "recipients"}]}

Targets are printed as the API URL (no credentials ever appear in a report).
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

from .job import API_DEFAULT_LIMIT, LOOPBACK_RE, Job


@dataclass(frozen=True)
class JobReport:
    """Summary of one job's run; `exit_code` 0 when every message is sent or already sent."""

    job: str
    file: str
    target: str
    profile: dict
    messages: dict
    requests: dict
    status_429: int
    recipients: int
    duration_s: float
    dry_run: bool = False
    stopped: str | None = None
    warnings: list[str] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 all sent (or already sent); 1 some message failed, is unknown, was skipped as invalid
        (`--skip-invalid`), or the run stopped early."""
        m = self.messages
        return 1 if (m.get("failed") or m.get("unknown") or m.get("invalid") or self.stopped) else 0

    def to_dict(self) -> dict:
        """The JSON-ready form."""
        return asdict(self)


def _local(job: Job) -> bool:
    """The embedded mock, or a server on this machine (a standalone mock): not a tenant."""
    return job.subscription.embedded or bool(LOOPBACK_RE.match(urlsplit(job.subscription.api_url).hostname or ""))


def _warnings(job: Job, tally, recovered: int) -> list[str]:
    out = []
    limit, window_s = API_DEFAULT_LIMIT
    if job.throttle.rate_per_s > limit / window_s and not _local(job):
        out.append(f"profile {job.throttle} exceeds Moveworks' default 120/min: a tenant without a raised "
                   "limit answers 429s (recovered, but slower)")
    if recovered:
        out.append(f"{recovered} deliveries were in flight when an earlier run stopped: marked unknown")
    if tally.held:
        out.append(f"{tally.held} messages are in doubt (unknown) from an earlier run and were not resent; "
                   "check with the recipients, then use --resend-unknown to send them again")
    if not (tally.total or tally.filtered or tally.invalid or tally.duplicates):
        out.append(f"{job.source.label} has no rows: nothing to send")
    if tally.duplicates:
        out.append(f"{tally.duplicates} deliveries repeated an earlier row's idempotency key and recipient: "
                   "sent once")
    if tally.changed:
        keys = ", ".join(tally.changed_keys[:5])
        out.append(f"{tally.changed} messages were sent before with different content and were not resent "
                   f"(e.g. {keys}); give them new idempotency keys to send again")
    return out


def build_report(job: Job, tally, outcome, journal, duration_s: float, *, recovered: int = 0,
                 dry_run: bool = False) -> JobReport:
    """Combine the send pass `tally`, the `outcome` (None when nothing was sent) and this run's
    journal rows into a `JobReport`."""
    counts = journal.counts(run_only=True)["messages"] if outcome is not None else {}
    messages = {
        "total": tally.total, "sent": counts.get("sent", 0), "skipped": tally.skipped,
        "failed": counts.get("failed", 0), "unknown": counts.get("unknown", 0) + counts.get("pending", 0) + tally.held,
        "held": tally.held, "changed": tally.changed, "invalid": tally.invalid, "filtered": tally.filtered,
        "duplicates": tally.duplicates,
    }
    if dry_run:
        messages["to_send"] = tally.new
    requests = {"total": outcome.requests if outcome else 0, "by_status": dict(outcome.by_status) if outcome else {}}
    if dry_run:
        requests["planned"] = tally.requests
    return JobReport(
        job=job.name, file=str(job.path), target=job.subscription.target,
        profile={"name": job.throttle.name, "limit": job.throttle.limit, "window_s": job.throttle.window_s},
        messages=messages, requests=requests, status_429=outcome.status_429 if outcome else 0,
        recipients=tally.recipients, duration_s=round(duration_s, 3), dry_run=dry_run,
        stopped=outcome.stopped if outcome else None, warnings=_warnings(job, tally, recovered),
        failures=_invalid_rows(tally) + _journal_failures(journal, tally, outcome),
    )


def _journal_failures(journal, tally, outcome) -> list[dict]:
    """This run's failed and unknown messages, then those held in doubt from earlier runs."""
    found = journal.failures() if outcome is not None else []
    if tally.held:
        listed = {f["key"] for f in found}
        found += [f for f in journal.failures(run_only=False, states=("unknown", "pending")) if f["key"] not in listed]
    return found


def _invalid_rows(tally) -> list[dict]:
    """`failures` entries for rows skipped as invalid (`--skip-invalid`): state `invalid`, never sent."""
    out = []
    for problem in tally.problems:
        match = re.match(r"row (\d+)", problem.where)
        out.append({"key": None, "row": int(match.group(1)) if match else None, "state": "invalid",
                    "status": None, "code": None, "recipients": 0,
                    "error": f"{re.sub(r'^row [0-9]+, ?', '', problem.where)}: {problem.message}".lstrip(": ")})
    return out


def write_json(reports: Sequence[JobReport], path: Path) -> None:
    """Write `--report`: one object for one job, a list for several."""
    data = [r.to_dict() for r in reports]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data[0] if len(data) == 1 else data, indent=2, ensure_ascii=False) + "\n", "utf-8")


def write_junit(reports: Sequence[JobReport], path: Path) -> None:
    """Write `--junit`: a test suite per job, a failing test case per failed or unknown message."""
    from junit_xml import TestCase, TestSuite, to_xml_report_string

    suites = []
    for report in reports:
        cases = [TestCase("delivery", classname=report.job, elapsed_sec=report.duration_s,
                          stdout=json.dumps(report.messages))]
        if report.stopped:
            cases[0].add_failure_info(message=f"stopped: {report.stopped}")
        for failure in report.failures:
            name = f"message {failure['key']}" if failure["key"] else f"row {failure['row']}"
            case = TestCase(name, classname=report.job)
            case.add_failure_info(message=f"{failure['state']}: {failure['error'] or ''}", output=json.dumps(failure))
            cases.append(case)
        suites.append(TestSuite(f"mwsync.{report.job}", cases))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_xml_report_string(suites), "utf-8")
