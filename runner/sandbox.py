"""The Jinja sandbox every job template runs in, with size limits Jinja's own sandbox leaves out.

Jinja's `SandboxedEnvironment` stops attribute escapes and caps `range()` at 100,000 items, but a template
(a job file is code someone committed) can still ask for `{{ 'a' * 3000000000 }}`, `{{ 10 ** 100000000 }}`,
`{{ 'a'.ljust(10**9) }}` or `{{ 'a' | center(3000000000) }}`: gigabytes of memory or minutes of CPU before
the 20,000-character message check could say no. Here each such operation is checked *before* it runs:
text, lists and numbers a template builds stay under `MAX_SIZE` (characters, items, or decimal digits),
and a breach is a `SecurityError`, reported as that row's template problem naming the template line.

Not bounded: the number of loop iterations (`range(100000)` nested twice is 10^10 steps); the plan pass
renders one row at a time, so such a template is slow, not unbounded in memory.
"""

from __future__ import annotations

import math
import re
from typing import Any

from jinja2 import TemplateSyntaxError, nodes
from jinja2.sandbox import SandboxedEnvironment, SecurityError

#: The most characters, items or decimal digits one template operation may produce. A message is at most
#: 20,000 characters (Events API reference); a listener body 1 MB: this leaves room for both.
MAX_SIZE = 2_000_000
#: Filters whose integer arguments set the size of what they build (a width, an indent).
SIZED_FILTERS = ("center", "indent", "wordwrap", "truncate", "format", "batch", "slice")
_WIDTH = re.compile(r"%[-+ #0]*(\*|\d+)?(?:\.(\*|\d+))?")


def _too_big(what: str) -> SecurityError:
    return SecurityError(f"{what}: a template may not build more than {MAX_SIZE:,} characters or items")


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


class LimitedSandbox(SandboxedEnvironment):
    """`SandboxedEnvironment` with `*`, `**` and `%` checked before they run, integer arguments of
    method calls (`ljust`, `zfill`, `center`, ...) and of the sized filters (`SIZED_FILTERS`) capped at
    `MAX_SIZE`. Raises `SecurityError` (a Jinja `TemplateError`) from rendering."""

    intercepted_binops = frozenset({"*", "**", "%"})

    def __init__(self, **options: Any):
        super().__init__(**options)
        for name in SIZED_FILTERS:
            self.filters[name] = _sized(name, self.filters[name])

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
                if isinstance(seq, (str, list, tuple)) and isinstance(times, int) and len(seq) * times > MAX_SIZE:
                    raise _too_big(f"{len(seq):,} x {times:,}")
        elif operator == "**" and isinstance(left, (int, float)) and isinstance(right, (int, float)):
            if abs(left) > 1 and right > 0 and right * math.log10(abs(left)) > MAX_SIZE / 1000:
                raise _too_big(f"{left} ** {right}")
        elif operator == "%":
            _check_format(left, "%")
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 - Jinja's
        if isinstance(getattr(__obj, "__self__", None), (str, list, tuple)):  # 'a'.ljust(10**9), .zfill(...)
            _check_ints(getattr(__obj, "__name__", "call"), (*args, *kwargs.values()))
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Any:
        """`'{:>999999999}'.format(x)`: Jinja's sandbox routes str.format through the callable this returns."""
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        text = value.__self__

        def checked(*args: Any, **kwargs: Any) -> str:
            for spec in _FORMAT_SPEC.findall(text):
                _check_ints("str.format", [int(n) for n in re.findall(r"\d+", spec)])
            return wrapped(*args, **kwargs)

        return checked


_FORMAT_SPEC = re.compile(r"\{[^{}]*:([^{}]*)\}")


def _sized(name: str, function: Any) -> Any:
    """`function` (a built-in filter) with its size arguments capped (`format`: its `%` widths)."""
    skip = 2 if hasattr(function, "jinja_pass_arg") else 1  # the environment/context, then the value

    def limited(*args: Any, **kwargs: Any) -> Any:
        if name == "format":
            _check_format(args[skip - 1] if len(args) >= skip else None, "format")
        else:
            _check_ints(name, (*args[skip:], *kwargs.values()))
        return function(*args, **kwargs)

    if hasattr(function, "jinja_pass_arg"):  # keep Jinja's marker: it passes the environment or context
        limited.jinja_pass_arg = function.jinja_pass_arg  # type: ignore[attr-defined]
    return limited
