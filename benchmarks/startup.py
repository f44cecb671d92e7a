"""How long mwsync takes to start: the median wall time of N runs of each command, against a bare
`python -c pass` (the command-timer approach: repeated subprocess runs, a warm-up run first, the median
so a busy machine's outliers do not count). Prints a table; `--json FILE` writes the figures.

    .venv/bin/python benchmarks/startup.py            # 15 runs each
    .venv/bin/python benchmarks/startup.py --runs 5

Commands run from the checkout, as `python -m mwsync ...` under the same interpreter (the console script adds
the same imports and a few milliseconds). What each command must not import is a test
(tests/system/test_startup.py); the figures are in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "mwsync --help": [sys.executable, "-m", "mwsync", "--help"],
    "mwsync validate jobs/*.yaml": [sys.executable, "-m", "mwsync", "validate",
                                    *sorted(str(p.relative_to(REPO)) for p in (REPO / "jobs").glob("*.yaml"))],
    "mwsync plan jobs/password-expiry.yaml": [sys.executable, "-m", "mwsync", "plan", "jobs/password-expiry.yaml"],
}


def median_s(command: list[str], runs: int) -> float:
    """Median seconds of `runs` runs of `command` (after one warm-up run); raises if it fails."""
    subprocess.run(command, cwd=REPO, check=True, capture_output=True)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, cwd=REPO, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--json", type=Path, help="Also write the figures here.")
    args = parser.parse_args()
    figures = {name: median_s(command, args.runs) for name, command in COMMANDS.items()}
    bare = figures["python -c pass"]
    print(f"{'command':40} {'median ms':>10} {'x bare':>8}")
    for name, seconds in figures.items():
        print(f"{name:40} {seconds * 1000:10.0f} {seconds / bare:8.1f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"runs": args.runs, "median_s": figures,
                                         "ratio": {k: v / bare for k, v in figures.items()}}, indent=2))


if __name__ == "__main__":
    main()
