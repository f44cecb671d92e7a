"""Load a job file: YAML (`yamlfile`) -> `models.JobFile` (validated) -> `job.Job` (resolved, `build`).

Every problem is collected and raised once as `ConfigError`, each with file, key path and line.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import ConfigError, Problem, UsageError
from ..redact import SECRETS
from .build import build_job, early_problems
from .envref import credential_references, redact, resolve_env
from .job import Job
from .listener import target_mixups
from .models import JobFile
from .yamlfile import KeyPath, dotted, line_for, read_yaml


def _model_at(loc: KeyPath) -> type | None:
    """The pydantic model that owns the last key of `loc`, to list the valid keys."""
    from pydantic import BaseModel

    model: Any = JobFile
    parts = iter(loc[:-1])
    for part in parts:
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        field = model.model_fields.get(part) if isinstance(part, str) else None
        if field is None:
            return None
        annotation = field.annotation
        if getattr(annotation, "__origin__", None) is dict:  # `profiles: {name: ProfileModel}`: skip the name
            next(parts, None)
        args = [a for a in getattr(annotation, "__args__", ()) if isinstance(a, type)]
        candidates = [annotation] + args
        model = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
        if model is None:
            return None
    return model


def _pydantic_problems(exc: ValidationError, name: str, lines: Mapping[KeyPath, int],
                       from_env: set[KeyPath] = frozenset()) -> Iterator[Problem]:
    import difflib

    seen: set[tuple[KeyPath, str]] = set()
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if p not in ("str", "list[str]", "function-after[_one_text()]"))
        kind = err["type"]
        if kind == "extra_forbidden":
            owner = _model_at(loc)
            valid = sorted(owner.model_fields) if owner else []
            close = difflib.get_close_matches(str(loc[-1]), valid, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            message = f"unknown key '{loc[-1]}' (valid: {', '.join(valid)}){hint}"
            loc = loc[:-1] + (loc[-1],)
        elif kind == "missing":
            message = "required key is missing"
        elif kind in ("model_type", "dict_type") and err.get("input") is None:
            owner = _model_at(loc + ("_",))
            keys = f" ({', '.join(sorted(owner.model_fields))})" if owner else ""
            message = f"is empty; write its keys under it{keys}, or remove the line"
        elif kind == "value_error":
            message = str(err["msg"]).removeprefix("Value error, ")
        elif loc in from_env:
            message = f"{err['msg']} (the value comes from the environment and is not shown)"
        else:
            message = f"{err['msg']} (got {err.get('input')!r})" if not isinstance(err.get("input"), (dict, list)) \
                else str(err["msg"])
        if (loc, message) in seen:
            continue
        seen.add((loc, message))
        yield Problem(name, dotted(loc), message, line_for(lines, loc))


def _redacted(problems: list[Problem], values: set[str]) -> list[Problem]:
    return [replace(p, message=redact(p.message, values)) for p in problems]


def load_job(
    path: str | Path,
    *,
    environ: Mapping[str, str] | None = None,
    profile: str | None = None,
    throttle: str | None = None,
    api_url: str | None = None,
    source: str | Path | None = None,
    check_credentials: bool = True,
) -> Job:
    """Load and validate the job file at `path`; return a resolved `Job`.

    `profile` (a profile name) and `throttle` (`N/S`) override the job's throttle profile;
    `api_url` overrides `subscription.api_url`; `source` (a .csv or .jsonl path) replaces the job's
    source, keeping its filter, encoding and delimiter. `check_credentials=False` (plan, status: no
    request is sent) skips the check that a real API URL comes with credentials. `environ` defaults
    to `os.environ`.
    Raises `ConfigError` listing every problem (file, key path, line, fix) at once.
    """
    path = Path(path)
    name = str(path)
    environ = os.environ if environ is None else environ
    data, lines, problems = read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(problems + [Problem(name, "", "a job file is a mapping with keys message, source, ...")])
    data, mixups = target_mixups(data)
    problems += [Problem(name, dotted(loc), msg, line_for(lines, loc)) for loc, msg in mixups]
    refs = credential_references(data)
    data, env_problems, from_env, env_values, sensitive = resolve_env(data, environ)
    for value in sensitive:  # the run's redaction filter knows them from now on
        SECRETS.add(value)
    problems += [Problem(name, dotted(loc), msg, line_for(lines, loc)) for loc, msg in env_problems]
    try:
        model = JobFile.model_validate(data)
    except ValidationError as exc:
        early = [Problem(name, dotted(loc), msg, line_for(lines, loc)) for loc, msg in early_problems(data)]
        found = problems + list(_pydantic_problems(exc, name, lines, from_env)) + early
        raise ConfigError(_redacted(found, env_values)) from None
    if profile and throttle:
        raise UsageError("give --profile or --throttle, not both")

    def problem(loc: KeyPath, message: str) -> None:
        problems.append(Problem(name, dotted(loc), message, line_for(lines, loc)))

    job_lines = {dotted(p): line for p, line in lines.items() if p and p[0] in ("message", "listener", "source")}
    job = build_job(model, path, problem, job_lines, profile=profile, throttle=throttle, api_url=api_url,
                    source=source, check_credentials=check_credentials, env_refs=refs)
    if problems:
        raise ConfigError(_redacted(problems, env_values))
    assert job is not None
    SECRETS.add(job.subscription.client_secret)
    SECRETS.add(job.subscription.api_key)
    if job.listener is not None and job.listener.hmac is not None:
        SECRETS.add(job.listener.hmac.secret)
    return job
