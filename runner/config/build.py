"""From a validated `JobFile` model to the runtime `Job`: pick the throttle profile, resolve paths,
read the message template, check what the schema cannot (URL, credentials, a literal event id).

Problems are reported through `problem(key_path, message)`; `mwsync.config.loader` adds file and line.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..errors import UsageError
from ..rate import Rate
from ..rules import BUILTIN_PROFILES, EMBEDDED, is_loopback_host, is_uuid
from .job import Job, MessageSpec, RetryPolicy, SourceSpec, Subscription
from .listener import build_listener, credentials_needed, default_profile
from .models import JobFile
from .yamlfile import file_problem

KeyPath = tuple[Any, ...]
#: An API key pasted with its header scheme (`Bearer abc`) would go out as `Bearer Bearer abc`.
BEARER_PREFIX_RE = re.compile(r"^\s*bearer\s+", re.IGNORECASE)
Report = Callable[[KeyPath, str], None]


def parse_throttle(text: str, name: str = "custom", flag: str = "--throttle") -> Rate:
    """Parse `N/S` (e.g. `10/2`: 10 calls per 2 s window) into a `Rate` (`mwsync.rate`). Raises
    `UsageError` naming `flag`."""
    try:
        return Rate.parse(str(text), name)
    except ValueError as exc:
        raise UsageError(f"{flag}: {exc} (CALLS/SECONDS: whole calls per 0..86400 seconds)") from None


def early_problems(data: Mapping[str, Any]) -> list[tuple[KeyPath, str]]:
    """Problems `build_job` would find that need no valid model, for a file the schema refused: so one pass
    lists them too (an unknown throttle profile, an event id that is not a UUID). `data` is the job file's
    raw mapping."""
    found = []
    message = data.get("message")
    event_id = message.get("event_id") if isinstance(message, Mapping) else None
    if isinstance(event_id, str):
        found += [(("message", "event_id"), why) for why in [_event_id_problem(event_id)] if why]
    throttle = data.get("throttle")
    if not isinstance(throttle, Mapping) or not isinstance(throttle.get("profile"), str):
        return found
    own = throttle.get("profiles")
    names = [*BUILTIN_PROFILES, *(own if isinstance(own, Mapping) else ())]
    chosen = throttle["profile"]
    if chosen not in names:
        found.append((("throttle", "profile"), f"unknown '{chosen}' (valid: {', '.join(names)})"))
    return found


def _event_id_problem(event_id: str) -> str | None:
    if "{" in event_id or is_uuid(event_id):
        return None
    return f"'{event_id}' is not a UUID like 3f1c2a9e-5b7d-4e8f-9a10-2b3c4d5e6f70 (the event's id in Creator Studio)"


def build_job(model: JobFile, path: Path, problem: Report, lines: Mapping[str, int], *,
              profile: str | None, throttle: str | None, api_url: str | None, source: str | Path | None,
              check_credentials: bool = True, env_refs: Mapping[str, tuple[str, ...]] | None = None) -> Job | None:
    """The runtime `Job` for `model` (loaded from `path`), or None when a problem was reported.
    `lines`: dotted key path -> line, kept on the job for render errors; `env_refs`: the environment
    variables each credential field references (`envref.credential_references`). Raises `UsageError`
    for a bad `--profile`, `--throttle` or replay file."""

    profiles = dict(BUILTIN_PROFILES)
    profiles.update({key: Rate(p.limit, p.window_s, key) for key, p in model.throttle.profiles.items()})
    chosen = profile or model.throttle.profile
    if not profile and model.listener is not None and "profile" not in model.throttle.model_fields_set:
        chosen = default_profile(model.listener.auth)  # a listener's documented limit for its auth mode
    selected = profiles.get(chosen)
    if throttle:
        selected = parse_throttle(throttle)
    elif selected is None:
        valid = ", ".join(profiles)
        if profile:
            raise UsageError(f"--profile: unknown profile '{profile}' (valid: {valid})")
        problem(("throttle", "profile"), f"unknown '{chosen}' (valid: {valid})")
    listener, listener_api = build_listener(model.listener, problem) if model.listener else (None, None)
    subscription = _subscription(model, api_url, problem, check_credentials, dict(env_refs or {}), listener_api)
    base = path.parent
    message = _message(model, base, problem) if model.message is not None else None
    source = _source(model, base, problem) if source is None else _source_file(Path(source), model)
    today = _today(model, problem)
    if selected is None or (message is None and listener is None) or source is None:
        return None
    return Job(
        name=model.name or path.stem.removesuffix(".job"),
        path=path,
        subscription=subscription,
        throttle=selected,
        profiles=profiles,
        concurrent_connections=model.throttle.concurrent_connections,
        concurrent_batch_executions=model.throttle.concurrent_batch_executions,
        retry=RetryPolicy(**dict(model.retry.model_dump(), resend_on=frozenset(model.retry.resend_on))),
        message=message,
        source=source,
        templates_dir=(base / model.templates_dir),
        vars=dict(model.vars),
        description=model.description,
        lines=dict(lines),
        today=today,
        journal=_journal(model, base, problem),
        limiter=_limiter(model, problem),
        listener=listener,
    )


def _journal(model: JobFile, base: Path, problem: Report) -> str | Path | None:
    """The job file's `journal:`: a `postgresql://` URL as written, or a path relative to the job file."""
    value = (model.journal or "").strip()
    if not value:
        return None
    if "://" in value:
        if not value.lower().startswith(("postgresql://", "postgres://")):
            problem(("journal",), "a journal is a file path or a postgresql://USER@HOST:PORT/DB URL")
        return value
    return base / value


