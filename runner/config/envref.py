"""Environment references in job files: `${VAR}` and `${VAR:-default}`, and the rule that secrets
(`client_secret`, `api_key`, `listener.hmac.secret`) are only ever references, never literals in a file
that lives in git.

Pure functions over the parsed YAML tree; `runner.config` reports what they find with line numbers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

ENV_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-(.*?))?\}")
SECRET_FIELDS = ("client_secret", "api_key")
KeyPath = tuple[Any, ...]


def expand_env(value: str, environ: Mapping[str, str], problems: list[str], *, secret: bool = False) -> str:
    """Replace `${VAR}` and `${VAR:-default}` in `value`; unset variables without default go to `problems`
    (`secret`: a secret field, where a default is refused, so the hint offers none)."""

    def sub(match: re.Match[str]) -> str:
        var, default = match.group(1), match.group(2)
        if var in environ:
            return environ[var]
        if default is not None:
            return default
        problems.append(f"environment variable {var} is not set; export it" if secret else
                        f"environment variable {var} is not set; export it, or write ${{{var}:-default}}")
        return ""

    expanded = ENV_RE.sub(sub, value)
    if "${" in ENV_RE.sub("", value):
        problems.append("'${' without a matching '}' (write ${VAR} or ${VAR:-default})")
    return expanded


def references(value: Any) -> tuple[str, ...]:
    """The environment variables `value` references (`${VAR}`, `${VAR:-...}`), in order; () for a non-string."""
    return tuple(m.group(1) for m in ENV_RE.finditer(value)) if isinstance(value, str) else ()


CREDENTIAL_FIELDS = ("client_id", "client_secret", "api_key")


def credential_references(data: Any) -> dict[str, tuple[str, ...]]:
    """`{field: (VAR, ...)}` for the credential fields of a raw job's `subscription` (before expansion)."""
    sub = data.get("subscription") if isinstance(data, dict) else None
    return {name: references(sub.get(name)) for name in CREDENTIAL_FIELDS} if isinstance(sub, dict) else {}


SECRET_VARIABLES = {"client_secret": "MOVEWORKS_CLIENT_SECRET", "api_key": "MOVEWORKS_API_KEY",
                    "secret": "MOVEWORKS_LISTENER_SECRET"}
#: Values that identify rather than protect: job-file errors may show them (an event or a listener id).
IDENTIFIERS = (("message", "event_id"), ("listener", "id"), ("listener", "url"))


def _check_secret(name: str, raw: Any) -> str | None:
    """Why a secret field's raw value is unacceptable (a literal, or a reference with a default or
    extra text), or None when it is fine: empty, `${VAR}` or `${VAR:-}`."""
    if raw in (None, ""):
        return None
    match = ENV_RE.fullmatch(str(raw).strip())
    example = SECRET_VARIABLES[name]
    if match is None:
        return (f"must be exactly one environment reference such as ${{{example}}}, nothing else: a literal "
                f"secret in a job file ends up in git; export {example} and reference it")
    if match.group(2):
        return f"a default value for a secret is a literal secret in git; write ${{{match.group(1)}}} without ':-...'"
    return None


_ENV_SECTIONS = ("subscription", "throttle", "retry", "templates_dir", "vars", "journal", "limiter")
#: Top-level keys holding a URL of shared state (`postgresql://...`, `redis://...`): a password in them is
#: a secret, so it may only be an environment reference.
URL_FIELDS = ("journal", "limiter")
_URL_PASSWORD_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^@/]*?:([^@/]*)@")


def _check_url_password(name: str, raw: Any) -> str | None:
    """Why the password in the `journal`/`limiter` URL `raw` is unacceptable (a literal, or a reference with
    a default), or None: no password, or exactly `${VAR}`."""
    match = _URL_PASSWORD_RE.match(str(raw or "").strip())
    if match is None or not match.group(1):
        return None
    ref = ENV_RE.fullmatch(match.group(1))
    if ref is None or ref.group(2) is not None:
        return (f"the password in the {name} URL must be exactly one environment reference such as "
                "${MWSYNC_DB_PASSWORD} (no default): a literal password in a job file ends up in git; or leave it "
                "out and export PGPASSWORD")
    return None


def _url_secret(value: str) -> str:
    """The secret part of a value substituted into a URL field: the password of a whole URL, else the value."""
    from urllib.parse import urlsplit

    if "://" not in value:
        return value
    try:
        return urlsplit(value).password or ""
    except ValueError:
        return value


#: A variable whose name says it holds a secret (`MW_TOKEN`, `PORTAL_PASSWORD`, `SIGNING_KEY`): its value in
#: `vars` is redacted everywhere; other vars (a team name, a portal URL) are data and shown as they are.
SECRET_NAME_RE = re.compile(r"SECRET|TOKEN|PASS|PWD|KEY|CREDENTIAL|AUTH|PRIVATE|SIGNATURE|CERT", re.IGNORECASE)


