"""Run reports: the per-job summary printed, written as JSON (`--report`; JUnit is `mwsync.junit`, the
HTML page `mwsync.htmlreport`). `envelope` is the top-level shape of every JSON document mwsync writes.

The JSON document, the same shape for one job or several, and for a run that failed before sending::

    {"mwsync": "0.1.0", "exit_code": 0, "error": null | {"type", "message", "exit_code"},
     "jobs": [{"job", "file", "target", "journal": {"location", "shared"}, "profile": {"name", "limit",
               "window_s"}, "dry_run",
               "messages": {"total", "sent", "skipped", "failed", "unknown", "held", "changed", "invalid",
                            "filtered", "duplicates", "elsewhere"},
               "requests": {"total", "by_status": {"200": n, ...}}, "status_429", "recipients", "duration_s",
               "stopped", "exit_code", "warnings": [...],
               "failures": [{"key", "row", "state", "status", "code", "error", "recipients"}]}]}

Both files are written atomically (a reader never sees half a file, a previous run's file is replaced
whatever happens) and through the redaction filter; targets are printed as the API URL.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .config.job import Job
from .envelope import envelope, error_dict, problem_dict  # noqa: F401 - re-exported
from .errors import JournalError, MwsyncError
from .journal import JournalBackend
from .plan import Estimate, PlanSummary
from .redact import redact
from .rules import API_DEFAULT_RATE, LISTENER_SECURED_MAX_RATE, LISTENER_UNSECURED_RATE, listener_limit
from .wording import counted, printable

if TYPE_CHECKING:
    from .send import SendSummary

#: When several exit codes apply, the most urgent wins: in doubt, then stopped, then failed.
URGENCY = (3, 4, 1, 0)


@dataclass(frozen=True)
class JobReport:
    """Summary of one job's run; `exit_code` 0 when every message is sent or already sent."""

    job: str
    file: str
    target: str
    journal: dict
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
        """3 some message is in doubt (unknown, here or held from an earlier run); else 4 the run stopped
        before the end; else 1 some message failed or a row was skipped as invalid (`--skip-invalid`);
        else 0 (every message sent or already sent)."""
        m = self.messages
        if m.get("unknown") or m.get("held"):
            return 3
        if self.stopped:
            return 4
        return 1 if (m.get("failed") or m.get("invalid")) else 0

    def to_dict(self) -> dict:
        """The JSON-ready form."""
        return dict(asdict(self), exit_code=self.exit_code)


def run_exit_code(reports: Sequence[JobReport]) -> int:
    """The process exit code for several jobs: the most urgent of theirs (`URGENCY`)."""
    codes = {r.exit_code for r in reports} or {0}
    return next(code for code in URGENCY if code in codes)


def rate_warning(job: Job) -> str | None:
    """The warning for a profile above Moveworks' default 120/min, for an event job to a tenant only (the
    embedded and loopback mocks have their own limits). `mwsync plan` and `mwsync run` both use this."""
    if job.listener is not None:
        return listener_rate_warning(job)
    if job.subscription.kind == "tenant" and job.throttle.rate_per_s > API_DEFAULT_RATE.rate_per_s:
        return (f"profile {job.throttle} exceeds Moveworks' default 120/min: a tenant without a raised "
                "limit answers 429s (recovered, but slower)")
    return None


def listener_rate_warning(job: Job) -> str | None:
    """For a listener job, a profile that exceeds the documented organisation-wide limit of its auth mode
    (listener reference: 1 request per 10 s unsecured; 5/s secured, 50/s on newer copies), counted as the
    mock's sliding window counts it (a burst of 10 in 2 s exceeds 5 per 1 s). Every target: the mock
    enforces the documented limits by default too."""
    profile, limit = job.throttle, listener_limit(job.listener.auth)
    if profile.fits_within(limit):
        return None
    if not job.listener.secured:
        return (f"profile {profile} exceeds the unsecured listener limit of 1 request per 10 s: the listener "
                "answers 429s (recovered, but slower); use listener_unsecured, or secure the listener")
    newer = "" if profile.fits_within(LISTENER_SECURED_MAX_RATE) else "; it exceeds the newer copies' 50/s too"
    return (f"profile {profile} exceeds 5 requests/s, the documented limit for secured listeners (newer copies say "
            f"50/s: listener_secured_50 fits those tenants only){newer}; over the limit the listener answers 429s "
            "(recovered, but slower)")


def eta_warning(job: Job, plan: PlanSummary) -> str | None:
    """For an unsecured listener job whose requests take over an hour at 1 request per 10 s."""
    if job.listener is None or job.listener.secured:
        return None
    seconds = Estimate(LISTENER_UNSECURED_RATE, plan.requests, token_requests=0).duration_s
    if seconds <= 3600:
        return None
    return (f"{plan.requests} requests take ~{seconds / 3600:.1f} h under the unsecured listener limit (1 per 10 s); "
            "secure the listener (listener.auth: hmac, api_key or client_credentials) for 5 requests/s")


