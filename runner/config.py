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
import re
from urllib.parse import urlsplit
from pathlib import Path
from typing import Any, Iterator, Mapping

import yaml
from pydantic import ValidationError

from .errors import ConfigError, Problem, UsageError
from .job import (
    BUILTIN_PROFILES, EMBEDDED, LOOPBACK_RE, Job, MessageSpec, RetryPolicy, SourceSpec, Subscription, Throttle,
)
from .envref import resolve_env
from .models import THROTTLE_RE, JobFile

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


def parse_throttle(text: str, name: str = "custom") -> Throttle:
    """Parse `N/S` (e.g. `10/2`: 10 calls per 2 s window) into a `Throttle`. Raises `UsageError`."""
    match = THROTTLE_RE.match(str(text))
    if not match or int(match.group(1)) < 1 or float(match.group(2)) <= 0:
        raise UsageError(f"throttle {text!r} is not CALLS/SECONDS with both above zero, e.g. 10/2 or 500/60")
    return Throttle(name, int(match.group(1)), float(match.group(2)))


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
    data, env_problems, from_env = resolve_env(data, environ)
    problems += [Problem(name, _dotted(loc), msg, _line_for(lines, loc)) for loc, msg in env_problems]
    try:
        model = JobFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(problems + list(_pydantic_problems(exc, name, lines, from_env))) from None
    if profile and throttle:
        raise UsageError("give --profile or --throttle, not both")
    job = _build(model, path, lines, problems, profile=profile, throttle=throttle, api_url=api_url, source=source,
                 check_credentials=check_credentials)
    if problems:
        raise ConfigError(problems)
    assert job is not None
    return job


def _build(model: JobFile, path: Path, lines: Mapping[Path_, int], problems: list[Problem], *,
           profile: str | None, throttle: str | None, api_url: str | None, source: str | Path | None,
           check_credentials: bool = True) -> Job | None:
    name = str(path)

    def problem(loc: Path_, message: str) -> None:
        problems.append(Problem(name, _dotted(loc), message, _line_for(lines, loc)))

    profiles = {key: Throttle(key, *value) for key, value in BUILTIN_PROFILES.items()}
    profiles.update({key: Throttle(key, p.limit, p.window_s) for key, p in model.throttle.profiles.items()})
    chosen = profile or model.throttle.profile
    selected = profiles.get(chosen)
    if throttle:
        selected = parse_throttle(throttle)
    elif selected is None:
        valid = ", ".join(profiles)
        if profile:
            raise UsageError(f"--profile: unknown profile '{profile}' (valid: {valid})")
        problem(("throttle", "profile"), f"unknown '{chosen}' (valid: {valid})")
    subscription = _subscription(model, api_url, problem, check_credentials)
    base = path.parent
    message = _message(model, base, problem)
    source = _source(model, base, problem) if source is None else _source_file(Path(source), model)
    if problems or selected is None or message is None or source is None:
        return None
    return Job(
        name=model.name or path.stem.removesuffix(".job"),
        path=path,
        subscription=subscription,
        throttle=selected,
        profiles=profiles,
        concurrent_connections=model.throttle.concurrent_connections,
        concurrent_batch_executions=model.throttle.concurrent_batch_executions,
        retry=RetryPolicy(**model.retry.model_dump()),
        message=message,
        source=source,
        templates_dir=(base / model.templates_dir),
        vars=dict(model.vars),
        description=model.description,
        lines={_dotted(p): line for p, line in lines.items() if p and p[0] in ("message", "source")},
    )


def url_problem(url: str) -> str | None:
    """Why `url` cannot be an API URL (not http(s), a bad port, credentials in it, plain http to a
    remote host), or None. Never repeats the URL: it may hold a secret by mistake."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        return f"not a valid URL ({exc}); e.g. https://api.moveworks.ai"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "not an http(s) URL or 'embedded'; e.g. https://api.moveworks.ai"
    if parts.username or parts.password:
        return "credentials do not belong in the URL; use client_id / client_secret from the environment"
    if parts.scheme == "http" and not LOOPBACK_RE.match(parts.hostname):
        return "plain http sends credentials in clear text; use https (http only for 127.0.0.1/localhost)"
    return None


def _subscription(model: JobFile, api_url: str | None, problem, check_credentials: bool = True) -> Subscription:
    sub = model.subscription
    url = (api_url or sub.api_url or EMBEDDED).strip()
    if url.lower() == EMBEDDED:
        url = EMBEDDED
    else:
        where = "--api-url" if api_url else "subscription.api_url"
        why = url_problem(url)
        if why:
            problem(("subscription", "api_url"), f"{where}: {why}")
        if check_credentials and not sub.api_key and not (sub.client_id and sub.client_secret):
            problem(("subscription", "client_secret"),
                    "a real API needs client_id and client_secret (or api_key); set them from the environment, "
                    "e.g. client_secret: ${MOVEWORKS_CLIENT_SECRET}")
        elif check_credentials and bool(sub.client_id) != bool(sub.client_secret):
            missing = "client_secret" if sub.client_id else "client_id"
            problem(("subscription", missing), "client credentials need both client_id and client_secret")
    return Subscription(
        api_url=None if url == EMBEDDED else url.rstrip("/"),
        client_id=sub.client_id,
        client_secret=sub.client_secret,
        api_key=sub.api_key,
        token_request=sub.token_request,
        connect_timeout_s=sub.connect_timeout_s,
        read_timeout_s=sub.read_timeout_s,
    )


def _message(model: JobFile, base: Path, problem) -> MessageSpec | None:
    msg = model.message
    recipients = (msg.recipients,) if isinstance(msg.recipients, str) else tuple(msg.recipients)
    if not recipients:
        problem(("message", "recipients"), "at least one recipient template is needed, e.g. \"{{ email }}\"")
    if msg.template is not None:
        templates_dir = base / model.templates_dir
        file = templates_dir / msg.template
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problem(("message", "template"), f"cannot read template {file}: {exc.__class__.__name__}; "
                                             f"templates live in {templates_dir} (templates_dir)")
            return None
        return MessageSpec(msg.event_id, msg.template, text, recipients, dict(msg.slots), msg.idempotency_key,
                           msg.slots_from)
    return MessageSpec(msg.event_id, "message.text", msg.text or "", recipients, dict(msg.slots), msg.idempotency_key,
                       msg.slots_from)


def _source(model: JobFile, base: Path, problem) -> SourceSpec | None:
    src = model.source
    if src.rows is not None:
        return SourceSpec("inline", rows=tuple(src.rows), filter=src.filter)
    kind = "csv" if src.csv is not None else "jsonl"
    file = base / (src.csv if src.csv is not None else src.jsonl)
    if not file.is_file():
        problem(("source", kind), f"file not found: {file} (paths are relative to the job file)")
        return None
    return SourceSpec(kind, path=file, filter=src.filter, encoding=src.encoding, delimiter=src.delimiter)


def _source_file(file: Path, model: JobFile) -> SourceSpec:
    """A source given on the command line (`mwsync replay FILE`): kind from the suffix."""
    kinds = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
    kind = kinds.get(file.suffix.lower())
    if kind is None:
        raise UsageError(f"{file}: replay reads .csv or .jsonl files (got '{file.suffix or 'no suffix'}')")
    if not file.is_file():
        raise UsageError(f"{file}: file not found")
    src = model.source
    return SourceSpec(kind, path=file, filter=src.filter, encoding=src.encoding, delimiter=src.delimiter)
