"""Stream rows from a job's source: inline rows, a CSV file (header row) or a JSON Lines file.

Rows are read one at a time and never held all at once, so a source of millions of rows runs in
flat memory. Each row comes with its 1-based number: the data row for CSV (the header is not
counted) and the line number for JSONL (blank lines are skipped but counted).
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

from .config.job import SourceSpec
from .errors import ConfigError, Problem

Row = Mapping[str, Any]
_EXTRA = "\0extra"  # csv.DictReader key for fields beyond the header
_MISSING = object()  # csv.DictReader value for fields missing from a short row


def iter_rows(source: SourceSpec) -> Iterator[tuple[int, Row]]:
    """Yield `(row_number, row)` pairs from `source`.

    Raises `ConfigError` naming the file and row for an unreadable file, a CSV row with more fields
    than the header, or a JSONL line that is not a JSON object.
    """
    if source.kind == "inline":
        yield from enumerate(source.rows, start=1)
    elif source.kind == "csv":
        yield from _csv_rows(source)
    else:
        yield from _jsonl_rows(source)


def _no_constant(name: str) -> None:
    raise json.JSONDecodeError(f"{name} is not a JSON value", name, 0)


def _encoding(source: SourceSpec) -> str:
    """UTF-8 files written by spreadsheet programs start with a byte-order mark: `utf-8-sig` drops it."""
    return "utf-8-sig" if source.encoding.lower().replace("_", "-") in ("utf-8", "utf8") else source.encoding


def _fail(source: SourceSpec, where: str, message: str) -> ConfigError:
    return ConfigError([Problem(source.label, where, message)])


def _csv_rows(source: SourceSpec) -> Iterator[tuple[int, Row]]:
    try:
        handle = open(source.path, encoding=_encoding(source), newline="")  # noqa: SIM115 - generator owns it
    except (OSError, LookupError) as exc:
        raise _fail(source, "", f"cannot open: {exc}") from None
    with handle:
        # strict: a quote opened and never closed is an error, not one row swallowing the rest of the file
        reader = csv.DictReader(handle, delimiter=source.delimiter, restkey=_EXTRA, restval=_MISSING, strict=True)
        number, started = 0, 1  # the row being read, and the line it starts on
        try:
            header = reader.fieldnames
            if not header:
                raise _fail(source, "", "empty file: a CSV source needs a header row with column names")
            blank = [i + 1 for i, name in enumerate(header) if not name.strip()]
            if blank:
                raise _fail(source, "header", f"column {blank[0]} has no name; name every column")
            repeated = sorted(name for name, count in Counter(header).items() if count > 1)  # linear in columns
            if repeated:
                raise _fail(source, "header", f"column {repeated[0]!r} appears twice; name every column once")
            started = reader.line_num + 1
            for number, row in enumerate(reader, start=1):
                if _EXTRA in row:
                    raise _fail(source, f"row {number} (line {started})",
                                f"{len(header) + len(row[_EXTRA])} fields but the header has {len(header)}; "
                                "quote values that contain the delimiter")
                if _MISSING in row.values():
                    given = sum(1 for v in row.values() if v is not _MISSING)
                    raise _fail(source, f"row {number} (line {started})",
                                f"{given} fields but the header has {len(header)}; every row needs every column")
                started = reader.line_num + 1
                yield number, row
        except UnicodeDecodeError as exc:
            raise _fail(source, f"line {_undecodable_line(source)}",
                        f"not {source.encoding} text ({exc.reason}); set source.encoding") from None
        except csv.Error as exc:
            where = f"row {number + 1} (line {started})" if number or reader.fieldnames else f"line {started}"
            why = "a quoted field is never closed; close the quote or double a quote inside it (\"\")" \
                if "unexpected end of data" in str(exc) else f"CSV error: {exc}"
            raise _fail(source, where, why) from None


def _undecodable_line(source: SourceSpec) -> int | str:
    """The 1-based line holding the first byte `source.encoding` cannot decode (the text reader decodes
    ahead in chunks, so its own line count is early); `?` when the lines cannot be split as bytes."""
    try:
        with open(source.path, "rb") as raw:
            for number, line in enumerate(raw, start=1):
                try:
                    line.decode(_encoding(source))
                except UnicodeDecodeError:
                    return number
    except (OSError, LookupError):
        pass
    return "?"


def _jsonl_rows(source: SourceSpec) -> Iterator[tuple[int, Row]]:
    try:
        handle = open(source.path, encoding=_encoding(source))  # noqa: SIM115
    except (OSError, LookupError) as exc:
        raise _fail(source, "", f"cannot open: {exc}") from None
    with handle:
        try:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line, parse_constant=_no_constant)
                except json.JSONDecodeError as exc:
                    raise _fail(source, f"line {number}", f"not valid JSON: {exc.msg} at column {exc.colno}") from None
                except RecursionError:
                    raise _fail(source, f"line {number}", "JSON nested too deeply to read (thousands of levels); "
                                                          "a row is an object of values") from None
                if not isinstance(row, dict):
                    raise _fail(source, f"line {number}", f"a JSONL row is a JSON object, got {type(row).__name__}")
                yield number, row
        except UnicodeDecodeError as exc:
            raise _fail(source, f"line {_undecodable_line(source)}",
                        f"not {source.encoding} text ({exc.reason}); set source.encoding") from None