def _limiter(model: JobFile, problem: Report) -> str | None:
    """The job file's `limiter:`: a `redis://` (or `rediss://`, `unix://`) URL."""
    value = (model.limiter or "").strip()
    if value and not value.lower().startswith(("redis://", "rediss://", "unix://")):
        problem(("limiter",), "a shared limiter is a redis://HOST:PORT/DB URL (leave it out for the in-process one)")
    return value or None


def _today(model: JobFile, problem: Report) -> dt.date | None:
    """`vars.today` as a date (templates' reference date), or None when not pinned."""
    pinned = model.vars.get("today")
    if pinned in (None, ""):
        return None
    try:
        return dt.date.fromisoformat(str(pinned).strip())
    except ValueError:
        problem(("vars", "today"), f"'{pinned}' is not a date YYYY-MM-DD (the reference date templates see as today)")
        return None


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
    if parts.query or parts.fragment or any(c.isspace() for c in url) or parts.port == 0:
        return "an API URL is scheme, host, optional port and path only (no spaces, query, fragment or port 0)"
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        return "plain http sends credentials in clear text; use https (http only for 127.0.0.1/localhost)"
    return None


def normalize_url(url: str) -> str:
    """One spelling per API URL (the journal is kept per URL): lower-case scheme and host, no default
    port, no trailing slash. `HTTPS://API.moveworks.ai:443/` -> `https://api.moveworks.ai`."""
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    default = {"http": 80, "https": 443}[scheme]
    netloc = f"[{host}]" if ":" in host else host
    if parts.port and parts.port != default:
        netloc += f":{parts.port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


def credentials_problem(sub: Subscription) -> tuple[str, str] | None:
    """`(field, message)` when `sub` (a real API) has neither both client credentials nor an API key, naming
    the environment variables to export (`sub.env_refs`); None when it has what it needs."""
    if sub.api_key or (sub.client_id and sub.client_secret):
        return None
    refs = sub.env_refs
    if sub.client_id or sub.client_secret:
        missing = "client_secret" if sub.client_id else "client_id"
        names = refs.get(missing, ())
        if names:
            return missing, (f"client credentials need both client_id and client_secret: {' and '.join(names)} "
                             f"{'is' if len(names) == 1 else 'are'} not set; export {names[0]}=...")
        return missing, f"client credentials need both client_id and client_secret; set {missing} in the job file"
    names = refs.get("client_id", ()) + refs.get("client_secret", ())
    if names:
        exports = " ".join(f"{n}=..." for n in names)
        key = f" (or {refs['api_key'][0]} for an API key)" if refs.get("api_key") else ""
        return "client_secret", (f"a real API needs client credentials, and {' and '.join(names)} "
                                 f"{'is' if len(names) == 1 else 'are'} not set: export {exports}{key}")
    return "client_secret", ("a real API needs client_id and client_secret (or api_key), and the job file names "
                             "none: reference them from the environment, e.g. client_id: ${MOVEWORKS_CLIENT_ID} "
                             "and client_secret: ${MOVEWORKS_CLIENT_SECRET}, then export MOVEWORKS_CLIENT_ID=... "
                             "MOVEWORKS_CLIENT_SECRET=...")


def _subscription(model: JobFile, api_url: str | None, problem, check_credentials: bool = True,
                  env_refs: dict[str, tuple[str, ...]] | None = None, listener_api: str | None = None) -> Subscription:
    """The runtime subscription. `listener_api`: the API URL a `listener.url` names (it is the job's API URL;
    `--api-url` still overrides it, e.g. for a standalone mock)."""
    sub = model.subscription
    if listener_api is not None and "api_url" in sub.model_fields_set:
        problem(("subscription", "api_url"), "listener.url names the API URL already; remove subscription.api_url, "
                                             "or give listener.id instead of listener.url")
    url = (api_url or listener_api or sub.api_url or EMBEDDED).strip()
    why = None
    if url.lower() == EMBEDDED:
        url = EMBEDDED
    else:
        where = "--api-url" if api_url else "listener.url" if listener_api else "subscription.api_url"
        why = url_problem(url)
        if why:
            problem(("listener", "url") if where == "listener.url" else ("subscription", "api_url"), f"{where}: {why}")
    subscription = Subscription(
        api_url=None if url == EMBEDDED or why else normalize_url(url),
        client_id=sub.client_id,
        client_secret=sub.client_secret,
        api_key=BEARER_PREFIX_RE.sub("", sub.api_key),
        token_request=sub.token_request,
        connect_timeout_s=sub.connect_timeout_s,
        read_timeout_s=sub.read_timeout_s,
        request_deadline_s=sub.deadline_s,
        env_refs=env_refs or {},
    )
    if check_credentials and url != EMBEDDED and model.listener is not None:
        _listener_credentials(model, problem)
        return subscription
    missing = credentials_problem(subscription) if check_credentials and url != EMBEDDED else None
    if missing:
        problem(("subscription", missing[0]), missing[1])
    return subscription


