"""Where a run's state lives: each job's journal (a file, or a shared PostgreSQL database) and each
target's rate limiter (in-process, or shared through Redis), and the CI guard. Used by `mwsync.pipeline`
and the `status`/`resolve` commands, so every command finds the same journal.

Precedence, for the journal: `--journal` (or `MWSYNC_JOURNAL`), then the job file's `journal:`, then
`<state dir>/journal/<job>.sqlite` (`--state-dir`, `MWSYNC_STATE_DIR`, or `.mwsync` beside the job file).
For the limiter: `--limiter` (or `MWSYNC_LIMITER`), then the first job file of the target naming one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Protocol

from .config import Job
from .errors import UsageError
from .journal import JournalBackend, is_database_url, open_journal
from .send.stop import StopSignal
from .send.throttle import Limiter, open_limiter

#: Seconds a shared slot never completed blocks the budget beyond the request deadline (slack for a
#: runner's scheduling and Redis round trips).
INFLIGHT_SLACK_S = 10.0


class StateOptions(Protocol):
    """The `RunOptions` fields this module reads."""

    journal: str | Path | None
    state_dir: Path | None
    limiter: str | None
    lease_s: float | None
    new_journal: bool


def in_ci(environ: Mapping[str, str] = os.environ) -> bool:
    """True when `CI` holds a true value (`true`, `1`, `yes`, `on`; GitHub Actions and GitLab CI set `true`)."""
    return environ.get("CI", "").strip().lower() in ("1", "true", "yes", "on")


def journal_location(job: Job, options: StateOptions) -> str | Path:
    """The job's journal: a `postgresql://` URL or a file path (module docstring for the precedence). The
    default path is the same whatever the working directory, so running a job from elsewhere never sends
    it again."""
    chosen = options.journal or job.journal
    if chosen:
        return str(chosen) if is_database_url(chosen) else Path(chosen)
    state_dir = options.state_dir or job.path.resolve().parent / ".mwsync"
    return state_dir / "journal" / f"{job.name}.sqlite"


def ci_guarded(job: Job, options: StateOptions, environ: Mapping[str, str] = os.environ) -> bool:
    """True when the CI guard applies to `job`: in CI, a target other than the embedded mock, no
    `--new-journal`. A new journal then stops the run: a local file that does not exist yet
    (`check_ci_journal`), or a PostgreSQL database without mwsync's tables (`open_job_journal`)."""
    return in_ci(environ) and not job.subscription.embedded and not options.new_journal


def check_ci_journal(job: Job, location: str | Path, options: StateOptions, environ: Mapping[str, str] = os.environ
                     ) -> None:
    """The CI guard: in CI, a run against anything but the embedded mock whose journal is a local file that
    does not exist yet would be a first send on a runner whose journal dies with it (the next CI run, on a
    fresh clone, would send everything again). Raises `UsageError` (exit 2, nothing sent) unless
    `options.new_journal` confirms it."""
    if not ci_guarded(job, options, environ) or is_database_url(location):
        return
    path = Path(location)
    if path.exists():
        return
    raise UsageError(
        f"{job.name}: running in CI (CI={environ.get('CI')}) against {job.target} with a new local "
        f"journal ({path}): this runner's journal will not outlive it, so the next CI run would send every message "
        "again. Nothing was sent. Fix it with one of: a shared journal (--journal postgresql://USER@HOST:PORT/DB, "
        "MWSYNC_JOURNAL, or `journal:` in the job file); the state directory restored from a CI cache "
        "(--state-dir / MWSYNC_STATE_DIR); or --new-journal to confirm that this is a first send (mwsync docs ci)")


def journal_exists(job: Job, options: StateOptions) -> bool:
    """True when `job` has a journal to read: its file exists, or a run used one there before (opening it
    then raises `JournalError`: it is gone), or its database holds mwsync's tables. Creates nothing.
    Raises `JournalError` (a database that cannot be reached), `UsageError` (psycopg missing)."""
    location = journal_location(job, options)
    if is_database_url(location):
        from .journal.postgres import PostgresJournal

        return PostgresJournal.exists(str(location))
    from .journal.sqlite import SqliteJournal

    return Path(location).exists() or SqliteJournal.used_before(location, job.name)


def open_job_journal(job: Job, options: StateOptions, *, exclusive: bool = True, sending: bool = True
                     ) -> JournalBackend:
    """Open `job`'s journal (`exclusive`: for sending, with the run lock or a lease). Raises `JournalError`,
    `UsageError` (a backend's library is missing; the CI guard, when `sending`, for a database with no
    journal yet)."""
    return open_journal(journal_location(job, options), target=job.target, job=job.name,
                        exclusive=exclusive, create=options.new_journal, lease_s=options.lease_s,
                        new_ok=not (sending and exclusive and ci_guarded(job, options)))


def open_dry_run_journal(job: Job, options: StateOptions, stack: ExitStack) -> JournalBackend:
    """The journal a dry run plans against: the job's own, or, when it has none yet, an empty one in a
    temporary folder (removed by `stack`). A dry run creates nothing, so the CI guard still sees a first send
    as new. Raises as `open_job_journal`."""
    if journal_exists(job, options):
        return open_job_journal(job, options)
    folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mwsync-dry-run-")))
    journal = open_journal(folder / "journal.sqlite", target=job.target, job=job.name)
    journal.location = f"{journal_location(job, options)} (none yet)"
    return journal


def limiter_location(jobs: Sequence[Job], options: StateOptions, target: str) -> str | None:
    """The Redis URL of the shared limiter of `target` (a `Job.rate_scope`: a target's Events API, or its
    secured or unsecured listeners), or None for the in-process one. The embedded mock lives in this
    process, so its limiters do too."""
    if target == "embedded" or target.startswith("embedded "):
        return None
    named = [job.limiter for job in jobs if job.rate_scope == target and job.limiter]
    return options.limiter or (named[0] if named else None)


def open_limiters(jobs: Sequence[Job], options: StateOptions, stop: StopSignal) -> dict[str, Limiter]:
    """One limiter per organisation-wide budget (`Job.rate_scope`: a target's Events API, its secured
    listeners, its unsecured listeners), at the strictest (lowest calls/s) profile among the jobs using it,
    because Moveworks' limits are organisation-wide. Their waits end early when `stop` is set (Ctrl-C).
    Raises `LimiterUnavailable` (Redis unreachable: nothing is sent) and `UsageError`."""
    strictest: dict[str, Job] = {}
    for job in jobs:
        current = strictest.get(job.rate_scope)
        if current is None or job.throttle.rate_per_s < current.throttle.rate_per_s:
            strictest[job.rate_scope] = job
    limiters = {}
    for target, job in strictest.items():
        deadline_s = max(j.subscription.deadline_s for j in jobs if j.rate_scope == target)
        limiters[target] = open_limiter(limiter_location(jobs, options, target), target=target,
                                        limit=job.throttle.limit, window_s=job.throttle.window_s, stop=stop,
                                        inflight_s=deadline_s + INFLIGHT_SLACK_S)
    return limiters
