"""Environment references in job files: `${VAR}` and `${VAR:-default}`, and the rule that secrets
(`client_secret`, `api_key`) are only ever references, never literals in a file that lives in git.

Pure functions over the parsed YAML tree; `runner.config` reports what they find with line numbers.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

ENV_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-(.*?))?\}")
SECRET_FIELDS = ("client_secret", "api_key")
KeyPath = tuple[Any, ...]


def expand_env(value: str, environ: Mapping[str, str], problems: list[str]) -> str:
    """Replace `${VAR}` and `${VAR:-default}` in `value`; unset variables without default go to `problems`."""

    def sub(match: re.Match[str]) -> str:
        var, default = match.group(1), match.group(2)
        if var in environ:
            return environ[var]
        if default is not None:
            return default
        problems.append(f"environment variable {var} is not set; export it, or write ${{{var}:-default}}")
        return ""

    return ENV_RE.sub(sub, value)


def _check_secret(raw: Any) -> str | None:
    """Return why a secret field's raw value is unacceptable, or None when it is fine."""
    if raw in (None, ""):
        return None
    text = str(raw)
    match = ENV_RE.fullmatch(text.strip())
    if match is None:
        return ("a literal secret in a job file ends up in git; write ${MOVEWORKS_CLIENT_SECRET} (any variable name) "
                "and export that variable")
    if match.group(2):
        return f"a default value for a secret is a literal secret in git; write ${{{match.group(1)}}} without ':-...'"
    return None


_ENV_SECTIONS = ("subscription", "throttle", "retry", "templates_dir", "vars")


def _expand_tree(data: Any, environ: Mapping[str, str], path: KeyPath, problems: list[tuple[KeyPath, str]]) -> Any:
    if isinstance(data, dict):
        return {k: _expand_tree(v, environ, path + (k,), problems) for k, v in data.items()}
    if isinstance(data, list):
        return [_expand_tree(v, environ, path + (i,), problems) for i, v in enumerate(data)]
    if isinstance(data, str):
        found: list[str] = []
        out = expand_env(data, environ, found)
        problems.extend((path, msg) for msg in found)
        return out
    return data


def resolve_env(data: dict, environ: Mapping[str, str]) -> tuple[dict, list[tuple[KeyPath, str]]]:
    """Check secret fields, then expand references in the sections that may use them (not in rows or
    message templates, so data can never pull in an environment value). Returns (data, problems)
    where each problem is (key path, message)."""
    problems: list[tuple[KeyPath, str]] = []
    sub = data.get("subscription")
    if isinstance(sub, dict):
        for name in SECRET_FIELDS:
            why = _check_secret(sub.get(name))
            if why:
                problems.append((("subscription", name), why))
    out = {k: ({kk: vv for kk, vv in v.items() if vv is not None} if isinstance(v, dict) and k != "vars" else v)
           for k, v in data.items()}  # an empty `key:` means "use the default"
    for section in _ENV_SECTIONS:
        if section in out:
            out[section] = _expand_tree(out[section], environ, (section,), problems)
    for key in ("event_id",):
        message = out.get("message")
        if isinstance(message, dict) and isinstance(message.get(key), str):
            message = dict(message)
            message[key] = _expand_tree(message[key], environ, ("message", key), problems)
            out["message"] = message
    source = out.get("source")
    if isinstance(source, dict):
        source = dict(source)
        for key in ("csv", "jsonl"):
            if isinstance(source.get(key), str):
                source[key] = _expand_tree(source[key], environ, ("source", key), problems)
        out["source"] = source
    return out, problems