def _listener_credentials(model: JobFile, problem: Report) -> None:
    """What a real listener needs for its `listener.auth`: nothing (unsecured), the signing secret (hmac),
    `subscription.api_key` (api_key) or both client credentials (client_credentials). An embedded job needs
    none: it runs with the demo credentials."""
    sub, listener = model.subscription, model.listener
    needed = credentials_needed(listener.auth)
    if listener.hmac is not None and not listener.hmac.secret:
        problem(("listener", "hmac", "secret"), "a real listener needs the signing secret; set it from the "
                                                "environment, e.g. secret: ${MOVEWORKS_LISTENER_SECRET}")
    if needed == "api_key" and not sub.api_key:
        problem(("subscription", "api_key"), "listener.auth: api_key sends subscription.api_key as a bearer; set it "
                                             "from the environment, e.g. api_key: ${MOVEWORKS_API_KEY}")
    elif needed == "client_credentials" and not (sub.client_id and sub.client_secret):
        problem(("subscription", "client_secret"), "listener.auth: client_credentials needs subscription.client_id "
                                                   "and client_secret, e.g. client_secret: ${MOVEWORKS_CLIENT_SECRET}")


def _message(model: JobFile, base: Path, problem) -> MessageSpec | None:
    msg = model.message
    why = _event_id_problem(msg.event_id)
    if why:
        problem(("message", "event_id"), why)
    recipients = (msg.recipients,) if isinstance(msg.recipients, str) else tuple(msg.recipients)
    if not recipients:
        problem(("message", "recipients"), "at least one recipient template is needed, e.g. \"{{ email }}\"")
    if msg.template is not None:
        templates_dir = base / model.templates_dir
        file = _confined(templates_dir, msg.template, problem)
        if file is None:
            return None
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


def _confined(templates_dir: Path, name: str, problem: Report) -> Path | None:
    """The template file `name` inside `templates_dir`, or None (a problem reported) when it is absolute,
    climbs out with `..`, or resolves (through a symlink) outside the folder: a template is sent to
    every recipient, so `/proc/self/environ` or `../../etc/passwd` must never be one."""
    where = ("message", "template")
    relative = Path(name)
    if relative.is_absolute() or ".." in relative.parts:
        problem(where, f"'{name}' is not inside templates_dir; name a file under {templates_dir} "
                       "(no absolute path, no '..')")
        return None
    file = templates_dir / relative
    try:
        inside = file.resolve().is_relative_to(templates_dir.resolve())
    except OSError:
        inside = False
    if not inside:
        problem(where, f"'{name}' leads outside templates_dir ({templates_dir}) through a symlink; keep templates "
                       "inside it")
        return None
    why = file_problem(file)
    if why:
        problem(where, f"{file}: {why}; templates live in {templates_dir} (templates_dir)")
        return None
    return file


def _source(model: JobFile, base: Path, problem) -> SourceSpec | None:
    src = model.source
    if src.rows is not None:
        return SourceSpec("inline", rows=tuple(src.rows), filter=src.filter)
    kind = "csv" if src.csv is not None else "jsonl"
    file = base / (src.csv if src.csv is not None else src.jsonl)
    why = file_problem(file)
    if why:
        problem(("source", kind), f"{why}: {file} (paths are relative to the job file)")
        return None
    return SourceSpec(kind, path=file, filter=src.filter, encoding=src.encoding, delimiter=src.delimiter)


def _source_file(file: Path, model: JobFile) -> SourceSpec:
    """A source given on the command line (`mwsync replay FILE`): kind from the suffix."""
    kinds = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
    kind = kinds.get(file.suffix.lower())
    if kind is None:
        raise UsageError(f"{file}: replay reads .csv or .jsonl files (got '{file.suffix or 'no suffix'}')")
    why = file_problem(file)
    if why:
        raise UsageError(f"{file}: {why}")
    src = model.source
    return SourceSpec(kind, path=file, filter=src.filter, encoding=src.encoding, delimiter=src.delimiter)
