"""What a job file *says*: pydantic models of the YAML, validated once at load time.

`mwsync.config.build` turns these into the runtime objects of `mwsync.config.job`; nothing downstream sees
these models, a raw dict or an unresolved `${ENV}` reference. `mwsync schema` prints the JSON
Schema generated from `JobFile` (published as `schema/job.schema.json` for editors).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..rules import LISTENER_AUTH_MODES


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SubscriptionModel(_Strict):
    """The Moveworks subscription (iPaaS.com's API URL / Client ID / Client Secret / API Key)."""

    api_url: str = Field(
        "embedded",
        description="API base URL, e.g. https://api.moveworks.ai, or `embedded` for the bundled mock server.",
    )
    client_id: str = Field("", description="OAuth 2.0 client id; may reference the environment: ${VAR}.")
    client_secret: str = Field(
        "", description="OAuth 2.0 client secret. Must be an environment reference such as ${MOVEWORKS_CLIENT_SECRET}."
    )
    api_key: str = Field(
        "", description="Legacy static API key, sent as a bearer when no client credentials are set. "
                        "Environment reference only."
    )
    token_request: Literal["form", "json"] = Field(
        "form", description="Body format of POST /oauth/v1/token: form-encoded (RFC 6749 section 4.4) or JSON."
    )
    connect_timeout_s: float = Field(5.0, gt=0, le=600, description="Seconds to wait for a TCP connection.")
    read_timeout_s: float = Field(30.0, gt=0, le=600,
                                  description="Seconds to wait for an answer once a request is sent.")
    deadline_s: float | None = Field(
        None, gt=0, le=1200, allow_inf_nan=False,
        description="Most seconds one request may take in all (connect, send, the whole answer); default "
                    "connect_timeout_s + read_timeout_s. An answer still arriving then is cut off (a send: unknown).")


class ProfileModel(_Strict):
    """A throttle profile: at most `limit` request starts in any span of `window_s` seconds."""

    limit: int = Field(..., ge=1, le=1_000_000, description="Calls per window.")
    window_s: float = Field(..., gt=0, le=86_400, allow_inf_nan=False,
                            description="Window length in seconds (at most a day).")


class ThrottleModel(_Strict):
    """Which throttle profile a job uses, extra profiles, and concurrency."""

    profile: str = Field("ongoing", description="Name of the profile to use (built in: initial, ongoing, high_volume, "
                         "listener_unsecured, listener_secured, listener_secured_50). Default: ongoing for an event "
                         "job; for a listener job listener_unsecured (auth none), else listener_secured.")
    profiles: dict[str, ProfileModel] = Field(
        default_factory=dict, description="Extra or overriding profiles, by name."
    )
    concurrent_connections: int = Field(1, ge=1, le=64, description="Parallel in-flight requests for this job.")
    concurrent_batch_executions: int = Field(
        1, ge=1, le=16, description="Jobs run in parallel when several are given (the largest value among them wins)."
    )


class RetryModel(_Strict):
    """How failed sends are retried (429, 5xx, connection refused); other 4xx are never retried."""

    max_attempts: int = Field(5, ge=1, le=50, description="Attempts per request, the first included.")
    backoff_initial_s: float = Field(0.5, ge=0, le=600,
                                     description="First exponential backoff delay for 5xx/connection errors.")
    backoff_max_s: float = Field(30.0, ge=0, le=3600, description="Largest backoff delay.")
    retry_after_default_s: float = Field(
        60.0, ge=0, le=3600, description="Wait after a 429 without Retry-After (Moveworks' guidance: 60 s)."
    )
    max_retry_after_s: float = Field(120.0, ge=0, le=3600, description="Cap on any single 429 wait.")
    resend_on: list[int] = Field(
        default_factory=list,
        description="5xx statuses to retry although the API may have accepted the message before failing "
                    "(default none: such messages are held as unknown). Each retry risks a duplicate notification.")

    @field_validator("resend_on")
    @classmethod
    def _server_errors_only(cls, value: list[int]) -> list[int]:
        wrong = [status for status in value if not 500 <= status <= 599 or status == 503]
        if wrong:
            raise ValueError(f"{wrong[0]} is not a 5xx status that is held as unknown (500..599 but 503, which is "
                             "always retried)")
        return value


class MessageModel(_Strict):
    """One message per source row; every field is a Jinja template over the row and `vars`."""

    event_id: str = Field(..., description="UUID of the Moveworks event (may be a template or ${ENV}).")
    template: str | None = Field(None, description="Template file under the job's templates directory.")
    text: str | None = Field(None, description="Inline template text (instead of `template`).")
    recipients: str | list[str] = Field(
        ..., description="E-mail template(s): a string (comma-separated allowed) or a list of strings."
    )
    slots: dict[str, str] = Field(default_factory=dict, description="Context slots: name -> template.")
    slots_from: str | None = Field(
        None, description="Row field holding more slots: a mapping (JSONL) or a JSON object (CSV); `slots` win."
    )
    idempotency_key: str | None = Field(
        None, description="Template giving each message a stable key; default: a hash of event, recipients, text "
                          "and slots."
    )

    @model_validator(mode="after")
    def _one_text(self) -> MessageModel:
        if (self.template is None) == (self.text is None):
            raise ValueError("give exactly one of `template` (a file) or `text` (inline)")
        return self


HEADER_RE = r"^[A-Za-z0-9][A-Za-z0-9-]*$"
PLACEHOLDER_RE = re.compile(r"\{([^{}]*)\}")
MAX_PAYLOAD_DEPTH = 32


class HmacModel(_Strict):
    """Signature verification of a webhook listener (listener reference, "Authentication"): Moveworks' demo app
    sends a lowercase hex HMAC-SHA256 of the exact body bytes in `X-Signature`; the rest are options for
    listeners configured otherwise."""

    secret: str = Field("", description="The shared signing secret. Must be an environment reference such as "
                                        "${MOVEWORKS_LISTENER_SECRET}.")
    header: str = Field("X-Signature", pattern=HEADER_RE, description="Header carrying the signature.")
    algorithm: Literal["sha256", "sha512"] = Field("sha256", description="HMAC hash function.")
    encoding: Literal["hex", "base64"] = Field("hex", description="Signature encoding (hex: lowercase).")
    prefix: str = Field("", max_length=32, description="Text before the signature, e.g. `sha256=`.")
    timestamp_header: str | None = Field(None, pattern=HEADER_RE,
                                         description="Header carrying the Unix time (seconds) the request was "
                                                     "signed at; signed_string must then use {timestamp}.")
    signed_string: str = Field("{body}", description="What is signed: {body} stands for the exact body bytes, "
                                                     "{timestamp} for the timestamp header's value, e.g. "
                                                     "`{timestamp}.{body}`.")

    @model_validator(mode="after")
    def _placeholders(self) -> HmacModel:
        names = PLACEHOLDER_RE.findall(self.signed_string)
        unknown = sorted(set(names) - {"body", "timestamp"})
        if unknown or names.count("body") != 1:
            raise ValueError(f"signed_string '{self.signed_string}' must hold {{body}} exactly once and otherwise "
                             "only {timestamp}, e.g. {timestamp}.{body}")
        if ("timestamp" in names) != (self.timestamp_header is not None):
            raise ValueError("give timestamp_header and a signed_string with {timestamp} together (e.g. "
                             "timestamp_header: X-Timestamp, signed_string: '{timestamp}.{body}'), or neither")
        return self


class ListenerModel(_Strict):
    """A webhook listener target (Ambient Agents; listener reference): one JSON body per source row, POSTed to
    `{api_url}/webhooks/v1/listeners/{id}/notify`."""

    id: str | None = Field(None, description="UUID of the listener (the first of its url_uuids); may be ${ENV}.")
    url: str | None = Field(None, description="Instead of id: the full webhook URL, "
                                              "https://HOST/webhooks/v1/listeners/<uuid>/notify.")
    auth: Literal[LISTENER_AUTH_MODES] = Field(  # type: ignore[valid-type]
        "none", description="none (unsecured: 1 request per 10 s), api_key or client_credentials (bearer "
                            "credentials from subscription), or hmac (signature verification, see hmac).")
    hmac: HmacModel | None = Field(None, description="Signing settings; required with auth: hmac.")
    payload: dict[str, Any] = Field(
        ..., description="The JSON body: a mapping whose leaf values are templates over the row. A leaf that is "
                         "exactly one {{ expression }} keeps the expression's JSON type (number, boolean, list, "
                         "object); every other leaf is a string.")
    idempotency_key: str | None = Field(
        None, description="Template giving each body a stable key; default: a hash of the listener and the body.")

    @field_validator("payload")
    @classmethod
    def _templates_only(cls, value: dict[str, Any]) -> dict[str, Any]:
        _check_node(value, "", 0)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ListenerModel:
        if (self.id is None) == (self.url is None):
            raise ValueError("give exactly one of id (the listener's UUID) or url (its full webhook URL)")
        if self.auth == "hmac" and self.hmac is None:
            raise ValueError("auth: hmac needs hmac.secret, e.g. hmac: {secret: ${MOVEWORKS_LISTENER_SECRET}}")
        if self.hmac is not None and self.auth != "hmac":
            raise ValueError(f"hmac settings are given but auth is '{self.auth}'; set auth: hmac to sign, or "
                             "remove hmac")
        return self


def _check_node(node: Any, where: str, depth: int) -> None:
    """A payload node is a template string, a list of nodes or a mapping of string keys to nodes."""
    if depth > MAX_PAYLOAD_DEPTH:
        raise ValueError(f"{where}: nested more than {MAX_PAYLOAD_DEPTH} levels deep")
    if isinstance(node, dict):
        for key, item in node.items():
            _check_node(item, f"{where}.{key}" if where else str(key), depth + 1)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            _check_node(item, f"{where}[{index}]", depth + 1)
    elif not isinstance(node, str):
        raise ValueError(f"{where}: null is not a template; give a value such as \"{{{{ name }}}}\", or leave the "
                         "key out")


class SourceModel(_Strict):
    """Where rows come from: exactly one of `csv`, `jsonl` or `rows`."""

    csv: str | None = Field(None, description="CSV file with a header row, relative to the job file.")
    jsonl: str | None = Field(None, description="JSON Lines file (one object a line), relative to the job file.")
    rows: list[dict[str, object]] | None = Field(None, description="Inline rows.")
    filter: str | None = Field(None, description="Jinja expression over the row; rows where it is false are skipped.")
    encoding: str = Field("utf-8", description="Text encoding of the file (a UTF-8 byte-order mark is dropped).")

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        import codecs

        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown encoding '{value}' (e.g. utf-8, latin-1, cp1252)") from None
        return value
    delimiter: str = Field(",", min_length=1, max_length=1, description="CSV delimiter.")

    @model_validator(mode="after")
    def _one_source(self) -> SourceModel:
        given = [name for name in ("csv", "jsonl", "rows") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of csv, jsonl or rows (got {', '.join(given) or 'none'})")
        return self


class JobFile(_Strict):
    """A send job: subscription, throttle, message and source (`mwsync init` writes one to start from)."""

    name: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", description="Job name; default: file stem.")
    description: str = ""
    subscription: SubscriptionModel = Field(default_factory=SubscriptionModel)
    throttle: ThrottleModel = Field(default_factory=ThrottleModel)
    retry: RetryModel = Field(default_factory=RetryModel)
    templates_dir: str = Field("../templates", description="Directory of template files, relative to the job file.")
    vars: dict[str, object] = Field(default_factory=dict, description="Constants available to every template; "
                                    "`today: YYYY-MM-DD` pins the reference date.")
    message: MessageModel | None = Field(None, description="An Events API message (give message or listener).")
    listener: ListenerModel | None = Field(None, description="A webhook listener target (give message or "
                                                             "listener).")
    source: SourceModel
    journal: str | None = Field(
        None, description="Where the journal lives: a file (relative to the job file) or a shared PostgreSQL "
                          "database, postgresql://USER@HOST:PORT/DB (a password only as ${VAR}). --journal and "
                          "MWSYNC_JOURNAL win over it. Default: .mwsync/journal/<job>.sqlite beside the job file.")
    limiter: str | None = Field(
        None, description="A rate limiter shared by every runner: redis://HOST:PORT/DB (a password only as "
                          "${VAR}). --limiter and MWSYNC_LIMITER win over it. Default: in-process.")

    @field_validator("vars")
    @classmethod
    def _no_reserved_vars(cls, value: dict[str, object]) -> dict[str, object]:
        reserved = {"row", "row_number", "vars", "job"} & set(value)
        if reserved:
            raise ValueError(f"reserved names cannot be vars: {', '.join(sorted(reserved))}")
        return value

    @model_validator(mode="after")
    def _one_target(self) -> JobFile:
        if (self.message is None) == (self.listener is None):
            raise ValueError("give exactly one of message (an Events API event) or listener (a webhook listener)")
        return self


def job_schema() -> dict:
    """The JSON Schema (draft 2020-12) of a job file, for editors (`schema/job.schema.json`): a job is an event
    job (`message`) or a listener job (`listener`), never both."""
    schema = JobFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "mwsync job"
    schema["oneOf"] = [{"required": ["message"], "not": {"required": ["listener"]}},
                       {"required": ["listener"], "not": {"required": ["message"]}}]
    defs = schema["$defs"]
    defs["ListenerModel"]["properties"]["payload"]["additionalProperties"] = {"$ref": "#/$defs/PayloadNode"}
    defs["PayloadNode"] = {
        "description": "A listener payload value: a template string, a list or a mapping of them.",
        "anyOf": [{"type": "string"}, {"type": "array", "items": {"$ref": "#/$defs/PayloadNode"}},
                  {"type": "object", "additionalProperties": {"$ref": "#/$defs/PayloadNode"}}]}
    return schema
