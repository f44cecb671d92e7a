"""Benchmark bulk replay (issue 6) and print the figures; `--json OUT` also writes them.

  plan_rows_per_s  rows/s of the plan pass (read CSV + render + validate + coalesce; `mwsync.plan_job`,
                   no journal) over 200,000 personalised rows, in a fresh subprocess pinned to one core
  peak_rss_mb      {rows: MB}: peak RSS (ru_maxrss) of that subprocess, for 200,000 and 1,000,000 rows
  requests         {set: {"sent", "minimum"}}: send requests the mock server accepted per set (personalised,
                   broadcast, grouped) vs the minimum computed here from the CSV, independently of the runner:
                   per distinct group of the columns the job's event, text and slots depend on,
                   ceil(distinct recipients / 500)
  rate_ratio       {"no_latency", "latency_<ms>ms"}: steady send rate / allowed rate against a mock server in
                   its own process, profile == server limit: window_s / mean(t[k+limit] - t[k]) over the
                   server-side arrival times t of every admitted request of the run
  status_429       429s the mock server answered to mwsync, both send runs together
  duration_s       wall time of mwsync sending the three sets (plan passes, token, sends)
  baseline         the same three sets sent by `benchmarks/baseline.py` (one requests.post per message behind a
                   fixed-window `ratelimit` decorator, no retry): {"status_429", "duration_s", "requests", ...}

docs/benchmarks.md explains each figure, its target and the latest measurement.
Usage: python benchmarks/bulk.py [--json OUT] [--quick] [--rate-limit 50/2] [--latency-ms 200] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import baseline  # the script's own folder (benchmarks/) is on sys.path
import make_data
from mock_process import MockProcess
from plan_pass import run_plan_pass

from mwsync.config import load_job, parse_throttle
from mwsync.pipeline import RunOptions, reference_date, run_job
from mwsync.rules import DEMO_CLIENT, MAX_RECIPIENTS
from mwsync.send.throttle import SlidingWindowLimiter
from mwsync.sources import iter_rows
from mwsync.templates import MessageRenderer

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
JOBS = BENCH / "jobs"
REPLAY_JOB = REPO / "jobs" / "replay" / "message-set.yaml"
TARGETS = {"plan_rows_per_s": 20_000, "peak_rss_mb": 250, "rss_growth": 0.10, "rate_ratio": 0.97, "runtime_s": 600}


@dataclass(frozen=True)
class Sizes:
    """Row counts of each part, and the scaled server limit (`N/S`) both mwsync and the baseline meet."""

    plan_rows: int
    rss_rows: tuple[int, ...]
    profile_rows: int  # rows of the cProfile pass run when the plan target is missed (0: never)
    personalised: int
    latency_personalised: int
    broadcast: int
    grouped: int
    rate_limit: str


FULL = Sizes(200_000, (200_000, 1_000_000), 50_000, 600, 500, 2_000, 3_000, "50/2")
QUICK = Sizes(5_000, (5_000, 20_000), 0, 150, 150, 600, 600, "100/1")


@dataclass(frozen=True)
class SendSet:
    """A benchmark job; `key_columns`: the source columns its event, text and slots depend on (read off
    the job file and its template), which is what the independent minimum groups by."""

    name: str
    job: Path
    key_columns: tuple[str, ...]


# Personalised runs last: the few broadcast and grouped requests fit in the first window, so the steady part of
# the no-latency run is the personalised set's one request per row.
SETS = (
    SendSet("broadcast", JOBS / "broadcast.yaml", ()),
    SendSet("grouped", JOBS / "grouped.yaml", ("laptop_model",)),
    SendSet("personalised", JOBS / "personalised.yaml", ("employee_id", "first_name", "password_expires")),
)


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def minimum_requests(source: Path, key_columns: tuple[str, ...]) -> tuple[int, int]:
    """`(minimum requests, deliveries)` for a one-recipient-per-row set: per distinct `key_columns` group,
    ceil(distinct recipients / 500); deliveries = distinct (group, recipient) pairs."""
    groups: dict[tuple, set[str]] = defaultdict(set)
    with open(source, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            groups[tuple(row[c] for c in key_columns)].add(row["email"].strip())
    return sum(math.ceil(len(r) / MAX_RECIPIENTS) for r in groups.values()), sum(len(r) for r in groups.values())


def received(messages: list[dict], event_id: str) -> dict:
    """What the server accepted for `event_id`: requests, distinct (content, recipient) deliveries, duplicates."""
    groups: dict[str, list[str]] = defaultdict(list)
    sent = 0
    for message in messages:
        if message["event_id"] == event_id:
            sent += 1
            content = json.dumps([message["message"], message.get("context")], sort_keys=True)
            groups[content].extend(message["recipients"])
    deliveries = sum(len(set(r)) for r in groups.values())
    return {"sent": sent, "deliveries": deliveries, "duplicates": sum(len(r) for r in groups.values()) - deliveries}


def rate_ratio(arrivals_s: list[float], limit: int, window_s: float) -> float | None:
    """window_s / mean(t[k+limit] - t[k]): 1.0 when every request starts exactly one window after the one
    `limit` places before it (the most a sliding-window server admits); None with too few requests."""
    t = sorted(arrivals_s)
    spans = [t[k + limit] - t[k] for k in range(len(t) - limit)]
    return window_s / (sum(spans) / len(spans)) if spans else None


def load_set(send_set: SendSet, source: Path, rate_limit: str, connections: int | None = None):
    """The set's `Job` with `source`, throttle `rate_limit` and (when given) `concurrent_connections`."""
    job = load_job(send_set.job, throttle=rate_limit, source=source)
    return replace(job, concurrent_connections=connections) if connections else job


