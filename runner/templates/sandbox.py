"""The Jinja sandbox every job template runs in, with size limits Jinja's own sandbox leaves out.

Jinja's `SandboxedEnvironment` stops attribute escapes and caps `range()` at 100,000 items, but a template
(a job file is code someone committed) can still ask for `{{ 'a' * 3000000000 }}`, `{{ 10 ** 100000000 }}`,
`{{ 'a'.ljust(10**9) }}`, `{{ s.replace('a', 'a' * 750) }}` or a loop doubling a namespace value: gigabytes
of memory or minutes of CPU before the 20,000-character message check could say no. Here no value a
template builds may exceed `MAX_SIZE` (characters, or items plus the characters of the strings they hold):

- checked **before** they run, the operations that multiply a size: `*`, `**`, `+`, `%` and `str.format`
  widths, `replace`, `join`, `expandtabs`, the width arguments of string methods and of the sized filters;
- checked **after**, every other call, filter and `~` concatenation, and every value stored in a
  `namespace()` (the only state a loop can carry), so one step can overshoot by at most one multiple;
- the rendered output, read as a stream and stopped at `MAX_SIZE` (`render`).

A breach is a `SecurityError`, reported as that row's template problem naming the template line.
Not bounded: loop iterations that produce nothing (`range(100000)` nested twice is 10^10 empty steps).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from jinja2 import Template, TemplateSyntaxError, nodes
from jinja2.compiler import CodeGenerator
from jinja2.sandbox import SandboxedEnvironment, SecurityError
from jinja2.utils import Namespace

#: The most characters (or items) one template value may hold. A message is at most 20,000 characters
#: (Events API reference), a listener body 1 MB: this leaves room for both.
MAX_SIZE = 2_000_000
#: Filters whose integer (or string) arguments set the size of what they build.
SIZED_FILTERS = ("center", "indent", "wordwrap", "truncate", "format", "batch", "slice", "join", "replace")
_WIDTH = re.compile(r"%[-+ #0]*(\*|\d+)?(?:\.(\*|\d+))?")
_FORMAT_SPEC = re.compile(r"\{[^{}]*:([^{}]*)\}")
MAX_INT_BITS = 100_000  # about 30,000 decimal digits: squaring beyond it is minutes of CPU


def _too_big(what: str) -> SecurityError:
    return SecurityError(f"{what}: a template may not build more than {MAX_SIZE:,} characters or items")


def size(value: Any) -> int:
    """Characters of a string; items of a list, tuple or dict plus the characters of the strings in it (one
    level: the sandbox checks each value as it is built, so nested ones were checked already)."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, (list, tuple)):
        return len(value) + sum(len(v) for v in value if isinstance(v, str))
    if isinstance(value, Mapping):
        return len(value) + sum(len(v) for v in value.values() if isinstance(v, str))
    return 0


def checked(value: Any, what: str = "a value") -> Any:
    """`value`, or `SecurityError` when it is over `MAX_SIZE` (`size`)."""
    if size(value) > MAX_SIZE:
        raise _too_big(what)
    return value


def _check_ints(name: str, values: Any) -> None:
    for value in values:
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_SIZE:
            raise _too_big(f"{name}({value})")


def _check_format(text: Any, what: str) -> None:
    """A `%` format whose width or precision (`%0999999999d`, `%.*f`) would build a huge string."""
    if not isinstance(text, str):
        return
    for width, precision in _WIDTH.findall(text):
        for part in (width, precision):
            if part == "*" or (part and int(part) > MAX_SIZE):
                raise _too_big(f"{what} with width {part}")


