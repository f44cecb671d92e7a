"""Every error mwsync raises on purpose, and the process exit code each one maps to.

The tree is shallow on purpose (retry decisions depend on the class, never on status codes
tested in several places)::

    MwsyncError                      exit 1
    ├── UsageError                   exit 2  bad command-line usage
    ├── ConfigError                  exit 2  job file problems (all of them at once)
    ├── TemplateError                exit 2  Jinja syntax/undefined variable, with template name and line
    ├── InvalidMessages              exit 2  rendered rows that break the API's limits (row numbers)
    ├── LoadtestError                exit 1  a load test could not run or be read (Locust, the mock)
    ├── RunStopped                   exit 4  the run stopped before the end; a rerun is safe
    │   ├── Interrupted                      Ctrl-C, SIGTERM or SIGHUP: nothing more was sent
    │   ├── AuthError                        the credentials were refused or the token response is unusable
    │   ├── Unreachable                      the API (or its token endpoint) cannot be reached
    │   ├── JournalError                     the journal cannot be read or written, or was replaced
    │   └── LimiterUnavailable               the shared (Redis) limiter cannot be reached: never unthrottled
    └── DeliveryError                exit 1  a send request did not succeed
        ├── TransientError                   429, 503, connection refused: retried with backoff
        │   └── RateLimited                  429, carries Retry-After in seconds when the API sent one
        ├── PermanentError                   the API certainly refused it (4xx): never retried
        └── OutcomeUnknown           exit 3  it may have been delivered (500, 502, 504, a dropped
                                             connection, no answer in time): never resent automatically,
                                             a duplicate notification is the harm

Exit codes of a run (`mwsync run`, `replay`; docs/guarantees.md): 0 every message sent or already
sent; 1 some messages failed (the API refused them: fix and rerun); 2 bad job, template, row or usage
(nothing sent); 3 messages in doubt (a person decides: `mwsync resolve`); 4 stopped before the end (a
rerun is safe). When several apply the most urgent wins: 3, then 4, then 1.
"""

from __future__ import annotations

from dataclasses import dataclass


class MwsyncError(Exception):
    """Base of every error mwsync raises on purpose; `exit_code` is the process exit status."""

    exit_code = 1


class UsageError(MwsyncError):
    """The command line is wrong (unknown profile, malformed `--throttle`)."""

    exit_code = 2


@dataclass(frozen=True)
class Problem:
    """One problem in a job file.

    `file`: path as the user gave it; `where`: dotted key path (`throttle.profile`, `message.recipients`);
    `line`: 1-based line in the file when known; `row`: 1-based source row for a row's problem;
    `message`: what is wrong and how to fix it. The same problem on many rows is one `Problem`: `row` the
    first of them, `last_row` the last, `rows` how many (None: one row).
    """

    file: str
    where: str
    message: str
    line: int | None = None
    row: int | None = None
    rows: int | None = None
    last_row: int | None = None

    @property
    def location(self) -> str:
        """`row 12, message.recipients`, `rows 2-316 (315 rows), source.filter`, `throttle.profile` or ''."""
        if self.rows and self.rows > 1:
            rows = f"rows {self.row}-{self.last_row} ({self.rows} rows)"
        else:
            rows = f"row {self.row}" if self.row is not None else ""
        return ", ".join(part for part in (rows, self.where) if part)

    def __str__(self) -> str:
        loc = f"{self.file}:{self.line}" if self.line else self.file
        where = f" {self.location}:" if self.location else ""
        return f"{loc}:{where} {self.message}"


class ProblemList(MwsyncError):
    """An error that carries every problem found, so a user fixes them all in one pass."""

    exit_code = 2
    headline = "problems"

    def __init__(self, problems: list[Problem], *, total: int | None = None, note: str = ""):
        """`problems`: those to show; `total`: how many there were (default: as many as shown);
        `note`: a closing line (what happened, what to do)."""
        self.problems = list(problems)
        self.total = len(self.problems) if total is None else total
        self.note = note
        super().__init__(self.render())

    def render(self) -> str:
        count, shown = self.total, len(self.problems)
        lines = [f"{count} {self.headline}{'' if count == 1 else 's'}:" if count > 1 else ""]
        lines += [f"  {p}" if count > 1 else str(p) for p in self.problems]
        if count > shown:
            lines.append(f"  ... and {count - shown} more")
        lines.append(self.note)
        return "\n".join(line for line in lines if line)


