"""Sources: CSV and JSONL read row by row, with errors that name the file and the row."""

from __future__ import annotations

import pytest

from mwsync.config.job import SourceSpec
from mwsync.errors import ConfigError
from mwsync.sources import iter_rows


def rows_of(tmp_path, content: bytes, kind="csv", name="data", **kw):
    path = tmp_path / f"{name}.{kind}"
    path.write_bytes(content)
    return list(iter_rows(SourceSpec(kind, path=path, **kw)))


def test_csv_rows_are_numbered_from_the_first_data_row(tmp_path):
    assert rows_of(tmp_path, b"a,b\n1,2\n3,4\n") == [(1, {"a": "1", "b": "2"}), (2, {"a": "3", "b": "4"})]


def test_a_utf8_byte_order_mark_is_dropped(tmp_path):
    assert rows_of(tmp_path, "\ufeffname,email\nAmy,a@example.com\n".encode())[0][1]["name"] == "Amy"


@pytest.mark.parametrize("content,fragment", [
    (b"a,b\n1,2,3\n", "row 1 (line 2): 3 fields but the header has 2"),
    (b"a,b\n1\n", "row 1 (line 2): 1 fields but the header has 2"),
    (b"a,a\n1,2\n", "column 'a' appears twice"),
    (b"a,,c\n1,2,3\n", "column 2 has no name"),
    (b"", "empty file"),
    (b"a,b\n1,2\n\xe9\n", "not utf-8 text"),
], ids=["extra-field", "short-row", "duplicate-header", "blank-header", "empty", "latin-1"])
def test_csv_problems_name_file_and_row(tmp_path, content, fragment):
    with pytest.raises(ConfigError) as info:
        rows_of(tmp_path, content)
    assert fragment in str(info.value) and "data.csv" in str(info.value)


@pytest.mark.parametrize("content,fragment", [
    (b"a,b\n" + b"1,2\n" * 3000 + b"\xe9,x\n", "line 3002: not utf-8 text"),  # the reader decodes ahead
    (b"email\n\"a@example.com\nb@example.com\n", 'row 1 (line 2): a quoted field is never closed'),
    (b"a,b\n1,2\n3," + b"x" * 200_000 + b"\n", "row 2 (line 3): CSV error: field larger than field limit"),
], ids=["bad-byte-far-down", "unterminated-quote", "field-limit"])
def test_csv_errors_name_the_line_they_are_on(tmp_path, content, fragment):
    """The bad byte was reported 'after line 0', the field limit one line early, and a quote never closed
    swallowed every later row into one recipient field without a word."""
    with pytest.raises(ConfigError) as info:
        rows_of(tmp_path, content)
    assert fragment in str(info.value)


def test_a_jsonl_line_that_is_not_utf8_is_named(tmp_path):
    with pytest.raises(ConfigError, match="line 3: not utf-8 text"):
        rows_of(tmp_path, b'{"a": 1}\n{"a": 2}\n{"a": "\xe9"}\n', kind="jsonl")


def test_latin1_reads_with_the_encoding_set(tmp_path):
    assert rows_of(tmp_path, b"name\nJos\xe9\n", encoding="latin-1")[0][1]["name"] == "José"


def test_jsonl_skips_blank_lines_but_counts_them(tmp_path):
    assert rows_of(tmp_path, b'{"a": 1}\n\n{"a": 2}\n', kind="jsonl") == [(1, {"a": 1}), (3, {"a": 2})]


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_jsonl_refuses_non_json_numbers(tmp_path, value):
    with pytest.raises(ConfigError, match="line 1: not valid JSON"):
        rows_of(tmp_path, f'{{"a": {value}}}\n'.encode(), kind="jsonl")
