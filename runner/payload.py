"""Render one webhook-listener body per row: the job's `listener.payload` tree, leaf by leaf, into JSON bytes.

A payload is a mapping whose leaves are templates (`mwsync.templates` compiles them; this module imports no
Jinja). Leaves are rendered in the plain environment (not escaped: the body is JSON, not chat markup):

- a leaf that is exactly one `{{ expression }}` keeps the expression's value and type: `"{{ n | int }}"` is a
  number, `"{{ flag == 'yes' }}"` a boolean, `"{{ tags }}"` the JSONL list it names;
- every other leaf (literal text, text with `{{ }}` holes, `{% %}` tags) is a string.

The value is serialised compactly (`separators=(",", ":")`) as UTF-8, in the job's key order: those bytes
are what is sent and signed. NaN and Infinity, dates, lone surrogates and null values are row problems
naming the field; the 1 MB limit is checked by the plan (`mwsync.plan.checks`), so every row is checked.
The default idempotency key is a hash of the listener id and the canonical payload (keys sorted).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any

from .config.job import Job
from .errors import Problem, TemplateError
from .records import RenderedPayload
from .templates import NULL_HINT, RowTemplates

MAX_VALUE_DEPTH = 64  # a native value (a JSONL object) nested deeper is a row problem, not a RecursionError


def json_value(value: Any, depth: int = 0) -> Any:
    """`value` as JSON data: strings (Markup is text), booleans, whole numbers, finite floats, lists and
    objects with string keys. Raises `ValueError` saying what to write instead."""
    if depth > MAX_VALUE_DEPTH:
        raise ValueError(f"nested more than {MAX_VALUE_DEPTH} levels deep")
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value} is not a JSON number (NaN and Infinity are not JSON)")
        return value
    if isinstance(value, (list, tuple)):
        return [json_value(item, depth + 1) for item in value]
    if isinstance(value, Mapping):
        if not all(isinstance(key, str) for key in value):
            raise ValueError("an object's keys must be strings")
        return {key: json_value(item, depth + 1) for key, item in value.items()}
    if value is None:
        raise ValueError(NULL_HINT)
    if isinstance(value, (dt.date, dt.datetime)):
        raise ValueError("a date is not a JSON value; write it as text: \"{{ when | string }}\" or "
                         "\"{{ when.isoformat() }}\"")
    raise ValueError(f"a {value.__class__.__name__} is not a JSON value; convert it (| string, | int, | float)")


def content_hash(listener_id: str, value: Any) -> str:
    """SHA-256 (hex, 32 chars) of what the listener receives, keys sorted."""
    blob = json.dumps([listener_id, value], ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


class PayloadRenderer(RowTemplates):
    """Compiles a listener job's payload leaves and idempotency key once; `render(row, n)` gives a
    `RenderedPayload`. Raises `TemplateError` at construction (syntax, naming the key path and its line) and
    from `render` (the field and the row)."""

    def __init__(self, job: Job, today: dt.date | None = None):
        super().__init__(job, today)
        spec = job.listener
        self._payload = self._tree(spec.payload, "listener.payload")
        self._key = self._compile(self.plain_field, spec.idempotency_key, "listener.idempotency_key") \
            if spec.idempotency_key else None
        self._finish()

    def _tree(self, node: Any, name: str) -> Any:
        if isinstance(node, Mapping):
            return {key: self._tree(item, f"{name}.{key}") for key, item in node.items()}
        if isinstance(node, list):
            return [self._tree(item, f"{name}[{index}]") for index, item in enumerate(node)]
        return (name, self._compile(self.leaf, str(node), name))

    def _value(self, node: Any, ctx: Mapping[str, Any], row_number: int) -> Any:
        if isinstance(node, dict):
            return {key: self._value(item, ctx, row_number) for key, item in node.items()}
        if isinstance(node, list):
            return [self._value(item, ctx, row_number) for item in node]
        name, field = node
        try:
            return json_value(field.value(ctx))
        except Exception as exc:  # anything a user's template raises is a problem of that field and row
            raise self._problem(name, row_number, exc) from None

    def render(self, row: Mapping[str, Any], row_number: int) -> RenderedPayload:
        """Render `row`'s body; raises `TemplateError` naming the field (`listener.payload.x`) and the row."""
        ctx = self.context(row, row_number)
        value = self._value(self._payload, ctx, row_number)
        spec = self.job.listener
        try:
            body = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")
        except UnicodeEncodeError:
            raise TemplateError([Problem(self.job.source.label, "listener.payload", "holds characters that are not "
                                         "valid Unicode (lone surrogates); fix the data", row=row_number)]) from None
        content = content_hash(spec.listener_id, value)
        key = self._render_key(ctx, row_number) if self._key is not None else "sha256:" + content[:24]
        return RenderedPayload(self.job.name, row_number, key, spec.listener_id, body, content)

    def _render_key(self, ctx: Mapping[str, Any], row_number: int) -> str:
        try:
            value = self._key.value(ctx)
            key = str(value).strip()
            if not key:
                raise ValueError("the idempotency key is empty for this row; every message needs its own key")
        except ValueError as exc:
            if str(exc) == NULL_HINT:
                exc = ValueError("the idempotency key is empty for this row; every message needs its own key")
            raise self._problem("listener.idempotency_key", row_number, exc) from None
        except Exception as exc:
            raise self._problem("listener.idempotency_key", row_number, exc) from None
        return key