def send_ours(url: str, jobs: list, rate_limit: str, state_dir: Path) -> dict:
    """Plan and send `jobs` one after the other through one shared limiter (what `mwsync run` does for
    jobs aimed at one target); returns wall time and each job's report."""
    throttle = parse_throttle(rate_limit)
    limiter = SlidingWindowLimiter(throttle.limit, throttle.window_s)
    options = RunOptions(throttle=rate_limit, state_dir=state_dir)
    started_s = time.perf_counter()
    reports = [run_job(job, base_url=url, limiter=limiter, options=options) for job in jobs]
    return {"duration_s": time.perf_counter() - started_s, "reports": reports}


def naive_messages(jobs: list):
    """Every message of `jobs`, rendered by mwsync's renderer (rendering is not what is compared)."""
    for job in jobs:
        renderer = MessageRenderer(job, reference_date(job, RunOptions()))
        for number, row in iter_rows(job.source):
            if renderer.accepts(row, number):
                m = renderer.render(row, number)
                yield baseline.Message(m.event_id, m.text, m.recipients, m.slots)


def server_rate(server: MockProcess, rate_limit: str) -> dict:
    """Rate figures of one run from the server's request log (admitted requests only)."""
    throttle = parse_throttle(rate_limit)
    arrivals = server.arrivals_s(admitted_only=True)
    stats = server.stats()
    ratio = rate_ratio(arrivals, throttle.limit, throttle.window_s)
    return {"rate_ratio": ratio, "requests_per_s": ratio * throttle.rate_per_s if ratio else None,
            "admitted": len(arrivals), "status_429": stats["status_429"],
            "max_requests_in_window": stats["max_requests_in_window"], "log_complete": server.log_complete()}


# -- the parts ---------------------------------------------------------------------------------------------

