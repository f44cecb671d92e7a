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
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .config.job import Job
from .journal import JournalBackend
from .plan import PlanSummary
from .rules import API_DEFAULT_RATE
from .send import SendSummary


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


def rate_warning(job: Job) -> str | None:
    """The warning for a profile above Moveworks' default 120/min, for a tenant target only (the embedded
    and loopback mocks have their own limits). `mwsync plan` and `mwsync run` both use this."""
    if job.subscription.kind == "tenant" and job.throttle.rate_per_s > API_DEFAULT_RATE.rate_per_s:
        return (f"profile {job.throttle} exceeds Moveworks' default 120/min: a tenant without a raised "
                "limit answers 429s (recovered, but slower)")
    return None


def plan_warnings(job: Job, plan: PlanSummary, recovered: int = 0) -> list[str]:
    """Every warning about `job` and its `plan` (`recovered`: deliveries this run marked unknown)."""
    out = [w for w in (rate_warning(job),) if w]
    if recovered:
        out.append(f"{recovered} deliveries were in flight when an earlier run stopped: marked unknown")
    if plan.held:
        out.append(f"{plan.held} messages are in doubt (unknown) from an earlier run and were not resent; "
                   "check with the recipients, then use --resend-unknown to send them again")
    if not (plan.messages or plan.filtered or plan.invalid or plan.duplicates):
        out.append(f"{job.source.label} has no rows: nothing to send")
    if plan.duplicates:
        out.append(f"{plan.duplicates} deliveries repeated an earlier row's idempotency key and recipient: "
                   "sent once")
    if plan.changed:
        keys = ", ".join(plan.changed_keys[:5])
        out.append(f"{plan.changed} messages were sent before with different content and were not resent "
                   f"(e.g. {keys}); give them new idempotency keys to send again")
    return out


def build_report(job: Job, plan: PlanSummary, sent: SendSummary | None, journal: JournalBackend,
                 duration_s: float, *, recovered: int = 0, dry_run: bool = False) -> JobReport:
    """Combine the `plan`, what the send pass did (`sent`, None when nothing was sent) and this run's
    journal rows into a `JobReport`."""
    counts = journal.counts(run_only=True)["messages"] if sent is not None else {}
    messages = {
        "total": plan.messages, "sent": counts.get("sent", 0), "skipped": plan.skipped,
        "failed": counts.get("failed", 0), "unknown": counts.get("unknown", 0) + counts.get("pending", 0) + plan.held,
        "held": plan.held, "changed": plan.changed, "invalid": plan.invalid, "filtered": plan.filtered,
        "duplicates": plan.duplicates,
    }
    if dry_run:
        messages["to_send"] = plan.to_send
    requests = {"total": sent.requests if sent else 0, "by_status": dict(sent.by_status) if sent else {}}
    if dry_run:
        requests["planned"] = plan.requests
    return JobReport(
        job=job.name, file=str(job.path), target=job.subscription.target,
        profile={"name": job.throttle.name, "limit": job.throttle.limit, "window_s": job.throttle.window_s},
        messages=messages, requests=requests, status_429=sent.status_429 if sent else 0,
        recipients=plan.recipients, duration_s=round(duration_s, 3), dry_run=dry_run,
        stopped=sent.stopped if sent else None, warnings=plan_warnings(job, plan, recovered),
        failures=_invalid_rows(plan) + _journal_failures(journal, plan, sent),
    )


def _journal_failures(journal: JournalBackend, plan: PlanSummary, sent: SendSummary | None) -> list[dict]:
    """This run's failed and unknown messages, then those held in doubt from earlier runs."""
    found = journal.failures() if sent is not None else []
    if plan.held:
        listed = {f["key"] for f in found}
        found += [f for f in journal.failures(run_only=False, states=("unknown", "pending")) if f["key"] not in listed]
    return found


def _invalid_rows(plan: PlanSummary) -> list[dict]:
    """`failures` entries for rows skipped as invalid (`--skip-invalid`): state `invalid`, never sent."""
    return [{"key": None, "row": p.row, "state": "invalid", "status": None, "code": None, "recipients": 0,
             "error": f"{p.where}: {p.message}" if p.where else p.message} for p in plan.problems]


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
