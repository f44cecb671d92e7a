"""Scenarios: faults scoped to an endpoint, an event id, a recipient, or the Nth matching request. Pure.

A scenario is an ordered list of rules, given as the `rules` field of the fault spec (`POST /_mock/faults`,
`srv.inject(rules=[...])`) or as a YAML file (`--scenario FILE`, `MockServer(scenario=PATH)`)::

    rules:
      - match: {event_id: 5c1d6f0e-6a8b-4c53-9a51-0f7b8e4a2d11}
        respond: {status: 404}                                  # this event "does not exist"
      - match: {recipient: bob@example.com}
        respond: {status: 400, code: RECIPIENT_NOT_ALLOWED}      # that recipient is not allow-listed
      - match: {endpoint: send, nth: 3}
        respond: {status: 500}                                  # the third send of the run fails
      - match: {endpoint: send, nth: 5, times: 2}
        respond: {accept_status: 502}                           # sends 5 and 6 are recorded, then 502

Rules see only requests that passed every contract check (a send that would have been accepted, a token
request with good credentials, an auth test with a valid token). Every rule counts the requests its
`match` fits; a rule fires on its `nth` match (default 1) and the `times - 1` after it (default: 1 when
`nth` is given, every match otherwise). The first firing rule in order answers.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

ENDPOINTS = ("send", "token", "auth_test")
"""`send`: either send endpoint (`event_id` is null on the deprecated one); `token`; `auth_test`."""


class Match(BaseModel):
    """Which requests a rule sees: `endpoint`, optionally one `event_id` (UUID) and one `recipient`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    endpoint: Literal["send", "token", "auth_test"] = "send"
    event_id: str | None = None
    recipient: str | None = None
    nth: int | None = Field(default=None, ge=1)
    times: int | None = Field(default=None, ge=1)

    @field_validator("event_id")
    @classmethod
    def _canonical_uuid(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return str(uuid.UUID(value))
        except ValueError:
            raise ValueError(f"{value[:60]!r} is not a UUID") from None

    @field_validator("recipient")
    @classmethod
    def _lower(cls, value: str | None) -> str | None:
        return value.strip().lower() if value is not None else None

    @model_validator(mode="after")
    def _scoped_to_sends(self) -> Match:
        if self.endpoint != "send" and (self.event_id or self.recipient):
            raise ValueError("event_id and recipient only match sends (endpoint: send)")
        return self

    def fits(self, endpoint: str, event_id: str | None, recipients: Iterable[str]) -> bool:
        """True when a request to `endpoint` ("send", "token", "auth_test") is one this rule sees."""
        if endpoint != self.endpoint or (self.event_id is not None and event_id != self.event_id):
            return False
        return self.recipient is None or any(r.lower() == self.recipient for r in recipients)

    def fires_on(self, count: int) -> bool:
        """True when the `count`-th fitting request (1-based) is one the rule answers."""
        first = self.nth or 1
        times = self.times if self.times is not None else (1 if self.nth else None)
        return count >= first and (times is None or count < first + times)


class Respond(BaseModel):
    """What a firing rule does: exactly one of `status` (an error answer, nothing recorded), `drop` (close
    with no answer, nothing recorded), `lose_reply` (record, then close), `accept_status` (record, then
    answer this 5xx), `redirect_to` (answer `redirect_status` with this `Location`, nothing recorded),
    optionally after `latency_ms`; or only `latency_ms`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    status: int | None = Field(default=None, ge=400, le=599)
    code: str | None = Field(default=None, pattern=r"^[A-Z][A-Z0-9_]{0,63}$")
    message: str | None = Field(default=None, max_length=2000)
    retry_after_s: int | None = Field(default=None, ge=1)
    drop: bool = False
    lose_reply: bool = False
    accept_status: Literal[500, 502, 503, 504] | None = None
    redirect_to: str | None = Field(default=None, pattern=r"^https?://\S+$", max_length=2000)
    redirect_status: Literal[301, 302, 303, 307, 308] = 307
    latency_ms: float = Field(default=0.0, ge=0, le=600_000)

    @field_validator("accept_status", "redirect_status", mode="before")
    @classmethod
    def _status_number(cls, value: Any) -> Any:
        """A scenario file's `502` arrives as text (job-file YAML keeps scalars as written): a number here."""
        return int(value) if isinstance(value, str) and value.strip().isdigit() else value

    @model_validator(mode="after")
    def _one_action(self) -> Respond:
        kinds = ("status", "drop", "lose_reply", "accept_status", "redirect_to")
        actions = [name for name in kinds if getattr(self, name)]
        if len(actions) > 1:
            raise ValueError(f"give one of {', '.join(kinds)} (got {', '.join(actions)})")
        if not actions and not self.latency_ms:
            raise ValueError(f"give one of {', '.join(kinds)}, or latency_ms")
        if (self.code or self.message) and not self.status:
            raise ValueError("code and message go with status")
        if self.retry_after_s and self.status != 429:
            raise ValueError("retry_after_s goes with status: 429")
        return self


class Rule(BaseModel):
    """One scenario rule: `match` (which requests) and `respond` (what happens)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    match: Match = Field(default_factory=Match)
    respond: Respond

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump(exclude_defaults=True)


class _Rules(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rules: list[Rule]


def parse_rules(value: Any, where: str = "rules") -> tuple[Rule, ...]:
    """Validate a list of rule objects (dicts or `Rule`s); raises `ValueError` naming each bad field,
    e.g. `rules[0].respond.status: Input should be greater than or equal to 400`."""
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{where}: must be a list of rules ({{match: ..., respond: ...}}), got {type(value).__name__}")
    try:
        return tuple(_Rules(rules=list(value)).rules)
    except ValidationError as exc:
        raise ValueError("; ".join(_problem(where, e) for e in exc.errors())) from None


def _problem(where: str, error: Any) -> str:
    loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"][1:])
    message = error["msg"].removeprefix("Value error, ")
    return f"{where}{loc}: {message}"


def load_scenario(path: str | Path) -> tuple[Rule, ...]:
    """Read a scenario YAML file (a mapping with one key, `rules`). Raises `ValueError` naming the file,
    the key path and its line for every problem."""
    from ..config.yamlfile import line_for, read_yaml  # the one module that reads YAML
    from ..errors import ConfigError

    try:
        doc, lines, problems = read_yaml(Path(path))
    except ConfigError as exc:
        raise ValueError(f"--scenario: {exc}") from None
    if problems:
        raise ValueError("; ".join(f"{path}: {p}" for p in problems))
    if not isinstance(doc, dict) or set(doc) != {"rules"}:
        raise ValueError(f"{path}: a scenario file is a mapping with one key, rules: [{{match: ..., respond: ...}}]")
    try:
        return parse_rules(doc["rules"], where="rules")
    except ValueError as exc:
        parts = []
        for problem in str(exc).split("; "):
            index = problem[len("rules["):].split("]", 1)[0]
            line = line_for(lines, ("rules", int(index))) if index.isdigit() else None
            parts.append(f"{path}{f':{line}' if line else ''}: {problem}")
        raise ValueError("; ".join(parts)) from None
