"""The one logging setup of the command line: levels from `-v` / `-q`, text or JSON lines on stderr, and
every record through the redaction filter (`mwsync.redact`).

Levels: `mwsync` loggers at INFO by default (warnings, and info such as progress lines in CI), DEBUG with
`-v`, ERROR with `-q`. Third-party loggers stay at WARNING whatever the flags: requests-oauthlib logs token
request bodies (the client secret) and access tokens at DEBUG.

`--log-format json` writes one JSON object per line: `{"time": ISO 8601 UTC, "level": "warning",
"logger": "mwsync.send.session", "message": "...", ...extra fields given with `extra=`}`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys

from ..redact import redact

QUIET_THIRD_PARTY = ("requests_oauthlib", "oauthlib", "urllib3", "uvicorn", "uvicorn.error", "uvicorn.access",
                     "falcon", "locust", "asyncio")
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "error": logging.ERROR}


class RedactFilter(logging.Filter):
    """Replaces each record's message (arguments merged in), its exception text and its extra string fields
    by their redacted form (`mwsync.redact.redact`): no secret reaches a log line, whoever logged it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.exc_info = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        for name, value in vars(record).items():
            if name not in _STANDARD and isinstance(value, str):
                setattr(record, name, redact(value))
        return True


class TextFormatter(logging.Formatter):
    """`warning: ...`, `error: ...`, `debug: [logger] ...`; info lines are the message alone."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.levelno == logging.INFO:
            text = message
        elif record.levelno < logging.INFO:
            text = f"debug: [{record.name}] {message}"
        else:
            text = f"{record.levelname.lower()}: {message}"
        return f"{text}\n{record.exc_text}" if record.exc_text else text


class JsonFormatter(logging.Formatter):
    """One JSON object per record (module docstring); extra fields are kept, as JSON or as text."""

    def format(self, record: logging.LogRecord) -> str:
        doc = {"time": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(timespec="milliseconds"),
               "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        for name, value in vars(record).items():
            if name not in _STANDARD and name not in doc:
                doc[name] = value if isinstance(value, (str, int, float, bool, type(None), list, dict)) else str(value)
        if record.exc_text:
            doc["exception"] = record.exc_text
        return json.dumps(doc, ensure_ascii=False, default=str)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is at the time (click's test runner swaps it)."""

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def configure(level: str = "info", log_format: str = "text") -> logging.Handler:
    """Set up logging for this process (idempotent: a second call replaces the first's handler).
    `level`: `debug` (-v), `info` (default) or `error` (-q); `log_format`: `text` or `json`.
    Returns the handler installed on the root logger."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "mwsync", False)]:
        root.removeHandler(old)
    handler = _StderrHandler()
    handler.mwsync = True  # type: ignore[attr-defined]
    handler.addFilter(RedactFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("mwsync").setLevel(LEVELS[level])
    for name in QUIET_THIRD_PARTY:
        logging.getLogger(name).setLevel(logging.WARNING)
    return handler