def bench_plan(sizes: Sizes, data_dir: Path) -> dict:
    """Plan throughput and peak RSS, each in a fresh subprocess; a cProfile pass when the target is missed."""
    out: dict = {"plan": {}, "peak_rss_mb": {}}
    for rows in dict.fromkeys((sizes.plan_rows, *sizes.rss_rows)):
        source = make_data.ensure(rows, "csv", data_dir / f"employees-{rows}.csv")
        log(f"plan pass: {rows:,} personalised rows (one core) ...")
        result = run_plan_pass(JOBS / "personalised.yaml", source)
        out["plan"][str(rows)] = result
        if rows in sizes.rss_rows:
            out["peak_rss_mb"][str(rows)] = result["peak_rss_mb"]
    out["plan_rows_per_s"] = out["plan"][str(sizes.plan_rows)]["rows_per_s"]
    source = make_data.ensure(sizes.plan_rows, "jsonl", data_dir / f"message-set-{sizes.plan_rows}.jsonl")
    log(f"plan pass: {sizes.plan_rows:,} rows of a prepared JSONL message set (jobs/replay/message-set.yaml) ...")
    out["plan_jsonl"] = run_plan_pass(REPLAY_JOB, source)
    if sizes.profile_rows and out["plan_rows_per_s"] < TARGETS["plan_rows_per_s"]:
        source = make_data.ensure(sizes.profile_rows, "csv", data_dir / f"employees-{sizes.profile_rows}.csv")
        log(f"plan pass under cProfile: {sizes.profile_rows:,} rows ...")
        profile_txt = data_dir / "plan-profile.txt"
        out["plan_profile"] = run_plan_pass(JOBS / "personalised.yaml", source, profile_out=profile_txt)["profile"]
        out["plan_profile"]["report"] = str(profile_txt)
    return out


def bench_sends(sizes: Sizes, data_dir: Path, latency_ms: float) -> dict:
    """mwsync without, then with, latency, then the baseline: each against a fresh mock server process."""
    counts = {"broadcast": sizes.broadcast, "grouped": sizes.grouped, "personalised": sizes.personalised}
    sources = {name: make_data.ensure(rows, "csv", data_dir / f"employees-{rows}.csv") for name, rows in counts.items()}
    out = send_sets(sources, sizes.rate_limit)
    latency_source = make_data.ensure(sizes.latency_personalised, "csv",
                                      data_dir / f"employees-{sizes.latency_personalised}.csv")
    out["runs"][f"latency_{latency_ms:g}ms"] = send_with_latency(latency_source, sizes.rate_limit, latency_ms)
    out["baseline"] = send_baseline(sources, sizes.rate_limit)
    return out


def send_sets(sources: dict[str, Path], rate: str) -> dict:
    """mwsync sends the three sets (no latency): requests vs minimum per set, rate figures, wall time."""
    out: dict = {"requests": {}, "runs": {}}
    with tempfile.TemporaryDirectory(prefix="mwsync-bench-") as tmp, MockProcess(rate) as server:
        jobs = [load_set(s, sources[s.name], rate) for s in SETS]
        log(f"mwsync: {', '.join(f'{s.name} {_rows(sources[s.name]):,} rows' for s in SETS)} at {rate}, no latency ...")
        ours = send_ours(server.url, jobs, rate, Path(tmp))
        messages = server.messages()
        for send_set, job in zip(SETS, jobs, strict=True):
            minimum, deliveries = minimum_requests(sources[send_set.name], send_set.key_columns)
            got = received(messages, job.message.event_id)
            out["requests"][send_set.name] = {"sent": got["sent"], "minimum": minimum, "deliveries": got["deliveries"],
                                              "expected_deliveries": deliveries, "duplicates": got["duplicates"]}
        out["runs"]["no_latency"] = {**server_rate(server, rate), **_outcome(ours, jobs)}
    out["duration_s"] = ours["duration_s"]
    return out


def send_with_latency(source: Path, rate: str, latency_ms: float) -> dict:
    """mwsync sends the personalised set to a server answering `latency_ms` late, with
    concurrent_connections = ceil(rate x latency x 1.5); returns the rate figures."""
    connections = min(64, math.ceil(parse_throttle(rate).rate_per_s * latency_ms / 1000 * 1.5))
    with tempfile.TemporaryDirectory(prefix="mwsync-bench-") as tmp, MockProcess(rate, latency_ms) as server:
        jobs = [load_set(SETS[-1], source, rate, connections)]
        log(f"mwsync: personalised {_rows(source):,} rows at {rate}, {latency_ms:g} ms latency, "
            f"{connections} connections ...")
        run = send_ours(server.url, jobs, rate, Path(tmp))
        return {**server_rate(server, rate), **_outcome(run, jobs)}