def _grows(name: str, text: Any, args: tuple, kwargs: Mapping[str, Any]) -> None:
    """Pre-checks of the string methods and filters whose result can be many times their input."""
    if not isinstance(text, str):
        if name == "join" and isinstance(text, (list, tuple)):  # the join filter: (value, separator)
            separator = args[0] if args else kwargs.get("d", "")
            joined = sum(len(str(v)) for v in text) + len(str(separator)) * max(0, len(text) - 1)
            if joined > MAX_SIZE:
                raise _too_big("join")
        return
    if name == "replace" and len(args) >= 2:
        old, new = str(args[0]), str(args[1])
        count = (text.count(old) if old else len(text) + 1) * max(0, len(new) - len(old))
        if len(text) + count > MAX_SIZE:
            raise _too_big("replace")
    elif name == "join" and args and isinstance(args[0], (str, list, tuple)):  # str.join(items)
        items = args[0]
        joined = len(items) if isinstance(items, str) else sum(len(str(v)) for v in items)
        if joined + len(text) * max(0, len(items) - 1) > MAX_SIZE:
            raise _too_big("join")
    elif name == "expandtabs":
        width = args[0] if args else kwargs.get("tabsize", 8)
        if isinstance(width, int) and len(text) + text.count("\t") * width > MAX_SIZE:
            raise _too_big("expandtabs")
    elif name in ("indent", "wordwrap"):  # a string width or wrap string repeated on every line
        extra = [v for v in (*args, *kwargs.values()) if isinstance(v, str)]
        if extra and len(text) + (text.count("\n") + 1 + len(text) // 8) * max(map(len, extra)) > MAX_SIZE:
            raise _too_big(name)


class _LimitedNamespace(Namespace):
    """`namespace()`, whose values are checked as they are stored: a loop doubling `ns.s` stops at the cap."""

    def __setitem__(self, name: str, value: Any) -> None:
        super().__setitem__(name, checked(value, f"namespace value {name!r}"))


class _CodeGenerator(CodeGenerator):
    """Jinja's code generator with every `~` concatenation's result checked."""

    def visit_Concat(self, node: nodes.Concat, frame: Any) -> None:  # noqa: N802 - Jinja's visitor name
        self.write("environment.checked(")
        super().visit_Concat(node, frame)
        self.write(", '~')")


class LimitedSandbox(SandboxedEnvironment):
    """`SandboxedEnvironment` with the size limits of the module docstring. Raises `SecurityError` (a
    Jinja `TemplateError`) from rendering, `TemplateSyntaxError` for `include`, `import`, `extends`."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})
    code_generator_class = _CodeGenerator

    def __init__(self, **options: Any):
        super().__init__(**options)
        for name, function in list(self.filters.items()):
            self.filters[name] = _limited_filter(name, function)
        self.globals["namespace"] = _LimitedNamespace

    checked = staticmethod(checked)

    def _parse(self, source: str, name: str | None, filename: str | None) -> Any:
        """Parse, refusing `include`, `import` and `extends` at once: a job's template is one file with no
        loader, so they would fail on every row, after `validate` said the template was fine."""
        tree = super()._parse(source, name, filename)
        for node in tree.find_all((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
            tag = {"Include": "include", "Import": "import", "FromImport": "from ... import",
                   "Extends": "extends"}[type(node).__name__]
            raise TemplateSyntaxError(f"{{% {tag} %}} is not available: a message template is one file; put "
                                      "what it would bring in into the template (or a job var)", node.lineno,
                                      name, filename)
        return tree

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(times, int) and size(seq) * times > MAX_SIZE:
                    raise _too_big(f"{len(seq):,} x {times:,}")
            if isinstance(left, int) and isinstance(right, int) and \
                    abs(left).bit_length() + abs(right).bit_length() > MAX_INT_BITS:
                raise _too_big("a product of that many digits")
        elif operator == "**" and isinstance(left, (int, float)) and isinstance(right, (int, float)):
            if abs(left) > 1 and right > 0 and right * math.log10(abs(left)) > MAX_INT_BITS / 4:
                raise _too_big(f"{left} ** {right}")
        elif operator == "%":
            _check_format(left, "%")
        elif operator == "+" and size(left) + size(right) > MAX_SIZE:
            raise _too_big("+")
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 - Jinja's
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, (str, list, tuple)):  # 'a'.ljust(10**9), .zfill(...), .replace(...), .join(...)
            name = getattr(__obj, "__name__", "call")
            if name not in ("replace", "join", "count", "find", "index", "startswith", "endswith", "split"):
                _check_ints(name, (*args, *kwargs.values()))
            _grows(name, owner, args, kwargs)
        return checked(super().call(__context, __obj, *args, **kwargs), getattr(__obj, "__name__", "a call"))

    def wrap_str_format(self, value: Any) -> Any:
        """`'{:>999999999}'.format(x)`: Jinja's sandbox routes str.format through the callable this returns."""
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        text = value.__self__

        def limited_format(*args: Any, **kwargs: Any) -> str:
            for spec in _FORMAT_SPEC.findall(text):
                _check_ints("str.format", [int(n) for n in re.findall(r"\d+", spec)])
            if re.search(r"\{[^{}]*:[^{}]*\{", text):  # a nested width, '{:{}}': the width is an argument
                _check_ints("str.format", (*args, *kwargs.values()))
            return checked(wrapped(*args, **kwargs), "str.format")

        return limited_format


def _limited_filter(name: str, function: Any) -> Any:
    """`function` (a filter) with its result checked, and for `SIZED_FILTERS` its size arguments first."""
    skip = 2 if hasattr(function, "jinja_pass_arg") else 1  # the environment/context, then the value

    def limited(*args: Any, **kwargs: Any) -> Any:
        if name in SIZED_FILTERS:
            value, rest = (args[skip - 1] if len(args) >= skip else None), args[skip:]
            if name == "format":
                _check_format(value, "format")
            else:
                if name not in ("join", "replace"):
                    _check_ints(name, (*rest, *kwargs.values()))
                _grows(name, value, rest, kwargs)
        return checked(function(*args, **kwargs), f"the {name} filter")

    if hasattr(function, "jinja_pass_arg"):  # keep Jinja's marker: it passes the environment or context
        limited.jinja_pass_arg = function.jinja_pass_arg  # type: ignore[attr-defined]
    return limited


def render(template: Template, context: Mapping[str, Any]) -> str:
    """`template.render(context)`, read as a stream: `SecurityError` once the output passes `MAX_SIZE`
    characters (a loop writing text), before it is all held in memory."""
    parts, total = [], 0
    for chunk in template.generate(context):
        total += len(chunk)
        if total > MAX_SIZE:
            raise _too_big("the rendered text")
        parts.append(chunk)
    return "".join(parts)
