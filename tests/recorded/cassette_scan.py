"""Find anything in a cassette that looks like a secret or a real person. Pure except `find_cassettes`.

Rules (each `Finding.rule`):

- `bearer`: `Bearer <value>` where the value is not the placeholder access token;
- `mwt-token`: any `mwt_...` string (the shape of Moveworks access tokens, and of the mock's);
- `demo-secret`: the embedded mock's client secret, `mwsync-demo-secret`;
- `env:<NAME>`: the value of a `MOVEWORKS_*` environment variable (values under 4 characters are ignored);
- `email`: an e-mail address outside example.com;
- `unscrubbed:<field>`: a credential field (`client_id`, `client_secret`, `access_token`, the
  `Authorization` header) whose value is not its placeholder, whatever it looks like.

Both the file's text and its decoded interactions are searched: a long YAML scalar can be folded over
lines (hiding `Bearer <value>`), and a body can be stored as `!!binary`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl

from vcr.serialize import deserialize
from vcr.serializers import yamlserializer

from mwsync.mock_server.cassettes import ACCESS_TOKEN, REQUEST_FIELDS, RESPONSE_FIELDS
from mwsync.rules import DEMO_CLIENT

DEMO_SECRET = DEMO_CLIENT[1]
ENV_PREFIX = "MOVEWORKS_"
MIN_ENV_VALUE_CHARS = 4
BEARER_RE = re.compile(r"Bearer[ \t]+([^\s\"',}]+)")
MWT_RE = re.compile(r"mwt_[A-Za-z0-9_\-]*")
EMAIL_RE = re.compile(r"[A-Za-z0-9._%+\-]+@([A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+)")
ALLOWED_EMAIL_DOMAIN = "example.com"
SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".mwsync", ".pytest_cache"}


@dataclass(frozen=True)
class Finding:
    """One suspicious value: `where` in the file (line or interaction), `rule`, and a masked `excerpt`."""

    path: Path
    where: str
    rule: str
    excerpt: str

    def __str__(self) -> str:
        return f"{self.path}: {self.where}: {self.rule}: {self.excerpt}"


def mask(value: str) -> str:
    """First 4 characters and the length: enough to find the value, not enough to use it."""
    return f"{value[:4]}… ({len(value)} chars)"


def secret_values(environ: Mapping[str, str]) -> dict[str, str]:
    """`{rule: value}` for every literal the scan must never find: the demo secret and `MOVEWORKS_*` values."""
    values = {"demo-secret": DEMO_SECRET}
    for name, value in sorted(environ.items()):
        if name.startswith(ENV_PREFIX) and len(value.strip()) >= MIN_ENV_VALUE_CHARS:
            values[f"env:{name}"] = value.strip()
    return values


def scan_text(text: str, secrets: Mapping[str, str]) -> Iterator[tuple[str, str]]:
    """`(rule, masked excerpt)` for each suspicious match in `text`."""
    for match in BEARER_RE.finditer(text):
        if match.group(1) != ACCESS_TOKEN:
            yield "bearer", mask(match.group(1))
    for match in MWT_RE.finditer(text):
        yield "mwt-token", mask(match.group(0))
    for rule, value in secrets.items():
        if value in text:
            yield rule, mask(value)
    for match in EMAIL_RE.finditer(text):
        if match.group(1).lower() != ALLOWED_EMAIL_DOMAIN:
            yield "email", mask(match.group(0))


def _body_text(body: object) -> str:
    if isinstance(body, dict):  # a response body: {"string": ...}
        body = body.get("string")
    if isinstance(body, (bytes, bytearray)):
        return bytes(body).decode("utf-8", errors="replace")
    return body if isinstance(body, str) else ""


def _json_at(doc: object, path: str) -> object:
    for part in path.split("."):
        if not isinstance(doc, dict) or part not in doc:
            return None
        doc = doc[part]
    return doc


def unscrubbed_fields(request, response: Mapping) -> Iterator[tuple[str, str]]:
    """`(rule, masked value)` for each credential field of one interaction not holding its placeholder."""
    authorization = request.headers.get("Authorization")
    if authorization is not None and authorization != f"Bearer {ACCESS_TOKEN}":
        yield "unscrubbed:Authorization", mask(authorization)
    body = _body_text(request.body)
    fields = _loads(body) if body.lstrip().startswith("{") else dict(parse_qsl(body))
    for name, placeholder in REQUEST_FIELDS.items():
        value = fields.get(name) if isinstance(fields, dict) else None
        if value is not None and value != placeholder:
            yield f"unscrubbed:{name}", mask(str(value))
    answer = _loads(_body_text(response.get("body")))
    for path, placeholder in RESPONSE_FIELDS.items():
        value = _json_at(answer, path)
        if value is not None and value != placeholder:
            yield f"unscrubbed:{path}", mask(str(value))


def _loads(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError:
        return None


def scan_cassette(path: Path, environ: Mapping[str, str] | None = None) -> list[Finding]:
    """Every finding in the cassette at `path`; `environ` defaults to `os.environ`."""
    secrets = secret_values(os.environ if environ is None else environ)
    text = path.read_text(encoding="utf-8")
    found = [Finding(path, f"line {n}", rule, excerpt)
             for n, line in enumerate(text.splitlines(), 1) for rule, excerpt in scan_text(line, secrets)]
    requests, responses = deserialize(text, yamlserializer)
    for n, (request, response) in enumerate(zip(requests, responses, strict=True)):
        where = f"interaction {n} ({request.method} {request.path})"
        parts = [request.uri, json.dumps(dict(request.headers)), _body_text(request.body),
                 json.dumps(response.get("headers", {})), _body_text(response.get("body"))]
        found += [Finding(path, where, rule, excerpt) for part in parts for rule, excerpt in scan_text(part, secrets)]
        found += [Finding(path, where, rule, excerpt) for rule, excerpt in unscrubbed_fields(request, response)]
    return _unique(found)


def _unique(findings: Iterable[Finding]) -> list[Finding]:
    """One finding per (rule, excerpt): a token seen on a line and in its interaction is reported once."""
    seen, out = set(), []
    for finding in findings:
        if (finding.rule, finding.excerpt) not in seen:
            seen.add((finding.rule, finding.excerpt))
            out.append(finding)
    return out


def find_cassettes(root: Path) -> list[Path]:
    """Every `.yaml`/`.yml` file inside a directory named `cassettes` under `root` (virtualenvs and VCS skipped)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.endswith(".egg-info"))
        if "cassettes" in Path(dirpath).relative_to(root).parts:
            found += [Path(dirpath, f) for f in sorted(filenames) if f.endswith((".yaml", ".yml"))]
    return found