def plan_estimates(job: Job, plan: PlanSummary) -> dict[str, float]:
    """Seconds the plan's requests take under the job's profile and under the documented limit: Moveworks'
    default 120/min for an event job (`moveworks_default_120_per_min`), the listener's limit for its auth
    mode for a listener job (`listener_limit`; no token request unless it uses client credentials)."""
    if job.listener is None:
        return {"profile": Estimate(job.throttle, plan.requests).duration_s,
                "moveworks_default_120_per_min": Estimate(API_DEFAULT_RATE, plan.requests).duration_s}
    tokens = 1 if job.listener.auth == "client_credentials" else 0
    return {"profile": Estimate(job.throttle, plan.requests, tokens).duration_s,
            "listener_limit": Estimate(listener_limit(job.listener.auth), plan.requests, tokens).duration_s}


def plan_warnings(job: Job, plan: PlanSummary, recovered: int = 0) -> list[str]:
    """Every warning about `job` and its `plan` (`recovered`: deliveries this run marked unknown)."""
    out = [w for w in (rate_warning(job), eta_warning(job, plan)) if w]
    if recovered:
        out.append(f"{counted(recovered, 'delivery', 'was')} in flight when an earlier run stopped: marked unknown")
    if plan.held:
        out.append(f"{counted(plan.held, 'message', 'is')} in doubt (unknown) from an earlier run and were not resent; "
                   "check with the recipients, then use --resend-unknown to send them again")
    if not (plan.messages or plan.filtered or plan.invalid or plan.duplicates):
        out.append(f"{job.source.label} has no rows: nothing to send")
    if plan.duplicates:
        out.append(f"{counted(plan.duplicates, 'delivery')} repeated an earlier row's idempotency key and recipient: "
                   "sent once")
    if plan.changed:
        keys = ", ".join(plan.changed_keys[:5])
        out.append(f"{counted(plan.changed, 'message', 'was')} sent before with different content and were not resent "
                   f"(e.g. {keys}); give them new idempotency keys to send again")
    return out


def build_report(job: Job, plan: PlanSummary, sent: SendSummary | None, journal: JournalBackend,
                 duration_s: float, *, recovered: int = 0, dry_run: bool = False, elsewhere: int = 0) -> JobReport:
    """Combine the `plan`, what the send pass did (`sent`, None when nothing was sent) and this run's
    journal rows into a `JobReport`. `elsewhere`: messages other runners held (a shared journal): they
    are theirs to send, not this run's."""
    journal_failed = None
    try:
        counts = journal.counts(run_only=True)["messages"] if sent is not None else {}
        failures = _journal_failures(journal, plan, sent)
    except JournalError as exc:  # it failed mid-run: report what the sender saw, and say so
        journal_failed = exc
        counts, failures = dict(sent.messages) if sent is not None else {}, []
    warnings = plan_warnings(job, plan, recovered)
    if journal_failed is not None:
        unrecorded = sent.unrecorded if sent is not None else 0
        doubt = (f"; {counted(unrecorded, 'message', 'is')} in doubt: sent, but the journal could not record "
                 "the answer (pending in the journal: the next run holds such messages as unknown)") if unrecorded \
            else ""
        warnings.append(f"the journal failed during the run, so these figures are the sender's own{doubt}; "
                        "`mwsync status` lists every message once the journal is back")
    messages = {
        "total": plan.messages, "sent": counts.get("sent", 0), "skipped": plan.skipped,
        "failed": counts.get("failed", 0), "unknown": counts.get("unknown", 0) + counts.get("pending", 0) + plan.held,
        "held": plan.held, "changed": plan.changed, "invalid": plan.invalid, "filtered": plan.filtered,
        "duplicates": plan.duplicates, "elsewhere": elsewhere,
    }
    if dry_run:
        messages["to_send"] = plan.to_send
    requests = {"total": sent.requests if sent else 0, "by_status": dict(sent.by_status) if sent else {}}
    if dry_run:
        requests["planned"] = plan.requests
    return JobReport(
        job=job.name, file=str(job.path), target=job.target,
        journal={"location": journal.location, "shared": journal.shared},
        profile={"name": job.throttle.name, "limit": job.throttle.limit, "window_s": job.throttle.window_s},
        messages=messages, requests=requests, status_429=sent.status_429 if sent else 0,
        recipients=plan.recipients, duration_s=round(duration_s, 3), dry_run=dry_run,
        stopped=redact(printable(sent.stopped, 2000)) if sent and sent.stopped else None,
        warnings=[redact(w) for w in warnings],
        failures=[dict(f, error=redact(f["error"])) for f in _invalid_rows(plan) + failures],
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


def document(reports: Sequence[JobReport], error: MwsyncError | None = None) -> dict:
    """The `--report` document (module docstring) for the jobs that ran, or for the `error` that stopped
    the run before (or while) they could."""
    return envelope([r.to_dict() for r in reports], error, run_exit_code(reports))


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file in the same folder, then rename it into place.
    The file gets the mode any new file gets (0666 less the umask), as `open()` would give it: a report is
    redacted, and CI uploads it as an artifact. Raises `OSError`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}"
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def json_report_text(reports: Sequence[JobReport], error: MwsyncError | None = None) -> str:
    """The `--report` document (module docstring) as JSON text, redacted."""
    return redact(json.dumps(document(reports, error), indent=2, ensure_ascii=False)) + "\n"


def write_json(reports: Sequence[JobReport], path: Path, error: MwsyncError | None = None) -> None:
    """Write `--report` (module docstring), redacted and atomically."""
    write_atomic(path, json_report_text(reports, error))