class ConfigError(ProblemList):
    """The job file (or a file it names) is invalid; `problems` lists each one with key path and line."""

    headline = "job file problem"


class TemplateError(ProblemList):
    """A template failed to compile or render; each problem names the template, line and source row."""

    headline = "template problem"


class InvalidMessages(ProblemList):
    """Rendered messages break the API's limits; each problem names the source row and the field."""

    headline = "row problem"


class RunStopped(MwsyncError):
    """The run stopped before the end; what was sent is journalled, so a rerun is safe."""

    exit_code = 4


class JournalError(RunStopped):
    """The journal cannot be opened, read or written (corrupt, foreign, read-only, disk full), or it was
    emptied, replaced or deleted: nothing more is sent."""


class LimiterUnavailable(RunStopped):
    """The shared rate limiter (Redis) cannot be reached or used: the run stops rather than send
    unthrottled. The message names the Redis URL (without password) and the cause."""


class InternalError(RunStopped):
    """Something mwsync did not expect (a bug): the command stopped. A request that may have gone out is
    journalled `unknown` and held, never resent blindly. `-v` logs the traceback."""

    @classmethod
    def of(cls, exc: BaseException) -> InternalError:
        """The error for an unexpected `exc`, naming its type and text."""
        return cls(f"internal error (a bug in mwsync, please report it with the output of -v): "
                   f"{exc.__class__.__name__}: {str(exc)[:300]}; what was sent is journalled, and any request "
                   "that may have gone out is held as in doubt (mwsync status JOB)")


class LoadtestError(MwsyncError):
    """The load test could not run or could not be read (Locust crashed, the mock is unreachable)."""


class Interrupted(RunStopped):
    """The run was interrupted (Ctrl-C, SIGTERM, SIGHUP) while this request waited for a rate-limit slot
    or a retry: it was not sent, so the next run sends it."""


class AuthError(RunStopped):
    """The token endpoint (`POST /oauth/v1/token`) refused the client credentials or answered garbage,
    or the API refused the access token.

    `status`: HTTP status or None (no answer); `code`: the API's error code when it sent one.
    """

    def __init__(self, message: str, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code


class Unreachable(RunStopped):
    """The API cannot be reached (connection refused, DNS failure, connect timeout), its token endpoint
    keeps failing, or it redirects every send elsewhere: nothing can be sent, so the run stops. The message
    names the host; `status` is the HTTP answer when there was one (a redirect), else None."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class DeliveryError(MwsyncError):
    """A send request did not succeed.

    `status`: HTTP status (None when no response arrived); `code` and `api_message`: the API's
    `{"error": {"code", "message"}}` (or flat `{code, message}`) when present.
    """

    def __init__(
        self,
        message: str,
        status: int | None = None,
        code: str | None = None,
        api_message: str | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.api_message = api_message


class TransientError(DeliveryError):
    """429, 503, connection refused or connect timeout: the request certainly was not processed and can
    be retried with backoff."""


class RateLimited(TransientError):
    """HTTP 429. `retry_after_s`: seconds from the `Retry-After` header, or None when absent
    (Moveworks' guidance is then to wait 60 s; see the Events API rate-limit section)."""

    def __init__(self, message: str, retry_after_s: float | None = None, **kwargs):
        super().__init__(message, status=429, **kwargs)
        self.retry_after_s = retry_after_s


class PermanentError(DeliveryError):
    """A 4xx other than 429 (400 size/type/e-mail, 403, 404 event): the API certainly refused it; not retried."""


class Redirected(PermanentError):
    """A 3xx other than 303 to a send: the server did not process it here and points elsewhere. mwsync
    follows no redirect (a POST re-sent to another host could deliver twice, or hand the message to a
    login page), so the request failed and, since every send would meet the same, the run stops."""


class OutcomeUnknown(DeliveryError):
    """The request was sent and may have been processed: a 500, 502 or 504 (the API may have scheduled
    it before failing), a connection dropped after the request was written, no complete answer within the
    deadline. Journalled `unknown`, held on later runs until `mwsync resolve` or `--resend-unknown`."""

    exit_code = 3
