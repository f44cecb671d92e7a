"""Benchmark shared state (issue 11): many runners of one job on one PostgreSQL journal and one Redis limiter,
and the journal's claim rate; prints the figures, `--json OUT` also writes them.

  runners      {n: {...}} for 1, 2, 4 and 8 `mwsync run` processes started together on one job (`--messages`
               rows, one request each) against a sliding-window mock whose limit equals the profile (10/2):
               elapsed_s     first start to last exit
               time_ratio    elapsed_s / elapsed_s of one runner alone (the issue's target: <= 1.25 for 4)
               rate_ratio    steady rate / allowed rate at the server: window_s / mean(t[k+limit] - t[k]) over
                             the arrival times t of every admitted request (access tokens included)
               status_429, max_requests_in_window, duplicates (deliveries received more than once), lost
               (never received), sent_by (messages each runner reported sent: the split)
  claims_per_s {"postgresql", "postgresql_4_threads", "sqlite"}: deliveries taken through the whole journal
               cycle (claim, begin = pending, finish = sent; SQLite's claim is a no-op, its run lock already
               excludes others) per second, one delivery per request, durable commits (PostgreSQL with fsync
               on, SQLite synchronous=FULL); `postgresql_4_threads`: four runners' journals at once, together

PostgreSQL and Redis are throwaway servers on 127.0.0.1 (`tests/support/servers.py`; Debian's `postgresql`
and `redis-server` packages). docs/benchmarks.md explains the figures and has the latest measurement.
Usage: python benchmarks/shared.py [--json OUT] [--quick] [--messages N] [--runners 1,2,4,8]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # tests.support: the throwaway servers and the job builder

from mwsync.journal import open_journal  # noqa: E402
from mwsync.mock_server import MockServer  # noqa: E402
from mwsync.mock_server.remote import MockClient  # noqa: E402
from mwsync.records import Batch, Delivery, SendResult  # noqa: E402
from mwsync.rules import DEMO_CLIENT  # noqa: E402
from tests.support import CLIENT_ENV, job_dict, rows  # noqa: E402
from tests.support.servers import Postgres, Redis  # noqa: E402

LIMIT, WINDOW_S = 10, 2.0


def rate_ratio(arrivals_s: list[float]) -> float | None:
    """window_s / mean(t[k+limit] - t[k]): 1.0 when every window is full (None: too few arrivals)."""
    spans = [arrivals_s[k + LIMIT] - arrivals_s[k] for k in range(len(arrivals_s) - LIMIT)]
    return round(WINDOW_S / (sum(spans) / len(spans)), 3) if spans else None


def run_runners(count: int, job: Path, journal: str, limiter: str, messages: int) -> dict:
    """`count` runners started together; what the server saw and how long it took."""
    env = dict({k: v for k, v in os.environ.items() if k not in ("CI", "MWSYNC_JOURNAL", "MWSYNC_LIMITER")},
               **CLIENT_ENV)
    with MockServer(rate_limit=(LIMIT, WINDOW_S), clients=dict([DEMO_CLIENT])) as server:
        command = [sys.executable, "-m", "mwsync", "run", str(job), "--api-url", server.url, "--journal", journal,
                   "--limiter", limiter, "--throttle", f"{LIMIT}/{WINDOW_S:g}"]
        began = time.monotonic()
        procs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                 for _ in range(count)]
        outputs = [p.communicate(timeout=600)[0] for p in procs]
        elapsed_s = time.monotonic() - began
        received = Counter(r for m in server.messages() for r in m["recipients"])
        stats = server.stats()
        arrivals = MockClient(server.url).arrivals_s()
    failed = [out for p, out in zip(procs, outputs, strict=True) if p.returncode != 0]
    if failed:
        raise SystemExit(f"a runner failed:\n{failed[0][-2000:]}")
    return {"elapsed_s": round(elapsed_s, 2), "rate_ratio": rate_ratio(arrivals), "status_429": stats["status_429"],
            "max_requests_in_window": stats["max_requests_in_window"],
            "duplicates": sum(n - 1 for n in received.values()), "lost": messages - len(received),
            "sent_by": [sum(int(n) for n in re.findall(r"sent (\d+) messages", out)) for out in outputs]}


def journal_cycle(journal, count: int, prefix: str) -> None:
    """Take `count` deliveries through claim -> begin -> finish (one per request)."""
    for n in range(count):
        [delivery] = journal.claim([Delivery(f"{prefix}-{n}", f"user{n}@example.com", "h", n)])
        request = journal.begin(Batch("e", "t", {}, (delivery,)))
        journal.finish(request, SendResult("sent", 200, 1))


def claims_per_s(pg: Postgres, count: int, folder: Path) -> dict:
    """Deliveries per second through the journal cycle: PostgreSQL (one runner, four at once), SQLite."""
    out = {}
    for name, location, runners in (("postgresql", pg.database(), 1), ("postgresql_4_threads", pg.database(), 4),
                                    ("sqlite", str(folder / "claims.sqlite"), 1)):
        journals = [open_journal(location, target="bench", job="claims" if runners == 1 else f"claims{i}")
                    for i in range(runners)]
        threads = [threading.Thread(target=journal_cycle, args=(j, count, f"r{i}")) for i, j in enumerate(journals)]
        began = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        out[name] = round(runners * count / (time.perf_counter() - began))
        for journal in journals:
            journal.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, help="Also write the figures to this file.")
    parser.add_argument("--quick", action="store_true", help="Small sizes: a smoke run, figures not meaningful.")
    parser.add_argument("--messages", type=int, help="Rows of the job (default 100, quick 20).")
    parser.add_argument("--runners", default="1,2,4,8", help="Runner counts to measure (default 1,2,4,8).")
    args = parser.parse_args()
    messages = args.messages or (20 if args.quick else 100)
    counts = [int(n) for n in args.runners.split(",")]
    figures: dict = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                     "messages": messages, "limit": f"{LIMIT}/{WINDOW_S:g}", "runners": {}}
    with tempfile.TemporaryDirectory(prefix="mwsync-bench-shared-") as tmp, Postgres(durable=True) as pg, \
            Redis() as redis:
        job = Path(tmp) / "job.yaml"
        job.write_text(yaml.safe_dump(job_dict(source={"rows": rows(messages)}), sort_keys=False))
        for count in counts:
            print(f"{count} runner(s) ...", file=sys.stderr, flush=True)
            figures["runners"][count] = run_runners(count, job, pg.database(), redis.url, messages)
        alone = figures["runners"].get(1, {}).get("elapsed_s")
        for result in figures["runners"].values():
            result["time_ratio"] = round(result["elapsed_s"] / alone, 3) if alone else None
        print("journal claims ...", file=sys.stderr, flush=True)
        figures["claims_per_s"] = claims_per_s(pg, 200 if args.quick else 2000, Path(tmp))
    print_table(figures)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


def print_table(figures: dict) -> None:
    print(f"{figures['messages']} messages, server limit = profile = {figures['limit']}")
    print("runners  elapsed_s  time_ratio  rate_ratio  429s  max/window  duplicates  lost  sent_by")
    for count, r in figures["runners"].items():
        print(f"{count:>7}  {r['elapsed_s']:>9}  {r['time_ratio']!s:>10}  {r['rate_ratio']!s:>10}  "
              f"{r['status_429']:>4}  {r['max_requests_in_window']:>10}  {r['duplicates']:>10}  {r['lost']:>4}  "
              f"{r['sent_by']}")
    claims = figures["claims_per_s"]
    print("journal cycle (claim, pending, sent) per second: " + ", ".join(f"{k} {v}" for k, v in claims.items()))


if __name__ == "__main__":
    main()
