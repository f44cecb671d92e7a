"""Generate large benchmark inputs from the project's `data/employees.csv` (2,000 rows).

Two formats, both streamed to disk row by row (a 1,000,000-row file never sits in memory):

  csv    employee rows with the columns of `data/employees.csv`. Row n is employee `n % 2000`;
         from the second pass over the file on (cycle c = n // 2000 >= 1) the employee id becomes
         `E100042-c` and the address `first.last+c@domain`, so every row is a distinct person and
         the first 2,000 rows hold exactly the values of the real file.
  jsonl  a prepared message set in the row format of `jobs/replay/message-set.yaml` (idempotency_key,
         event_id, recipients list, final text, slots object): one personalised message per employee row.

Files are written to `benchmarks/out/` (gitignored) by default, through a temporary name and an atomic
rename, and reused when already there: `ensure()` is what `benchmarks/bulk.py` calls.

Usage: python benchmarks/make_data.py --rows 200000 [--format csv|jsonl] [--out PATH] [--force]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EMPLOYEES = REPO / "data" / "employees.csv"
OUT_DIR = REPO / "benchmarks" / "out"
#: The event id of the generated JSONL message set (any UUID works against the mock server).
MESSAGE_SET_EVENT_ID = "b3e1c2d4-0000-4a5b-8c6d-7e8f90a1b2c3"


def read_employees(path: Path = EMPLOYEES) -> tuple[list[str], list[dict[str, str]]]:
    """`(header, rows)` of the employees file."""
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or ()), list(reader)


def employee_rows(employees: list[dict[str, str]], rows: int) -> Iterator[dict[str, str]]:
    """`rows` employee rows, cycling over `employees` with a distinct id and address per cycle."""
    count = len(employees)
    for n in range(rows):
        cycle, base = divmod(n, count)
        row = employees[base]
        if cycle:
            local, _, domain = row["email"].partition("@")
            row = dict(row, employee_id=f"{row['employee_id']}-{cycle}", email=f"{local}+{cycle}@{domain}")
        yield row


def message_set_row(row: dict[str, str]) -> dict:
    """One prepared message (the `jobs/replay/message-set.yaml` row format) for an employee row."""
    text = (f"Hi {row['first_name']}, <b>your password expires on {row['password_expires']}</b>.<br>"
            "Change it now: <a href=\"https://account.example.com/password\">change my password</a> :key:")
    return {
        "idempotency_key": f"password-expiry-{row['employee_id']}-{row['password_expires']}",
        "event_id": MESSAGE_SET_EVENT_ID,
        "recipients": [row["email"]],
        "text": text,
        "slots": {"employee_id": row["employee_id"], "password_expires": row["password_expires"]},
    }


def write(path: Path, rows: int, fmt: str, source: Path = EMPLOYEES) -> None:
    """Write `rows` rows in `fmt` (`csv` or `jsonl`) to `path`, atomically."""
    header, employees = read_employees(source)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(partial, "w", encoding="utf-8", newline="") as handle:
            if fmt == "csv":
                writer = csv.DictWriter(handle, fieldnames=header, lineterminator="\n")
                writer.writeheader()
                writer.writerows(employee_rows(employees, rows))
            else:
                for row in employee_rows(employees, rows):
                    handle.write(json.dumps(message_set_row(row), ensure_ascii=False) + "\n")
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


def default_path(rows: int, fmt: str) -> Path:
    """`benchmarks/out/employees-<rows>.csv` or `benchmarks/out/message-set-<rows>.jsonl`."""
    return OUT_DIR / (f"employees-{rows}.csv" if fmt == "csv" else f"message-set-{rows}.jsonl")


def ensure(rows: int, fmt: str = "csv", path: Path | None = None, *, force: bool = False) -> Path:
    """The path of a `rows`-row input in `fmt`, generated unless it already exists (or `force`)."""
    path = path or default_path(rows, fmt)
    if force or not path.is_file():
        write(path, rows, fmt)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, required=True, help="data rows to write (the header is extra)")
    parser.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    parser.add_argument("--out", type=Path, help="output file [benchmarks/out/employees-ROWS.csv]")
    parser.add_argument("--force", action="store_true", help="regenerate even when the file exists")
    args = parser.parse_args()
    if args.rows < 1:
        parser.error("--rows must be at least 1")
    started_s = time.perf_counter()
    path = ensure(args.rows, args.format, args.out, force=args.force)
    size_mb = path.stat().st_size / 1e6
    print(f"{path} ({args.rows} rows, {size_mb:.1f} MB, {time.perf_counter() - started_s:.1f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
