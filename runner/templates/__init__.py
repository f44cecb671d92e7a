"""Render one message per row with Jinja: this package (with its size-limited `sandbox`) is the only one that
imports Jinja (`mwsync.payload` renders listener bodies with the compiled fields this module hands out).

- The message text is chat markup (Moveworks' HTML subset), rendered with autoescaping: a row value
  `R&D` becomes `R&amp;D` and `<b>Bobby</b>` in data is shown, not rendered. Trusted markup from
  data is an explicit opt-in: `{{ value | safe }}`.
- Every other field (event id, recipients, slots, idempotency key) is plain text, not escaped.
- All templates run in a `SandboxedEnvironment` with size limits (`mwsync.templates.sandbox`) and `StrictUndefined`:
  a misspelt variable is an error naming the template, its line and the source row, never an empty string.

- A null value (JSON `null`, YAML `~`) printed by `{{ ... }}` is an error, never the text `None`; write
  `{{ name | default('', true) }}` where a value may be missing.

White space, pinned by a golden test: Jinja's defaults (`trim_blocks` and `lstrip_blocks` off, a single
trailing newline of the template dropped), then the whole message text is stripped of leading and
trailing white space; white space inside the text is kept as written (chat markup breaks lines with
`<br>`, a newline in the text is a newline in the message). Plain fields (recipients, slots, key, event
id) are stripped too; recipients are then split on commas, semicolons and white space.

Names available to templates: every column of the row, `row` (the row as a mapping),
`row_number` (1-based), `vars` and each job var by name, `job` (the job name) and `today` (a date).
Filters beyond Jinja's: `date` (parse YYYY-MM-DD), `days_until` (days from `today` to a date);
`int` and `float` are strict (a value that is not a number is an error, not a silent 0).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, Undefined, UndefinedError
from jinja2.exceptions import TemplateError as JinjaTemplateError
from jinja2.sandbox import SandboxedEnvironment

from ..config.job import Job
from ..errors import Problem, TemplateError
from ..records import RenderedMessage
from ..rules import address_key
from .sandbox import LimitedSandbox
from .sandbox import render as render_limited

SPLIT_RE = re.compile(r"[,;\s]+")


def _to_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        raise ValueError(f"{text[:40]!r} is not a date: write YYYY-MM-DD (e.g. 2026-12-01)") from None


def _number(kind: type) -> Callable[[Any], Any]:
    """Strict `int` / `float` filters: Jinja's turn `"seven"` into 0 silently; these raise."""

    def convert(value: Any) -> Any:
        try:
            return kind(value) if kind is float or not isinstance(value, str) else int(float(value))
        except (TypeError, ValueError):
            raise ValueError(f"'{value}' is not a number") from None

    return convert


NULL_HINT = "a value is null; where it may be missing write {{ name | default('', true) }}"


def _not_null(value: Any) -> Any:
    """Jinja `finalize`: every printed value passes here; None must not become the text `None`."""
    if value is None:
        raise ValueError(NULL_HINT)
    return value


def _environment(autoescape: bool, today: dt.date) -> SandboxedEnvironment:
    env = LimitedSandbox(autoescape=autoescape, undefined=StrictUndefined, keep_trailing_newline=False,
                         finalize=_not_null)
    env.filters["int"], env.filters["float"] = _number(int), _number(float)
    env.filters["date"] = _to_date
    env.filters["days_until"] = lambda value: (_to_date(value) - today).days
    env.globals["today"] = today
    return env


def _line_of(exc: BaseException) -> int | None:
    """The template line an error points at: Jinja rewrites tracebacks so template frames carry it."""
    line = getattr(exc, "lineno", None)
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


IN_JOB = ("message.", "listener.")  # fields written in the job file (their problems name its line)
INTERPOLATION_RE = re.compile(r"\{\{-?\s*([A-Za-z_][A-Za-z0-9_]*)\s*-?\}\}")
MARKERS = ("{{", "{%", "{#")


class _Plain:
    """A compiled plain-text field: the hot path for bulk sets, same results as Jinja.

    - text without Jinja markers is a constant;
    - `{{ name }}` alone is a direct lookup that keeps the raw value (a JSONL list of recipients
      stays a list);
    - literal text with `{{ name }}` holes (`pwd-{{ id }}-{{ date }}`) is joined directly;
    - anything else (filters, expressions, tags) is a sandboxed Jinja template.
    A missing name raises jinja2's `UndefinedError`, as `StrictUndefined` would.
    """

    __slots__ = ("parts", "template", "single")

    def __init__(self, env: SandboxedEnvironment, source: str):
        pieces = INTERPOLATION_RE.split(source)  # literal, name, literal, name, ..., literal
        literals, names = pieces[0::2], pieces[1::2]
        simple = not any(m in literal for literal in literals for m in MARKERS)
        self.parts = pieces if simple else None
        self.single = simple and len(names) == 1 and not literals[0].strip() and not literals[1].strip()
        self.template = None if simple else env.from_string(source)

    def value(self, ctx: Mapping[str, Any]) -> Any:
        """The field for `ctx` (a string, or the raw value of a lone `{{ name }}`)."""
        if self.template is not None:
            return render_limited(self.template, ctx)
        parts = self.parts
        try:
            if self.single:
                return _not_null(ctx[parts[1]])
            return "".join(part if i % 2 == 0 else str(_not_null(ctx[part])) for i, part in enumerate(parts))
        except KeyError as exc:
            raise UndefinedError(f"'{exc.args[0]}' is undefined") from None


