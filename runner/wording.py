"""How counts read in messages to people: `counted(1, "message")` is `1 message`, `counted(2, "delivery")`
`2 deliveries`, `counted(1, "message", "was")` `1 message was`."""

from __future__ import annotations

import re

IRREGULAR = {"delivery": "deliveries", "was": "were", "is": "are", "has": "have"}


def _plural(word: str) -> str:
    return IRREGULAR.get(word, word + "s")


def counted(n: int, noun: str, verb: str | None = None) -> str:
    """`n` and `noun` (singular: `message`, `delivery`, `row`), plural unless `n` is 1; `verb` (singular:
    `was`, `is`) after it, agreeing."""
    text = f"{n} {noun if n == 1 else _plural(noun)}"
    return f"{text} {verb if n == 1 else _plural(verb)}" if verb else text


def about(seconds: float) -> str:
    """An estimate of `seconds` as people read it: `<1 s`, `~15 s`, `~4.2 min`, `~1.3 h`."""
    if seconds < 1:
        return "<1 s"
    if seconds < 120:
        return f"~{seconds:.0f} s"
    if seconds < 7200:
        return f"~{seconds / 60:.1f} min"
    return f"~{seconds / 3600:.1f} h"


_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_UNPRINTABLE_BUT_NEWLINE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def printable(value: object, limit: int | None = 500, *, lines: bool = False) -> str:
    """`value` as one line of text safe for a terminal, a journal, JSON and XML, at most `limit`
    characters (None: all): control characters (ESC, NUL, BEL, newlines) and the bidirectional overrides
    and line separators that reorder or split a terminal line written as `\\x1b`-style escapes, lone
    surrogates (which UTF-8 cannot encode) as U+FFFD. For text a server sent (error codes, messages);
    `lines`: keep newlines (a message of several lines that we wrote, with a server's text inside)."""
    text = _SURROGATE.sub("\ufffd", str(value) if limit is None else str(value)[:limit])
    pattern = _UNPRINTABLE_BUT_NEWLINE if lines else _UNPRINTABLE
    return pattern.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}",
                       text)
