"""One plan pass (`mwsync.plan_job`: read + render + validate + coalesce, no journal) in a fresh process
pinned to one core, printing one JSON line: rows, requests, seconds, rows_per_s, rss_start_mb (after the
imports) and peak_rss_mb (`ru_maxrss` of the whole process). With `--profile-out FILE` the pass runs under
cProfile (slower: its timing is not a throughput figure), FILE gets the pstats report and the JSON a summary.

Usage: python benchmarks/plan_pass.py JOB SOURCE [--profile-out FILE]   (benchmarks/bulk.py runs it)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TOP = 12


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, MB (Linux reports `ru_maxrss` in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_plan_pass(job: Path, source: Path, profile_out: Path | None = None) -> dict:
    """Run this script in a fresh interpreter; return its JSON. Raises `CalledProcessError` on failure."""
    command = [sys.executable, __file__, str(job), str(source)]
    if profile_out:
        command += ["--profile-out", str(profile_out)]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    if done.returncode:
        raise subprocess.CalledProcessError(done.returncode, command, done.stdout, done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def area(filename: str) -> str:
    """Where a profiled function lives, coarsely: a package, a runner module, or a stdlib module."""
    if filename == "~":
        return "builtins"
    if filename == "<template>":
        return "jinja2"
    if filename.startswith("<frozen "):
        return "stdlib." + filename.removeprefix("<frozen ").split(".")[0].strip("_>")
    parts = Path(filename).parts
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1].removesuffix(".py")
    if "runner" in parts:  # the mwsync package's folder in a checkout
        return "mwsync." + Path(filename).stem
    lib = next((i for i, part in enumerate(parts) if part.startswith("python3")), len(parts) - 2)
    return "stdlib." + Path(parts[lib + 1]).stem if lib + 1 < len(parts) else filename


#: The plan pass's stages and the runner functions whose cumulative time each one is.
STAGES = {
    "read (CSV/JSONL rows)": (("sources.py", "_csv_rows"), ("sources.py", "_jsonl_rows")),
    "filter + render": (("templates.py", "accepts"), ("templates.py", "render")),
    "validate (limits, e-mails)": (("checks.py", "message_problems"),),
    "coalesce (hash, journal say, batch)": (("decide.py", "decide"), ("batcher.py", "add"), ("batcher.py", "flush")),
}


def summarise(stats) -> dict:
    """`{"by_stage": {stage: share}, "by_area": {area: share of own time}, "top": [[function, own share,
    cumulative share], ...]}`; shares of the profiled total."""
    entries = stats.stats  # (file, line, function) -> (calls, primitive calls, own s, cumulative s, callers)
    total_s = sum(e[2] for e in entries.values()) or 1.0
    by_stage = {stage: sum(e[3] for (f, _, name), e in entries.items()
                           if any(f.endswith("runner/" + file) and name == func for file, func in funcs)) / total_s
                for stage, funcs in STAGES.items()}
    by_stage["rest (loop, generators)"] = 1.0 - sum(by_stage.values())
    by_area: dict[str, float] = {}
    for (filename, _, _), e in entries.items():
        by_area[area(filename)] = by_area.get(area(filename), 0.0) + e[2] / total_s
    top = sorted(entries.items(), key=lambda item: item[1][2], reverse=True)[:TOP]
    return {
        "by_stage": {k: round(v, 3) for k, v in by_stage.items()},
        "by_area": {k: round(v, 3) for k, v in sorted(by_area.items(), key=lambda kv: -kv[1]) if v >= 0.01},
        "top": [[f"{area(f)}:{line}({name})", round(e[2] / total_s, 3), round(e[3] / total_s, 3)]
                for (f, line, name), e in top],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("job", type=Path)
    parser.add_argument("source", type=Path)
    parser.add_argument("--profile-out", type=Path)
    args = parser.parse_args()
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, whatever the machine has
    from mwsync.config import load_job
    from mwsync.pipeline import plan_job

    rss_start_mb = peak_rss_mb()
    job = load_job(args.job, source=args.source)
    profiler = None
    if args.profile_out:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started_s = time.perf_counter()
    plan = plan_job(job)
    seconds = time.perf_counter() - started_s
    out = {"rows": plan.messages, "requests": plan.requests, "invalid": plan.invalid, "seconds": round(seconds, 3),
           "rows_per_s": round(plan.messages / seconds, 1), "rss_start_mb": round(rss_start_mb, 1),
           "peak_rss_mb": round(peak_rss_mb(), 1)}
    if profiler is not None:
        import pstats

        profiler.disable()
        with open(args.profile_out, "w", encoding="utf-8") as report:
            stats = pstats.Stats(profiler, stream=report)
            stats.sort_stats("tottime").print_stats(30)
            stats.sort_stats("cumulative").print_stats(30)
        out["profile"] = summarise(stats)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