class _Native:
    """A listener payload leaf that is exactly one `{{ expression }}`: the expression's own value, through
    Jinja's sandboxed `compile_expression` (`{{ n | int }}` is a number, `{{ tags }}` a JSONL list). A
    missing name raises `UndefinedError`; a null value the null error."""

    __slots__ = ("expression",)

    def __init__(self, env: SandboxedEnvironment, source: str):
        self.expression = env.compile_expression(source.strip()[2:-2].strip("-"), undefined_to_none=False)

    def value(self, ctx: Mapping[str, Any]) -> Any:
        value = self.expression(**ctx)
        if isinstance(value, Undefined):
            str(value)  # StrictUndefined: raises UndefinedError naming the variable
        return _not_null(value)

    @staticmethod
    def fits(source: str) -> bool:
        """True when `source` is one `{{ ... }}` and nothing else (no text around it, no other tag)."""
        text = source.strip()
        return (text.startswith("{{") and text.endswith("}}") and text.count("{{") == 1 and text.count("}}") == 1
                and "{%" not in text and "{#" not in text)


class RowTemplates:
    """What every renderer of a job's rows shares: the two environments (autoescaped `markup`, `plain`), the
    source filter, the names a template sees (`context`), and errors naming template, line and row.
    Subclasses compile their fields with `_compile` into `self.problems`, then call `_finish()`, which
    compiles the filter and raises `TemplateError` for every syntax error found."""

    def __init__(self, job: Job, today: dt.date | None = None):
        self.job = job
        self.today = today or dt.date.today()
        self.markup = _environment(True, self.today)
        self.plain = _environment(False, self.today)
        self.problems: list[Problem] = []
        self._filter: Callable[..., Any] | None = None

    def plain_field(self, source: str) -> _Plain:
        """A plain-text field (not escaped): a string, or the raw value of a lone `{{ name }}`."""
        return _Plain(self.plain, source)

    def leaf(self, source: str) -> _Plain | _Native:
        """A listener payload leaf: one `{{ expression }}` keeps its value's type; anything else is text."""
        return _Native(self.plain, source) if _Native.fits(source) else _Plain(self.plain, source)

    def _finish(self) -> None:
        job = self.job
        if job.source.filter:
            try:
                self._filter = self.plain.compile_expression(job.source.filter, undefined_to_none=False)
            except TemplateSyntaxError as exc:
                self.problems.append(Problem(str(job.path), "source.filter", f"invalid expression: {exc.message}",
                                             job.lines.get("source.filter")))
        if self.problems:
            raise TemplateError(self.problems)

    def _compile(self, compile_: Callable[[str], Any], source: str, name: str, problems: list[Problem] | None = None):
        problems = self.problems if problems is None else problems
        try:
            return compile_(source)
        except TemplateSyntaxError as exc:
            in_job = name.startswith(IN_JOB)
            where = name if in_job else f"template {name}"
            file = str(self.job.path) if in_job else str(self.job.templates_dir / name)
            line = self.job.lines.get(name.split("[")[0]) if in_job else exc.lineno
            problems.append(Problem(file, where, f"template syntax error: {exc.message}", line))
            return None

    def context(self, row: Mapping[str, Any], row_number: int) -> dict[str, Any]:
        """The names a template sees for `row` (see module docstring)."""
        ctx: dict[str, Any] = dict(self.job.vars)
        ctx.update(row)
        ctx.update(row=row, row_number=row_number, vars=self.job.vars, job=self.job.name, today=self.today)
        return ctx

    def accepts(self, row: Mapping[str, Any], row_number: int) -> bool:
        """True when the source filter (if any) is true for `row`. Raises `TemplateError`."""
        if self._filter is None:
            return True
        try:
            return bool(self._filter(**self.context(row, row_number)))
        except Exception as exc:  # noqa: BLE001 - a user's expression: report it with its row
            raise self._problem("source.filter", row_number, exc) from None

    def _problem(self, name: str, row_number: int, exc: Exception) -> TemplateError:
        """A `TemplateError` for `exc` raised while rendering field `name` of row `row_number`: a
        template file's problem names the file and its line; a job field's, the job file and the key's line."""
        in_job = name.startswith((*IN_JOB, "source."))
        file = str(self.job.path) if in_job else str(self.job.templates_dir / name)
        line = self.job.lines.get(name.split("[")[0]) if in_job else _line_of(exc)
        where = name if in_job else ""
        hint = " (columns and vars are available by name; check the spelling)" \
            if isinstance(exc, UndefinedError) else ""
        message = str(exc) if isinstance(exc, (JinjaTemplateError, ValueError)) else f"{exc.__class__.__name__}: {exc}"
        return TemplateError([Problem(file, where, f"{message}{hint}", line, row=row_number)])


