"""The one top-level shape of every JSON document mwsync writes, and the JSON form of errors and problems.
Standard library only, so `mwsync validate --json` does not import the report's stages."""

from __future__ import annotations

from collections.abc import Sequence

from .errors import MwsyncError, Problem, ProblemList
from .redact import redact


def problem_dict(problem: Problem) -> dict:
    """A job-file, template or row problem as JSON: `{"file", "line", "where", "row", "rows", "message"}`."""
    return {"file": problem.file, "line": problem.line, "where": problem.where, "row": problem.row,
            "rows": problem.rows, "message": redact(problem.message)}


def error_dict(error: MwsyncError) -> dict:
    """`{"type", "message", "exit_code"}`, plus `problems` (each `problem_dict`) for an error listing them."""
    out = {"type": error.__class__.__name__, "message": redact(str(error)), "exit_code": error.exit_code}
    if isinstance(error, ProblemList):
        out["problems"] = [problem_dict(p) for p in error.problems]
    return out


def envelope(jobs: Sequence[dict], error: MwsyncError | None = None, exit_code: int = 0) -> dict:
    """The one top-level shape of every JSON document mwsync writes (`--report`, and `--json` of plan,
    validate, status, preview, check): `{"mwsync": version, "exit_code", "error": None | error_dict,
    "jobs": [...]}`, a list also for one job. `exit_code` is the error's when there is one."""
    from . import __version__

    return {"mwsync": __version__, "exit_code": error.exit_code if error is not None else exit_code,
            "error": None if error is None else error_dict(error), "jobs": list(jobs)}
