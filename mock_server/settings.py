"""What a mock server instance is told at start-up, normalized once (the edge where units are converted).

`MockSettings` is a frozen record built by `MockSettings.build(**kwargs)` from the loose values a caller or
the CLI gives (`rate_limit=(120, 60.0)` or `"120/60"`, iterables of e-mails, ...). After that nothing
downstream sees a raw tuple or string. Every problem is collected and raised once as `ValueError`
listing the valid choices.
"""

from __future__ import annotations

import csv
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..rate import Rate, is_rate
from ..rules import API_DEFAULT_RATE, DEMO_CLIENT
from .ledger import DEFAULT_KEEP_MESSAGES
from .scenario import Rule, load_scenario, parse_rules

DEFAULT_CLIENTS: Mapping[str, str] = dict([DEMO_CLIENT])
"""Client credentials accepted when the caller gives none (`client_id` -> `client_secret`)."""

RATE_LIMIT_ALGORITHMS = ("sliding", "fixed")
TOKEN_REQUEST_FORMATS = ("form", "json", "both")
TOKEN_RESPONSE_SHAPES = ("plain", "wrapped")
PEAK_WINDOW_S = 60.0
"""The span `max_requests_in_window` is measured over when the rate limit is off (Moveworks' minute)."""


@dataclass(frozen=True)
class MockSettings:
    """Normalized start-up settings of one mock server.

    `rate_limit`: calls per `window_s` over all API requests (Moveworks default 120 per 60 s, org-wide),
    None = no limit;
    `token_ttl_s`: access-token lifetime in seconds; `events`: lower-case UUID strings or None (any UUID);
    `users`: lower-case e-mail allow-list or None; `latency_ms`: added to every send request;
    `clock`: monotonic seconds, injectable for tests; `request_log_size`: entries kept for /_mock/requests;
    `keep_messages`: message bodies kept; `log_headers` / `log_bodies`: what the request log keeps (redacted);
    `scenario`: start-up scenario rules; `proxy_to`: a real API URL to forward to; `record_to`: cassette path.
    """

    host: str = "127.0.0.1"
    port: int = 0
    rate_limit: Rate | None = API_DEFAULT_RATE
    rate_limit_algorithm: str = "sliding"
    rate_limit_headers: bool = True
    token_ttl_s: float = 3600.0
    clients: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_CLIENTS))
    api_keys: tuple[str, ...] = ()
    events: frozenset[str] | None = None
    users: frozenset[str] | None = None
    token_request: str = "both"
    token_response: str = "plain"
    allow_basic_auth: bool = False
    latency_ms: float = 0.0
    seed: int | None = None
    clock: Callable[[], float] = time.monotonic
    request_log_size: int = 1000
    keep_messages: int = DEFAULT_KEEP_MESSAGES
    log_headers: bool = False
    log_bodies: bool = False
    scenario: tuple[Rule, ...] = ()
    proxy_to: str | None = None
    record_to: Path | None = None

    @classmethod
    def build(cls, **kwargs: object) -> MockSettings:
        """Normalize loose keyword values (see `MockServer`); raises `ValueError` naming every bad one."""
        problems: list[str] = []
        values = dict(kwargs)
        _normalize(values, problems)
        if problems:
            raise ValueError("invalid mock server settings: " + "; ".join(problems))
        return cls(**values)  # type: ignore[arg-type]