class MessageRenderer(RowTemplates):
    """Compiles a job's message templates once and renders `RenderedMessage`s from rows.

    `today` feeds the `today` global and `days_until` filter (injectable for reproducible runs).
    Raises `TemplateError` at construction for syntax errors (template name and line) and from
    `render` for render errors (template, line and row number).
    """

    def __init__(self, job: Job, today: dt.date | None = None):
        super().__init__(job, today)
        spec = job.message
        markup = self.markup
        self._text = self._compile(lambda src: markup.from_string(src), spec.text_source, spec.text_name)
        field = self.plain_field
        self._event = self._compile(field, spec.event_id, "message.event_id")
        self._recipients = [self._compile(field, r, f"message.recipients[{i}]") for i, r in enumerate(spec.recipients)]
        self._slots = {k: self._compile(field, v, f"message.slots.{k}") for k, v in spec.slots.items()}
        self._key = self._compile(field, spec.idempotency_key, "message.idempotency_key") if spec.idempotency_key \
            else None
        self._finish()

    def render(self, row: Mapping[str, Any], row_number: int) -> RenderedMessage:
        """Render `row` into a `RenderedMessage`; raises `TemplateError` naming template, line and row.

        A recipients field may give a string (split on commas, semicolons and white space) or a list
        (from JSONL); addresses are stripped and deduplicated in order, ignoring case. The default idempotency key is
        a hash of (event id, recipients, text, slots).
        """
        ctx = self.context(row, row_number)
        name = self.job.message.text_name  # the field being rendered, for the error message
        try:
            text = render_limited(self._text, ctx).strip()
            name = "message.event_id"
            event_id = str(self._event.value(ctx)).strip()
            recipients: list[str] = []
            for i, field in enumerate(self._recipients):
                name = f"message.recipients[{i}]"
                value = field.value(ctx)
                for item in (value if isinstance(value, (list, tuple)) else (value,)):
                    recipients.extend(part for part in SPLIT_RE.split(str(_not_null(item))) if part)
            slots = self._slots_from(row, row_number) if self.job.message.slots_from else {}
            for slot, field in self._slots.items():
                name = f"message.slots.{slot}"
                slots[slot] = str(field.value(ctx))
            name = "message.idempotency_key"
            key = None
            if self._key is not None:
                try:
                    value = self._key.value(ctx)
                except ValueError as exc:  # a null key is an empty key: say so in those words
                    if str(exc) != NULL_HINT:
                        raise
                    value = None
                key = "" if value is None else str(value).strip()
                if not key:
                    raise ValueError("the idempotency key is empty for this row; every message needs its own key")
        except TemplateError:
            raise
        except Exception as exc:  # anything a user's template raises is a problem of that template and row
            raise self._problem(name, row_number, exc) from None
        first: dict[str, str] = {}
        for address in recipients:
            first.setdefault(address_key(address), address)  # first spelling wins; addresses compare case-blind
        unique = tuple(first.values())
        if key is None:
            blob = json.dumps([event_id, sorted(unique), text, sorted(slots.items())], ensure_ascii=False)
            key = "sha256:" + hashlib.sha256(blob.encode("utf-8")).hexdigest()[:24]
        return RenderedMessage(self.job.name, row_number, key, event_id, unique, text, slots)

    def _slots_from(self, row: Mapping[str, Any], row_number: int) -> dict[str, str]:
        """Slots from the row field named by `message.slots_from`: a mapping, a JSON object text, or empty."""
        name = self.job.message.slots_from
        value = row.get(name)
        if value in (None, ""):
            return {}
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                value = None
        if not isinstance(value, Mapping):
            raise TemplateError([Problem(self.job.source.label, name, "slots_from needs a JSON object such as "
                                                                      '{"ticket": "INC-1"}', row=row_number)])
        return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in value.items()}


def render_page(name: str, **context: Any) -> str:
    """Render mwsync's own page template `name` (package data `mwsync/html/`, e.g. the `--html` report)
    with `context`; autoescaped, strict about undefined names. Not sandboxed: the file ships with mwsync."""
    from jinja2 import Environment, PackageLoader

    env = Environment(loader=PackageLoader("mwsync", "html"), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    return env.get_template(name).render(**context)