def _secrets_of(path: KeyPath, names: list[str], environ: Mapping[str, str]) -> set[str]:
    """The values of `names` (variables referenced at `path`) that are secrets: all of them in a secret field
    (`client_secret`, `api_key`, `listener.hmac.secret`), the password of a URL (API URL, journal, limiter),
    and in `vars` those whose variable name says secret (`SECRET_NAME_RE`)."""
    values = {environ[name] for name in names}
    if path[-1:] in ((field,) for field in SECRET_FIELDS) or path[:2] == ("listener", "hmac"):
        return values
    if path == ("subscription", "api_url"):  # an identifier, unless it carries a password (refused at build)
        return {_url_secret(v) for v in values if "://" in v} - {""}
    if path[:1] in tuple((name,) for name in URL_FIELDS):
        return {_url_secret(v) for v in values} - {""}
    if path[:1] == ("vars",):
        return {environ[name] for name in names if SECRET_NAME_RE.search(name)}
    return set()


class _Resolution:
    """Problems found, and the key paths whose value came (partly) from the environment: error
    messages must not echo those values, which may be secrets put in the wrong field."""

    def __init__(self) -> None:
        self.problems: list[tuple[KeyPath, str]] = []
        self.from_env: set[KeyPath] = set()
        self.values: set[str] = set()  # values substituted from the environment, but identifiers (event id)
        self.sensitive: set[str] = set()  # the secrets among them (`_secrets_of`): redacted from every output


def _expand_tree(data: Any, environ: Mapping[str, str], path: KeyPath, found: _Resolution) -> Any:
    if isinstance(data, dict):
        return {k: _expand_tree(v, environ, path + (k,), found) for k, v in data.items()}
    if isinstance(data, list):
        return [_expand_tree(v, environ, path + (i,), found) for i, v in enumerate(data)]
    if isinstance(data, str):
        messages: list[str] = []
        out = expand_env(data, environ, messages, secret=bool(path) and path[-1] in (*SECRET_FIELDS, "secret"))
        names = [m.group(1) for m in ENV_RE.finditer(data) if environ.get(m.group(1))]
        values = {environ[name] for name in names}
        if path not in IDENTIFIERS:  # an event or listener id is an identifier, not a secret: errors show it
            found.values |= values
        found.sensitive |= _secrets_of(path, names, environ)
        found.problems.extend((path, msg) for msg in messages)
        if out != data:
            found.from_env.add(path)
        return out
    return data


def resolve_env(data: dict, environ: Mapping[str, str]
                ) -> tuple[dict, list[tuple[KeyPath, str]], set[KeyPath], set[str], set[str]]:
    """Check secret fields, then expand references in the sections that may use them (not in rows or
    message templates, so data can never pull in an environment value). Returns (data, problems,
    key paths whose value came from the environment, the values substituted (but the event id's: job-file
    errors never echo them), the values substituted into `subscription` or `vars` (the run's secrets:
    never printed anywhere)); each problem is (key path, message)."""
    found = _Resolution()
    problems = found.problems
    sub = data.get("subscription")
    if isinstance(sub, dict):
        for name in SECRET_FIELDS:
            why = _check_secret(name, sub.get(name))
            if why:
                problems.append((("subscription", name), why))
    for name in URL_FIELDS:
        why = _check_url_password(name, data.get(name))
        if why:
            problems.append(((name,), why))
    out = {k: ({kk: vv for kk, vv in v.items() if vv is not None} if isinstance(v, dict) and k != "vars" else v)
           for k, v in data.items()}  # an empty `key:` means "use the default"
    for section in _ENV_SECTIONS:
        if section in out:
            out[section] = _expand_tree(out[section], environ, (section,), found)
    for key in ("event_id",):
        message = out.get("message")
        if isinstance(message, dict) and isinstance(message.get(key), str):
            message = dict(message)
            message[key] = _expand_tree(message[key], environ, ("message", key), found)
            out["message"] = message
    _expand_listener(out, environ, found)
    source = out.get("source")
    if isinstance(source, dict):
        source = dict(source)
        for key in ("csv", "jsonl"):
            if isinstance(source.get(key), str):
                source[key] = _expand_tree(source[key], environ, ("source", key), found)
        out["source"] = source
    return out, problems, found.from_env, found.values, found.sensitive


def _expand_listener(out: dict, environ: Mapping[str, str], found: _Resolution) -> None:
    """`listener.id`, `listener.url` and every `listener.hmac` field may reference the environment; the
    signing secret only as exactly one reference (like `client_secret`). The payload and the key are
    templates over rows and never see the environment."""
    listener = out.get("listener")
    if not isinstance(listener, dict):
        return
    listener = dict(listener)
    for key in ("id", "url"):
        if isinstance(listener.get(key), str):
            listener[key] = _expand_tree(listener[key], environ, ("listener", key), found)
    signing = listener.get("hmac")
    if isinstance(signing, dict):
        why = _check_secret("secret", signing.get("secret"))
        if why:
            found.problems.append((("listener", "hmac", "secret"), why))
        listener["hmac"] = _expand_tree({k: v for k, v in signing.items() if v is not None}, environ,
                                        ("listener", "hmac"), found)
    out["listener"] = listener


def redact(text: str, values: set[str]) -> str:
    """`text` with every environment value in `values` (4 characters or more) replaced by a marker:
    an error about a field must not print a secret that was put there by mistake."""
    for value in sorted(values, key=len, reverse=True):
        if len(value) >= 4:
            text = text.replace(value, "<from the environment>")
    return text