def _normalize(values: dict[str, object], problems: list[str]) -> None:
    """Convert each loose value in place; append a message to `problems` for each bad one."""
    if values.get("clients") is None:
        values["clients"] = dict(DEFAULT_CLIENTS)
    else:
        values["clients"] = {str(k): str(v) for k, v in dict(values["clients"]).items()}  # type: ignore[call-overload]
    if values.get("rate_limit") is not None:
        values["rate_limit"] = _rate_limit(values["rate_limit"], problems)
    _normalize_extras(values, problems)
    _check_choice(values, "rate_limit_algorithm", RATE_LIMIT_ALGORITHMS, problems)
    _check_choice(values, "token_request", TOKEN_REQUEST_FORMATS, problems)
    _check_choice(values, "token_response", TOKEN_RESPONSE_SHAPES, problems)
    values["api_keys"] = tuple(str(k) for k in values.get("api_keys") or ())
    if values.get("events") is not None:
        values["events"] = _normalize_events(values["events"], problems)  # type: ignore[arg-type]
    if values.get("users") is not None:
        values["users"] = frozenset(str(u).strip().lower() for u in values["users"])  # type: ignore[attr-defined]
    for name in ("token_ttl_s", "latency_ms"):
        if name in values and (not isinstance(values[name], (int, float)) or values[name] < 0):  # type: ignore[operator]
            problems.append(f"{name}: must be a number >= 0, got {values[name]!r}")
    if values.get("clock") is None:
        values["clock"] = time.monotonic
    if values.get("port") is not None and not 0 <= int(values["port"]) <= 65535:  # type: ignore[call-overload]
        problems.append(f"port: must be 0..65535, got {values['port']!r}")


def _rate_limit(value: object, problems: list[str]) -> Rate | None:
    if isinstance(value, str) and is_rate(value) and value.strip().split("/")[0].strip().strip("0") == "":
        problems.append(f"rate_limit: {value.strip()!r} would refuse every request; to turn the limit off use "
                        "--no-rate-limit (rate_limit=None), else give 1..1000000000 calls per window")
        return None
    try:
        return Rate.parse(value)
    except ValueError as exc:
        problems.append(f"rate_limit: {exc}")
        return None


def _normalize_extras(values: dict[str, object], problems: list[str]) -> None:
    """keep_messages, request_log_size, scenario (rules or a YAML path), proxy_to, record_to."""
    for name, low in (("keep_messages", 0), ("request_log_size", 1)):
        value = values.get(name)
        if name in values and (isinstance(value, bool) or not isinstance(value, int) or value < low):
            problems.append(f"{name}: must be a whole number >= {low}, got {value!r}")
    scenario = values.get("scenario")
    try:
        if isinstance(scenario, (str, Path)):
            values["scenario"] = load_scenario(scenario)
        elif scenario:
            values["scenario"] = parse_rules(scenario, where="scenario")
        else:
            values["scenario"] = ()
    except (ValueError, OSError) as exc:
        problems.append(f"scenario: {exc}")
    proxy_to = values.get("proxy_to")
    if proxy_to is not None:
        text = str(proxy_to).rstrip("/")
        if not text.startswith(("http://", "https://")) or "@" in text.split("//", 1)[1].split("/", 1)[0]:
            problems.append("proxy_to: must be an http:// or https:// API URL without credentials in it")
        values["proxy_to"] = text
    if values.get("record_to") is not None:
        values["record_to"] = Path(values["record_to"])  # type: ignore[arg-type]
        if proxy_to is None:
            problems.append("record_to: records what proxy mode forwards; give proxy_to (--proxy-to URL) too")


def _check_choice(values: dict[str, object], name: str, choices: tuple[str, ...], problems: list[str]) -> None:
    if name in values and values[name] not in choices:
        problems.append(f"{name}: unknown {values[name]!r} (valid: {', '.join(choices)})")


def _normalize_events(events: Iterable[str], problems: list[str]) -> frozenset[str]:
    """Event ids as canonical lower-case UUID strings; a non-UUID is a problem."""
    normalized = set()
    for event_id in events:
        try:
            normalized.add(str(uuid.UUID(str(event_id))))
        except ValueError:
            problems.append(f"events: {event_id!r} is not a UUID")
    return frozenset(normalized)


def load_users_file(path: str | Path) -> frozenset[str]:
    """Read an e-mail allow-list: one address per line (`#` comments), or a CSV with an `email` column.

    Raises `ValueError` when a CSV header has no `email` column; `OSError` when the file cannot be read.
    """
    text = Path(path).read_text(encoding="utf-8")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if not lines or "," not in lines[0]:
        return frozenset(line.lower() for line in lines)
    reader = csv.DictReader(lines)
    if "email" not in (reader.fieldnames or ()):
        raise ValueError(f"{path}: CSV has no 'email' column (columns: {', '.join(reader.fieldnames or ())})")
    return frozenset(row["email"].strip().lower() for row in reader if row.get("email"))
