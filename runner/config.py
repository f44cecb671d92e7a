"""Load a job file: YAML -> `runner.models.JobFile` (validated) -> `runner.job.Job` (resolved).

The only module that reads YAML. Loading follows `yaml.safe_load`, with two changes that keep
values as written:

- duplicate keys are an error (PyYAML silently keeps the last one);
- plain scalars are never implicitly typed (YAML 1.1 would turn `no` into false, `0755` into 493 and
  `2026-12-01` into a date): every scalar stays the string written, and pydantic converts it where
  the schema asks for a number or a boolean. Only `null`/`~`/empty stay null.

Every problem is collected and raised once as `ConfigError`, each with file, key path and line.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator, Mapping

import yaml
from pydantic import ValidationError

from .assemble import build_job, parse_throttle  # noqa: F401 - parse_throttle is part of this module's API
from .envref import redact, resolve_env
from .errors import ConfigError, Problem, UsageError
from .job import Job
from .models import JobFile

_NULL = "tag:yaml.org,2002:null"
_MERGE = "tag:yaml.org,2002:merge"


class _JobLoader(yaml.SafeLoader):
    """SafeLoader that types only null (and merge keys): every other plain scalar stays a string."""


_JobLoader.yaml_implicit_resolvers = {
    first: kept
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    if (kept := [(tag, rx) for tag, rx in resolvers if tag in (_NULL, _MERGE)])
}

Path_ = tuple[Any, ...]


MAX_NODES = 100_000  # a job file is small; more nodes means aliases nested into a "billion laughs"


class _TooLarge(Exception):
    pass


def _walk(node: yaml.Node, path: Path_, lines: dict[Path_, int], problems: list[tuple[Path_, int, str]]) -> None:
    if len(lines) >= MAX_NODES:
        raise _TooLarge
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                problems.append((path + (key,), line, f"duplicate key (first defined on line {seen[key]}); keep one"))
            seen.setdefault(key, line)
            _walk(value_node, path + (key,), lines, problems)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, path + (index,), lines, problems)


def read_yaml(path: Path) -> tuple[Any, dict[Path_, int], list[Problem]]:
    """Parse `path`; return (data, {key path: line}, problems). Raises `ConfigError` on syntax errors."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([Problem(name, "", f"cannot read job file: {exc}")]) from exc
    loader = _JobLoader(text)
    try:
        node = loader.get_single_node()
        lines: dict[Path_, int] = {}
        found: list[tuple[Path_, int, str]] = []
        if node is not None:
            _walk(node, (), lines, found)
        data = loader.construct_document(node) if node is not None else None
    except _TooLarge:
        raise ConfigError([Problem(name, "", f"more than {MAX_NODES} values once aliases are expanded; "
                                             "a job file needs far fewer (nested aliases?)")]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        problem = str(getattr(exc, "problem", None) or exc)
        hint = "; indent with spaces, not tabs" if "'\\t'" in problem else ""
        raise ConfigError([Problem(name, "", f"not valid YAML: {problem}{hint}", line)]) from None
    finally:
        loader.dispose()
    return data, lines, [Problem(name, _dotted(p), msg, line) for p, line, msg in found]


def _dotted(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _line_for(lines: Mapping[Path_, int], path: Path_) -> int | None:
    while path and path not in lines:
        path = path[:-1]
    return lines.get(path)


def _model_at(loc: Path_) -> type | None:
    """The pydantic model that owns the last key of `loc`, to list the valid keys."""
    from pydantic import BaseModel

    model: Any = JobFile
    for part in loc[:-1]:
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        field = model.model_fields.get(part) if isinstance(part, str) else None
        if field is None:
            return None
        annotation = field.annotation
        args = [a for a in getattr(annotation, "__args__", ()) if isinstance(a, type)]
        candidates = [annotation] + args
        model = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
        if model is None:
            return None
    return model


def _pydantic_problems(exc: ValidationError, name: str, lines: Mapping[Path_, int],
                       from_env: set[Path_] = frozenset()) -> Iterator[Problem]:
    import difflib

    seen: set[tuple[Path_, str]] = set()
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
        yield Problem(name, _dotted(loc), message, _line_for(lines, loc))


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
    data, env_problems, from_env, env_values = resolve_env(data, environ)
    problems += [Problem(name, _dotted(loc), msg, _line_for(lines, loc)) for loc, msg in env_problems]
    try:
        model = JobFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_redacted(problems + list(_pydantic_problems(exc, name, lines, from_env)), env_values)) \
            from None
    if profile and throttle:
        raise UsageError("give --profile or --throttle, not both")

    def problem(loc: Path_, message: str) -> None:
        problems.append(Problem(name, _dotted(loc), message, _line_for(lines, loc)))

    job_lines = {_dotted(p): line for p, line in lines.items() if p and p[0] in ("message", "source")}
    job = build_job(model, path, problem, job_lines, profile=profile, throttle=throttle, api_url=api_url,
                    source=source, check_credentials=check_credentials)
    if problems:
        raise ConfigError(_redacted(problems, env_values))
    assert job is not None
    return job