def send_baseline(sources: dict[str, Path], rate: str) -> dict:
    """The naive baseline sends the same three sets (no latency)."""
    throttle = parse_throttle(rate)
    with MockProcess(rate) as server:
        jobs = [load_set(s, sources[s.name], rate) for s in SETS]
        log(f"baseline: the same {sum(_rows(p) for p in sources.values()):,} messages, one requests.post each, "
            f"fixed window {rate} ...")
        result = baseline.send_all(server.url, DEMO_CLIENT, naive_messages(jobs), limit=throttle.limit,
                                   window_s=throttle.window_s)
        return {**asdict(result), "server_429": server.stats()["status_429"]}


def _rows(source: Path) -> int:
    """Data rows of a generated input, from its name (`employees-600.csv`)."""
    return int(source.stem.rsplit("-", 1)[-1])


def _outcome(run: dict, jobs: list) -> dict:
    """What mwsync's own reports say about a send run."""
    reports = run["reports"]
    return {"duration_s": round(run["duration_s"], 2), "concurrent_connections": jobs[0].concurrent_connections,
            "report_429": sum(r.status_429 for r in reports),
            "messages_not_sent": sum(r.messages["failed"] + r.messages["unknown"] for r in reports)}


# -- assembling, printing ----------------------------------------------------------------------------------

def figures(sizes: Sizes, plan: dict, sends: dict, latency_ms: float, quick: bool, elapsed_s: float) -> dict:
    """The JSON document: the issue's keys first, then targets, gains and details."""
    runs = sends["runs"]
    latency_key = f"latency_{latency_ms:g}ms"
    ours_sent = sum(r["sent"] for r in sends["requests"].values())
    base = sends["baseline"]
    doc = {
        "plan_rows_per_s": round(plan["plan_rows_per_s"]),
        "peak_rss_mb": {rows: round(mb, 1) for rows, mb in plan["peak_rss_mb"].items()},
        "requests": {name: {"sent": r["sent"], "minimum": r["minimum"]} for name, r in sends["requests"].items()},
        "rate_ratio": {"no_latency": _round(runs["no_latency"]["rate_ratio"]),
                       latency_key: _round(runs[latency_key]["rate_ratio"])},
        "status_429": runs["no_latency"]["status_429"] + runs[latency_key]["status_429"],
        "duration_s": round(sends["duration_s"], 2),
        "baseline": {"status_429": base["status_429"], "duration_s": round(base["duration_s"], 2),
                     "requests": base["requests"], "delivered": base["delivered"], "by_status": base["by_status"]},
    }
    doc["gain"] = {"duration": round(base["duration_s"] / sends["duration_s"], 1),
                   "requests": round(base["requests"] / ours_sent, 1) if ours_sent else None}
    doc["targets"] = targets(doc, sends, elapsed_s)
    doc["details"] = {
        "quick": quick, "rate_limit": sizes.rate_limit, "latency_ms": latency_ms, "sizes": asdict(sizes),
        "plan": plan["plan"], "plan_jsonl": plan["plan_jsonl"], "plan_profile": plan.get("plan_profile"),
        "requests": sends["requests"], "runs": runs,
        "elapsed_s": round(elapsed_s, 1), "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                                      "platform": platform.platform()},
    }
    return doc


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def targets(doc: dict, sends: dict, elapsed_s: float) -> dict:
    """Each target of the issue: met (true) or not."""
    rss = list(doc["peak_rss_mb"].values())
    ratios = [v for v in doc["rate_ratio"].values()]
    return {
        "plan_rows_per_s>=20000": doc["plan_rows_per_s"] >= TARGETS["plan_rows_per_s"],
        "peak_rss_mb<=250": max(rss) <= TARGETS["peak_rss_mb"],
        "peak_rss_flat(+10%)": rss[-1] <= rss[0] * (1 + TARGETS["rss_growth"]),
        "requests==minimum": all(r["sent"] == r["minimum"] for r in doc["requests"].values()),
        "no_lost_or_doubled": all(r["deliveries"] == r["expected_deliveries"] and not r["duplicates"]
                                  for r in sends["requests"].values()),
        "rate_ratio>=0.97": all(v is not None and v >= TARGETS["rate_ratio"] for v in ratios),
        "status_429==0": doc["status_429"] == 0,
        "runtime<600s": elapsed_s < TARGETS["runtime_s"],
    }


def print_table(doc: dict) -> None:
    """The human-readable summary."""
    d, base = doc["details"], doc["baseline"]
    rows = [("plan pass, rows/s (1 core)", f"{doc['plan_rows_per_s']:,}", ">= 20,000"),
            ("  same, JSONL message set", f"{round(d['plan_jsonl']['rows_per_s']):,}", "(replay format)")]
    rows += [(f"peak RSS, {int(n):,} rows", f"{mb} MB", "<= 250 MB, flat") for n, mb in doc["peak_rss_mb"].items()]
    rows += [(f"requests, {name}", f"{r['sent']} sent / {r['minimum']} minimum", "equal")
             for name, r in doc["requests"].items()]
    rows += [(f"rate ratio, {k.replace('_', ' ')}", f"{v}", ">= 0.97") for k, v in doc["rate_ratio"].items()]
    rows += [("429s (mwsync)", str(doc["status_429"]), "0"), ("duration, mwsync", f"{doc['duration_s']} s", "")]
    rows += [("baseline: requests / 429s", f"{base['requests']:,} / {base['status_429']}", ""),
             ("baseline: duration / delivered", f"{base['duration_s']} s / {base['delivered']:,}", "")]
    width = max(len(r[0]) for r in rows)
    print(f"bulk replay benchmark (rate limit {d['rate_limit']}{', QUICK' if d['quick'] else ''})")
    for name, value, target in rows:
        print(f"  {name:<{width}}  {value:>28}  {target}")
    gain = doc["gain"]
    lost = base["requests"] - base["delivered"]
    print(f"  gain vs baseline: {gain['duration']}x faster, {gain['requests']}x fewer requests, "
          f"{base['status_429']} vs {doc['status_429']} 429s; the baseline lost {lost} messages")
    missed = [name for name, met in doc["targets"].items() if not met]
    print(f"  targets: {'all met' if not missed else 'missed: ' + ', '.join(missed)} ({d['elapsed_s']} s in all)")
    profile = d.get("plan_profile")
    if profile:
        print("  plan pass, where time goes (cProfile): "
              + ", ".join(f"{stage} {share:.0%}" for stage, share in profile["by_stage"].items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, metavar="OUT", help="write the figures to OUT as JSON")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run (< 1 min)")
    parser.add_argument("--rate-limit", metavar="N/S", help="server limit == profile [50/2; quick 100/1]")
    parser.add_argument("--latency-ms", type=float, default=200.0, help="server latency of the second send run")
    parser.add_argument("--data-dir", type=Path, default=make_data.OUT_DIR, help="generated inputs [benchmarks/out]")
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    if args.rate_limit:
        parse_throttle(args.rate_limit)
        sizes = replace(sizes, rate_limit=args.rate_limit)
    os.environ["MWSYNC_BENCH_CLIENT_ID"], os.environ["MWSYNC_BENCH_CLIENT_SECRET"] = DEMO_CLIENT
    started_s = time.perf_counter()
    plan = bench_plan(sizes, args.data_dir)
    sends = bench_sends(sizes, args.data_dir, args.latency_ms)
    doc = figures(sizes, plan, sends, args.latency_ms, args.quick, time.perf_counter() - started_s)
    print_table(doc)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
